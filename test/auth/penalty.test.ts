import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type PenaltyOptions, hostOfClientAddr, trustedList } from '../../src/auth/penalty.js';
import { FakeAuthenticator } from '../fixtures/fake-authenticator.js';
import { penaltyOver, req, timed } from '../fixtures/penalty.js';

const D = 1000;

function setup(o: Partial<PenaltyOptions> = {}) {
  const backend = new FakeAuthenticator('shadow', { alice: 'right', bob: 'right' });
  return penaltyOver(backend, { failDelayMs: D, penaltyMaxMs: 8 * D, now: () => Date.now(), random: () => 0, ...o });
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('failure delay', () => {
  it('holds a NO for the base delay and an OK not at all', async () => {
    const { p } = setup();
    const bad = timed(p, req('alice', 'wrong'));
    const good = timed(p, req('bob', 'right'));
    await vi.advanceTimersByTimeAsync(0);
    expect(good.ms).toBe(0);
    await vi.advanceTimersByTimeAsync(D - 1);
    expect(bad.ms).toBeNull();
    await vi.advanceTimersByTimeAsync(1);
    expect(bad.ms).toBe(D);
    expect(bad.outcome?.kind).toBe('rejected');
  });

  it('answers an outage after the delay too, but sheds overload at once', async () => {
    const { p, backend } = setup();
    backend.forced = { kind: 'unavailable', code: 'connect-failed', reason: 'down', compat: 'NO' };
    const outage = timed(p, req('alice', 'right'));
    await vi.advanceTimersByTimeAsync(D - 1);
    expect(outage.ms).toBeNull();
    await vi.advanceTimersByTimeAsync(1);
    expect(outage.ms).toBe(D);
    backend.forced = { kind: 'unavailable', code: 'overloaded', reason: 'pool full', compat: 'NO' };
    const shed = timed(p, req('bob', 'right'));
    await vi.advanceTimersByTimeAsync(0);
    expect(shed.ms).toBe(0);
    // Neither counts as a failure of the user.
    expect(p.tracked).toBe(0);
  });

  it('jitters upwards only', async () => {
    const { p } = setup({ random: () => 1 });
    const bad = timed(p, req('alice', 'wrong'));
    await vi.advanceTimersByTimeAsync(1.25 * D - 1);
    expect(bad.ms).toBeNull();
    await vi.advanceTimersByTimeAsync(1);
    expect(bad.ms).toBe(1.25 * D);
  });

  it('0 turns everything off', async () => {
    const { p } = setup({ failDelayMs: 0 });
    const bad = timed(p, req('alice', 'wrong'));
    await vi.advanceTimersByTimeAsync(0);
    expect(bad.ms).toBe(0);
  });

  it('ends early when the request is aborted', async () => {
    const { p } = setup();
    const ctl = new AbortController();
    const bad = timed(p, req('alice', 'wrong'), ctl.signal);
    await vi.advanceTimersByTimeAsync(10);
    ctl.abort();
    await vi.advanceTimersByTimeAsync(0);
    expect(bad.ms).toBe(10);
  });

  it('never waits past maxTotalMs', async () => {
    const { p } = setup({ maxTotalMs: 300 });
    const bad = timed(p, req('alice', 'wrong'));
    await vi.advanceTimersByTimeAsync(300);
    expect(bad.ms).toBe(300);
  });
});

describe('penalty', () => {
  it('doubles with each consecutive failure up to the cap, and a success resets it', async () => {
    const { p } = setup();
    const took: (number | null)[] = [];
    for (let i = 0; i < 6; i++) {
      // Distinct guesses: the same wrong password again is one guess and does not escalate (issue 11, 13a).
      const r = timed(p, req('alice', `wrong ${i}`));
      await vi.advanceTimersByTimeAsync(20 * D);
      took.push(r.ms);
    }
    expect(took).toEqual([D, 2 * D, 4 * D, 8 * D, 8 * D, 8 * D]);
    // Checks are spaced by the current delay, counted from the last failure, not from each arrival:
    // once it has passed, the right password is not held (issue 11, item 13: the real user).
    const ok = timed(p, req('alice', 'right'));
    await vi.advanceTimersByTimeAsync(0);
    expect(ok.ms).toBe(0);
    expect(ok.outcome).toEqual({ kind: 'ok', compat: 'OK', log: { penalty: 6 } });
    const after = timed(p, req('alice', 'wrong'));
    await vi.advanceTimersByTimeAsync(20 * D);
    expect(after.ms).toBe(D);
    expect(p.tracked).toBe(1);
  });

  it('counts parallel failures as they settle; beyond the held cap a spent guess is answered at once', async () => {
    const { p } = setup({ maxHeld: 6 });
    const rs = Array.from({ length: 6 }, (_, i) => timed(p, req('alice', `wrong ${i}`)));
    await vi.advanceTimersByTimeAsync(30 * D);
    expect(rs.map((r) => r.ms)).toEqual([D, 2 * D, 4 * D, 8 * D, 8 * D, 8 * D]);
    // With the default cap of 4 held per user, the first two of a burst of six to settle do not keep
    // their connections for the delay (issue 11 item 12): their guesses are spent either way.
    const q = setup().p;
    const qs = Array.from({ length: 6 }, (_, i) => timed(q, req('alice', `wrong ${i}`)));
    await vi.advanceTimersByTimeAsync(30 * D);
    expect(qs.map((r) => r.ms)).toEqual([0, 0, 4 * D, 8 * D, 8 * D, 8 * D]);
  });

  it('does not hold parallel right passwords once the earlier ones succeed', async () => {
    const { p } = setup();
    const rs = Array.from({ length: 5 }, () => timed(p, req('alice', 'right')));
    await vi.advanceTimersByTimeAsync(0);
    expect(rs.map((r) => r.ms)).toEqual([0, 0, 0, 0, 0]);
    expect(p.tracked).toBe(0);
  });

  it('never holds many users behind one address while it has no failure', async () => {
    const { p, backend } = setup();
    for (let i = 0; i < 5; i++) backend.users[`u${i}`] = 'right';
    const rs = Array.from({ length: 5 }, (_, i) => timed(p, req(`u${i}`, 'right', `192.0.2.8;${i}`)));
    await vi.advanceTimersByTimeAsync(0);
    expect(rs.map((r) => r.ms)).toEqual([0, 0, 0, 0, 0]);
  });

  it('after a failure, holds a burst of right passwords only until the first one succeeds', async () => {
    const { p } = setup();
    const bad = timed(p, req('alice', 'wrong'));
    await vi.advanceTimersByTimeAsync(0);
    // Within the delay after the failure: held until it has passed, then one check at a time.
    const rs = Array.from({ length: 3 }, () => timed(p, req('alice', 'right')));
    await vi.advanceTimersByTimeAsync(D - 1);
    expect(rs.map((r) => r.ms)).toEqual([null, null, null]);
    await vi.advanceTimersByTimeAsync(1);
    expect(rs.map((r) => r.ms)).toEqual([D, D, D]);
    expect(bad.ms).toBe(D);
    expect(p.tracked).toBe(0);
  });

  it('forgets a request aborted while it was held', async () => {
    const { p } = setup();
    const bad = timed(p, req('alice', 'wrong'));
    await vi.advanceTimersByTimeAsync(0);
    const ctl = new AbortController();
    const held = timed(p, req('alice', 'right'), ctl.signal);
    await vi.advanceTimersByTimeAsync(10);
    ctl.abort();
    await vi.advanceTimersByTimeAsync(0);
    expect(held.outcome?.kind).toBe('unavailable');
    // The aborted one no longer counts as held: the next attempt waits for one failure's delay only.
    const next = timed(p, req('alice', 'right'));
    await vi.advanceTimersByTimeAsync(D - 10);
    expect(next.ms).toBe(D - 10);
    expect(bad.ms).toBe(D);
  });

  it('penalises a client address across users, and logs user, service and address', async () => {
    const { p, lines } = setup();
    const a = timed(p, req('alice', 'wrong', '192.0.2.7;5000'));
    await vi.advanceTimersByTimeAsync(20 * D);
    const b = timed(p, req('bob', 'wrong', '192.0.2.7;5001'));
    await vi.advanceTimersByTimeAsync(20 * D);
    const c = timed(p, req('carol', 'wrong', '198.51.100.1;5002'));
    await vi.advanceTimersByTimeAsync(20 * D);
    expect([a.ms, b.ms, c.ms]).toEqual([D, 2 * D, D]);
    const pen = lines.filter((l) => String(l['msg']).startsWith('auth penalty:'));
    expect(pen).toHaveLength(1);
    expect(pen[0]).toMatchObject({ user: 'bob', service: 'smtp', remote: '192.0.2.7;5001', failures: 2, delay_ms: 2 * D });
    expect(pen[0]?.['msg']).toBe('auth penalty: [user=bob] [service=smtp] [remote=192.0.2.7;5001] [failures=2] [delay=2000ms]');
  });

  it('exempts trusted addresses from the address counter, not from the user counter or the base delay', async () => {
    // Issue 11 item 11: the 5th field is whatever the client wrote, so trust cannot lift the user's penalty.
    const { p } = setup({ trusted: trustedList(['10.0.0.0/8', '::1']) });
    const took: (number | null)[] = [];
    for (const [i, addr] of ['10.1.2.3;1', '10.1.2.3;2', '::1;3', '::1;4'].entries()) {
      const r = timed(p, req(i % 2 === 0 ? 'alice' : 'bob', `wrong ${i}`, addr));
      await vi.advanceTimersByTimeAsync(20 * D);
      took.push(r.ms);
    }
    expect(took).toEqual([D, D, 2 * D, 2 * D]);
    expect(p.tracked).toBe(2);
  });

  it('forgets failures after a quiet hour', async () => {
    const { p } = setup({ forgetAfterMs: 3_600_000 });
    const a = timed(p, req('alice', 'wrong'));
    await vi.advanceTimersByTimeAsync(3_600_000 + D + 1);
    expect(a.ms).toBe(D);
    const b = timed(p, req('alice', 'wrong'));
    await vi.advanceTimersByTimeAsync(20 * D);
    expect(b.ms).toBe(D);
  });

  it('keeps memory bounded', async () => {
    const { p } = setup({ maxTracked: 10 });
    const rs = Array.from({ length: 100 }, (_, i) => timed(p, req(`user${i}`, 'wrong')));
    await vi.advanceTimersByTimeAsync(20 * D);
    expect(rs.every((r) => r.ms === D)).toBe(true);
    expect(p.tracked).toBeLessThanOrEqual(10);
  });
});

describe('helpers', () => {
  it('hostOfClientAddr', () => {
    expect(hostOfClientAddr('192.0.2.1;25')).toBe('192.0.2.1');
    expect(hostOfClientAddr('2001:db8::1;25')).toBe('2001:db8::1');
    expect(hostOfClientAddr('')).toBeNull();
    expect(hostOfClientAddr(null)).toBeNull();
  });

  it('trustedList refuses garbage', () => {
    expect(() => trustedList(['10.0.0.0/33'])).toThrow(/--trusted-addr/);
    expect(() => trustedList(['example.org'])).toThrow(/--trusted-addr/);
  });
});
