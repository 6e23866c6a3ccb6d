import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AuthRequest, Outcome } from '../../src/auth/authenticator.js';
import { PenaltyAuthenticator, type PenaltyOptions, trustedList } from '../../src/auth/penalty.js';
import { FakeAuthenticator } from '../fixtures/fake-authenticator.js';
import { penaltyOver, req, signal, timed } from '../fixtures/penalty.js';

// Items 9–13 of issue 11: the penalty limits the guess *rate* under parallel attack, folds keys as
// the backends do, keeps users under penalty in a full table, and spares the real user.
const D = 1000;
const CAP = 8 * D;

/** A backend that takes 50 ms per check and counts checks (and the most in flight) per login. */
class CountingBackend extends FakeAuthenticator {
  readonly inFlight = new Map<string, number>();
  readonly maxInFlight = new Map<string, number>();
  checks(login: string): number {
    return this.calls.filter((c) => c.login === login).length;
  }
  override async authenticate(r: AuthRequest): Promise<Outcome> {
    const n = (this.inFlight.get(r.login) ?? 0) + 1;
    this.inFlight.set(r.login, n);
    this.maxInFlight.set(r.login, Math.max(n, this.maxInFlight.get(r.login) ?? 0));
    await new Promise((res) => setTimeout(res, 50));
    this.inFlight.set(r.login, (this.inFlight.get(r.login) ?? 1) - 1);
    return super.authenticate(r);
  }
}

function setup(o: Partial<PenaltyOptions> = {}) {
  const backend = new CountingBackend('shadow', { alice: 'right', bob: 'right' });
  return penaltyOver(backend, { failDelayMs: D, penaltyMaxMs: CAP, now: () => Date.now(), random: () => 0, ...o });
}

/** Sequential attempts, each after a quiet `gap`; returns how long each took. */
async function serial(p: PenaltyAuthenticator, rs: AuthRequest[], gap = 20 * D): Promise<(number | null)[]> {
  const took: (number | null)[] = [];
  for (const r of rs) {
    const t = timed(p, r);
    await vi.advanceTimersByTimeAsync(gap);
    took.push(t.ms);
  }
  return took;
}

