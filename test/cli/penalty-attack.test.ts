import { describe, expect, it } from 'vitest';
import { sendRequest } from '../../src/client/saslauthd-client.js';
import type { RunningDaemon } from '../fixtures/daemon.js';
import { shadowDaemons } from '../fixtures/shadow-daemons.js';
import { verdict } from '../fixtures/testsaslauthd.js';

// Issue 11 items 9–13 against the real daemon: parallel guessers through the socket, checks counted
// from the daemon's own per-request log lines (a backend check logs `[reason=password mismatch]`,
// a request the penalty refused unchecked logs `[reason=not checked: …]`).
const USERS = ['sat_pn_ann', 'sat_pn_ben', 'sat_pn_cat', 'sat_pn_dov', 'sat_pn_eli', 'sat_pn_fay'];
const start = shadowDaemons('/tmp/sat_pn-', USERS);

const lines = (d: RunningDaemon, user: string, has: string): number =>
  d.output().split('\n').filter((l) => l.includes(`auth failure: [user=${user}]`) && l.includes(has)).length;
const checks = (d: RunningDaemon, user: string): number => lines(d, user, '[reason=password mismatch]');

/** `n` raw clients, each sending a new wrong password for `user` as soon as its last reply (or refusal) came, for `ms`. */
async function hammer(socket: string, user: string, n: number, ms: number): Promise<{ replies: string[]; errors: number }> {
  const until = performance.now() + ms;
  const replies: string[] = [];
  let errors = 0;
  let k = 0;
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      while (performance.now() < until) {
        try {
          replies.push(await sendRequest(socket, { login: user, password: `guess ${i} ${k++}`, service: 'smtp', realm: '' }, { timeoutMs: 60_000 }));
        } catch {
          // The connection cap closed us: come back, as a bot would.
          errors++;
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    }),
  );
  return { replies, errors };
}

describe('item 9: guess rate under parallel attack (testsaslauthd + raw clients)', () => {
  it('40 parallel guessers cost at most elapsed/delay + 1 backend checks, as one guesser does', async () => {
    const D = 200;
    const d = await start(['--fail-delay', String(D), '--penalty-max', String(2 * D)]);
    const rate = async (user: string, n: number): Promise<{ checks: number; elapsed: number }> => {
      expect(await verdict(d.socket, user, 'first wrong')).toBe('NO');
      const before = checks(d, user);
      const t0 = performance.now();
      const r = await hammer(d.socket, user, n, 5000);
      const elapsed = performance.now() - t0;
      expect(r.replies.length).toBeGreaterThan(0);
      expect(r.replies.every((x) => x === 'NO authentication failed')).toBe(true);
      return { checks: checks(d, user) - before, elapsed };
    };
    const one = await rate(USERS[0]!, 1);
    const forty = await rate(USERS[1]!, 40);
    console.log(`item 9: backend checks/s for one user: 1 guesser ${(one.checks / (one.elapsed / 1000)).toFixed(2)}, 40 guessers ${(forty.checks / (forty.elapsed / 1000)).toFixed(2)} (fail-delay ${D} ms, penalty-max ${2 * D} ms)`);
    expect(forty.checks).toBeLessThanOrEqual(Math.floor(forty.elapsed / D) + 1);
    expect(one.checks).toBeLessThanOrEqual(Math.floor(one.elapsed / D) + 1);
    // From the second failure on the delay is 2D: one check per 2D, however many clients.
    expect(forty.checks).toBeLessThanOrEqual(Math.floor(forty.elapsed / (2 * D)) + 2);
    // 40 clients buy no more than one client gets, but for its reply jitter and round trips.
    expect(forty.checks / forty.elapsed).toBeLessThanOrEqual(1.5 * (one.checks / one.elapsed));
  }, 60_000);
});

