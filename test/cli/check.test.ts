import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOurs } from '../fixtures/daemon.js';
import { type RunningDovecot, startDovecot } from '../fixtures/dovecot.js';
import { removePamService, writePamService } from '../fixtures/pam.js';
import { DAEMON_BIN } from '../fixtures/paths.js';
import { run } from '../fixtures/run.js';
import { SERVICE_DN, SERVICE_PW, Slapd, writeSaslauthdConf } from '../fixtures/slapd.js';
import { type UserFiles, userFiles } from '../fixtures/user-files.js';

// Ports 27200-27299 belong to these tests (helper B's range).
const SLAPD_PORT = 27210;
const DOVECOT_BASE = 27220; // 27220-27222
const DEAD_PORT = 27290; // nothing listens here
const PAM_SERVICE = 'sat-pam-ck-check';

let tmp: string;
let slapd: Slapd;
let dovecot: RunningDovecot;
let users: UserFiles;

const check = (args: readonly string[], runAs?: string) =>
  runAs === undefined
    ? run(process.execPath, [DAEMON_BIN, ...args, '-m', join(tmp, 'run'), '--check'])
    : run('/usr/sbin/runuser', ['-u', runAs, '--', process.execPath, DAEMON_BIN, ...args, '-m', join(tmp, 'run'), '--check']);

/** The `# checks` part of the output. */
const checks = (stdout: string): string[] => stdout.slice(stdout.indexOf('# checks\n')).split('\n').slice(1, -1);

beforeAll(async () => {
  tmp = mkdtempSync('/tmp/sat_ck-');
  users = await userFiles(tmp, { sat_ck_joe: 'Joe-pw1' });
  slapd = await Slapd.create({ port: SLAPD_PORT });
  dovecot = await startDovecot({ basePort: DOVECOT_BASE, users: [{ name: 'sat_ck_imap', password: 'Imap-pw1' }] });
  writePamService(PAM_SERVICE, 'auth required pam_permit.so\naccount required pam_permit.so\n');
}, 60_000);

afterAll(async () => {
  await dovecot?.stop();
  await slapd?.destroy();
  removePamService(PAM_SERVICE);
  rmSync(tmp, { recursive: true, force: true });
});

