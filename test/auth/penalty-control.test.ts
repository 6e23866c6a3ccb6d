import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeAuthenticator } from '../fixtures/fake-authenticator.js';
import { penaltyOver, req, timed } from '../fixtures/penalty.js';

// issue 14 item 1: `ctl penalty list` / `ctl penalty clear` on the in-memory penalty.

const D = 1000;

function setup() {
  const backend = new FakeAuthenticator('shadow', { alice: 'right', bob: 'right' });
  return penaltyOver(backend, { failDelayMs: D, penaltyMaxMs: 64 * D, now: () => Date.now(), random: () => 0, forgetAfterMs: 3_600_000 });
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

/**
 * Three distinct wrong passwords for alice from 192.0.2.7 (each a new guess). The third is checked
 * but its NO still waits out its delay: the next check of alice is 4 D away from now.
 */
async function threeFailures(p: ReturnType<typeof setup>['p']): Promise<ReturnType<typeof timed>> {
  for (const pw of ['w1', 'w2']) {
    const t = timed(p, req('alice', pw, '192.0.2.7;4711'));
    await vi.advanceTimersByTimeAsync(64 * D);
    expect((await t.done).kind).toBe('rejected');
  }
  const third = timed(p, req('alice', 'w3', '192.0.2.7;4711'));
  await vi.advanceTimersByTimeAsync(0);
  expect(third.ms).toBeNull();
  return third;
}

describe('penalty list and clear', () => {
  it('lists each penalised user and address with its failures, delay and expiry', async () => {
    const { p } = setup();
    expect(await p.list()).toEqual([]);
    await threeFailures(p);
    const list = await p.list();
    expect(list.map(({ expiresInMs, ...rest }) => rest)).toEqual([
      { kind: 'address', key: '192.0.2.7', failures: 3, delayMs: 4 * D },
      { kind: 'user', key: 'alice', failures: 3, delayMs: 4 * D },
    ]);
    for (const e of list) expect(e.expiresInMs).toBeGreaterThan(3_500_000);
  });

  it('clearing a user (any spelling) lets a held request of that user be checked at once', async () => {
    const { p } = setup();
    await threeFailures(p);
    // The right password from elsewhere: held by the user key (4 s until the next check).
    const held = timed(p, req('alice', 'right', '198.51.100.1'));
    await vi.advanceTimersByTimeAsync(10);
    expect(held.ms).toBeNull();
    expect(await p.clear({ user: ' ALICE@example.org' })).toBe(1);
    await vi.advanceTimersByTimeAsync(0);
    expect(held.ms).toBe(10);
    expect(held.outcome).toEqual({ kind: 'ok', compat: 'OK' });
    expect((await p.list()).map((e) => e.kind)).toEqual(['address']);
  });

  it('clearing an address (with a port, as the 5th field has it) leaves the user', async () => {
    const { p } = setup();
    await threeFailures(p);
    expect(await p.clear({ address: '192.0.2.7;1' })).toBe(1);
    expect((await p.list()).map((e) => e.key)).toEqual(['alice']);
    expect(await p.clear({ address: '192.0.2.99' })).toBe(0);
  });

  it('--all clears every key and wakes every held request', async () => {
    const { p } = setup();
    const third = await threeFailures(p);
    const held = timed(p, req('alice', 'right', '192.0.2.7'));
    await vi.advanceTimersByTimeAsync(10);
    expect(held.ms).toBeNull();
    expect(await p.clear({ all: true })).toBe(2);
    await vi.advanceTimersByTimeAsync(0);
    expect(held.outcome?.kind).toBe('ok');
    expect(await p.list()).toEqual([]);
    // The NO already decided still goes out after its delay; then nothing is left.
    await vi.advanceTimersByTimeAsync(64 * D);
    expect((await third.done).kind).toBe('rejected');
    expect(p.tracked).toBe(0);
  });
});
