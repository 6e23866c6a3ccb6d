import { type Server, createServer } from 'node:net';
import { type Socket as UdpSocket, createSocket } from 'node:dgram';
import { chmodSync, copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest } from '../../../src/client/saslauthd-client.js';
import { type RunningDaemon, startOurs, startReal } from '../../fixtures/daemon.js';
import { HOST, type Kdc, clientKrb5Conf, createKdc } from '../../fixtures/kdc.js';
import { DAEMON_BIN } from '../../fixtures/paths.js';
import { run } from '../../fixtures/run.js';
import { eventually, jsonLines } from '../../fixtures/user-files.js';

// Start-up checks (--check), a KDC that is down, silent or has the wrong clock, against a real
// MIT KDC on 127.0.0.1:26830 (26831: a black hole that never answers). Files under TMP only.
const TMP = '/tmp/sat_kr_faults';
const REALM = 'SAT-FAULTS.TEST';
const PORT = 26830;
const HOLE_PORT = 26831;
const VERIFY = `host/${HOST}`;

let kdc: Kdc;
let keytab: string;
let env: NodeJS.ProcessEnv;

const conf = (name: string, text: string): string => {
  const p = join(TMP, name);
  writeFileSync(p, text);
  return p;
};

async function check(args: string[], e: NodeJS.ProcessEnv = env): Promise<{ code: number | null; out: string }> {
  const r = await run(process.execPath, [DAEMON_BIN, '-a', 'kerberos5', ...args, '--check', '-m', join(TMP, 'run')], { env: e });
  return { code: r.code, out: r.stdout + r.stderr };
}

const linesFor = (d: RunningDaemon, user: string): Record<string, unknown>[] => jsonLines(d.output()).filter((r) => r['user'] === user && 'outcome' in r);

async function ask(d: RunningDaemon, login: string, password: string): Promise<{ reply: string; line: Record<string, unknown> }> {
  const before = linesFor(d, login).length;
  const reply = await sendRequest(d.socket, { login, password, service: 'imap', realm: '' });
  await eventually(() => linesFor(d, login).length > before, `a log line for ${login}`);
  return { reply, line: linesFor(d, login).at(-1)! };
}

beforeAll(async () => {
  rmSync(TMP, { recursive: true, force: true });
  mkdirSync(TMP, { recursive: true, mode: 0o700 });
  keytab = join(TMP, 'krb5.keytab');
  kdc = await createKdc(join(TMP, 'kdc'), REALM, PORT, keytab);
  await kdc.addPrincipal('sat_kr_carl', 'carl-pw');
  await kdc.addPrincipal('sat_kr_pia', 'pia-pw', '+requires_preauth');
  await kdc.kadmin(`addprinc -randkey ${VERIFY}`);
  await kdc.ktadd(keytab, VERIFY);
  await kdc.start();
  env = kdc.clientEnv;
});

afterAll(async () => {
  await kdc?.destroy();
  rmSync(TMP, { recursive: true, force: true });
});

