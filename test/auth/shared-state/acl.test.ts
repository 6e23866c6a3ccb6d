import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { expect, it } from 'vitest';
import { PenaltyAuthenticator } from '../../../src/auth/penalty.js';
import { SharedState } from '../../../src/auth/shared-state/client.js';
import { FleetKey } from '../../../src/auth/shared-state/key-file.js';
import { SharedPenaltyStore } from '../../../src/auth/shared-state/penalty-store.js';
import { parseSharedStateUrl } from '../../../src/auth/shared-state/url.js';
import { FakeAuthenticator, req } from '../../fixtures/fake-authenticator.js';
import { startRedis } from '../../fixtures/redis.js';

// The ACL docs/operations/fleet.md recommends is enough for everything the penalty does. Port 27638.
it('works as a Redis ACL user limited to saslauthd:* keys without @dangerous commands', async () => {
  const redis = await startRedis(27638);
  const states: SharedState[] = [];
  try {
    await redis.client().call('ACL', 'SETUSER', 'saslauthd', 'on', '>sat-f1-acl-pw', '~saslauthd:*', '+@all', '-@dangerous', '+info');
    const s = new SharedState(parseSharedStateUrl('redis://saslauthd:sat-f1-acl-pw@127.0.0.1:27638'), { timeoutMs: 1000 }, pino({ level: 'silent' }));
    states.push(s);
    expect(await s.ready(5000)).toBe(true);
    const fleet = new SharedPenaltyStore(s, new FleetKey('/k', randomBytes(32)), { failDelayMs: 50, penaltyMaxMs: 100, forgetAfterMs: 60_000, maxTotalMs: 5000 });
    const p = new PenaltyAuthenticator(new FakeAuthenticator('f', { sat_f1_acl: 'right' }), { failDelayMs: 50, penaltyMaxMs: 100, jitter: 0, fleet }, pino({ level: 'silent' }));
    const ask = (pw: string) => p.authenticate({ ...req('sat_f1_acl', pw), clientAddr: '192.0.2.1;1' }, new AbortController().signal).then((o) => o.kind);
    expect([await ask('a'), await ask('b'), await ask('right'), await ask('c')]).toEqual(['rejected', 'rejected', 'ok', 'rejected']);
    expect((await p.list()).map((e) => [e.kind, e.key, e.failures])).toEqual([
      ['address', '192.0.2.1', 1],
      ['user', 'sat_f1_acl', 1],
    ]);
    expect(await fleet.clear({ all: true })).toBe(2);
    // Outside saslauthd:* the user can do nothing.
    await expect(s.call('GET', (c) => c.get('other:key'))).rejects.toThrow(/NOPERM/);
    expect(s.healthy).toBe(true);
  } finally {
    for (const s of states) await s.close();
    await redis.stop();
  }
}, 30_000);
