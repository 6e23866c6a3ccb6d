import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startOurs, startReal } from '../helpers/daemon.js';
import { verdict } from '../helpers/testsaslauthd.js';
import { ensureUser, mkpasswd, removeUser } from '../helpers/users.js';

const USER = 'sat_realm_user';
const PW = 'realm pw';
let ours: RunningDaemon;
let real: RunningDaemon;

beforeAll(async () => {
  await ensureUser(USER, await mkpasswd(PW, 'sha-512'));
  [ours, real] = await Promise.all([
    startOurs(['-a', 'shadow', '--allow-realm', 'Example.ORG,mail.example.net']),
    startReal(['-a', 'shadow']),
  ]);
});
afterAll(async () => {
  await Promise.all([ours?.stop(), real?.stop()]);
  await removeUser(USER);
});

describe('--allow-realm (saslauthd reference §8 item 4)', () => {
  it('saslauthd drops the realm: joe@anything.example authenticates as local joe', async () => {
    expect(await verdict(real.socket, USER, PW, { realm: 'anything.example' })).toBe('OK');
  });

  it('we refuse a realm that is not listed, before any backend sees it, and log why', async () => {
    expect(await verdict(ours.socket, USER, PW, { realm: 'anything.example' })).toBe('NO');
    expect(ours.output()).toContain(`auth failure: [user=${USER}] [service=imap] [realm=anything.example] [mech=core] [reason=realm anything.example is not in --allow-realm]`);
  });

  it('listed realms (any case) and the empty realm pass', async () => {
    expect(await verdict(ours.socket, USER, PW, { realm: 'example.org' })).toBe('OK');
    expect(await verdict(ours.socket, USER, PW, { realm: 'MAIL.Example.NET' })).toBe('OK');
    expect(await verdict(ours.socket, USER, PW)).toBe('OK');
    expect(await verdict(ours.socket, USER, 'wrong', { realm: 'example.org' })).toBe('NO');
  });
});