/** `n` closed-loop guessers, each sending a new wrong password 10 ms after its last reply, until `untilMs`. */
function guessers(p: PenaltyAuthenticator, n: number, login: string, untilMs: number, addr: (i: number) => string | null = () => null) {
  let k = 0;
  const replies: Outcome[] = [];
  const one = async (i: number): Promise<void> => {
    while (Date.now() < untilMs) {
      replies.push(await p.authenticate(req(login, `guess-${i}-${k++}`, addr(i)), signal));
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return { replies, done: Promise.all(Array.from({ length: n }, (_, i) => one(i))) };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('item 9: guess rate, not latency', () => {
  it('40 parallel guessers for a user with failures get at most T/delay + 1 checks, one at a time', async () => {
    const { p, backend } = setup();
    // One earlier failure: from here on every check for alice waits at least D after the last one.
    await serial(p, [req('alice', 'first wrong')]);
    const before = backend.checks('alice');
    const T = 60 * D;
    const g = guessers(p, 40, 'alice', Date.now() + T);
    await vi.advanceTimersByTimeAsync(T + 60 * D);
    await g.done;
    const checks = backend.checks('alice') - before;
    expect(g.replies.every((o) => o.kind === 'rejected')).toBe(true);
    expect(checks).toBeLessThanOrEqual(T / D + 1);
    expect(backend.maxInFlight.get('alice')).toBe(1);
  });

  it('the same bound holds for a client address trying many users', async () => {
    const { p, backend } = setup({ scope: 'address' });
    await serial(p, [req('u-first', 'x', '192.0.2.9;1')]);
    const T = 30 * D;
    let k = 0;
    const replies: Outcome[] = [];
    const one = async (): Promise<void> => {
      const until = Date.now() + T;
      while (Date.now() < until) {
        replies.push(await p.authenticate(req(`u${k++}`, 'pw', '192.0.2.9;2'), signal));
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const all = Promise.all(Array.from({ length: 40 }, one));
    await vi.advanceTimersByTimeAsync(T + 60 * D);
    await all;
    expect(backend.calls.length - 1).toBeLessThanOrEqual(T / D + 1);
  });
});

describe('item 10: keys fold like the backends', () => {
  it('ALICE, " alice", "alice ", alice@example.org and Alice@other share one counter', async () => {
    const { p } = setup();
    const took = await serial(p, ['ALICE', ' alice', 'alice ', 'alice@example.org', 'Alice@Other.example', '\u00a0alice\u200b'].map((u, i) => req(u, `wrong ${i}`)));
    expect(took).toEqual([D, 2 * D, 4 * D, 8 * D, 8 * D, 8 * D]);
  });

  it('IPv6 addresses fold to their /64 and mapped IPv4 to IPv4', async () => {
    const { p } = setup({ scope: 'address' });
    const took = await serial(p, [
      req('a', 'x', '2001:db8:1:2::1;1'),
      req('b', 'x', '2001:DB8:1:2:ffff::9;2'),
      req('c', 'x', '192.0.2.1;3'),
      req('d', 'x', '::ffff:192.0.2.1;4'),
    ]);
    expect(took).toEqual([D, 2 * D, D, 2 * D]);
  });

  it('65 536 throwaway names do not evict a user under penalty (default bound)', async () => {
    // Real timers and 1 ms delays: fake timers are quadratic in the number pending.
    vi.useRealTimers();
    const { p, lines } = setup({ failDelayMs: 1, penaltyMaxMs: 64 });
    for (const w of ['w1', 'w2', 'w3']) await p.authenticate(req('alice', w), signal);
    for (let batch = 0; batch < 8; batch++) {
      await Promise.all(Array.from({ length: 8192 }, (_, i) => p.authenticate(req(`junk${batch}-${i}`, 'x'), signal)));
    }
    expect(p.tracked).toBe(65536);
    // alice still has her 3 failures: the 4th is counted as the 4th.
    await p.authenticate(req('alice', 'w4'), signal);
    expect(lines.at(-1)?.['msg']).toBe('auth penalty: [user=alice] [service=smtp] [failures=4] [delay=8ms]');
  }, 120_000);

  it('a smaller bound evicts the lowest counts first, and the bound is an option', async () => {
    const { p } = setup({ maxTracked: 10 });
    await serial(p, ['w1', 'w2'].map((w) => req('alice', w)));
    const rs = Array.from({ length: 100 }, (_, i) => timed(p, req(`user${i}`, 'wrong')));
    await vi.advanceTimersByTimeAsync(20 * D);
    expect(rs.every((r) => r.ms === D)).toBe(true);
    expect(p.tracked).toBeLessThanOrEqual(10);
    const [took] = await serial(p, [req('alice', 'w3')]);
    expect(took).toBe(4 * D);
  });
});

describe('item 11: --trusted-addr exempts the address counter only', () => {
  it('a trusted claimed address neither skips nor resets the user counter', async () => {
    const { p } = setup({ trusted: trustedList(['10.0.0.0/8']) });
    const took = await serial(p, [
      req('alice', 'w1', '10.1.2.3;1'),
      req('alice', 'w2', '10.1.2.3;2'),
      req('alice', 'w3'),
      req('alice', 'w4', '10.9.9.9;3'),
      // The trusted address itself has no counter: bob from it starts fresh.
      req('bob', 'w5', '10.1.2.3;4'),
    ]);
    expect(took).toEqual([D, 2 * D, 4 * D, 8 * D, D]);
  });
});

describe('item 12: a cap on requests held per user or address', () => {
  it('beyond --penalty-max-held, NO at once without a check, with a log line', async () => {
    const { p, backend, lines } = setup({ maxHeld: 4 });
    await serial(p, [req('alice', 'w0')]);
    const before = backend.checks('alice');
    const rs = Array.from({ length: 20 }, (_, i) => timed(p, req('alice', `w${i + 1}`)));
    await vi.advanceTimersByTimeAsync(0);
    const refused = rs.filter((r) => r.ms === 0);
    expect(refused).toHaveLength(16);
    for (const r of refused) expect(r.outcome).toMatchObject({ kind: 'rejected', code: 'not-authorized' });
    expect(backend.checks('alice')).toBe(before);
    const warn = lines.filter((l) => String(l['msg']).includes('[checked=no]'));
    expect(warn).toHaveLength(16);
    expect(warn[0]?.['msg']).toBe('auth penalty: [user=alice] [service=smtp] [failures=1] [held=4] [checked=no]');
    await vi.advanceTimersByTimeAsync(60 * D);
    expect(rs.every((r) => r.outcome?.kind === 'rejected')).toBe(true);
  });

  it('a held request that cannot be checked before the deadline is answered NO unchecked', async () => {
    const { p, backend } = setup({ maxTotalMs: 3 * D, maxHeld: 100 });
    await serial(p, [req('alice', 'w0'), req('alice', 'w1')]);
    const before = backend.checks('alice');
    const rs = Array.from({ length: 10 }, (_, i) => timed(p, req('alice', `x${i}`)));
    await vi.advanceTimersByTimeAsync(20 * D);
    expect(rs.every((r) => r.ms !== null && r.ms <= 3 * D)).toBe(true);
    expect(backend.checks('alice') - before).toBeLessThanOrEqual(2);
  });
});

describe('item 13: the real user', () => {
  it('(a) the same wrong password retried does not escalate; a new one does', async () => {
    const { p } = setup();
    const took = await serial(p, [...Array.from({ length: 5 }, () => req('alice', 'old password')), req('alice', 'other')]);
    expect(took).toEqual([D, D, D, D, D, 2 * D]);
  });

  it('(a) a phone retrying its old password in parallel is one failure, not five', async () => {
    const { p } = setup({ maxHeld: 8 });
    const rs = Array.from({ length: 5 }, () => timed(p, req('alice', 'old password')));
    await vi.advanceTimersByTimeAsync(20 * D);
    expect(rs.map((r) => r.ms)).toEqual([D, D, D, D, D]);
  });

  it('after guesses by someone else, the right password is not held once the delay has passed', async () => {
    const { p } = setup();
    await serial(p, ['g1', 'g2', 'g3', 'g4'].map((w) => req('alice', w)));
    const [took] = await serial(p, [req('alice', 'right')]);
    expect(took).toBe(50);
  });

  it('(b) scope user: no address counter; scope address: no user counter', async () => {
    const u = setup({ scope: 'user' });
    expect(await serial(u.p, [req('alice', 'w1', '192.0.2.1;1'), req('bob', 'w2', '192.0.2.1;2')])).toEqual([D, D]);
    const a = setup({ scope: 'address' });
    expect(await serial(a.p, [req('alice', 'w1'), req('alice', 'w2'), req('alice', 'w3', '192.0.2.1;1'), req('alice', 'w4', '192.0.2.1;1')])).toEqual([D, D, D, 2 * D]);
    const b = setup();
    expect(await serial(b.p, [req('alice', 'w1', '192.0.2.1;1'), req('bob', 'w2', '192.0.2.1;2'), req('alice', 'w3')])).toEqual([D, 2 * D, 2 * D]);
  });

  it('a password that succeeded for the user recently skips the queue a bot keeps full', async () => {
    const { p, backend } = setup({ maxHeld: 8, maxTotalMs: 20 * D });
    await serial(p, [req('alice', 'right'), req('alice', 'someone else')]);
    const g = guessers(p, 8, 'alice', Date.now() + 30 * D);
    await vi.advanceTimersByTimeAsync(5 * D);
    const ok = timed(p, req('alice', 'right'));
    await vi.advanceTimersByTimeAsync(100);
    expect(ok.outcome?.kind).toBe('ok');
    expect(ok.ms).toBe(50);
    // A wrong password from the bot is still held: the fast lane needs the password that succeeded.
    await vi.advanceTimersByTimeAsync(80 * D);
    await g.done;
    expect(g.replies.every((o) => o.kind === 'rejected')).toBe(true);
    expect(backend.maxInFlight.get('alice')).toBeLessThanOrEqual(2);
  });
});

describe('a success speaks only for the identity that succeeded', () => {
  // Logins fold to one counter (alice@victim.org and alice@attacker.org are both u:alice), so that
  // no spelling escapes it. A success must not reset failures another spelling earned, nor make the
  // winner's password a "known" one for the victim: the attacker owns alice@attacker.org.
  const twoRealms = () => {
    const backend = new CountingBackend('ldap', { 'alice@victim.org': 'secret', 'alice@attacker.org': 'mine' });
    return penaltyOver(backend, { failDelayMs: D, penaltyMaxMs: CAP, now: () => Date.now(), random: () => 0 });
  };

  it("the attacker's own login does not reset the victim's counter", async () => {
    const { p, backend } = twoRealms();
    await serial(p, [req('alice@victim.org', 'g1'), req('alice@victim.org', 'g2'), req('alice@attacker.org', 'mine')]);
    const before = backend.checks('alice@victim.org');
    const a = timed(p, req('alice@victim.org', 'g3'));
    const b = timed(p, req('alice@victim.org', 'g4'));
    await vi.advanceTimersByTimeAsync(200);
    // Still penalised: one check at a time, the second waits for the delay.
    expect(backend.checks('alice@victim.org') - before).toBe(1);
    await vi.advanceTimersByTimeAsync(60 * D);
    await Promise.all([a.done, b.done]);
    expect(backend.checks('alice@victim.org') - before).toBe(2);
  });

  it("the attacker's own password is no fast lane past the victim's held cap", async () => {
    const { p, backend } = twoRealms();
    await serial(p, [req('alice@victim.org', 'g1'), req('alice@attacker.org', 'mine')]);
    const held = [1, 2, 3, 4].map((i) => timed(p, req('alice@victim.org', `h${i}`)));
    await vi.advanceTimersByTimeAsync(10);
    const before = backend.checks('alice@victim.org');
    const t = timed(p, req('alice@victim.org', 'mine'));
    await vi.advanceTimersByTimeAsync(10);
    expect(t.outcome).toMatchObject({ kind: 'rejected', code: 'not-authorized' });
    expect((t.outcome as { reason: string }).reason).toMatch(/^not checked: /);
    expect(backend.checks('alice@victim.org')).toBe(before);
    await vi.advanceTimersByTimeAsync(120 * D);
    await Promise.all(held.map((h) => h.done));
  });
});
