import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startOurs } from '../fixtures/daemon.js';
import { must } from '../fixtures/run.js';
import { verdict } from '../fixtures/testsaslauthd.js';
import { jsonLines, type UserFiles, userFiles } from '../fixtures/user-files.js';

// -a ldap,shadow against a real slapd. It listens only on an ldapi:// socket under /tmp: this test
// owns no TCP port.
const SUFFIX = 'dc=sat-cache,dc=example';
const LENA = 'sat_cache_lena'; // in LDAP (ldap-pw) and in shadow (shadow-pw)
const SAM = 'sat_cache_sam'; // only in shadow
let tmp: string;
let ldapDir: string;
let slapd: ChildProcess | null = null;
let files: UserFiles;
let conf: string;
const running: RunningDaemon[] = [];

const socketPath = (): string => join(ldapDir, 'ldapi');

async function startSlapd(): Promise<void> {
  slapd = spawn('/usr/sbin/slapd', ['-d', '0', '-h', `ldapi://${encodeURIComponent(socketPath())}/`, '-f', join(ldapDir, 'slapd.conf')], { stdio: 'ignore' });
  const until = Date.now() + 20_000;
  while (!existsSync(socketPath())) {
    if (Date.now() > until || slapd.exitCode !== null) throw new Error('slapd did not start');
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function stopSlapd(): Promise<void> {
  const p = slapd;
  slapd = null;
  if (!p || p.exitCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await exited;
  rmSync(socketPath(), { force: true });
}

const lastFor = (d: RunningDaemon, user: string): Record<string, unknown> | undefined =>
  jsonLines(d.output()).filter((r) => r['user'] === user && 'outcome' in r).at(-1);

async function start(extra: string[] = []): Promise<RunningDaemon> {
  const d = await startOurs(['-a', 'ldap,shadow', '-O', conf, '--passwd-file', files.passwd, '--shadow-file', files.shadow, '--fail-delay', '0', '--log-format', 'json', ...extra]);
  running.push(d);
  return d;
}

beforeAll(async () => {
  tmp = mkdtempSync('/tmp/sat_cache_ldap-');
  ldapDir = join(tmp, 'slapd');
  mkdirSync(join(ldapDir, 'db'), { recursive: true });
  writeFileSync(
    join(ldapDir, 'slapd.conf'),
    `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile ${ldapDir}/slapd.pid
argsfile ${ldapDir}/slapd.args
loglevel none
database mdb
maxsize 16777216
suffix "${SUFFIX}"
rootdn "cn=admin,${SUFFIX}"
rootpw admin-secret
directory ${ldapDir}/db
access to attrs=userPassword by anonymous auth by * none
access to * by * read
`,
  );
  writeFileSync(
    join(ldapDir, 'seed.ldif'),
    `dn: ${SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: sat\ndc: sat-cache\n\n` +
      `dn: uid=${LENA},${SUFFIX}\nobjectClass: inetOrgPerson\nuid: ${LENA}\ncn: lena\nsn: lena\nuserPassword: ldap-pw\n\n`,
  );
  await must('slapadd', ['-q', '-f', join(ldapDir, 'slapd.conf'), '-l', join(ldapDir, 'seed.ldif')]);
  await startSlapd();
  files = await userFiles(join(tmp, 'users'), { [LENA]: 'shadow-pw', [SAM]: 'sam-pw' });
  conf = join(tmp, 'saslauthd.conf');
  writeFileSync(conf, `ldap_servers: ldapi://${encodeURIComponent(socketPath())}/\nldap_search_base: ${SUFFIX}\nldap_timeout: 3\n`);
});

afterAll(async () => {
  await Promise.all(running.map((d) => d.stop()));
  await stopSlapd();
  rmSync(tmp, { recursive: true, force: true });
});

describe('-a ldap,shadow with a real slapd and testsaslauthd', () => {
  let d: RunningDaemon;
  beforeAll(async () => {
    d = await start();
  });

  it('LDAP answers users it knows', async () => {
    expect(await verdict(d.socket, LENA, 'ldap-pw')).toBe('OK');
    expect(lastFor(d, LENA)).toMatchObject({ outcome: 'ok', mech: 'ldap,shadow', via: 'ldap' });
  });

  it('user unknown in LDAP: shadow answers', async () => {
    expect(await verdict(d.socket, SAM, 'sam-pw')).toBe('OK');
    expect(lastFor(d, SAM)).toMatchObject({ outcome: 'ok', via: 'shadow' });
  });

  it('wrong password in LDAP stops the chain: the shadow password is not tried', async () => {
    expect(await verdict(d.socket, LENA, 'shadow-pw')).toBe('NO');
    expect(lastFor(d, LENA)).toMatchObject({ outcome: 'rejected', via: 'ldap' });
    expect(String(lastFor(d, LENA)?.['reason'])).not.toContain('shadow:');
  });

  it('LDAP down: shadow answers', async () => {
    await stopSlapd();
    try {
      expect(await verdict(d.socket, LENA, 'shadow-pw')).toBe('OK');
      expect(lastFor(d, LENA)).toMatchObject({ outcome: 'ok', via: 'shadow' });
      expect(await verdict(d.socket, LENA, 'ldap-pw')).toBe('NO');
    } finally {
      await startSlapd();
    }
  });
});
