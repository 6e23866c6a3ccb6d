import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Probe } from '../load.js';
import type { BenchTarget, Scenario } from '../scenario.js';
import { PEOPLE, SERVICE_DN, SERVICE_PW, Slapd, USERS, writeSaslauthdConf } from '../slapd.js';

/** Loopback port of the benchmark's slapd (inside the LDAP work's range 23890-23999). */
const PORT = 23950;
const DAEMON_BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'saslauthd-ts');
const REAL = '/usr/sbin/saslauthd';

function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ path });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Spawns a daemon with `-m <tmpdir>` and waits for its socket. */
async function startDaemon(cmd: string, args: readonly string[]): Promise<BenchTarget> {
  const dir = mkdtempSync('/tmp/sat-bench-ldap-');
  const socket = join(dir, 'mux');
  // Its own process group, so stop() also ends saslauthd's forked workers.
  const proc: ChildProcess = spawn(cmd, [...args, '-m', dir], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  const signalGroup = (sig: NodeJS.Signals): void => {
    try {
      if (proc.pid !== undefined) process.kill(-proc.pid, sig);
    } catch {
      /* already gone */
    }
  };
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const until = Date.now() + 15_000;
  while (!(existsSync(socket) && (await canConnect(socket)))) {
    if (proc.exitCode !== null || Date.now() > until) {
      signalGroup('SIGKILL');
      throw new Error(`${cmd} did not start: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    socket,
    pid: proc.pid,
    stop: async () => {
      const exited = new Promise((r) => proc.once('exit', r));
      if (proc.exitCode === null) signalGroup('SIGTERM');
      const t = setTimeout(() => signalGroup('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
      signalGroup('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let slapd: Slapd | null = null;
let conf = '';

/** The saslauthd.conf both daemons read (for tools that profile the scenario). */
export const ldapScenarioConf = (): string => conf;

/**
 * `-a ldap`, method bind: search as a service DN, then bind as the user, against a throwaway slapd.
 * Both daemons read the same saslauthd.conf (only keys saslauthd knows).
 */
export const ldapScenario: Scenario = {
  name: 'ldap-bind',
  concurrency: [8, 64],
  count: 40_000,
  seconds: 8,
  async setup(): Promise<readonly Probe[]> {
    slapd = await Slapd.create({ port: PORT });
    conf = writeSaslauthdConf({ ldap_servers: slapd.url, ldap_search_base: PEOPLE, ldap_bind_dn: SERVICE_DN, ldap_bind_pw: SERVICE_PW, ldap_timeout: 5 });
    const r = (login: string, password: string) => ({ login, password, service: 'imap', realm: '' });
    return [
      { request: r('alice', USERS.alice), expect: 'OK' },
      { request: r('bob', USERS.bob), expect: 'OK' },
      { request: r('dave', USERS.dave), expect: 'OK' },
      { request: r('alice', 'wrong-password'), expect: 'NO' },
    ];
  },
  startOurs: () => startDaemon(process.execPath, [DAEMON_BIN, '-a', 'ldap', '-O', conf]),
  async startReal(): Promise<BenchTarget | null> {
    if (!existsSync(REAL)) return null;
    return startDaemon(REAL, ['-a', 'ldap', '-O', conf, '-d']);
  },
  async teardown(): Promise<void> {
    await slapd?.destroy();
    slapd = null;
  },
};

export default ldapScenario;
