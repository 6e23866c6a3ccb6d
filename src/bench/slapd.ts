import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canConnect } from './daemons.js';

function must(cmd: string, args: readonly string[], opts: { input?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = execFile(cmd, args as string[], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}${stderr}`));
      else resolve(stdout);
    });
    p.stdin?.end(opts.input ?? '');
  });
}

/**
 * A throwaway OpenLDAP slapd (Debian package) on loopback: mdb backend, LDIF seed, a throwaway CA
 * and server certificate for ldaps:// and StartTLS, an ldapi:// socket under /tmp. Runs as root in
 * the foreground; `stop()`/`start()` keep the data, `destroy()` removes everything.
 */
export interface SlapdOptions {
  /** Plain LDAP port on 127.0.0.1 (StartTLS is offered here). */
  readonly port: number;
  /** ldaps:// port on 127.0.0.1 (Default: none). */
  readonly tlsPort?: number;
  /** Also listen on an ldapi:// socket in the temp dir (Default: false). */
  readonly ldapi?: boolean;
  /** Extra LDIF appended to the standard seed. */
  readonly extraLdif?: string;
  /** More listener URLs for slapd -h (e.g. ldaps://127.0.0.2:PORT/ to test certificate names). */
  readonly extraUrls?: readonly string[];
  /** Reuse the CA of another instance, so one cacert file trusts both (failover tests). */
  readonly ca?: SlapdCa;
}

export interface SlapdCa {
  readonly certFile: string;
  readonly keyFile: string;
}

export const SUFFIX = 'dc=example,dc=com';
export const ADMIN_DN = `cn=admin,${SUFFIX}`;
export const ADMIN_PW = 'admin-secret';
export const SERVICE_DN = `cn=saslauthd,ou=services,${SUFFIX}`;
export const SERVICE_PW = 'svc-Secret9';
export const PEOPLE = `ou=people,${SUFFIX}`;
export const GROUPS = `ou=groups,${SUFFIX}`;

/** Seeded users: login → password. Each one's userPassword uses the scheme its name says. */
export const USERS = {
  alice: 'Alice-pw1',
  bob: 'B0b-ssha',
  carol: 'Carol-multi',
  dave: 'Dave-notingroup',
  dup: 'Dup-pw',
  u_sha: 'Sha-pw',
  u_smd5: 'Smd5-pw',
  u_md5: 'Md5-pw',
  u_ssha256: 'Ssha256-pw',
  u_ssha512: 'Ssha512-pw',
  u_crypt: 'Crypt-pw',
  u_unix: 'Unix-pw',
  u_long: 'L'.repeat(200) + '-tail',
  'comma,user': 'Comma-pw',
  'eve@example.org': 'Eve-realm',
} as const;

/** Carol's second, older password (her userPassword is multi-valued). */
export const CAROL_OLD_PW = 'Carol-old';

function digestB64(alg: string, pw: string, salt = Buffer.alloc(0)): string {
  return Buffer.concat([createHash(alg).update(pw).update(salt).digest(), salt]).toString('base64');
}

export function ssha(pw: string, alg = 'sha1', prefix = 'SSHA'): string {
  return `{${prefix}}${digestB64(alg, pw, randomBytes(8))}`;
}

/** LDIF for one inetOrgPerson under ou=people; `uid` may need DN escaping. */
function person(uid: string, passwords: readonly string[], parent = PEOPLE): string {
  const rdn = uid.replace(/([,+"\\<>;=])/g, '\\$1');
  const lines = [`dn: uid=${rdn},${parent}`, 'objectClass: inetOrgPerson', `uid: ${uid}`, `cn: ${uid}`, `sn: ${uid}`];
  for (const p of passwords) lines.push(`userPassword:: ${Buffer.from(p).toString('base64')}`);
  return lines.join('\n') + '\n\n';
}

async function seedLdif(): Promise<string> {
  const crypt = (await must('mkpasswd', ['-m', 'sha-512', '--stdin'], { input: USERS.u_crypt })).trim();
  const unix = (await must('mkpasswd', ['-m', 'yescrypt', '--stdin'], { input: USERS.u_unix })).trim();
  let l = `dn: ${SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n`;
  for (const ou of ['people', 'other', 'groups', 'services']) l += `dn: ou=${ou},${SUFFIX}\nobjectClass: organizationalUnit\nou: ${ou}\n\n`;
  l += `dn: ${SERVICE_DN}\nobjectClass: simpleSecurityObject\nobjectClass: organizationalRole\ncn: saslauthd\nuserPassword: ${SERVICE_PW}\n\n`;
  l += person('alice', [USERS.alice]);
  l += person('bob', [ssha(USERS.bob)]);
  l += person('carol', [ssha(CAROL_OLD_PW), `{CRYPT}${(await must('mkpasswd', ['-m', 'sha-512', '--stdin'], { input: USERS.carol })).trim()}`]);
  l += person('dave', [USERS.dave]);
  l += person('dup', [USERS.dup]);
  l += person('dup', [USERS.dup], `ou=other,${SUFFIX}`);
  l += person('u_sha', [`{SHA}${digestB64('sha1', USERS.u_sha)}`]);
  l += person('u_smd5', [`{SMD5}${digestB64('md5', USERS.u_smd5, randomBytes(4))}`]);
  l += person('u_md5', [`{MD5}${digestB64('md5', USERS.u_md5)}`]);
  l += person('u_ssha256', [ssha(USERS.u_ssha256, 'sha256', 'SSHA256')]);
  l += person('u_ssha512', [ssha(USERS.u_ssha512, 'sha512', 'SSHA512')]);
  l += person('u_crypt', [`{CRYPT}${crypt}`]);
  l += person('u_unix', [`{unix}${unix}`]);
  l += person('u_long', [USERS.u_long]);
  l += person('comma,user', [USERS['comma,user']]);
  l += person('eve@example.org', [USERS['eve@example.org']]);
  const member = (u: string) => `uid=${u},${PEOPLE}`;
  l += `dn: cn=mail,${GROUPS}\nobjectClass: groupOfUniqueNames\ncn: mail\n`;
  for (const u of ['alice', 'bob', 'carol', 'u_crypt']) l += `uniqueMember: ${member(u)}\n`;
  l += '\n';
  l += `dn: cn=imap,${GROUPS}\nobjectClass: groupOfNames\ncn: imap\nmember: ${member('alice')}\nmember: ${member('bob')}\n\n`;
  return l;
}

function slapdConf(dir: string, tls: { cert: string; key: string; ca: string }): string {
  return `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile ${dir}/slapd.pid
argsfile ${dir}/slapd.args
loglevel none
TLSCACertificateFile ${tls.ca}
TLSCertificateFile ${tls.cert}
TLSCertificateKeyFile ${tls.key}
sizelimit 500
database mdb
maxsize 67108864
suffix "${SUFFIX}"
rootdn "${ADMIN_DN}"
rootpw ${ADMIN_PW}
directory ${dir}/db
access to attrs=userPassword
  by dn.exact="${SERVICE_DN}" read
  by anonymous auth
  by self read
  by * none
access to * by * read
`;
}

async function makeCa(dir: string): Promise<SlapdCa> {
  const keyFile = join(dir, 'ca.key');
  const certFile = join(dir, 'ca.pem');
  await must('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=saslauthd-ts test CA']);
  return { certFile, keyFile };
}

async function makeServerCert(dir: string, ca: SlapdCa): Promise<{ cert: string; key: string }> {
  const key = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  const cert = join(dir, 'server.pem');
  const ext = join(dir, 'server.ext');
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n');
  await must('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=127.0.0.1']);
  await must('openssl', ['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext]);
  return { cert, key };
}

export class Slapd {
  #proc: ChildProcess | null = null;
  #log = '';

  private constructor(
    readonly options: SlapdOptions,
    readonly dir: string,
    readonly ca: SlapdCa,
    readonly confFile: string,
  ) {}

  /** Builds the directory (certs, config, seeded database) and starts slapd. */
  static async create(options: SlapdOptions): Promise<Slapd> {
    const dir = mkdtempSync('/tmp/sat-slapd-');
    mkdirSync(join(dir, 'db'));
    const ca = options.ca ?? (await makeCa(dir));
    const server = await makeServerCert(dir, ca);
    const confFile = join(dir, 'slapd.conf');
    writeFileSync(confFile, slapdConf(dir, { ...server, ca: ca.certFile }));
    const ldif = join(dir, 'seed.ldif');
    writeFileSync(ldif, (await seedLdif()) + (options.extraLdif ?? ''));
    await must('slapadd', ['-q', '-f', confFile, '-l', ldif]);
    const s = new Slapd(options, dir, ca, confFile);
    await s.start();
    return s;
  }

  get url(): string {
    return `ldap://127.0.0.1:${this.options.port}/`;
  }

  get ldapsUrl(): string {
    if (this.options.tlsPort === undefined) throw new Error('no tlsPort configured');
    return `ldaps://127.0.0.1:${this.options.tlsPort}/`;
  }

  get ldapiPath(): string {
    return join(this.dir, 'ldapi');
  }

  get ldapiUrl(): string {
    return `ldapi://${encodeURIComponent(this.ldapiPath)}/`;
  }

  get running(): boolean {
    return this.#proc !== null && this.#proc.exitCode === null && this.#proc.signalCode === null;
  }

  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  output(): string {
    return this.#log;
  }

  /** Starts slapd (again) and waits until the plain port accepts connections. */
  async start(): Promise<void> {
    if (this.running) return;
    const urls = [this.url];
    if (this.options.tlsPort !== undefined) urls.push(this.ldapsUrl);
    if (this.options.ldapi) urls.push(this.ldapiUrl);
    urls.push(...(this.options.extraUrls ?? []));
    const proc = spawn('/usr/sbin/slapd', ['-d', '0', '-h', urls.join(' '), '-f', this.confFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout?.on('data', (d: Buffer) => (this.#log += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (this.#log += d.toString()));
    this.#proc = proc;
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      if (proc.exitCode !== null) throw new Error(`slapd exited with ${proc.exitCode}:\n${this.#log}`);
      if (await canConnect(this.options.port)) {
        if (!this.options.ldapi || existsSync(this.ldapiPath)) return;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    proc.kill('SIGKILL');
    throw new Error(`slapd did not listen on ${this.options.port}:\n${this.#log}`);
  }

  /** Stops slapd (SIGTERM: clean; SIGKILL: a crash) and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const proc = this.#proc;
    if (!proc || !this.running) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    this.#proc = null;
  }

  /** Stops slapd and removes its directory. */
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
    for (const d of confDirs.splice(0)) rmSync(d, { recursive: true, force: true });
  }
}

const confDirs: string[] = [];

/** Writes a saslauthd.conf into a fresh temp dir (removed by any Slapd.destroy()); returns its path. */
export function writeSaslauthdConf(lines: Record<string, string | number>): string {
  const dir = mkdtempSync('/tmp/sat-ldapconf-');
  confDirs.push(dir);
  const path = join(dir, 'saslauthd.conf');
  writeFileSync(path, Object.entries(lines).map(([k, v]) => `${k}: ${v}\n`).join(''));
  return path;
}
