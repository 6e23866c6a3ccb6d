import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest } from '../../../src/client/saslauthd-client.js';
import { type RunningDaemon, startOurs, startReal } from '../../fixtures/daemon.js';
import { HOST, type Kdc, clientKrb5Conf, createKdc } from '../../fixtures/kdc.js';
import { run } from '../../fixtures/run.js';
import { eventually, jsonLines } from '../../fixtures/user-files.js';

// -a kerberos5 against a real MIT KDC (a throwaway realm on 127.0.0.1), side by side with Debian's
// saslauthd -a kerberos5: the same request must get the same reply text from both (--compat-replies),
// and ours must log the reason. Every file lives under TMP; the KDCs listen on 26810 and 26811 only.
const TMP = '/tmp/sat_kr_diff';
const REALM = 'SAT.TEST';
const PORT = 26810;
const SPOOF_PORT = 26811;
const VERIFY = `host/${HOST}`;

const T = {
  initCreds: 'NO krb5_get_init_creds_password failed',
  verify: 'NO krb5_verify_init_creds failed',
  internal: 'NO saslauthd internal error',
  principal: 'NO saslauthd principal name error',
};

let kdc: Kdc;
let spoof: Kdc;
let keytab: string;
let conf: string;
/** The krb5.conf both daemons read; rewritten to point at the spoofed KDC in one test. */
let liveConf: string;
let env: NodeJS.ProcessEnv;
let real: RunningDaemon;
let ours: RunningDaemon;

const linesFor = (d: RunningDaemon, user: string): Record<string, unknown>[] => jsonLines(d.output()).filter((r) => r['user'] === user && 'outcome' in r);
const lastFor = (d: RunningDaemon, user: string): Record<string, unknown> | undefined => linesFor(d, user).at(-1);

/** The reply from each daemon; returns once ours has logged the request (the log line follows the reply). */
async function both(login: string, password: string, o: { service?: string; realm?: string } = {}): Promise<[string, string]> {
  const req = { login, password, service: o.service ?? 'imap', realm: o.realm ?? '' };
  const before = linesFor(ours, login).length;
  const replies: [string, string] = [await sendRequest(real.socket, req), await sendRequest(ours.socket, req)];
  await eventually(() => linesFor(ours, login).length > before, `a log line for ${login}`);
  return replies;
}

beforeAll(async () => {
  rmSync(TMP, { recursive: true, force: true });
  mkdirSync(TMP, { recursive: true, mode: 0o700 });
  keytab = join(TMP, 'krb5.keytab');
  kdc = await createKdc(join(TMP, 'kdc'), REALM, PORT, keytab);
  await kdc.addPrincipal('sat_kr_alice', 'alice-pw');
  await kdc.addPrincipal('sat_kr_alice/mail', 'mail-pw');
  await kdc.addPrincipal('sat_kr_pat', 'pat-pw', '+requires_preauth');
  await kdc.addPrincipal('sat_kr_old', 'old-pw', '-expire "2001-01-01 00:00:00 UTC"');
  await kdc.addPrincipal('sat_kr_pwold', 'pwold-pw', '-pwexpire "2001-01-01 00:00:00 UTC"');
  await kdc.addPrincipal('sat_kr_off', 'off-pw', '-allow_tix');
  await kdc.kadmin('addpol -maxfailure 1 -failurecountinterval 0 -lockoutduration 0 sat_kr_lockpol');
  await kdc.addPrincipal('sat_kr_lock', 'lock-pw', '+requires_preauth -policy sat_kr_lockpol');
  await kdc.kadmin(`addprinc -randkey ${VERIFY}`);
  await kdc.ktadd(keytab, VERIFY);
  await kdc.start();
  // One wrong password locks sat_kr_lock out (the policy allows 1 failure).
  const k = await run('/usr/bin/kinit', ['sat_kr_lock'], { input: 'wrong\n', env: kdc.clientEnv });
  expect(k.stderr).toContain('Password incorrect');

  liveConf = join(TMP, 'krb5-live.conf');
  copyFileSync(kdc.clientConf, liveConf);
  env = { ...kdc.clientEnv, KRB5_CONFIG: liveConf };
  conf = join(TMP, 'saslauthd.conf');
  writeFileSync(conf, `krb5_keytab: ${keytab}\nkrb5_smtp_instance: mail\n`);
  real = await startReal(['-a', 'kerberos5', '-O', conf, '-n', '1'], { env });
  ours = await startOurs(['-a', 'kerberos5', '-O', conf, '--compat-replies', '--log-format', 'json'], { env });
});

afterAll(async () => {
  await real?.stop();
  await ours?.stop();
  await kdc?.destroy();
  await spoof?.destroy();
  rmSync(TMP, { recursive: true, force: true });
});

