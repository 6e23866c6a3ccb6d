import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDovecot, startDovecot } from '../fixtures/dovecot.js';
import { removePamService, writePamService } from '../fixtures/pam.js';
import { DAEMON_BIN } from '../fixtures/paths.js';
import { type RunResult, run } from '../fixtures/run.js';
import { SERVICE_DN, SERVICE_PW, Slapd, USERS, writeSaslauthdConf } from '../fixtures/slapd.js';
import { type UserFiles, userFiles } from '../fixtures/user-files.js';
import { ensureUser, mkpasswd, removeUser } from '../fixtures/users.js';

// Ports 27200-27299 belong to helper B's tests; check.test.ts uses 27210/27220-27222.
const SLAPD_PORT = 27240;
const DOVECOT_BASE = 27250; // 27250-27252
const DEAD_PORT = 27291; // nothing listens here
const PAM_SERVICE = 'sat-pam-ck-trace';
const PAM_USER = 'sat_ck_pam';
const PAM_PW = 'Pam-pw-9';
const JOE_PW = 'Jo3-s3cret!pw';

let tmp: string;
let users: UserFiles;
let slapd: Slapd;
let dovecot: RunningDovecot;

const test = (args: readonly string[], input?: string): Promise<RunResult> =>
  run(process.execPath, [DAEMON_BIN, ...args, '--test'], input !== undefined ? { input } : {});

/** The password's bytes appear nowhere in what the command wrote. */
function neverShows(r: RunResult, password: string): void {
  const all = Buffer.from(r.stdout + r.stderr, 'utf8');
  expect(all.includes(Buffer.from(password, 'utf8'))).toBe(false);
}

/** Trace lines without their timing column: `who text`. */
const steps = (stdout: string): string[] => stdout.split('\n').filter((l) => /^ +\d+\.\d ms {2}/.test(l)).map((l) => l.replace(/^ +\d+\.\d ms {2}/, '').replace(/\(\d+\.\d ms\)$/, '(T)'));

beforeAll(async () => {
  tmp = mkdtempSync('/tmp/sat_ck-test-');
  users = await userFiles(tmp, { sat_ck_joe: JOE_PW });
  slapd = await Slapd.create({ port: SLAPD_PORT });
  dovecot = await startDovecot({ basePort: DOVECOT_BASE, users: [{ name: 'sat_ck_imap', password: 'Imap-pw1' }] });
  writePamService(PAM_SERVICE, 'auth required pam_unix.so\naccount required pam_unix.so\n');
  await ensureUser(PAM_USER, await mkpasswd(PAM_PW, 'sha-512'));
}, 60_000);

afterAll(async () => {
  await dovecot?.stop();
  await slapd?.destroy();
  removePamService(PAM_SERVICE);
  await removeUser(PAM_USER);
  rmSync(tmp, { recursive: true, force: true });
});

