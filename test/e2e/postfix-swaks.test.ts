import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gidOf } from '../../src/server/ids.js';
import { startOurs } from '../fixtures/daemon.js';
import { DAEMON_BIN } from '../fixtures/paths.js';
import { PostfixLock } from '../fixtures/postfix.js';
import { must, run } from '../fixtures/run.js';
import { verdict } from '../fixtures/testsaslauthd.js';
import { startUnixRecordingProxy } from '../fixtures/recording-proxy.js';
import { encodeRequest } from '../../src/protocol/index.js';
import { ensureUser, mkpasswd, removeUser } from '../fixtures/users.js';

// The headline case: a real Postfix smtpd (Debian package) asks our daemon through libsasl2's
// saslauthd client, driven by swaks over SMTP AUTH. This file owns /etc/postfix and
// /var/spool/postfix while it runs and puts them back afterwards.
const PORT = 22525;
const WORK = '/tmp/sat-pf-postfix';
const BACKUP = '/tmp/sat-pf-postfix-etc.tar';
const MARK = '# sat_pf test configuration';
const CHROOT_RUN = '/var/spool/postfix/var/run/saslauthd';
const USER = 'sat_pf_alice';
const PASSWORD = 'Pf pass 1';
let wasInSasl = false;
let createdSpoolVar = false;
// test/packaging drives the same Postfix; one file at a time.
const postfixLock = new PostfixLock();

const lock = (cmd: string, ...args: string[]): Promise<string> => must('flock', ['-w', '60', '/tmp/sat-users.lock', cmd, ...args]);

async function postfixRunning(): Promise<boolean> {
  return (await run('postfix', ['status'])).code === 0;
}

async function postfixStop(): Promise<void> {
  if (await postfixRunning()) await must('postfix', ['stop']);
  for (let i = 0; i < 200 && (await postfixRunning()); i++) await new Promise((r) => setTimeout(r, 50));
}

function portOpen(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port: PORT });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function writeMainCf(): void {
  writeFileSync('/etc/postfix/main.cf', `${MARK}
compatibility_level = 3.6
myhostname = sat-pf.localdomain
mydomain = localdomain
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
smtpd_peername_lookup = no
maillog_file = ${WORK}/maillog
maillog_file_prefixes = /var, /dev/stdout, /tmp
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
smtpd_sasl_service = smtp
cyrus_sasl_config_path = /etc/postfix/sasl
smtpd_sasl_security_options = noanonymous
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtpd_tls_security_level = none
`);
}

function writeMasterCf(chroot: boolean): void {
  // Only what an smtpd with SASL needs; the chroot column of the smtpd line is the variable.
  const svc = (name: string, type: string, priv: string, ch: string, wake: string, max: string, cmd: string): string =>
    `${name} ${type} ${priv} - ${ch} ${wake} ${max} ${cmd}`;
  writeFileSync('/etc/postfix/master.cf', [
    MARK,
    svc(`127.0.0.1:${PORT}`, 'inet', 'n', chroot ? 'y' : 'n', '-', '-', 'smtpd'),
    svc('pickup', 'unix', 'n', 'n', '60', '1', 'pickup'),
    svc('cleanup', 'unix', 'n', 'n', '-', '0', 'cleanup'),
    svc('qmgr', 'unix', 'n', 'n', '300', '1', 'qmgr'),
    svc('rewrite', 'unix', '-', 'n', '-', '-', 'trivial-rewrite'),
    svc('bounce', 'unix', '-', 'n', '-', '0', 'bounce'),
    svc('defer', 'unix', '-', 'n', '-', '0', 'bounce'),
    svc('trace', 'unix', '-', 'n', '-', '0', 'bounce'),
    svc('verify', 'unix', '-', 'n', '-', '1', 'verify'),
    svc('proxymap', 'unix', '-', 'n', '-', '-', 'proxymap'),
    svc('error', 'unix', '-', 'n', '-', '-', 'error'),
    svc('retry', 'unix', '-', 'n', '-', '-', 'error'),
    svc('discard', 'unix', '-', 'n', '-', '-', 'discard'),
    svc('anvil', 'unix', '-', 'n', '-', '1', 'anvil'),
    svc('scache', 'unix', '-', 'n', '-', '1', 'scache'),
    'postlog unix-dgram n - n - 1 postlogd',
    '',
  ].join('\n'));
}

/** /etc/postfix/sasl/smtpd.conf as section 9.1 of the reference shows it. */
function writeSmtpdConf(saslauthdPath: string): void {
  writeFileSync('/etc/postfix/sasl/smtpd.conf', `pwcheck_method: saslauthd\nmech_list: PLAIN LOGIN\nsaslauthd_path: ${saslauthdPath}\n`);
}

/** Restarts Postfix on the current configuration and waits until smtpd's port accepts. */
async function postfixRestart(): Promise<void> {
  await postfixStop();
  await must('postfix', ['check']);
  await must('postfix', ['start']);
  for (let i = 0; i < 400 && !(await portOpen()); i++) await new Promise((r) => setTimeout(r, 50));
  if (!(await portOpen())) throw new Error(`postfix is not listening on ${PORT}:\n${maillog()}`);
}

