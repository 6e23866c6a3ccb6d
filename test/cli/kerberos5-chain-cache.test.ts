import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest } from '../../src/client/saslauthd-client.js';
import { type RunningDaemon, startOurs, startReal } from '../fixtures/daemon.js';
import { HOST, type Kdc, createKdc } from '../fixtures/kdc.js';
import { verdict } from '../fixtures/testsaslauthd.js';
import { type UserFiles, eventually, jsonLines, userFiles } from '../fixtures/user-files.js';

// -a kerberos5,shadow and -a kerberos5 -c against a real MIT KDC on 127.0.0.1:26840; files under TMP.
const TMP = '/tmp/sat_kr_chain';
const REALM = 'SAT-CHAIN.TEST';
const PORT = 26840;
const KIM = 'sat_kr_kim'; // in the KDC (krb-pw) and in shadow (shadow-pw)
const SOL = 'sat_kr_sol'; // only in shadow

let kdc: Kdc;
let conf: string;
let files: UserFiles;

const linesFor = (d: RunningDaemon, user: string): Record<string, unknown>[] => jsonLines(d.output()).filter((r) => r['user'] === user && 'outcome' in r);

/** testsaslauthd's verdict, and our log line for it. */
async function ask(d: RunningDaemon, login: string, password: string): Promise<[string, Record<string, unknown>]> {
  const before = linesFor(d, login).length;
  const v = await verdict(d.socket, login, password);
  await eventually(() => linesFor(d, login).length > before, `a log line for ${login}`);
  return [v, linesFor(d, login).at(-1)!];
}

beforeAll(async () => {
  rmSync(TMP, { recursive: true, force: true });
  mkdirSync(TMP, { recursive: true, mode: 0o700 });
  const keytab = join(TMP, 'krb5.keytab');
  kdc = await createKdc(join(TMP, 'kdc'), REALM, PORT, keytab);
  await kdc.addPrincipal(KIM, 'krb-pw');
  await kdc.kadmin(`addprinc -randkey host/${HOST}`);
  await kdc.ktadd(keytab, `host/${HOST}`);
  await kdc.start();
  conf = join(TMP, 'saslauthd.conf');
  writeFileSync(conf, `krb5_keytab: ${keytab}\n`);
  files = await userFiles(join(TMP, 'users'), { [KIM]: 'shadow-pw', [SOL]: 'sol-pw' });
});

afterAll(async () => {
  await kdc?.destroy();
  rmSync(TMP, { recursive: true, force: true });
});

describe('-a kerberos5,shadow', () => {
  let d: RunningDaemon;
  beforeAll(async () => {
    d = await startOurs(['-a', 'kerberos5,shadow', '-O', conf, '--passwd-file', files.passwd, '--shadow-file', files.shadow, '--log-format', 'json'], { env: kdc.clientEnv });
  });
  afterAll(async () => {
    await d?.stop();
  });

  it('the KDC answers for its principals', async () => {
    const [v, line] = await ask(d, KIM, 'krb-pw');
    expect(v).toBe('OK');
    expect(line).toMatchObject({ outcome: 'ok', mech: 'kerberos5,shadow', via: 'kerberos5' });
  });

  it('a principal the KDC does not know goes on to shadow', async () => {
    const [v, line] = await ask(d, SOL, 'sol-pw');
    expect(v).toBe('OK');
    expect(line).toMatchObject({ outcome: 'ok', via: 'shadow' });
  });

  it('a wrong Kerberos password stops the chain: the shadow password is not tried', async () => {
    const [v, line] = await ask(d, KIM, 'shadow-pw');
    expect(v).toBe('NO');
    expect(line).toMatchObject({ outcome: 'rejected', code: 'bad-password', via: 'kerberos5' });
  });

  it('KDC down: unavailable, so shadow answers', async () => {
    await kdc.stop();
    try {
      const [v, line] = await ask(d, KIM, 'shadow-pw');
      expect(v).toBe('OK');
      expect(line).toMatchObject({ outcome: 'ok', via: 'shadow' });
      const [v2, line2] = await ask(d, KIM, 'krb-pw');
      expect(v2).toBe('NO');
      expect(line2).toMatchObject({ outcome: 'rejected', via: 'shadow' });
      expect(String(line2['reason'])).toContain('kerberos5: KDC unreachable');
    } finally {
      await kdc.start();
    }
  });
});

describe('--route smtp=kerberos5 beside -a shadow', () => {
  it('smtp requests ask the KDC, the rest shadow', async () => {
    const d = await startOurs(['-a', 'shadow', '--route', 'smtp=kerberos5', '-O', conf, '--passwd-file', files.passwd, '--shadow-file', files.shadow, '--log-format', 'json'], {
      env: kdc.clientEnv,
    });
    try {
      expect(await verdict(d.socket, KIM, 'krb-pw', { service: 'smtp' })).toBe('OK');
      expect(await verdict(d.socket, KIM, 'shadow-pw', { service: 'smtp' })).toBe('NO');
      expect(await verdict(d.socket, KIM, 'shadow-pw', { service: 'imap' })).toBe('OK');
      expect(await verdict(d.socket, KIM, 'krb-pw', { service: 'imap' })).toBe('NO');
      await eventually(() => linesFor(d, KIM).length === 4, 'four log lines');
      expect(linesFor(d, KIM).map((l) => l['route'] ?? null)).toEqual(['service:smtp', 'service:smtp', null, null]);
    } finally {
      await d.stop();
    }
  });
});

describe('-a kerberos5 -c, beside saslauthd -a kerberos5 -c', () => {
  let ours: RunningDaemon;
  let real: RunningDaemon;
  beforeAll(async () => {
    ours = await startOurs(['-a', 'kerberos5', '-c', '-O', conf, '--log-format', 'json'], { env: kdc.clientEnv });
    real = await startReal(['-a', 'kerberos5', '-c', '-O', conf, '-n', '1'], { env: kdc.clientEnv });
  });
  afterAll(async () => {
    await ours?.stop();
    await real?.stop();
  });

  async function both(pw: string): Promise<[string, string]> {
    return [await verdict(real.socket, KIM, pw), (await ask(ours, KIM, pw))[0]];
  }

  it('a success is cached: it answers while the KDC is down and after a password change, in both', async () => {
    expect(await both('krb-pw')).toEqual(['OK', 'OK']);
    expect(linesFor(ours, KIM).at(-1)?.['cached']).toBeUndefined();
    expect(await both('krb-pw')).toEqual(['OK', 'OK']);
    expect(linesFor(ours, KIM).at(-1)).toMatchObject({ outcome: 'ok', cached: true });
    await kdc.stop();
    try {
      expect(await both('krb-pw')).toEqual(['OK', 'OK']);
      expect(await both('other-pw')).toEqual(['NO', 'NO']);
      expect(linesFor(ours, KIM).at(-1)).toMatchObject({ outcome: 'unavailable', code: 'connect-failed' });
    } finally {
      await kdc.start();
    }
    await kdc.kadmin(`cpw -pw new-pw ${KIM}`);
    expect(await both('krb-pw')).toEqual(['OK', 'OK']); // still cached in both
    expect(await both('new-pw')).toEqual(['OK', 'OK']);
    expect(await both('krb-pw')).toEqual(['NO', 'NO']); // the new success replaced the old entry
    expect(
      await sendRequest(ours.socket, { login: KIM, password: 'new-pw', service: 'imap', realm: '' }),
    ).toBe('OK');
  });
});
