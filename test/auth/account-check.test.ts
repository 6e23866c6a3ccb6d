import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetpwentAuthenticator } from '../../src/auth/backends/getpwent/getpwent.js';
import { ShadowAuthenticator } from '../../src/auth/backends/shadow/shadow.js';
import type { PasswdLookup } from '../../src/native/binding.js';
import type { Crypt } from '../../src/native/crypt.js';
import { req } from '../fixtures/fake-authenticator.js';

// The account checks the credential cache asks on every hit (issue 11 item 7): what shadow and
// getpwent refuse without the password. They must never run a crypt: a hit stays cheap.
const noCrypt = { verify: () => Promise.reject(new Error('accountCheck must not crypt')) } as unknown as Crypt;
const log = pino({ level: 'silent' });
const signal = new AbortController().signal;
const TODAY = 20500;
const HASH = '$6$saltsalt$0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ./0123456789abcdefghijk';
const dir = mkdtempSync('/tmp/sat_po_account-');

describe('ShadowAuthenticator.accountCheck', () => {
  let shadow: ShadowAuthenticator;
  beforeAll(() => {
    const users: [string, string, string][] = [
      ['alice', HASH, `${TODAY - 1}:0:99999:7:::`],
      ['locked', `!${HASH}`, `${TODAY - 1}:0:99999:7:::`],
      ['star', '*', `${TODAY - 1}:0:99999:7:::`],
      ['empty', '', `${TODAY - 1}:0:99999:7:::`],
      ['nis', '*NP*', `${TODAY - 1}:0:99999:7:::`],
      ['expired', HASH, `${TODAY - 1}:0:99999:7::1:`],
      ['pwexp', HASH, `${TODAY - 100}:0:30:7:::`],
      ['mustchange', HASH, '0:0:99999:7:::'],
      ['inactive', HASH, `${TODAY - 100}:0:30:7:10::`],
    ];
    writeFileSync(join(dir, 'passwd'), [...users.map(([u]) => u), 'noshadow'].map((u, i) => `${u}:x:${3000 + i}:100::/nonexistent:/usr/sbin/nologin\n`).join(''));
    writeFileSync(join(dir, 'shadow'), users.map(([u, h, rest]) => `${u}:${h}:${rest}\n`).join(''));
    shadow = new ShadowAuthenticator({ passwdFile: join(dir, 'passwd'), shadowFile: join(dir, 'shadow'), now: () => TODAY * 86_400_000 }, noCrypt, log);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds nothing to refuse on an account in force', async () => {
    expect(await shadow.accountCheck(req('alice', 'any'), signal)).toBeNull();
  });

  it.each([
    ['gone', 'unknown-user', 'no such user in passwd'],
    ['noshadow', 'unknown-user', 'user has no shadow entry'],
    ['locked', 'locked', 'account is locked (!)'],
    ['star', 'locked', 'account is disabled (*)'],
    ['empty', 'no-password', 'account has no password set'],
    ['nis', 'locked', 'NIS+ hash (*NP*) not accessible'],
    ['expired', 'account-expired', 'account expired (shadow expire date)'],
    ['pwexp', 'password-expired', 'password expired (last change + max days)'],
    ['mustchange', 'password-expired', 'password must be changed (last change date is 0)'],
    ['inactive', 'account-inactive', 'account inactive (password expired + inactive days)'],
  ])('%s: %s, with the reason authenticate gives', async (login, code, reason) => {
    expect(await shadow.accountCheck(req(login, 'any'), signal)).toMatchObject({ kind: 'rejected', code, reason });
  });

  it('is unavailable when the files cannot be read', async () => {
    const gone = new ShadowAuthenticator({ passwdFile: join(dir, 'passwd'), shadowFile: join(dir, 'missing') }, noCrypt, log);
    expect(await gone.accountCheck(req('alice', 'any'), signal)).toMatchObject({ kind: 'unavailable', code: 'backend-error' });
  });
});

describe('GetpwentAuthenticator.accountCheck', () => {
  const table: Record<string, PasswdLookup> = {
    alice: { found: true, passwd: HASH, uid: 3000 },
    locked: { found: true, passwd: `!${HASH}`, uid: 3001 },
    shadowed: { found: true, passwd: 'x', uid: 3002 },
    empty: { found: true, passwd: '', uid: 3003 },
    broken: { found: false, errno: 5, error: 'Input/output error' },
  };
  const getpwent = new GetpwentAuthenticator({ lookup: async (name) => table[name] ?? { found: false } }, noCrypt, log);

  it('finds nothing to refuse when NSS has a usable hash', async () => {
    expect(await getpwent.accountCheck(req('alice', 'any'), signal)).toBeNull();
  });

  it.each([
    ['gone', 'rejected', 'unknown-user'],
    ['locked', 'rejected', 'locked'],
    ['shadowed', 'rejected', 'locked'],
    ['empty', 'rejected', 'no-password'],
    ['broken', 'unavailable', 'backend-error'],
  ])('%s: %s (%s)', async (login, kind, code) => {
    expect(await getpwent.accountCheck(req(login, 'any'), signal)).toMatchObject({ kind, code });
  });
});