function maillog(): string {
  try {
    return readFileSync(join(WORK, 'maillog'), 'utf8');
  } catch {
    return '';
  }
}

/** swaks' verdict on AUTH: the first reply after the AUTH command that is not a 334 challenge. */
async function smtpAuth(mech: 'PLAIN' | 'LOGIN', user: string, password: string): Promise<string> {
  const r = await run('swaks', ['--server', '127.0.0.1', '--port', String(PORT), '--helo', 'sat-pf.test', '--auth', mech,
    '--auth-user', user, '--auth-password', password, '--quit-after', 'AUTH', '--timeout', '60'], { timeoutMs: 90_000 });
  const lines = r.stdout.split('\n');
  const at = lines.findIndex((l) => l.startsWith(' -> AUTH '));
  for (const l of lines.slice(at + 1)) {
    const m = /^<(?:-|\*\*) +(\d{3}) (.*)$/.exec(l);
    if (m && m[1] !== '334') return `${m[1]} ${m[2]}`;
  }
  throw new Error(`no AUTH reply from swaks (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
}

async function authMatrix(): Promise<Record<string, string>> {
  return {
    plainGood: await smtpAuth('PLAIN', USER, PASSWORD),
    plainBad: await smtpAuth('PLAIN', USER, 'Pf pass 2'),
    loginGood: await smtpAuth('LOGIN', USER, PASSWORD),
    loginBad: await smtpAuth('LOGIN', USER, 'not it'),
    unknownUser: await smtpAuth('PLAIN', 'sat_pf_nobody', PASSWORD),
  };
}

const EXPECTED = {
  plainGood: '235 2.7.0 Authentication successful',
  plainBad: '535 5.7.8 Error: authentication failed: authentication failure',
  loginGood: '235 2.7.0 Authentication successful',
  loginBad: '535 5.7.8 Error: authentication failed: authentication failure',
  unknownUser: '535 5.7.8 Error: authentication failed: authentication failure',
};
const TEMPFAIL = '454 4.7.0 Temporary authentication failure: generic failure';

async function restoreEtc(): Promise<void> {
  if (!existsSync(BACKUP)) return;
  rmSync('/etc/postfix/main.cf', { force: true });
  rmSync('/etc/postfix/sasl/smtpd.conf', { force: true });
  await must('tar', ['xf', BACKUP, '-C', '/etc/postfix']);
}

beforeAll(async () => {
  await postfixLock.take();
  await postfixStop();
  // A leftover of an interrupted run is ours, not the machine's: take the package state as the backup.
  if (existsSync('/etc/postfix/main.cf') && readFileSync('/etc/postfix/main.cf', 'utf8').startsWith(MARK)) {
    if (!existsSync(BACKUP)) throw new Error('found a test main.cf but no backup to restore; restore /etc/postfix by hand');
  } else {
    await must('tar', ['cf', BACKUP, '-C', '/etc/postfix', '.']);
  }
  wasInSasl = (await must('id', ['-nG', 'postfix'])).split(/\s+/).includes('sasl');
  createdSpoolVar = !existsSync('/var/spool/postfix/var');
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { mode: 0o755 });
  chmodSync(WORK, 0o755); // smtpd (user postfix) must traverse it to reach the socket's directory
  await ensureUser(USER, await mkpasswd(PASSWORD, 'yescrypt'));
  // Debian's documented set-up: Postfix joins group sasl, which owns the socket (or its directory).
  if (!wasInSasl) await lock('gpasswd', '-a', 'postfix', 'sasl');
  writeMainCf();
}, 960_000);

afterAll(async () => {
  await postfixStop();
  await restoreEtc();
  if (!wasInSasl) await lock('gpasswd', '-d', 'postfix', 'sasl').catch(() => '');
  rmSync(CHROOT_RUN, { recursive: true, force: true });
  if (createdSpoolVar) rmSync('/var/spool/postfix/var', { recursive: true, force: true });
  await removeUser(USER);
  rmSync(WORK, { recursive: true, force: true });
  rmSync(BACKUP, { force: true });
  postfixLock.release();
}, 120_000);

describe('Postfix smtpd + swaks against saslauthd-ts', () => {
  it('not chrooted: 235 for the right password, 535 for a wrong one, 454 with the daemon stopped', async () => {
    const runDir = join(WORK, 'run');
    writeMasterCf(false);
    writeSmtpdConf(join(runDir, 'mux'));
    await postfixRestart();
    // Socket 0660 root:sasl in a run directory 0710 root:sasl that the daemon creates.
    const d = await startOurs(['-a', 'shadow', '--socket-mode', '0660', '--socket-group', 'sasl'], { dir: runDir });
    try {
      expect(await authMatrix()).toEqual(EXPECTED);
      expect(d.output()).toContain(`auth success: [user=${USER}] [service=smtp] [realm=] [mech=shadow]`);
      expect(d.output()).toContain(`auth failure: [user=${USER}] [service=smtp] [realm=] [mech=shadow] [reason=password mismatch]`);
      expect(d.output()).toContain('auth failure: [user=sat_pf_nobody] [service=smtp] [realm=] [mech=shadow] [reason=no such user in passwd]');
      // libsasl2 splits user@domain at the last @: the domain arrives as the realm, and without -r
      // only the user part is checked (the README's realm troubleshooting note).
      expect(await smtpAuth('PLAIN', `${USER}@example.org`, PASSWORD)).toBe(EXPECTED.plainGood);
      expect(d.output()).toContain(`auth success: [user=${USER}] [service=smtp] [realm=example.org] [mech=shadow]`);
      expect(await d.stop()).toBe(0);
      expect(existsSync(join(runDir, 'mux'))).toBe(false);
      expect(await smtpAuth('PLAIN', USER, PASSWORD)).toBe(TEMPFAIL);
      expect(maillog()).toContain('cannot connect to saslauthd server');
    } finally {
      await d.stop('SIGKILL');
      rmSync(runDir, { recursive: true, force: true });
    }
  });

  it('Postfix (libsasl2 2.1.28) sends no client address: the exact frame has four fields', async () => {
    // Issue 11 item 13: so the per-user penalty is the only one a Postfix deployment gets.
    const runDir = join(WORK, 'run3');
    const proxyDir = join(WORK, 'rec');
    mkdirSync(proxyDir, { mode: 0o755 });
    chmodSync(proxyDir, 0o755);
    writeMasterCf(false);
    writeSmtpdConf(join(proxyDir, 'mux'));
    await postfixRestart();
    const d = await startOurs(['-a', 'shadow'], { dir: runDir });
    const proxy = await startUnixRecordingProxy(join(proxyDir, 'mux'), d.socket);
    try {
      expect(await smtpAuth('PLAIN', USER, PASSWORD)).toBe(EXPECTED.plainGood);
      expect(await smtpAuth('LOGIN', USER, 'not it')).toBe(EXPECTED.loginBad);
      expect(proxy.sent()).toEqual([
        encodeRequest([USER, PASSWORD, 'smtp', '']),
        encodeRequest([USER, 'not it', 'smtp', '']),
      ]);
      expect(d.output()).not.toContain('[remote=');
    } finally {
      await proxy.close();
      await d.stop('SIGKILL');
      rmSync(runDir, { recursive: true, force: true });
      rmSync(proxyDir, { recursive: true, force: true });
    }
  });

  it('chrooted smtpd: the socket-activated listener inside /var/spool/postfix answers', async () => {
    // What saslauthd-ts.socket sets up: the chroot copy of the run directory, and two listeners
    // with SocketGroup=sasl / SocketMode=0660 (systemd-socket-activate binds, the test sets the mode).
    mkdirSync(CHROOT_RUN, { recursive: true, mode: 0o755 });
    chownSync(CHROOT_RUN, 0, gidOf('sasl'));
    chmodSync(CHROOT_RUN, 0o710);
    const main = join(WORK, 'run2');
    mkdirSync(main, { mode: 0o755 });
    writeMasterCf(true);
    // Resolved inside the chroot: this is /var/spool/postfix/var/run/saslauthd/mux on the host.
    writeSmtpdConf('/var/run/saslauthd/mux');
    await postfixRestart();
    const hostHasDefault = existsSync('/var/run/saslauthd/mux');
    const sockets = [join(CHROOT_RUN, 'mux'), join(main, 'mux')];
    const p: ChildProcess = spawn('systemd-socket-activate', [
      '-l', sockets[0] as string, '-l', sockets[1] as string, '--fdname=saslauthd:saslauthd',
      process.execPath, DAEMON_BIN, '-a', 'shadow', '-m', join(WORK, 'unused'),
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr?.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((resolve) => p.once('exit', (code) => resolve(code)));
    try {
      for (let i = 0; i < 400 && !sockets.every((s) => existsSync(s)); i++) await new Promise((r) => setTimeout(r, 50));
      for (const s of sockets) {
        chownSync(s, 0, gidOf('sasl'));
        chmodSync(s, 0o660);
      }
      // The first connection starts the daemon; both listeners answer testsaslauthd too.
      expect(await verdict(sockets[1] as string, USER, PASSWORD, { service: 'smtp' })).toBe('OK');
      expect(await verdict(sockets[0] as string, USER, 'wrong', { service: 'smtp' })).toBe('NO');
      expect(await authMatrix()).toEqual(EXPECTED);
      expect(out).toContain(`listening on socket: ${sockets[0]} (socket activation) fd=3 name=saslauthd`);
      expect(out).toContain(`listening on socket: ${sockets[1]} (socket activation) fd=4 name=saslauthd`);
      expect(out.split(`auth success: [user=${USER}] [service=smtp]`).length - 1).toBe(3);
      if (!hostHasDefault) expect(existsSync('/var/run/saslauthd/mux')).toBe(false); // only the chroot path can have served smtpd
      p.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(await smtpAuth('LOGIN', USER, PASSWORD)).toBe(TEMPFAIL);
    } finally {
      if (p.exitCode === null) p.kill('SIGKILL');
    }
  });
});
