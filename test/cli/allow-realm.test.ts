import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startOurs, startReal } from '../fixtures/daemon.js';
import { verdict } from '../fixtures/testsaslauthd.js';
import { type UserFiles, userFiles } from '../fixtures/user-files.js';
import { ensureUser, mkpasswd, removeUser } from '../fixtures/users.js';

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
    expect(ours.output()).toContain(`auth failure: [user=${USER}] [service=imap] [realm=anything.example] [mech=shadow] [reason=realm anything.example is not in --allow-realm]`);
  });

  it('listed realms (any case) and the empty realm pass', async () => {
    expect(await verdict(ours.socket, USER, PW, { realm: 'example.org' })).toBe('OK');
    expect(await verdict(ours.socket, USER, PW, { realm: 'MAIL.Example.NET' })).toBe('OK');
    expect(await verdict(ours.socket, USER, PW)).toBe('OK');
    expect(await verdict(ours.socket, USER, 'wrong', { realm: 'example.org' })).toBe('NO');
  });
});

// Issue 11 item 4: the login's domain is checked too. Users whose names carry a domain live in a
// passwd/shadow pair of our own (real crypt hashes from mkpasswd), so each would be OK if the
// request reached the backend: a NO here is the allow-list's doing.
describe('--allow-realm checks the domain of the login, with and without -r (issue 11 item 4)', () => {
  const CARL = 'sat_po_carl';
  const PWD = 'carl pw';
  let tmp: string;
  let files: UserFiles;
  let plain: RunningDaemon;
  let concat: RunningDaemon;

  beforeAll(async () => {
    tmp = mkdtempSync('/tmp/sat_po_realm-');
    const names = [CARL, `${CARL}@example.com`, `${CARL}@example.org`, `${CARL}@example.org@example.com`, `${CARL}@b@example.com`];
    files = await userFiles(join(tmp, 'users'), Object.fromEntries(names.map((n) => [n, PWD])));
    const args = ['-a', 'shadow', '--passwd-file', files.passwd, '--shadow-file', files.shadow, '--allow-realm', 'example.com'];
    [plain, concat] = await Promise.all([startOurs(args), startOurs([...args, '-r'])]);
  });
  afterAll(async () => {
    await Promise.all([plain?.stop(), concat?.stop()]);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('without -r: carl@example.org with an empty realm is refused, naming the domain', async () => {
    expect(await verdict(plain.socket, `${CARL}@example.org`, PWD)).toBe('NO');
    expect(plain.output()).toContain(
      `auth failure: [user=${CARL}@example.org] [service=imap] [realm=] [mech=shadow] [reason=login domain example.org is not in --allow-realm]`,
    );
  });

  it('without -r: an allowed domain passes; a second @ never does', async () => {
    expect(await verdict(plain.socket, `${CARL}@example.com`, PWD)).toBe('OK');
    expect(await verdict(plain.socket, `${CARL}@EXAMPLE.com`, PWD)).toBe('NO'); // no such user: the backend said so
    expect(plain.output()).toContain(`auth failure: [user=${CARL}@EXAMPLE.com] [service=imap] [realm=] [mech=shadow] [reason=no such user in passwd]`);
    expect(await verdict(plain.socket, `${CARL}@b@example.com`, PWD)).toBe('NO');
    expect(plain.output()).toContain(`[user=${CARL}@b@example.com] [service=imap] [realm=] [mech=shadow] [reason=login domain b@example.com is not in --allow-realm]`);
    expect(await verdict(plain.socket, `${CARL}@example.org`, PWD, { realm: 'example.com' })).toBe('NO');
    expect(await verdict(plain.socket, CARL, PWD)).toBe('OK');
  });

  it('with -r: carl@example.org is refused with an empty realm and with an allowed one', async () => {
    expect(await verdict(concat.socket, `${CARL}@example.org`, PWD)).toBe('NO');
    expect(concat.output()).toContain(
      `auth failure: [user=${CARL}@example.org] [service=imap] [realm=] [mech=shadow] [reason=login domain example.org is not in --allow-realm]`,
    );
    // -r makes it carl@example.org@example.com: the domain backends derive is example.org@example.com.
    expect(await verdict(concat.socket, `${CARL}@example.org`, PWD, { realm: 'example.com' })).toBe('NO');
    expect(concat.output()).toContain(
      `auth failure: [user=${CARL}@example.org@example.com] [service=imap] [realm=example.com] [mech=shadow] [reason=login domain example.org@example.com is not in --allow-realm]`,
    );
  });

  it('with -r: the folded login is what the backend checks and what the log names', async () => {
    expect(await verdict(concat.socket, CARL, PWD, { realm: 'example.com' })).toBe('OK');
    expect(concat.output()).toContain(`auth success: [user=${CARL}@example.com] [service=imap] [realm=example.com] [mech=shadow]`);
    expect(await verdict(concat.socket, CARL, PWD, { realm: 'example.org' })).toBe('NO');
    expect(concat.output()).toContain(`auth failure: [user=${CARL}@example.org] [service=imap] [realm=example.org] [mech=shadow] [reason=realm example.org is not in --allow-realm]`);
    expect(await verdict(concat.socket, CARL, PWD)).toBe('OK');
  });
});
