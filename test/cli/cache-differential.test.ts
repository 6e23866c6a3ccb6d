import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startOurs, startReal } from '../fixtures/daemon.js';
import { verdict } from '../fixtures/testsaslauthd.js';
import { ensureUser, mkpasswd, removeUser } from '../fixtures/users.js';

// The same story told to Debian's saslauthd -c and to ours, through testsaslauthd, against the real
// /etc/shadow: every verdict must match.
const U = 'sat_cache_diff';
let ours: RunningDaemon;
let real: RunningDaemon;

beforeAll(async () => {
  await ensureUser(U, await mkpasswd('old pw', 'sha-512'));
  ours = await startOurs(['-a', 'shadow', '-c', '--fail-delay', '0']);
  real = await startReal(['-a', 'shadow', '-c']);
});

afterAll(async () => {
  await ours?.stop();
  await real?.stop();
  await removeUser(U);
});

async function both(pw: string, service = 'imap'): Promise<[string, string]> {
  return [await verdict(real.socket, U, pw, { service }), await verdict(ours.socket, U, pw, { service })];
}

describe('credential cache, differential against saslauthd -c', () => {
  it('password change: old answers from the cache until the new one is used, then only the new one', async () => {
    expect(await both('old pw')).toEqual(['OK', 'OK']);
    expect(await both('wrong')).toEqual(['NO', 'NO']);
    await ensureUser(U, await mkpasswd('new pw', 'sha-512'));
    expect(await both('old pw')).toEqual(['OK', 'OK']); // cached in both
    expect(await both('old pw', 'smtp')).toEqual(['NO', 'NO']); // not cached for this service
    expect(await both('new pw')).toEqual(['OK', 'OK']);
    expect(await both('old pw')).toEqual(['NO', 'NO']);
    expect(await both('new pw')).toEqual(['OK', 'OK']);
  });
});
