import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { type FleetPenalty, PenaltyAuthenticator } from '../../src/auth/penalty.js';
import { SharedStateError } from '../../src/errors.js';
import { FakeAuthenticator, req } from '../fixtures/fake-authenticator.js';

// How the penalty treats a fleet that fails mid-request (a scripted FleetPenalty: the real one is
// tested against redis-server in test/auth/shared-state/ and test/cli/fleet-penalty.test.ts).
function scripted(failAt: 'look' | 'admit' | 'failed' | null, fails = 3) {
  const calls: string[] = [];
  const boom = (what: string): never => {
    throw new SharedStateError('timeout', `no answer to ${what}`);
  };
  const fleet: FleetPenalty = {
    healthy: true,
    shown: 'redis://test',
    digest: () => 'd',
    token: () => 't',
    async look(keys) {
      calls.push('look');
      if (failAt === 'look') boom('look');
      return { known: false, fails: keys.map(() => fails) };
    },
    async admit(keys) {
      calls.push('admit');
      if (failAt === 'admit') boom('admit');
      return { fails: keys.map(() => fails), waitMs: 0 };
    },
    async failed(keys) {
      calls.push('failed');
      if (failAt === 'failed') boom('failed');
      return keys.map(() => fails + 1);
    },
    async succeeded() {
      calls.push('succeeded');
    },
    async release() {
      calls.push('release');
    },
    async list() {
      return [];
    },
    async clear() {
      return 0;
    },
  };
  return { fleet, calls };
}

const signal = new AbortController().signal;
const OPTS = { failDelayMs: 10, penaltyMaxMs: 40, jitter: 0 };

describe('the penalty with a fleet that fails mid-request', () => {
  it('healthy: the fleet counts, the host does not count the same failure again', async () => {
    const { fleet, calls } = scripted(null);
    const b = new FakeAuthenticator('f', {});
    const p = new PenaltyAuthenticator(b, { ...OPTS, fleet }, pino({ level: 'silent' }));
    const o = await p.authenticate(req('sat_f1_u', 'x'), signal);
    expect(o.kind).toBe('rejected');
    expect(calls).toEqual(['look', 'admit', 'failed']);
    // The fleet's count (4) decides the delay level; locally nothing was counted.
    expect(o.log).toMatchObject({ penalty: 3 });
    expect((await p.list()).length).toBe(0);
  });

  it('a lost admit: checked with local rules, the lease it may hold is given back, the failure counted locally', async () => {
    const { fleet, calls } = scripted('admit');
    const b = new FakeAuthenticator('f', {});
    const p = new PenaltyAuthenticator(b, { ...OPTS, fleet }, pino({ level: 'silent' }));
    expect((await p.authenticate(req('sat_f1_u', 'x'), signal)).kind).toBe('rejected');
    expect(b.calls).toHaveLength(1);
    expect(calls).toEqual(['look', 'admit', 'release']);
    expect((await p.list()).map((e) => [e.key, e.failures])).toEqual([['sat_f1_u', 1]]);
  });

  it('a lost settle: the failure is counted locally and the lease given back', async () => {
    const { fleet, calls } = scripted('failed');
    const p = new PenaltyAuthenticator(new FakeAuthenticator('f', {}), { ...OPTS, fleet }, pino({ level: 'silent' }));
    expect((await p.authenticate(req('sat_f1_u', 'x'), signal)).kind).toBe('rejected');
    expect(calls).toEqual(['look', 'admit', 'failed', 'release']);
    expect((await p.list()).map((e) => e.failures)).toEqual([1]);
  });

  it('a lost look: nothing more is asked of the fleet for that request; a right password is still OK', async () => {
    const { fleet, calls } = scripted('look');
    const p = new PenaltyAuthenticator(new FakeAuthenticator('f', { sat_f1_u: 'right' }), { ...OPTS, fleet }, pino({ level: 'silent' }));
    expect((await p.authenticate(req('sat_f1_u', 'right'), signal)).kind).toBe('ok');
    expect(calls).toEqual(['look']);
  });
});