describe('start-up: the keytab is checked, never silently skipped', () => {
  it('--check with a good keytab names the verify principal and the KDC verdict', async () => {
    const r = await check(['-O', conf('good.conf', `krb5_keytab: ${keytab}\n`)]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`verified against keytab FILE:${keytab} as ${VERIFY}@${REALM}`);
    expect(r.out).toContain('KDC at start-up: reachable, accepts the keytab key');
    expect(r.out).toContain(`\nok: kerberos5: KDC answers and accepts the key in FILE:${keytab} for ${VERIFY}@${REALM}\n`);
    expect(r.out).toContain('configuration OK');
  });

  it('a missing keytab is a start-up error naming it (saslauthd starts and says NO to everyone)', async () => {
    const missing = join(TMP, 'missing.keytab');
    const c = conf('missing.conf', `krb5_keytab: ${missing}\n`);
    const r = await check(['-O', c]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`failed to initialize mechanism kerberos5: kerberos5: keytab FILE:${missing} (from ${c}): no usable key for the verify principal`);
    expect(r.out).toContain('not found');
    const real = await startReal(['-a', 'kerberos5', '-O', c, '-n', '1'], { env });
    try {
      expect(await sendRequest(real.socket, { login: 'sat_kr_carl', password: 'carl-pw', service: 'imap', realm: '' })).toBe('NO krb5_verify_init_creds failed');
    } finally {
      await real.stop();
    }
  });

  it('a keytab without the verify principal (krb5_verify_principal: imap) is a start-up error', async () => {
    const r = await check(['-O', conf('imap.conf', `krb5_keytab: ${keytab}\nkrb5_verify_principal: imap\n`)]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/no usable key for the verify principal imap\/\S+ .*No key table entry found for imap\//);
  });

  it('an unreadable keytab is a start-up error', async () => {
    // Root reads anything: run the check as nobody, who may read the config but not enter `closed`.
    const open = '/tmp/sat_kr_faults_nobody';
    rmSync(open, { recursive: true, force: true });
    mkdirSync(join(open, 'closed'), { recursive: true, mode: 0o755 });
    chmodSync(open, 0o755);
    chmodSync(join(open, 'closed'), 0o700);
    copyFileSync(keytab, join(open, 'closed', 'krb5.keytab'));
    copyFileSync(kdc.clientConf, join(open, 'krb5.conf'));
    writeFileSync(join(open, 'saslauthd.conf'), `krb5_keytab: ${open}/closed/krb5.keytab\n`);
    chmodSync(join(open, 'krb5.conf'), 0o644);
    chmodSync(join(open, 'saslauthd.conf'), 0o644);
    try {
      const r = await run('/usr/sbin/runuser', ['-u', 'nobody', '--', process.execPath, DAEMON_BIN, '-a', 'kerberos5', '-O', join(open, 'saslauthd.conf'), '--check', '-m', join(open, 'run')], {
        env: { ...env, KRB5_CONFIG: join(open, 'krb5.conf') },
      });
      expect(r.code).toBe(1);
      expect(r.stdout + r.stderr).toMatch(/keytab FILE:\/tmp\/sat_kr_faults_nobody\/closed\/krb5\.keytab .*Permission denied/);
    } finally {
      rmSync(open, { recursive: true, force: true });
    }
  });

  it('--user: a keytab the target user cannot read refuses the drop at start-up', async () => {
    const c = conf('user.conf', `krb5_keytab: ${keytab}\n`);
    const r = await check(['-O', c, '--user', 'nobody']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('cannot drop privileges to nobody: ');
    expect(r.out).toContain(keytab);
  });

  it('a stale keytab (the KDC has a newer key) is a start-up error', async () => {
    const stale = join(TMP, 'stale.keytab');
    copyFileSync(keytab, stale);
    const fresh = join(TMP, 'fresh.keytab');
    await kdc.ktadd(fresh, VERIFY); // new random key at the KDC
    try {
      const r = await check(['-O', conf('stale.conf', `krb5_keytab: ${stale}\n`)]);
      expect(r.code).toBe(1);
      expect(r.out).toContain(`the KDC rejects the key in FILE:${stale} for ${VERIFY}@${REALM}: the keytab is stale or from another KDC`);
      expect((await check(['-O', conf('fresh.conf', `krb5_keytab: ${fresh}\n`)])).code).toBe(0);
    } finally {
      copyFileSync(fresh, keytab);
    }
  });

  it('KDC down at start-up: starts with a warning, answers unavailable, then OK once the KDC is back', async () => {
    const c = conf('down.conf', `krb5_keytab: ${keytab}\n`);
    await kdc.stop();
    let d: RunningDaemon | null = null;
    try {
      const r = await check(['-O', c]);
      // The daemon starts (with a warning) during a KDC outage, but every request would be
      // unavailable: --check says so and exits 1 (issue 14).
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/KDC at start-up: NOT checked: Cannot contact any KDC/);
      expect(r.out).toMatch(/\nerror: kerberos5: KDC check of .* failed \(kdc\): .*Cannot contact any KDC/);
      d = await startOurs(['-a', 'kerberos5', '-O', c, '--log-format', 'json'], { env });
      const a = await ask(d, 'sat_kr_carl', 'carl-pw');
      expect(a.reply).toBe('NO authentication failed');
      expect(a.line).toMatchObject({ outcome: 'unavailable', code: 'connect-failed' });
      await kdc.start();
      expect((await ask(d, 'sat_kr_carl', 'carl-pw')).reply).toBe('OK');
    } finally {
      await d?.stop();
      await kdc.start();
    }
  });
});

describe('a KDC that never answers', () => {
  let udp: UdpSocket;
  let tcp: Server;
  beforeAll(async () => {
    udp = createSocket('udp4');
    await new Promise<void>((r) => udp.bind(HOLE_PORT, '127.0.0.1', () => r()));
    tcp = createServer(() => {}); // accepts, reads nothing, says nothing
    await new Promise<void>((r) => tcp.listen(HOLE_PORT, '127.0.0.1', () => r()));
  });
  afterAll(async () => {
    udp.close();
    tcp.close();
  });

  it('--krb5-timeout bounds the wait: unavailable (timeout) on time, with -n 1 for a queued request too', async () => {
    const holeConf = join(TMP, 'hole-krb5.conf');
    writeFileSync(holeConf, clientKrb5Conf(REALM, HOLE_PORT, keytab));
    const e = { ...env, KRB5_CONFIG: holeConf };
    const d = await startOurs(['-a', 'kerberos5', '-O', conf('hole.conf', `krb5_keytab: ${keytab}\n`), '--krb5-timeout', '1500', '-n', '1', '--log-format', 'json'], { env: e });
    try {
      expect(d.output()).toContain('could not check the keytab key with the KDC');
      const t0 = Date.now();
      const [a, b] = await Promise.all([ask(d, 'sat_kr_carl', 'carl-pw'), ask(d, 'sat_kr_pia', 'pia-pw')]);
      const ms = Date.now() - t0;
      expect([a.reply, b.reply]).toEqual(['NO authentication failed', 'NO authentication failed']);
      expect(a.line).toMatchObject({ outcome: 'unavailable', code: 'timeout' });
      expect(b.line).toMatchObject({ outcome: 'unavailable', code: 'timeout' });
      expect(String(a.line['reason'])).toContain('no verdict from the KDC within 1500 ms');
      expect(ms).toBeLessThan(3500);
    } finally {
      await d.stop();
    }
  });
});

describe('clock skew', () => {
  it('with kdc_timesync off, a KDC two hours behind gives unavailable (clock skew) in ours and NO in saslauthd', async () => {
    const skewConf = join(TMP, 'skew-krb5.conf');
    writeFileSync(skewConf, clientKrb5Conf(REALM, PORT, keytab).replace('[libdefaults]\n', '[libdefaults]\n kdc_timesync = 0\n'));
    const e = { ...env, KRB5_CONFIG: skewConf };
    const c = conf('skew.conf', `krb5_keytab: ${keytab}\n`);
    const d = await startOurs(['-a', 'kerberos5', '-O', c, '--compat-replies', '--log-format', 'json'], { env: e });
    const real = await startReal(['-a', 'kerberos5', '-O', c, '-n', '1'], { env: e });
    await kdc.stop();
    await kdc.start('-2h');
    try {
      for (const [user, pw] of [['sat_kr_carl', 'carl-pw'], ['sat_kr_pia', 'pia-pw']] as const) {
        const a = await ask(d, user, pw);
        expect(a.reply).toBe('NO krb5_get_init_creds_password failed');
        expect(a.line).toMatchObject({ outcome: 'unavailable', code: 'backend-error' });
        expect(String(a.line['reason'])).toMatch(/^clock skew between this host and the KDC too great: Clock skew too great/);
        expect(await sendRequest(real.socket, { login: user, password: pw, service: 'imap', realm: '' })).toBe('NO krb5_get_init_creds_password failed');
      }
      // libkrb5's default (kdc_timesync = 1; it is an integer, 'false' reads as the default) absorbs the skew: both say OK.
      const d2 = await startOurs(['-a', 'kerberos5', '-O', c], { env });
      try {
        expect(await sendRequest(d2.socket, { login: 'sat_kr_pia', password: 'pia-pw', service: 'imap', realm: '' })).toBe('OK');
      } finally {
        await d2.stop();
      }
    } finally {
      await d.stop();
      await real.stop();
      await kdc.stop();
      await kdc.start();
    }
  });
});
