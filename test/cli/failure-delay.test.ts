import { beforeAll, describe, expect, it } from 'vitest';
import { sendRequest } from '../../src/client/saslauthd-client.js';
import type { RunningDaemon } from '../fixtures/daemon.js';
import { shadowDaemons } from '../fixtures/shadow-daemons.js';
import { verdict } from '../fixtures/testsaslauthd.js';

// Lower bounds only: "a NO takes at least the delay" is behaviour; how fast anything is, is the bench's business.
const D = 400;
const CAP = 3200;
const USERS = ['sat_cache_dan', 'sat_cache_eve', 'sat_cache_fay', 'sat_cache_gus', 'sat_cache_hal', 'sat_cache_ida'];
const start = shadowDaemons('/tmp/sat_cache_delay-', USERS);

async function timedVerdict(socket: string, user: string, pw: string): Promise<{ v: 'OK' | 'NO'; ms: number }> {
  const t0 = performance.now();
  const v = await verdict(socket, user, pw);
  return { v, ms: performance.now() - t0 };
}

const penaltyLines = (d: RunningDaemon): string[] => d.output().split('\n').filter((l) => l.includes('auth penalty: '));

describe('failure delay and penalty (real daemon, testsaslauthd)', () => {
  let d: RunningDaemon;
  beforeAll(async () => {
    d = await start(['--fail-delay', String(D), '--penalty-max', String(CAP)]);
  });

  it('a failure takes at least the delay', async () => {
    const r = await timedVerdict(d.socket, USERS[0]!, 'wrong');
    expect(r.v).toBe('NO');
    expect(r.ms).toBeGreaterThanOrEqual(D);
  });

  it('50 parallel wrong attempts for one user with a failure: one check per delay, the rest held or refused', async () => {
    // Issue 11 item 9/12: the penalty limits the guess rate, not only the latency. Distinct passwords:
    // the same wrong password again is one guess (item 13a).
    const user = USERS[1]!;
    expect(await verdict(d.socket, user, 'first wrong')).toBe('NO');
    const t0 = performance.now();
    const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => timedVerdict(d.socket, user, `wrong ${i}`)));
    const elapsed = performance.now() - t0;
    expect(rs.every((r) => r.v === 'NO')).toBe(true);
    const out = d.output().split('\n');
    const checks = out.filter((l) => l.includes(`auth failure: [user=${user}]`) && l.includes('[reason=password mismatch]')).length - 1;
    const unchecked = out.filter((l) => l.includes(`auth failure: [user=${user}]`) && l.includes('[reason=not checked: ')).length;
    expect(checks + unchecked).toBe(50);
    // One check at a time, each at least D after the last failure: at most elapsed/D + 1.
    expect(checks).toBeLessThanOrEqual(Math.floor(elapsed / D) + 1);
    expect(penaltyLines(d).filter((l) => l.includes(`[user=${user}]`) && l.includes('[checked=no]'))).toHaveLength(unchecked);
    // A success resets the user: the next failure is back to the base delay (a lower bound, still ≥ D).
    expect(await verdict(d.socket, user, `${user}-pw`)).toBe('OK');
    expect((await timedVerdict(d.socket, user, 'wrong again')).ms).toBeGreaterThanOrEqual(D);
  });

  it('penalises a client address across users and logs the address for fail2ban', async () => {
    const addr = '192.0.2.77';
    const ms: number[] = [];
    for (const [i, user] of USERS.slice(2, 5).entries()) {
      const t0 = performance.now();
      const reply = await sendRequest(d.socket, { login: user, password: 'wrong', service: 'smtp', realm: '', clientAddr: `${addr};${40000 + i}` }, { timeoutMs: 60_000 });
      ms.push(performance.now() - t0);
      expect(reply).toBe('NO authentication failed');
    }
    expect(ms[1]).toBeGreaterThanOrEqual(2 * D);
    expect(ms[2]).toBeGreaterThanOrEqual(4 * D);
    expect(penaltyLines(d)).toEqual(
      expect.arrayContaining([
        expect.stringContaining(`auth penalty: [user=${USERS[3]}] [service=smtp] [remote=${addr};40001] [failures=2]`),
        expect.stringContaining(`auth penalty: [user=${USERS[4]}] [service=smtp] [remote=${addr};40002] [failures=3]`),
      ]),
    );
    // saslauthd's failure line carries the address too.
    expect(d.output()).toContain(`auth failure: [user=${USERS[4]}] [service=smtp] [realm=] [remote=${addr};40002] [mech=shadow]`);
  });
});

describe('trusted addresses and other requests', () => {
  it('--trusted-addr has no address counter, but its users keep theirs (issue 11 item 11)', async () => {
    const d = await start(['--fail-delay', '100', '--trusted-addr', '192.0.2.0/24']);
    for (const [i, user] of USERS.slice(0, 3).entries()) {
      const reply = await sendRequest(d.socket, { login: user, password: 'wrong', service: 'smtp', realm: '', clientAddr: `192.0.2.5;${i}` }, { timeoutMs: 60_000 });
      expect(reply).toBe('NO authentication failed');
    }
    expect(penaltyLines(d)).toEqual([]);
    // The claimed trusted address did not lift the users' counters: their second failure is a penalty.
    await sendRequest(d.socket, { login: USERS[0]!, password: 'wrong 2', service: 'smtp', realm: '', clientAddr: '198.51.100.5;1' });
    await sendRequest(d.socket, { login: USERS[1]!, password: 'wrong 2', service: 'smtp', realm: '', clientAddr: '198.51.100.5;2' });
    expect(penaltyLines(d)).toEqual([
      expect.stringContaining(`auth penalty: [user=${USERS[0]}] [service=smtp] [remote=198.51.100.5;1] [failures=2]`),
      expect.stringContaining(`auth penalty: [user=${USERS[1]}] [service=smtp] [remote=198.51.100.5;2] [failures=2]`),
    ]);
  });

  it('delayed failures hold no worker: with -n 1 a right password answers while five NOs wait', async () => {
    const d = await start(['--fail-delay', '8000', '-n', '1']);
    const order: string[] = [];
    const wrong = USERS.slice(0, 5).map((u) => verdict(d.socket, u, 'wrong').then((v) => order.push(`${u}:${v}`)));
    await new Promise((r) => setTimeout(r, 300));
    await verdict(d.socket, USERS[5]!, `${USERS[5]}-pw`).then((v) => order.push(`right:${v}`));
    await Promise.all(wrong);
    expect(order[0]).toBe('right:OK');
    expect(order.slice(1).every((o) => o.endsWith(':NO'))).toBe(true);
  });
});