describe('--test: one request through the configured chain, no daemon', () => {
  const shadowArgs = (): string[] => ['-a', 'shadow', '--passwd-file', users.passwd, '--shadow-file', users.shadow];

  it('realm handling: without -r the backend gets the login as sent; OK exits 0', async () => {
    const r = await test([...shadowArgs(), '-u', 'sat_ck_joe', '-p', JOE_PW, '-s', 'smtp', '-r', 'example.org']);
    expect(r.code).toBe(0);
    expect(steps(r.stdout)).toEqual([
      "request  login 'sat_ck_joe', realm 'example.org', service 'smtp': backends receive login 'sat_ck_joe' (realm not appended: -r is off)",
      'route    chain (-a) shadow',
      "shadow   received login 'sat_ck_joe', realm 'example.org', service 'smtp'",
      `shadow   looking up 'sat_ck_joe' in ${users.passwd} and ${users.shadow}`,
      'shadow   OK (T)',
    ]);
    expect(r.stdout).toMatch(/\nresult: OK in \d+\.\d ms; the daemon would reply "OK"\n$/);
    neverShows(r, JOE_PW);
  });

  it('with --realm-concat (the daemon\'s -r) the backend gets user@realm; NO exits 255', async () => {
    const r = await test([...shadowArgs(), '--realm-concat', '-u', 'sat_ck_joe', '-p', JOE_PW, '-s', 'smtp', '-r', 'example.org']);
    expect(r.code).toBe(255);
    expect(steps(r.stdout).slice(0, 3)).toEqual([
      "request  login 'sat_ck_joe', realm 'example.org', service 'smtp': backends receive login 'sat_ck_joe@example.org' (-r: realm appended as login@realm)",
      'route    chain (-a) shadow',
      "shadow   received login 'sat_ck_joe@example.org', realm 'example.org', service 'smtp'",
    ]);
    expect(r.stdout).toContain('\nresult: NO (unknown-user): no such user in passwd; the daemon would reply "NO authentication failed"\n');
    neverShows(r, JOE_PW);
  });

  it('a wrong password: NO, 255, and neither password is printed', async () => {
    const r = await test([...shadowArgs(), '-u', 'sat_ck_joe', '-p', 'Wr0ng-guess-77']);
    expect(r.code).toBe(255);
    expect(r.stdout).toContain('result: NO (bad-password): password mismatch;');
    neverShows(r, 'Wr0ng-guess-77');
  });

  it('without -p the password is read from stdin and never printed', async () => {
    const r = await test([...shadowArgs(), '-u', 'sat_ck_joe'], `${JOE_PW}\n`);
    expect(r.code).toBe(0);
    neverShows(r, JOE_PW);
  });

  it('a chain with a route: the route taken and each backend tried', async () => {
    const r = await test(['-a', 'shadow:a', '--route', 'smtp=shadow:a,shadow', '--link-option', 'shadow:a.shadow-file=' + join(tmp, 'missing'),
      '--passwd-file', users.passwd, '--shadow-file', users.shadow, '-u', 'sat_ck_joe', '-p', JOE_PW, '-s', 'smtp']);
    // shadow:a cannot start (its file is missing): the configuration does not build.
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/\nresult: could not decide: the configuration does not start: shadow:a: .*missing/);
    const ok = await test(['-a', 'shadow', '--route', 'smtp=shadow:b,shadow', '--link-option', `shadow:b.passwd-file=${users.passwd}`, '--link-option', `shadow:b.shadow-file=${users.shadow}`,
      '--passwd-file', '/etc/passwd', '--shadow-file', '/etc/shadow', '-u', 'sat_ck_joe', '-p', JOE_PW, '-s', 'smtp']);
    expect(ok.code).toBe(0);
    expect(steps(ok.stdout).slice(1, 3)).toEqual(['route    --route service:smtp matched: chain shadow:b,shadow', "shadow:b received login 'sat_ck_joe', realm '', service 'smtp'"]);
  });

  it('LDAP: the search base and filter after token expansion, OK', async () => {
    const conf = writeSaslauthdConf({
      ldap_servers: slapd.url,
      ldap_bind_dn: SERVICE_DN,
      ldap_bind_pw: SERVICE_PW,
      ldap_search_base: 'ou=people,dc=%2,dc=%1',
      ldap_filter: '(&(uid=%U)(objectClass=inetOrgPerson))',
    });
    const r = await test(['-a', 'ldap', '-O', conf, '-u', 'alice', '-p', USERS.alice, '-s', 'imap', '-r', 'example.com']);
    expect(r.code).toBe(0);
    const s = steps(r.stdout);
    expect(s).toContain(`ldap     server ${slapd.url}, tokens: %u='alice' %r='example.com' %s='imap'`);
    expect(s).toContain("ldap     search base 'ou=people,dc=example,dc=com' scope sub filter '(&(uid=alice)(objectClass=inetOrgPerson))' (ldap_search_base ou=people,dc=%2,dc=%1, ldap_filter (&(uid=%U)(objectClass=inetOrgPerson)))");
    expect(s).toContain('ldap     search found one entry: uid=alice,ou=people,dc=example,dc=com');
    neverShows(r, USERS.alice);
    neverShows(r, SERVICE_PW);
  });

  it('LDAP server down: could not decide, exit 2', async () => {
    const conf = writeSaslauthdConf({ ldap_servers: `ldap://127.0.0.1:${DEAD_PORT}/`, ldap_search_base: 'dc=example,dc=com', ldap_timeout: 2 });
    const r = await test(['-a', 'ldap', '-O', conf, '-u', 'alice', '-p', USERS.alice]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/\nresult: could not decide \(connect-failed\): .*ECONNREFUSED.*; the daemon would reply "NO authentication failed"\n$/);
    neverShows(r, USERS.alice);
  });

  it('PAM: the service file used', async () => {
    const r = await test(['-a', 'pam', '-u', PAM_USER, '-p', PAM_PW, '-s', PAM_SERVICE]);
    expect(r.code).toBe(0);
    expect(steps(r.stdout)).toContain(`pam      PAM service '${PAM_SERVICE}' (the request's service field) uses /etc/pam.d/${PAM_SERVICE}`);
    neverShows(r, PAM_PW);
  });

  it('rimap: the server tried, and its verdict', async () => {
    const r = await test(['-a', 'rimap', '-O', `127.0.0.1/${dovecot.plainPort}`, '--rimap-starttls', '--rimap-ca', dovecot.certFile, '-u', 'sat_ck_imap', '-p', 'Imap-pw1']);
    expect(r.code).toBe(0);
    expect(steps(r.stdout)).toContain(`rimap    server 127.0.0.1:${dovecot.plainPort} (STARTTLS required), auth auto`);
    neverShows(r, 'Imap-pw1');
  });

  it('without -u it is a usage error (exit 1)', async () => {
    const r = await test(['-a', 'shadow', '-p', 'x']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--test needs -u USER');
  });
});