describe('-a kerberos5 against a real MIT KDC, beside saslauthd -a kerberos5', () => {
  it.each([
    // login, password, service, realm, reply (both), our outcome, our code
    ['sat_kr_alice', 'alice-pw', 'imap', '', 'OK', 'ok', undefined],
    ['sat_kr_alice', 'wrong', 'imap', '', T.initCreds, 'rejected', 'bad-password'],
    ['sat_kr_pat', 'pat-pw', 'imap', '', 'OK', 'ok', undefined],
    ['sat_kr_pat', 'wrong', 'imap', '', T.initCreds, 'rejected', 'bad-password'],
    ['sat_kr_nobody', 'alice-pw', 'imap', '', T.initCreds, 'rejected', 'unknown-user'],
    ['sat_kr_old', 'old-pw', 'imap', '', T.initCreds, 'rejected', 'account-expired'],
    ['sat_kr_pwold', 'pwold-pw', 'imap', '', T.initCreds, 'rejected', 'password-expired'],
    ['sat_kr_off', 'off-pw', 'imap', '', T.initCreds, 'rejected', 'locked'],
    ['sat_kr_lock', 'lock-pw', 'imap', '', T.initCreds, 'rejected', 'locked'],
    // The request realm is appended as sent: the right case works, another case is another realm.
    ['sat_kr_alice', 'alice-pw', 'imap', REALM, 'OK', 'ok', undefined],
    ['sat_kr_alice', 'alice-pw', 'imap', 'sat.test', T.initCreds, 'unavailable', 'connect-failed'],
    ['sat_kr_alice@SAT.TEST', 'alice-pw', 'imap', '', 'OK', 'ok', undefined],
    // krb5_smtp_instance: mail makes login sat_kr_alice mean sat_kr_alice/mail for smtp.
    ['sat_kr_alice', 'mail-pw', 'smtp', '', 'OK', 'ok', undefined],
    ['sat_kr_alice', 'alice-pw', 'smtp', '', T.initCreds, 'rejected', 'bad-password'],
    ['sat_kr_alice/mail', 'mail-pw', 'smtp', '', 'OK', 'ok', undefined],
    ['sat_kr_alice/other', 'alice-pw', 'smtp', '', T.principal, 'rejected', 'invalid-input'],
    ['sat_kr_alice@SAT.TEST@SAT.TEST', 'alice-pw', 'imap', '', T.internal, 'rejected', 'invalid-input'],
  ])('%s / %s (service %s, realm %j): %s', async (login, password, service, realm, reply, outcome, code) => {
    expect(await both(login, password, { service, realm })).toEqual([reply, reply]);
    const line = lastFor(ours, login);
    expect(line).toMatchObject({ outcome, mech: 'kerberos5' });
    expect(line?.['code']).toBe(code);
  });

  it('a reason in the log names what libkrb5 said, never the password', () => {
    const lines = jsonLines(ours.output()).filter((r) => 'outcome' in r);
    const reasons = Object.fromEntries(lines.map((r) => [`${String(r['user'])}:${String(r['code'])}`, String(r['reason'])]));
    expect(reasons['sat_kr_alice:bad-password']).toMatch(/^wrong password: /);
    expect(reasons['sat_kr_nobody:unknown-user']).toMatch(/^principal unknown to the KDC: Client 'sat_kr_nobody@SAT.TEST' not found/);
    expect(reasons['sat_kr_old:account-expired']).toMatch(/^principal expired: /);
    expect(reasons['sat_kr_pwold:password-expired']).toMatch(/^password expired: /);
    expect(reasons['sat_kr_lock:locked']).toMatch(/^principal locked or disabled: /);
    for (const pw of ['alice-pw', 'mail-pw', 'lock-pw', 'old-pw']) expect(ours.output()).not.toContain(pw);
  });

  it('a spoofed KDC (same realm, same user password, another key for the verify principal) gets NO from both', async () => {
    spoof = await createKdc(join(TMP, 'spoof'), REALM, SPOOF_PORT, join(TMP, 'spoof.keytab'));
    await spoof.addPrincipal('sat_kr_alice', 'alice-pw');
    await spoof.kadmin(`addprinc -randkey ${VERIFY}`);
    await spoof.start();
    // The impostor does accept the password: only the keytab check can tell.
    const k = await run('/usr/bin/kinit', ['sat_kr_alice'], { input: 'alice-pw\n', env: spoof.clientEnv });
    expect(k.code).toBe(0);
    writeFileSync(liveConf, clientKrb5Conf(REALM, SPOOF_PORT, keytab));
    try {
      expect(await both('sat_kr_alice', 'alice-pw')).toEqual([T.verify, T.verify]);
      const line = lastFor(ours, 'sat_kr_alice');
      expect(line).toMatchObject({ outcome: 'rejected', code: 'not-authorized' });
      expect(String(line?.['reason'])).toContain('TGT failed verification against the keytab');
    } finally {
      copyFileSync(kdc.clientConf, liveConf);
      await spoof.stop();
    }
    expect(await both('sat_kr_alice', 'alice-pw')).toEqual(['OK', 'OK']);
  });

  it('KDC down: NO from both; ours says unavailable (connect-failed)', async () => {
    await kdc.stop();
    try {
      expect(await both('sat_kr_alice', 'alice-pw')).toEqual([T.initCreds, T.initCreds]);
      const line = lastFor(ours, 'sat_kr_alice');
      expect(line).toMatchObject({ outcome: 'unavailable', code: 'connect-failed' });
      expect(String(line?.['reason'])).toMatch(/^KDC unreachable: /);
    } finally {
      await kdc.start();
    }
    expect(await both('sat_kr_alice', 'alice-pw')).toEqual(['OK', 'OK']);
  });

  it('-r: the realm is folded into the login and appended again, so both refuse (saslauthd quirk kept)', async () => {
    const realR = await startReal(['-a', 'kerberos5', '-O', conf, '-n', '1', '-r'], { env });
    const oursR = await startOurs(['-a', 'kerberos5', '-O', conf, '--compat-replies', '-r'], { env });
    try {
      const req = { login: 'sat_kr_alice', password: 'alice-pw', service: 'imap', realm: REALM };
      expect([await sendRequest(realR.socket, req), await sendRequest(oursR.socket, req)]).toEqual([T.internal, T.internal]);
      const noRealm = { ...req, realm: '' };
      expect([await sendRequest(realR.socket, noRealm), await sendRequest(oursR.socket, noRealm)]).toEqual(['OK', 'OK']);
    } finally {
      await realR.stop();
      await oursR.stop();
    }
  });
});
