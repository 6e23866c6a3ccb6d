import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { run } from './run.js';

/**
 * A throwaway MIT KDC (krb5-kdc) for one realm on 127.0.0.1:<port>, every file under `dir`: its
 * database, stash, kdc.conf, log, and a krb5.conf for clients that names only this KDC. Nothing
 * outside `dir` is read or written (KRB5_CONFIG and KRB5_KDC_PROFILE point inside it).
 */
export interface Kdc {
  readonly dir: string;
  readonly realm: string;
  readonly port: number;
  /** krb5.conf for clients (our daemon, the real saslauthd, kinit) that points at this KDC only. */
  readonly clientConf: string;
  /** Environment for clients: KRB5_CONFIG and a private replay-cache directory. */
  readonly clientEnv: NodeJS.ProcessEnv;
  /** kadmin.local -q <query> against this realm's database; throws on failure. */
  kadmin(query: string): Promise<string>;
  /** Adds a principal with a password; `flags` are extra addprinc options (e.g. +requires_preauth). */
  addPrincipal(name: string, password: string, flags?: string): Promise<void>;
  /** Writes the current keys of `principal` (new random ones unless `-norandkey`) to `keytab`. */
  ktadd(keytab: string, principal: string, norandkey?: boolean): Promise<void>;
  /** Starts krb5kdc; `clockOffset` (faketime syntax, e.g. '-2h') runs it with a wrong clock. */
  start(clockOffset?: string): Promise<void>;
  /** Stops krb5kdc (SIGTERM unless told) and waits for its exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  readonly running: boolean;
  /** Stops the KDC and removes `dir`. */
  destroy(): Promise<void>;
}

/** The host part saslauthd's verify principal gets (krb5_sname_to_principal, no DNS canonicalisation). */
export const HOST = hostname().toLowerCase();

export function clientKrb5Conf(realm: string, port: number, keytab: string): string {
  return `[libdefaults]
 default_realm = ${realm}
 dns_lookup_kdc = false
 dns_lookup_realm = false
 dns_canonicalize_hostname = false
 rdns = false
 udp_preference_limit = 1
 default_keytab_name = FILE:${keytab}
[realms]
 ${realm} = {
  kdc = 127.0.0.1:${port}
 }
`;
}

async function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function createKdc(dir: string, realm: string, port: number, keytab = join(dir, 'krb5.keytab')): Promise<Kdc> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const kdcConf = join(dir, 'kdc.conf');
  const ownConf = join(dir, 'kdc-krb5.conf');
  const clientConf = join(dir, 'krb5.conf');
  writeFileSync(
    kdcConf,
    `[kdcdefaults]
 kdc_listen = 127.0.0.1:${port}
 kdc_tcp_listen = 127.0.0.1:${port}
[realms]
 ${realm} = {
  database_name = ${dir}/principal
  key_stash_file = ${dir}/stash
  acl_file = ${dir}/kadm5.acl
  kdc_listen = 127.0.0.1:${port}
  kdc_tcp_listen = 127.0.0.1:${port}
  max_life = 1h
 }
[logging]
 kdc = FILE:${dir}/kdc.log
`,
  );
  writeFileSync(join(dir, 'kadm5.acl'), '');
  writeFileSync(ownConf, clientKrb5Conf(realm, port, keytab));
  writeFileSync(clientConf, clientKrb5Conf(realm, port, keytab));
  mkdirSync(join(dir, 'rcache'), { mode: 0o700 });
  const kdcEnv = { ...process.env, KRB5_CONFIG: ownConf, KRB5_KDC_PROFILE: kdcConf };
  const tool = async (cmd: string, args: string[]): Promise<string> => {
    const r = await run(cmd, args, { env: kdcEnv });
    if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.code}: ${r.stderr}${r.stdout}`);
    // kadmin.local reports most failures on stderr with exit 0.
    if (/^(add|modify|delete)_principal: |^kadmin.local: /m.test(r.stderr) && !/Principal .* (created|modified)/.test(r.stdout + r.stderr)) {
      throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
    }
    return r.stdout + r.stderr;
  };
  await tool('/usr/sbin/kdb5_util', ['create', '-s', '-r', realm, '-P', 'sat_kr-master-key']);
  let proc: ChildProcess | null = null;
  const kdc: Kdc = {
    dir,
    realm,
    port,
    clientConf,
    clientEnv: { ...process.env, KRB5_CONFIG: clientConf, KRB5RCACHEDIR: join(dir, 'rcache'), KRB5CCNAME: `FILE:${dir}/ccache` },
    kadmin: (query) => tool('/usr/sbin/kadmin.local', ['-r', realm, '-q', query]),
    async addPrincipal(name, password, flags = '') {
      await kdc.kadmin(`addprinc ${flags} -pw ${password} ${name}`);
    },
    async ktadd(kt, principal, norandkey = false) {
      await kdc.kadmin(`ktadd -k ${kt}${norandkey ? ' -norandkey' : ''} ${principal}`);
    },
    get running() {
      return proc !== null && proc.exitCode === null;
    },
    async start(clockOffset) {
      if (kdc.running) return;
      const args = ['-n', '-r', realm, '-P', join(dir, 'kdc.pid')];
      // libfaketime preloaded into krb5kdc itself (not the faketime wrapper, which would fork).
      const clock = clockOffset ? { LD_PRELOAD: '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', FAKETIME: clockOffset } : {};
      const p = spawn('/usr/sbin/krb5kdc', args, { env: { ...kdcEnv, ...clock }, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      p.stderr?.on('data', (d: Buffer) => (err += d.toString()));
      proc = p;
      const until = Date.now() + 15_000;
      while (!(await listening(port))) {
        if (p.exitCode !== null || Date.now() > until) {
          throw new Error(`krb5kdc for ${realm} did not listen on 127.0.0.1:${port}: ${err}\n${safeRead(join(dir, 'kdc.log'))}`);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async stop(signal = 'SIGTERM') {
      const p = proc;
      proc = null;
      if (!p || p.exitCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill(signal);
      const t = setTimeout(() => p.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
    async destroy() {
      await kdc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return kdc;
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
