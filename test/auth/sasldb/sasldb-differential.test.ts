import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startOurs } from '../../fixtures/daemon.js';
import { ETC_SASLDB, listSasldb, removePlaceholder, saslpasswd, startRealSasldb } from '../../fixtures/sasldb.js';
import { verdict } from '../../fixtures/testsaslauthd.js';

// The same requests, through Debian's testsaslauthd, to the real `saslauthd -a sasldb` (reading our
// file as /etc/sasldb2 in a private mount namespace) and to ours (-O FILE): every verdict must match.
const HOST = hostname();
let dir: string;
let db: string;
let ours: RunningDaemon;
let real: RunningDaemon;
let oursR: RunningDaemon;
let realR: RunningDaemon;
let etcBefore: { size: number; mtimeMs: number; bytes: Buffer } | null = null;

beforeAll(async () => {
  if (statSync(ETC_SASLDB, { throwIfNoEntry: false })) {
    const st = statSync(ETC_SASLDB);
    etcBefore = { size: st.size, mtimeMs: st.mtimeMs, bytes: readFileSync(ETC_SASLDB) };
  }
  dir = mkdtempSync('/tmp/sat_sd-diff-');
  db = join(dir, 'sasldb2');
  await saslpasswd(db, 'sat_sd_a', 'Secr3t!', HOST);
  await saslpasswd(db, 'sat_sd_b', 'in example', 'example.org');
  await saslpasswd(db, 'sat_sd_c', 'other pw', 'other.org');
  await saslpasswd(db, 'sat_sd_u', 'pässwörd ✓ 密码', HOST);
  await saslpasswd(db, 'sat_sd_ü', 'unicode login', HOST);
  await saslpasswd(db, 'sat_sd_two', 'host pw', HOST);
  await saslpasswd(db, 'sat_sd_two', 'realm pw', 'example.org');
  [ours, real, oursR, realR] = await Promise.all([
    startOurs(['-a', 'sasldb', '-O', db]),
    startRealSasldb(db),
    startOurs(['-a', 'sasldb', '-O', db, '-r']),
    startRealSasldb(db, ['-r']),
  ]);
});

afterAll(async () => {
  await Promise.all([ours?.stop(), real?.stop(), oursR?.stop(), realR?.stop()]);
  removePlaceholder();
  rmSync(dir, { recursive: true, force: true });
});

async function both(user: string, pw: string, realm?: string): Promise<[string, string]> {
  const o = realm === undefined ? {} : { realm };
  return [await verdict(real.socket, user, pw, o), await verdict(ours.socket, user, pw, o)];
}

describe('-a sasldb, differential against the real saslauthd -a sasldb', () => {
  it('the users were made by the real saslpasswd2', async () => {
    expect((await listSasldb(db)).sort()).toEqual(
      [`sat_sd_a@${HOST}`, 'sat_sd_b@example.org', 'sat_sd_c@other.org', `sat_sd_u@${HOST}`, `sat_sd_ü@${HOST}`, `sat_sd_two@${HOST}`, 'sat_sd_two@example.org']
        .map((u) => `${u}: userPassword`)
        .sort(),
    );
  });

  it('right, wrong, near-miss passwords and unknown users', async () => {
    expect(await both('sat_sd_a', 'Secr3t!')).toEqual(['OK', 'OK']);
    expect(await both('sat_sd_a', 'wrong')).toEqual(['NO', 'NO']);
    expect(await both('sat_sd_a', 'Secr3t')).toEqual(['NO', 'NO']); // a prefix
    expect(await both('sat_sd_a', 'Secr3t!!')).toEqual(['NO', 'NO']); // longer
    expect(await both('SAT_SD_A', 'Secr3t!')).toEqual(['NO', 'NO']); // logins are exact
    expect(await both('sat_sd_nobody', 'Secr3t!')).toEqual(['NO', 'NO']);
  });

  it('unicode passwords and logins are compared as bytes', async () => {
    expect(await both('sat_sd_u', 'pässwörd ✓ 密码')).toEqual(['OK', 'OK']);
    expect(await both('sat_sd_u', 'passwörd ✓ 密码')).toEqual(['NO', 'NO']);
    expect(await both('sat_sd_ü', 'unicode login')).toEqual(['OK', 'OK']);
    expect(await both('sat_sd_u', 'pässwörd ✓ 密码', HOST)).toEqual(['OK', 'OK']);
  });

  it('an empty realm means the host name (gethostname)', async () => {
    expect(await both('sat_sd_a', 'Secr3t!', HOST)).toEqual(['OK', 'OK']);
    expect(await both('sat_sd_b', 'in example')).toEqual(['NO', 'NO']); // lives in example.org only
    expect(await both('sat_sd_two', 'host pw')).toEqual(['OK', 'OK']);
    expect(await both('sat_sd_two', 'realm pw')).toEqual(['NO', 'NO']);
  });

  it('an explicit realm selects that realm only', async () => {
    expect(await both('sat_sd_b', 'in example', 'example.org')).toEqual(['OK', 'OK']);
    expect(await both('sat_sd_b', 'in example', 'EXAMPLE.ORG')).toEqual(['NO', 'NO']); // realms are exact too
    expect(await both('sat_sd_b', 'in example', 'other.org')).toEqual(['NO', 'NO']);
    expect(await both('sat_sd_a', 'Secr3t!', 'example.org')).toEqual(['NO', 'NO']);
    expect(await both('sat_sd_two', 'realm pw', 'example.org')).toEqual(['OK', 'OK']);
    expect(await both('sat_sd_two', 'host pw', 'example.org')).toEqual(['NO', 'NO']);
  });

  it('a login user@realm with an empty realm is not split', async () => {
    expect(await both('sat_sd_b@example.org', 'in example')).toEqual(['NO', 'NO']);
    expect(await both('sat_sd_c@other.org', 'other pw')).toEqual(['NO', 'NO']);
    expect(await both(`sat_sd_a@${HOST}`, 'Secr3t!')).toEqual(['NO', 'NO']);
    expect(await both('sat_sd_c', 'other pw', 'other.org')).toEqual(['OK', 'OK']);
  });

  it('-r folds the realm into the login but still passes the realm: login@realm is looked up in realm', async () => {
    const withR = async (user: string, pw: string, realm?: string): Promise<[string, string]> => {
      const o = realm === undefined ? {} : { realm };
      return [await verdict(realR.socket, user, pw, o), await verdict(oursR.socket, user, pw, o)];
    };
    expect(await withR('sat_sd_a', 'Secr3t!')).toEqual(['OK', 'OK']); // empty realm: nothing folded
    expect(await withR('sat_sd_b', 'in example', 'example.org')).toEqual(['NO', 'NO']); // key sat_sd_b@example.org NUL example.org
    expect(await withR('sat_sd_a', 'Secr3t!', HOST)).toEqual(['NO', 'NO']);
  });

  it("never touched the machine's /etc/sasldb2", () => {
    if (etcBefore === null) return;
    const st = statSync(ETC_SASLDB);
    expect({ size: st.size, mtimeMs: st.mtimeMs, same: readFileSync(ETC_SASLDB).equals(etcBefore.bytes) }).toEqual({
      size: etcBefore.size,
      mtimeMs: etcBefore.mtimeMs,
      same: true,
    });
  });
});