describe('--check fails for each false "OK" of issue 14', () => {
  it('--socket-group nosuchgroup (the real start fails at chown)', async () => {
    const r = await check(['-a', 'shadow', '--passwd-file', users.passwd, '--shadow-file', users.shadow, '--socket-group', 'sat_ck_nosuchgroup']);
    expect(r.code).toBe(1);
    expect(checks(r.stdout)).toContain("error: --socket-group: group 'sat_ck_nosuchgroup' does not exist (looked in /etc/group)");
    expect(r.stdout).toMatch(/\nconfiguration NOT OK: 1 error\(s\)\n$/);
  });

  it('LDAP on a port where nothing listens', async () => {
    const conf = writeSaslauthdConf({ ldap_servers: `ldap://127.0.0.1:${DEAD_PORT}/`, ldap_search_base: 'dc=example,dc=com', ldap_timeout: 2 });
    const r = await check(['-a', 'ldap', '-O', conf]);
    expect(r.code).toBe(1);
    expect(checks(r.stdout).find((l) => l.startsWith('error: ldap: '))).toMatch(
      new RegExp(`^error: ldap: ldap://127\\.0\\.0\\.1:${DEAD_PORT}/: connect, anonymous root DSE read: failed: .*ECONNREFUSED`),
    );
  });

  it('rimap at nonexistent.invalid', async () => {
    const r = await check(['-a', 'rimap', '-O', 'nonexistent.invalid', '--rimap-connect-timeout', '3000']);
    expect(r.code).toBe(1);
    expect(checks(r.stdout).find((l) => l.startsWith('error: rimap: '))).toMatch(/^error: rimap: nonexistent\.invalid:143: connect: .*(ENOTFOUND|EAI_AGAIN)/);
  });

  it('--shadow-file pointing at a passwd file: 0 users, 3 skipped lines', async () => {
    const passwdLike = join(tmp, 'passwd-as-shadow');
    writeFileSync(passwdLike, 'a:x:1:1::/:/bin/sh\nb:x:2:2::/:/bin/sh\nc:x:3:3::/:/bin/sh\n');
    const r = await check(['-a', 'shadow', '--passwd-file', users.passwd, '--shadow-file', passwdLike]);
    expect(r.code).toBe(1);
    expect(checks(r.stdout)).toContain(
      `error: shadow: ${passwdLike}: 0 shadow entries, 3 line(s) skipped (line 1: has 7 fields, expected 9); those users cannot log in. Is ${passwdLike} a shadow(5) file?`,
    );
  });

  it('getpwent where every NSS passwd entry is x', async () => {
    const r = await check(['-a', 'getpwent']);
    expect(r.code).toBe(1);
    expect(checks(r.stdout).find((l) => l.startsWith('error: getpwent: '))).toMatch(
      /^error: getpwent: none of the \d+ NSS passwd entries holds a password hash \(all x, \* or !\): .*shadowed passwords need -a shadow or -a pam; every login would be refused$/,
    );
  });

  it('-a pam as nobody', async () => {
    const r = await check(['-a', 'pam', '--pam-service', PAM_SERVICE], 'nobody');
    expect(r.code).toBe(1);
    expect(checks(r.stdout).find((l) => l.startsWith('error: pam: '))).toMatch(/^error: pam: runs as uid 65534, not root: pam_unix can then check only the password of the user running the daemon/);
  });

  it('--rimap-starttls with shadow, -t 60 without -c', async () => {
    const r = await check(['-a', 'shadow', '--passwd-file', users.passwd, '--shadow-file', users.shadow, '--rimap-starttls', '-t', '60']);
    expect(r.code).toBe(1);
    expect(checks(r.stdout).slice(0, 2)).toEqual([
      'error: --rimap-starttls is given but applies to -a rimap only, and no rimap backend is in -a or --route',
      'error: -t is given but the credential cache is off (no -c), so it has no effect',
    ]);
  });

  it('--allow-uid and --user naming users that do not exist', async () => {
    const base = ['-a', 'shadow', '--passwd-file', users.passwd, '--shadow-file', users.shadow];
    const a = await check([...base, '--allow-uid', 'sat_ck_nosuchuser']);
    expect([a.code, a.stderr]).toEqual([1, expect.stringContaining("--allow-uid: user 'sat_ck_nosuchuser' does not exist")]);
    const u = await check([...base, '--user', 'sat_ck_nosuchuser']);
    expect([u.code, u.stderr]).toEqual([1, expect.stringContaining("'sat_ck_nosuchuser'")]);
  });

  it('a run directory that cannot be created', async () => {
    const r = await run(process.execPath, [DAEMON_BIN, '-a', 'shadow', '--passwd-file', users.passwd, '--shadow-file', users.shadow, '-m', join(tmp, 'no', 'such', 'run'), '--check']);
    expect(r.code).toBe(1);
    expect(checks(r.stdout)[0]).toMatch(/^error: .*run directory .*no\/such\/run.*/);
  });
});

describe('--check prints the complete effective configuration', () => {
  it('lists -n, -r, --compat-replies, --allow-uid, socket mode in octal and log format; * marks non-defaults', async () => {
    const r = await check(['-a', 'shadow', '--passwd-file', users.passwd, '--shadow-file', users.shadow, '-n', '8', '-r', '--compat-replies', '--allow-uid', 'root', '--socket-mode', '0660', '--log-format', 'json']);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    for (const want of [
      '* -a, --mech                       = shadow',
      '* -n, --threads                    = 8',
      '* -r, --realm-concat               = yes',
      '  -c, --cache                      = no',
      '*     --compat-replies             = yes',
      '*     --allow-uid                  = root',
      '*     --socket-mode                = 0660',
      '      --run-dir-mode               = 0710',
      '*     --log-format                 = json',
      '      --log-level                  = info',
      `*     --shadow-file                = ${users.shadow}`,
    ]) {
      expect(lines).toContain(want);
    }
    expect(r.stdout).toMatch(/\nconfiguration OK\n$/);
  });
});

