import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { must, run } from './run.js';

/** What swaks sees from Postfix for each SASL outcome (Debian 12's Postfix and libsasl2). */
export const SMTP_AUTH_OK = '235 2.7.0 Authentication successful';
export const SMTP_AUTH_FAILED = '535 5.7.8 Error: authentication failed: authentication failure';
export const SMTP_AUTH_TEMPFAIL = '454 4.7.0 Temporary authentication failure: generic failure';

const LOCK = '/tmp/sat-postfix.lock';
const USERS_LOCK = '/tmp/sat-users.lock';

/**
 * Every test file that drives the machine's Postfix holds this lock from its set-up to its
 * clean-up: there is one /etc/postfix and one master process. flock holds it (-o: not its child),
 * and dies with the test process (--pdeathsig), so a crashed run frees it.
 */
export class PostfixLock {
  #holder: ChildProcess | null = null;

  async take(timeoutSec = 900): Promise<void> {
    const p = spawn('setpriv', ['--pdeathsig', 'KILL', 'flock', '-o', '-w', String(timeoutSec), LOCK, 'sh', '-c', 'echo held; exec sleep 3600'],
      { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    this.#holder = p;
    await new Promise<void>((resolve, reject) => {
      p.stdout?.once('data', () => resolve());
      p.once('exit', (code) => reject(new Error(`could not take ${LOCK} within ${timeoutSec} s (flock exited ${code})`)));
    });
  }

  release(): void {
    const p = this.#holder;
    this.#holder = null;
    if (p?.pid === undefined) return;
    try {
      process.kill(-p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

export interface PostfixOptions {
  /** smtpd's port on 127.0.0.1. */
  readonly port: number;
  /** Scratch directory (maillog); created 0755 so smtpd can traverse it. */
  readonly work: string;
  /** First line of the test main.cf: marks a configuration this harness wrote. */
  readonly mark: string;
}

/**
 * A real Postfix smtpd with SASL, configured for one test file: backs up /etc/postfix, writes a
 * minimal main.cf/master.cf, puts postfix in group sasl, and restores all of it in end().
 */
export class PostfixHarness {
  readonly #backup: string;
  readonly #lock = new PostfixLock();
  #wasInSasl = true;
  #begun = false;

  constructor(readonly o: PostfixOptions) {
    this.#backup = `${o.work}-etc.tar`;
  }

  async begin(): Promise<void> {
    await this.#lock.take();
    this.#begun = true;
    await this.stop();
    // A leftover of an interrupted run is ours, not the machine's: take the package state as the backup.
    if (existsSync('/etc/postfix/main.cf') && readFileSync('/etc/postfix/main.cf', 'utf8').startsWith(this.o.mark)) {
      if (!existsSync(this.#backup)) throw new Error('found a test main.cf but no backup to restore; restore /etc/postfix by hand');
    } else {
      await must('tar', ['cf', this.#backup, '-C', '/etc/postfix', '.']);
    }
    this.#wasInSasl = (await must('id', ['-nG', 'postfix'])).split(/\s+/).includes('sasl');
    rmSync(this.o.work, { recursive: true, force: true });
    mkdirSync(this.o.work, { mode: 0o755 });
    chmodSync(this.o.work, 0o755);
    // Debian's documented set-up: Postfix joins group sasl, which owns the socket (or its directory).
    if (!this.#wasInSasl) await must('flock', ['-w', '60', USERS_LOCK, 'gpasswd', '-a', 'postfix', 'sasl']);
    this.#writeMainCf();
  }

  /** Puts /etc/postfix back; does nothing if begin() was never called. */
  async end(): Promise<void> {
    if (!this.#begun) return;
    this.#begun = false;
    try {
      await this.stop();
      if (existsSync(this.#backup)) {
        rmSync('/etc/postfix/main.cf', { force: true });
        rmSync('/etc/postfix/sasl/smtpd.conf', { force: true });
        await must('tar', ['xf', this.#backup, '-C', '/etc/postfix']);
      }
      if (!this.#wasInSasl) await must('flock', ['-w', '60', USERS_LOCK, 'gpasswd', '-d', 'postfix', 'sasl']).catch(() => '');
      rmSync(this.o.work, { recursive: true, force: true });
      rmSync(this.#backup, { force: true });
    } finally {
      this.#lock.release();
    }
  }

  async running(): Promise<boolean> {
    return (await run('postfix', ['status'])).code === 0;
  }

  async stop(): Promise<void> {
    if (await this.running()) await must('postfix', ['stop']);
    for (let i = 0; i < 200 && (await this.running()); i++) await new Promise((r) => setTimeout(r, 50));
  }

  portOpen(): Promise<boolean> {
    return new Promise((resolve) => {
      const s = connect({ host: '127.0.0.1', port: this.o.port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
  }

  #writeMainCf(): void {
    writeFileSync('/etc/postfix/main.cf', `${this.o.mark}
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
maillog_file = ${this.o.work}/maillog
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

  writeMasterCf(chroot: boolean): void {
    // Only what an smtpd with SASL needs; the chroot column of the smtpd line is the variable.
    const svc = (name: string, type: string, priv: string, ch: string, wake: string, max: string, cmd: string): string =>
      `${name} ${type} ${priv} - ${ch} ${wake} ${max} ${cmd}`;
    writeFileSync('/etc/postfix/master.cf', [
      this.o.mark,
      svc(`127.0.0.1:${this.o.port}`, 'inet', 'n', chroot ? 'y' : 'n', '-', '-', 'smtpd'),
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
  writeSmtpdConf(saslauthdPath: string): void {
    writeFileSync('/etc/postfix/sasl/smtpd.conf', `pwcheck_method: saslauthd\nmech_list: PLAIN LOGIN\nsaslauthd_path: ${saslauthdPath}\n`);
  }

  /** Restarts Postfix on the current configuration and waits until smtpd's port accepts. */
  async restart(): Promise<void> {
    await this.stop();
    await must('postfix', ['check']);
    await must('postfix', ['start']);
    for (let i = 0; i < 400 && !(await this.portOpen()); i++) await new Promise((r) => setTimeout(r, 50));
    if (!(await this.portOpen())) throw new Error(`postfix is not listening on ${this.o.port}:\n${this.maillog()}`);
  }

  maillog(): string {
    try {
      return readFileSync(join(this.o.work, 'maillog'), 'utf8');
    } catch {
      return '';
    }
  }

  /** swaks' verdict on AUTH: the first reply after the AUTH command that is not a 334 challenge. */
  async smtpAuth(mech: 'PLAIN' | 'LOGIN', user: string, password: string): Promise<string> {
    const r = await run('swaks', ['--server', '127.0.0.1', '--port', String(this.o.port), '--helo', 'sat-pf.test', '--auth', mech,
      '--auth-user', user, '--auth-password', password, '--quit-after', 'AUTH', '--timeout', '60'], { timeoutMs: 90_000 });
    const lines = r.stdout.split('\n');
    const at = lines.findIndex((l) => l.startsWith(' -> AUTH '));
    for (const l of lines.slice(at + 1)) {
      const m = /^<(?:-|\*\*) +(\d{3}) (.*)$/.exec(l);
      if (m && m[1] !== '334') return `${m[1]} ${m[2]}`;
    }
    throw new Error(`no AUTH reply from swaks (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}