describe('item 12: held requests do not take every connection slot', () => {
  it('with --max-connections 30, 40 wrong-password clients for one user leave room for another user', async () => {
    const d = await start(['--fail-delay', '500', '--penalty-max', '2000', '--max-connections', '30']);
    const victim = USERS[2]!;
    const other = USERS[3]!;
    expect(await verdict(d.socket, victim, 'first wrong')).toBe('NO');
    const attack = hammer(d.socket, victim, 40, 8000);
    // Soon after the attack starts: the first burst, checked in parallel, must not keep the slots either.
    await new Promise((r) => setTimeout(r, 300));
    const results: { v: string; ms: number }[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const v = await verdict(d.socket, other, `${other}-pw`).catch((e: Error) => `error: ${e.message}`);
      results.push({ v, ms: performance.now() - t0 });
    }
    const a = await attack;
    console.log(`item 12: other user's right password during the attack: ${results.filter((r) => r.v === 'OK').length}/5 OK, ms ${results.map((r) => r.ms.toFixed(0)).join(' ')}; attacker: ${a.replies.length} replies, ${a.errors} refused connections`);
    expect(results.map((r) => r.v)).toEqual(['OK', 'OK', 'OK', 'OK', 'OK']);
    // Beyond the cap the bot got NO at once, unchecked, each with a log line.
    expect(lines(d, victim, '[reason=not checked: ')).toBeGreaterThan(0);
    expect(d.output()).toMatch(new RegExp(`auth penalty: \\[user=${victim}\\] \\[service=smtp\\] \\[failures=\\d+\\] \\[held=4\\] \\[checked=no\\]`));
  }, 60_000);
});

describe('items 10 and 13(a): one counter per user, and a retried password is one guess', () => {
  it('ALICE, " alice", "alice " share the counter; the same wrong password again does not escalate', async () => {
    const d = await start(['--fail-delay', '100', '--penalty-max', '3200']);
    const u = USERS[4]!;
    for (const login of [u.toUpperCase(), ` ${u}`, `${u} `, `${u}@example.org`]) expect(await verdict(d.socket, login, `wrong for ${login}`)).toBe('NO');
    const pen = d.output().split('\n').filter((l) => l.includes('auth penalty: '));
    expect(pen.map((l) => /\[failures=(\d+)\]/.exec(l)?.[1])).toEqual(['2', '3', '4']);
    // A phone retrying one stale password: one more failure, then no more.
    for (let i = 0; i < 3; i++) expect(await verdict(d.socket, u, 'stale password')).toBe('NO');
    const after = d.output().split('\n').filter((l) => l.includes('auth penalty: ')).map((l) => /\[failures=(\d+)\]/.exec(l)?.[1]);
    expect(after).toEqual(['2', '3', '4', '5', '5', '5']);
  }, 60_000);
});

describe('item 13: the real user while a bot hammers the name (default --penalty-scope both)', () => {
  it('the password that succeeded before gets past the queue; a guess does not', async () => {
    const d = await start(['--fail-delay', '500', '--penalty-max', '4000']);
    const u = USERS[5]!;
    expect(await verdict(d.socket, u, `${u}-pw`)).toBe('OK');
    const bot = hammer(d.socket, u, 8, 8000);
    await new Promise((r) => setTimeout(r, 1500));
    const ms: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      expect(await verdict(d.socket, u, `${u}-pw`)).toBe('OK');
      ms.push(performance.now() - t0);
    }
    const b = await bot;
    console.log(`item 13: real user's logins during a c=8 bot: 5/5 OK, ms ${ms.map((m) => m.toFixed(0)).join(' ')}; bot: ${b.replies.length} NO`);
    // Held behind the bot, a check would wait ≥ 4000 ms, or be refused at once (held cap).
    expect(Math.max(...ms)).toBeLessThan(2000);
    expect(b.replies.every((r) => r === 'NO authentication failed')).toBe(true);
    expect(lines(d, u, '[reason=not checked: ')).toBeGreaterThan(0);
  }, 60_000);
});