describe('--check passes good configurations against real peers', () => {
  it('shadow with readable files and users', async () => {
    const r = await check(['-a', 'shadow', '--passwd-file', users.passwd, '--shadow-file', users.shadow]);
    expect(r.code).toBe(0);
    expect(checks(r.stdout)).toEqual([
      `ok: run directory ${join(tmp, 'run')} does not exist yet; a start creates it (mode 0710${r.stdout.includes('group sasl') ? ' group sasl' : ''})`,
      `ok: shadow: ${users.passwd}: 1 passwd entry, 0 line(s) skipped`,
      `ok: shadow: ${users.shadow}: 1 shadow entry, 0 line(s) skipped`,
      'ok: shadow: 1 user(s) with a password hash',
      'configuration OK',
    ]);
  });

  it('LDAP: StartTLS and service bind against slapd; anonymous root DSE read', async () => {
    const conf = writeSaslauthdConf({
      ldap_servers: slapd.url,
      ldap_search_base: 'dc=example,dc=com',
      ldap_bind_dn: SERVICE_DN,
      ldap_bind_pw: SERVICE_PW,
      ldap_start_tls: 'yes',
      ldap_tls_cacert_file: slapd.ca.certFile,
    });
    const r = await check(['-a', 'ldap', '-O', conf]);
    expect(r.code).toBe(0);
    expect(checks(r.stdout)).toContain(`ok: ldap: ${slapd.url}: connect, StartTLS, service bind as ${SERVICE_DN}: OK`);
    expect(r.stdout).not.toContain(SERVICE_PW);
    const anon = writeSaslauthdConf({ ldap_servers: slapd.url, ldap_search_base: 'dc=example,dc=com' });
    const a = await check(['-a', 'ldap', '-O', anon]);
    expect(a.code).toBe(0);
    expect(checks(a.stdout)).toContain(`ok: ldap: ${slapd.url}: connect, anonymous root DSE read: OK`);
  });

  it('LDAP: a wrong service password is an error naming the bind', async () => {
    const conf = writeSaslauthdConf({ ldap_servers: slapd.url, ldap_search_base: 'dc=example,dc=com', ldap_bind_dn: SERVICE_DN, ldap_bind_pw: 'sat-ck-wrong' });
    const r = await check(['-a', 'ldap', '-O', conf]);
    expect(r.code).toBe(1);
    expect(checks(r.stdout).find((l) => l.startsWith('error: ldap: '))).toContain(`${slapd.url}: connect, service bind as ${SERVICE_DN}: failed: `);
    expect(r.stdout).not.toContain('sat-ck-wrong');
  });

  it('rimap: greeting and CAPABILITY from Dovecot over STARTTLS and over implicit TLS', async () => {
    const r = await check(['-a', 'rimap', '-O', `127.0.0.1/${dovecot.plainPort}`, '--rimap-starttls', '--rimap-ca', dovecot.certFile]);
    expect(r.code).toBe(0);
    expect(checks(r.stdout).find((l) => l.startsWith('ok: rimap: '))).toMatch(
      new RegExp(`^ok: rimap: 127\\.0\\.0\\.1:${dovecot.plainPort}: greeting and CAPABILITY over TLS, would use AUTHENTICATE PLAIN: OK \\(.*IMAP4REV1.*AUTH=PLAIN.*\\)$`),
    );
    const s = await check(['-a', 'rimap', '-O', `imaps://127.0.0.1:${dovecot.imapsPort}`, '--rimap-ca', dovecot.certFile]);
    expect(s.code).toBe(0);
    expect(checks(s.stdout).find((l) => l.startsWith('ok: rimap: '))).toContain('greeting and CAPABILITY over TLS');
  });

  it('rimap: an untrusted certificate is an error', async () => {
    const r = await check(['-a', 'rimap', '-O', `imaps://127.0.0.1:${dovecot.imapsPort}`]);
    expect(r.code).toBe(1);
    expect(checks(r.stdout).find((l) => l.startsWith('error: rimap: '))).toMatch(/certificate/i);
  });

  it('beside a running daemon: a warning (a second start would fail, a restart is fine), exit 0', async () => {
    const shadowArgs = ['-a', 'shadow', '--passwd-file', users.passwd, '--shadow-file', users.shadow];
    const d = await startOurs(shadowArgs);
    try {
      const r = await run(process.execPath, [DAEMON_BIN, ...shadowArgs, '-m', d.dir, '--check']);
      expect(r.code).toBe(0);
      expect(checks(r.stdout)[0]).toBe(`warning: a daemon is listening on ${d.socket} now: a second start would fail; a restart is fine`);
      expect(r.stdout).toMatch(/\nconfiguration OK, 1 warning\(s\)\n$/);
    } finally {
      await d.stop();
    }
  });

  it('pam as root: the service file that applies', async () => {
    const r = await check(['-a', 'pam', '--pam-service', PAM_SERVICE]);
    expect(r.code).toBe(0);
    expect(checks(r.stdout)).toContain(`ok: pam: service '${PAM_SERVICE}' (--pam-service) uses /etc/pam.d/${PAM_SERVICE}`);
  });
});
