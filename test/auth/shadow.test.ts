import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Outcome } from '../../src/auth/authenticator.js';
import { Secret } from '../../src/auth/secret.js';
import { ShadowAuthenticator } from '../../src/auth/backends/shadow/shadow.js';
import { Crypt } from '../../src/native/crypt.js';
import { mkpasswd } from '../fixtures/users.js';

const TODAY = 20500;
const dir = mkdtempSync('/tmp/sat-shadow-unit-');
const passwdFile = join(dir, 'passwd');
const shadowFile = join(dir, 'shadow');
let auth: ShadowAuthenticator;

const users = ['alice', 'bob', 'locked', 'star', 'empty', 'expired', 'pwexp', 'mustchange', 'inactive', 'nis', 'noshadow', 'expire0'];

async function check(login: string, password: string): Promise<Outcome> {
  return auth.authenticate({ login, password: Secret.fromString(password), service: 'imap', realm: '', clientAddr: null }, new AbortController().signal);
}

beforeAll(async () => {
  const h = await mkpasswd('right pw', 'sha-256');
  writeFileSync(passwdFile, users.map((u, i) => `${u}:x:${2000 + i}:100::/nonexistent:/usr/sbin/nologin\n`).join(''));
  const line = (u: string, hash: string, rest = `${TODAY - 1}:0:99999:7:::`) => `${u}:${hash}:${rest}\n`;
  writeFileSync(
    shadowFile,
    [
      line('alice', h),
      line('bob', await mkpasswd('bob pw', 'sha-512')),
      line('locked', `!${h}`),
      line('star', '*'),
      line('empty', ''),
      line('expired', h, `${TODAY - 1}:0:99999:7::${TODAY - 1}:`),
      line('pwexp', h, `${TODAY - 100}:0:30:7:::`),
      line('mustchange', h, '0:0:99999:7:::'),
      line('inactive', h, `${TODAY - 100}:0:30:7:10::`),
      line('nis', '*NP*'),
      line('expire0', h, `${TODAY - 1}:0:99999:7::0:`),
    ].join(''),
  );
  auth = new ShadowAuthenticator({ passwdFile, shadowFile, now: () => TODAY * 86_400_000 + 3600_000 }, new Crypt(2), pino({ level: 'silent' }));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ShadowAuthenticator', () => {
  it('accepts the right password and rejects a wrong one', async () => {
    expect(await check('alice', 'right pw')).toEqual({ kind: 'ok', compat: 'OK' });
    expect(await check('alice', 'wrong pw')).toMatchObject({ kind: 'rejected', code: 'bad-password', compat: 'NO Incorrect password' });
    expect(await check('bob', 'bob pw')).toMatchObject({ kind: 'ok' });
  });

  it.each([
    ['nobody_here', 'right pw', 'unknown-user', 'NO Invalid username'],
    ['noshadow', 'right pw', 'unknown-user', 'NO Invalid shadow username'],
    ['locked', 'right pw', 'locked', 'NO Incorrect password'],
    ['star', 'right pw', 'locked', 'NO Incorrect password'],
    ['empty', 'anything', 'no-password', 'NO Incorrect password'],
    ['nis', 'right pw', 'locked', 'NO Insufficient permission to access NIS authentication database (saslauthd)'],
    ['expired', 'right pw', 'account-expired', 'NO Account expired'],
    ['expire0', 'right pw', 'account-expired', 'NO Account expired'],
    ['pwexp', 'right pw', 'password-expired', 'NO Password expired'],
    ['mustchange', 'right pw', 'password-expired', 'NO Password expired'],
    ['inactive', 'right pw', 'account-inactive', 'NO Account expired'],
  ])('%s is rejected (%s)', async (login, pw, code, compat) => {
    expect(await check(login, pw)).toMatchObject({ kind: 'rejected', code, compat });
  });

  it('says nothing about ageing to someone with the wrong password', async () => {
    expect(await check('expired', 'wrong')).toMatchObject({ kind: 'rejected', code: 'bad-password' });
  });

  it('picks up an atomically replaced shadow file without a restart', async () => {
    const before = await check('alice', 'new pw');
    expect(before.kind).toBe('rejected');
    const h = await mkpasswd('new pw', 'yescrypt');
    const tmp = `${shadowFile}.new`;
    writeFileSync(tmp, `alice:${h}:${TODAY - 1}:0:99999:7:::\n`);
    renameSync(tmp, shadowFile);
    expect(await check('alice', 'new pw')).toMatchObject({ kind: 'ok' });
    expect(await check('alice', 'right pw')).toMatchObject({ kind: 'rejected', code: 'bad-password' });
    expect(await check('bob', 'bob pw')).toMatchObject({ kind: 'rejected', code: 'unknown-user' });
  });

  it('is unavailable, not rejecting or accepting, when the files cannot be read', async () => {
    const gone = new ShadowAuthenticator({ passwdFile, shadowFile: join(dir, 'missing') }, new Crypt(1), pino({ level: 'silent' }));
    expect(await gone.authenticate({ login: 'alice', password: Secret.fromString('x'), service: '', realm: '', clientAddr: null }, new AbortController().signal))
      .toMatchObject({ kind: 'unavailable', code: 'backend-error' });
  });
});
