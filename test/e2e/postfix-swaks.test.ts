import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gidOf } from '../../src/server/ids.js';
import { startOurs } from '../fixtures/daemon.js';
import { DAEMON_BIN } from '../fixtures/paths.js';
import { PostfixHarness, SMTP_AUTH_FAILED, SMTP_AUTH_OK, SMTP_AUTH_TEMPFAIL } from '../fixtures/postfix.js';
import { verdict } from '../fixtures/testsaslauthd.js';
import { startUnixRecordingProxy } from '../fixtures/recording-proxy.js';
import { encodeRequest } from '../../src/protocol/index.js';
import { ensureUser, mkpasswd, removeUser } from '../fixtures/users.js';

// The headline case: a real Postfix smtpd (Debian package) asks our daemon through libsasl2's
// saslauthd client, driven by swaks over SMTP AUTH. This file owns /etc/postfix and
// /var/spool/postfix while it runs and puts them back afterwards.
const PORT = 22525;
const WORK = '/tmp/sat-pf-postfix';
const MARK = '# sat_pf test configuration';
const CHROOT_RUN = '/var/spool/postfix/var/run/saslauthd';
const USER = 'sat_pf_alice';
const PASSWORD = 'Pf pass 1';
let createdSpoolVar = false;
// Backs up and restores /etc/postfix, and holds the lock test/packaging takes too: one file at a time.
const pf = new PostfixHarness({ port: PORT, work: WORK, mark: MARK });

async function authMatrix(): Promise<Record<string, string>> {
  return {
    plainGood: await pf.smtpAuth('PLAIN', USER, PASSWORD),
    plainBad: await pf.smtpAuth('PLAIN', USER, 'Pf pass 2'),
    loginGood: await pf.smtpAuth('LOGIN', USER, PASSWORD),
    loginBad: await pf.smtpAuth('LOGIN', USER, 'not it'),
    unknownUser: await pf.smtpAuth('PLAIN', 'sat_pf_nobody', PASSWORD),
  };
}

const EXPECTED = {
  plainGood: SMTP_AUTH_OK,
  plainBad: SMTP_AUTH_FAILED,
  loginGood: SMTP_AUTH_OK,
  loginBad: SMTP_AUTH_FAILED,
  unknownUser: SMTP_AUTH_FAILED,
};

beforeAll(async () => {
  await pf.begin();
  createdSpoolVar = !existsSync('/var/spool/postfix/var');
  await ensureUser(USER, await mkpasswd(PASSWORD, 'yescrypt'));
}, 960_000);

afterAll(async () => {
  try {
    // Still under the Postfix lock: the chroot copy of the run directory is Postfix's tree too.
    await pf.stop();
    rmSync(CHROOT_RUN, { recursive: true, force: true });
    if (createdSpoolVar) rmSync('/var/spool/postfix/var', { recursive: true, force: true });
    await removeUser(USER);
  } finally {
    await pf.end();
  }
}, 120_000);

describe('Postfix smtpd + swaks against saslauthd-ts', () => {
  it('not chrooted: 235 for the right password, 535 for a wrong one, 454 with the daemon stopped', async () => {
    const runDir = join(WORK, 'run');
    pf.writeMasterCf(false);
    pf.writeSmtpdConf(join(runDir, 'mux'));
    await pf.restart();
    // Socket 0660 root:sasl in a run directory 0710 root:sasl that the daemon creates.
    const d = await startOurs(['-a', 'shadow', '--socket-mode', '0660', '--socket-group', 'sasl'], { dir: runDir });
    try {
      expect(await authMatrix()).toEqual(EXPECTED);
      expect(d.output()).toContain(`auth success: [user=${USER}] [service=smtp] [realm=] [mech=shadow]`);
      expect(d.output()).toContain(`auth failure: [user=${USER}] [service=smtp] [realm=] [mech=shadow] [reason=password mismatch]`);
      expect(d.output()).toContain('auth failure: [user=sat_pf_nobody] [service=smtp] [realm=] [mech=shadow] [reason=no such user in passwd]');
      // libsasl2 splits user@domain at the last @: the domain arrives as the realm, and without -r
      // only the user part is checked (docs/troubleshooting.md's realm note).
      expect(await pf.smtpAuth('PLAIN', `${USER}@example.org`, PASSWORD)).toBe(EXPECTED.plainGood);
      expect(d.output()).toContain(`auth success: [user=${USER}] [service=smtp] [realm=example.org] [mech=shadow]`);
      expect(await d.stop()).toBe(0);
      expect(existsSync(join(runDir, 'mux'))).toBe(false);
      expect(await pf.smtpAuth('PLAIN', USER, PASSWORD)).toBe(SMTP_AUTH_TEMPFAIL);
      expect(pf.maillog()).toContain('cannot connect to saslauthd server');
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
    pf.writeMasterCf(false);
    pf.writeSmtpdConf(join(proxyDir, 'mux'));
    await pf.restart();
    const d = await startOurs(['-a', 'shadow'], { dir: runDir });
    const proxy = await startUnixRecordingProxy(join(proxyDir, 'mux'), d.socket);
    try {
      expect(await pf.smtpAuth('PLAIN', USER, PASSWORD)).toBe(EXPECTED.plainGood);
      expect(await pf.smtpAuth('LOGIN', USER, 'not it')).toBe(EXPECTED.loginBad);
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
    pf.writeMasterCf(true);
    // Resolved inside the chroot: this is /var/spool/postfix/var/run/saslauthd/mux on the host.
    pf.writeSmtpdConf('/var/run/saslauthd/mux');
    await pf.restart();
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
      expect(await pf.smtpAuth('LOGIN', USER, PASSWORD)).toBe(SMTP_AUTH_TEMPFAIL);
    } finally {
      if (p.exitCode === null) p.kill('SIGKILL');
    }
  });
});
