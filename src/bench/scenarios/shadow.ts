import { execFileSync } from 'node:child_process';
import { startOurDaemon, startRealDaemon, realSaslauthdInstalled } from '../daemons.js';
import type { Probe } from '../load.js';
import type { BenchTarget, Scenario } from '../scenario.js';

const THREADS = '5'; // Debian's default THREADS for saslauthd, used for both daemons

function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'ignore'] }).trim();
}

/** A throwaway system user with a hash from Debian's mkpasswd (so the real saslauthd sees it too). */
export function benchUser(name: string, password: string, method: string): void {
  const hash = sh('mkpasswd', ['-m', method, '--stdin'], password);
  try {
    sh('id', ['-u', name]);
  } catch {
    sh('flock', ['-w', '60', '/tmp/sat-users.lock', 'useradd', '-M', '-N', '-s', '/usr/sbin/nologin', name]);
  }
  sh('flock', ['-w', '60', '/tmp/sat-users.lock', 'usermod', '-p', hash, name]);
}

export function removeBenchUser(name: string): void {
  try {
    sh('flock', ['-w', '60', '/tmp/sat-users.lock', 'userdel', name]);
  } catch {
    // already gone
  }
}

/** `-a shadow` for one hash scheme: right passwords, both daemons with -n 5. */
export function shadowScenario(method: 'sha-512' | 'yescrypt', count: number): Scenario {
  const user = `sat_bench_${method.replace('-', '')}`;
  const password = 'bench pw 1';
  return {
    name: `shadow ${method === 'sha-512' ? '$6$' : '$y$'}`,
    concurrency: [1, 8, 64],
    count,
    seconds: 10,
    hashMethod: method,
    async setup(): Promise<readonly Probe[]> {
      benchUser(user, password, method);
      return [{ request: { login: user, password, service: 'imap', realm: '' }, expect: 'OK' }];
    },
    startOurs: (): Promise<BenchTarget> => startOurDaemon(['-a', 'shadow', '-n', THREADS]),
    startReal: async (): Promise<BenchTarget | null> => (realSaslauthdInstalled() ? startRealDaemon(['-a', 'shadow', '-n', THREADS]) : null),
    async teardown(): Promise<void> {
      removeBenchUser(user);
    },
  };
}
