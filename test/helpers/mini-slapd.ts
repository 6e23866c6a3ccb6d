import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canConnect } from '../../src/bench/daemons.js';
import { must } from './run.js';

/**
 * A bare slapd for tests that need their own suffix, ACLs or global settings (the shared fixture in
 * slapd.ts has one fixed tree). It listens only on an ldapi:// socket under /tmp, so it owns no TCP
 * port; no TLS.
 */
export interface MiniSlapdOptions {
  /** The database suffix, e.g. `dc=com`. */
  readonly suffix: string;
  /** LDIF of every entry, the suffix entry first. */
  readonly ldif: string;
  /** Global-section lines such as `allow bind_anon_cred` (Default: none). */
  readonly global?: string;
  /** Access rules placed before the default `access to * by * read` (first match wins). */
  readonly acl?: string;
}

export class MiniSlapd {
  #proc: ChildProcess | null = null;

  private constructor(readonly dir: string) {}

  static async create(o: MiniSlapdOptions): Promise<MiniSlapd> {
    const dir = mkdtempSync('/tmp/sat_ld-slapd-');
    mkdirSync(join(dir, 'db'));
    writeFileSync(
      join(dir, 'slapd.conf'),
      `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile ${dir}/slapd.pid
argsfile ${dir}/slapd.args
loglevel none
${o.global ?? ''}
database mdb
maxsize 16777216
suffix "${o.suffix}"
rootdn "cn=admin,${o.suffix}"
rootpw admin-secret
directory ${dir}/db
${o.acl ?? ''}
access to * by * read
`,
    );
    writeFileSync(join(dir, 'seed.ldif'), o.ldif);
    await must('slapadd', ['-q', '-f', join(dir, 'slapd.conf'), '-l', join(dir, 'seed.ldif')]);
    const s = new MiniSlapd(dir);
    await s.start();
    return s;
  }

  get socketPath(): string {
    return join(this.dir, 'ldapi');
  }

  /** For ldap_servers. */
  get url(): string {
    return `ldapi://${encodeURIComponent(this.socketPath)}/`;
  }

  async start(): Promise<void> {
    const proc = spawn('/usr/sbin/slapd', ['-d', '0', '-h', this.url, '-f', join(this.dir, 'slapd.conf')], { stdio: 'ignore' });
    this.#proc = proc;
    const until = Date.now() + 20_000;
    // The socket file appears a moment before slapd accepts on it.
    while (!(existsSync(this.socketPath) && (await canConnect(this.socketPath)))) {
      if (Date.now() > until || proc.exitCode !== null) throw new Error(`slapd in ${this.dir} did not start`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async destroy(): Promise<void> {
    const p = this.#proc;
    this.#proc = null;
    if (p && p.exitCode === null && p.signalCode === null) {
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** LDIF for one inetOrgPerson; `passwords` are written base64 so any bytes survive. */
export function personLdif(dn: string, uid: string, passwords: readonly string[]): string {
  const lines = [`dn: ${dn}`, 'objectClass: inetOrgPerson', `uid: ${uid}`, `cn: ${uid}`, `sn: ${uid}`];
  for (const p of passwords) lines.push(`userPassword:: ${Buffer.from(p).toString('base64')}`);
  return lines.join('\n') + '\n\n';
}
