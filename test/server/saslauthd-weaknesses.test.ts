import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exchange } from '../../src/client/saslauthd-client.js';
import { encodeRequest } from '../../src/protocol/index.js';
import { type RunningDaemon, startOurs } from '../fixtures/daemon.js';
import { type FixtureFiles, writeFixture } from '../fixtures/fixture-users.js';
import { run } from '../fixtures/run.js';
import { testsaslauthd, verdict } from '../fixtures/testsaslauthd.js';
import { mkpasswd } from '../fixtures/users.js';

// One test per weakness in reference §8 that the foundation (shadow backend, server, codec) can
// show; items 6, 8, 9, 10 and 15 belong to the cache, rimap, httpform, ldap and pam backends and
// get their tests there. Items 1 (timeouts) and 7 (secrets in logs) have their own files.

const U = { name: 'sat_rel_wk_user', password: 'Weak user 1' };
const MUST = { name: 'sat_rel_wk_must', password: 'Must change 2' };
const INACT = { name: 'sat_rel_wk_inact', password: 'Inactive 3' };
let fx: FixtureFiles;
let d: RunningDaemon;

beforeAll(async () => {
  fx = await writeFixture([
    { name: U.name, password: U.password, method: 'sha-512' },
    { name: MUST.name, password: MUST.password, method: 'sha-512' },
    { name: INACT.name, password: INACT.password, method: 'sha-512' },
  ]);
  const today = Math.floor(Date.now() / 86_400_000);
  writeFileSync(fx.shadow,
    `${U.name}:${fx.hashes.get(U.name)}:${today}:0:99999:7:::\n` +
    `${MUST.name}:${await mkpasswd(MUST.password, 'sha-512')}:0:0:99999:7:::\n` +
    // password expired 100 days ago (max 10), inactive after 5 more days
    `${INACT.name}:${await mkpasswd(INACT.password, 'sha-512')}:${today - 110}:0:10:7:5::\n`);
  d = await startOurs(['-a', 'shadow', '--passwd-file', fx.passwd, '--shadow-file', fx.shadow]);
});
afterAll(async () => {
  await d?.stop();
  fx?.remove();
});

describe('saslauthd weaknesses (reference §8) we do not share', () => {
  it('§8.2 a v4 client (Debian testsaslauthd) is answered at once and a v5 client too', async () => {
    expect(await verdict(d.socket, U.name, U.password)).toBe('OK');
    expect(await exchange(d.socket, encodeRequest([U.name, U.password, 'imap', '', '192.0.2.1;4000']))).toBe('OK');
  });

  it('§8.3 a NUL byte does not truncate the password or the login', async () => {
    expect(await exchange(d.socket, encodeRequest([U.name, `${U.password}\0junk`, 'imap', '']))).toBe('NO authentication failed');
    expect(await exchange(d.socket, encodeRequest([`${U.name}\0junk`, U.password, 'imap', '']))).toBe('NO authentication failed');
  });

  it('§8.5 no user enumeration: unknown user, wrong password, locked, expired all read the same on the wire', async () => {
    const replies = await Promise.all([
      exchange(d.socket, encodeRequest(['sat_rel_wk_nosuch', U.password, 'imap', ''])),
      exchange(d.socket, encodeRequest([U.name, 'wrong', 'imap', ''])),
      exchange(d.socket, encodeRequest([MUST.name, MUST.password, 'imap', ''])),
      exchange(d.socket, encodeRequest([INACT.name, INACT.password, 'imap', ''])),
    ]);
    expect(new Set(replies)).toEqual(new Set(['NO authentication failed']));
  });

  it('§8.11 bad arguments fail loudly (exit 1), and an over-long socket path is refused, not truncated', async () => {
    const noMech = await run(process.execPath, ['bin/saslauthd-ts']);
    expect(noMech.code).toBe(1);
    expect(noMech.stderr).toContain('no authentication mechanism specified (-a)');
    const unknown = await run(process.execPath, ['bin/saslauthd-ts', '-a', 'shadow', '--bogus']);
    expect(unknown.code).toBe(1);
    const long = await run(process.execPath, ['bin/saslauthd-ts', '-a', 'shadow', '--passwd-file', fx.passwd, '--shadow-file', fx.shadow, '-m', `/tmp/${'x'.repeat(110)}`]);
    expect(long.code).toBe(1);
    expect(long.stderr).toContain('is longer than 107 bytes');
  });

  it('§8.13 shadow: "must change" (last change 0) and an inactive account are not accepted', async () => {
    expect(await verdict(d.socket, MUST.name, MUST.password)).toBe('NO');
    expect(await verdict(d.socket, INACT.name, INACT.password)).toBe('NO');
    expect(d.output()).toMatch(/\[user=sat_rel_wk_must\].*\[reason=password must be changed \(last change date is 0\)\]/);
    expect(d.output()).toMatch(/\[user=sat_rel_wk_inact\].*\[reason=account inactive/);
  });

  it('§8.14 an over-long field is answered NO and logged with the field and its length', async () => {
    const r = await testsaslauthd(d.socket, U.name, 'p'.repeat(257));
    expect(r.code).toBe(255);
    expect(d.output()).toMatch(/password exceeded MAX_REQ_LEN: 256.*length=257/);
  });
});
