import { type HashMethod, ensureUser, mkpasswd, removeUser } from '../../test/fixtures/users.js';
import { realSaslauthdInstalled } from '../../test/fixtures/daemon.js';
import { fileURLToPath } from 'node:url';
import { startNodeScript, startOurDaemon, startRealDaemon } from '../daemons.js';
import type { Probe } from '../../test/fixtures/load.js';
import type { BenchTarget, Scenario } from '../scenario.js';

const THREADS = '5'; // Debian's default THREADS for saslauthd, used for both daemons
// The libuv pool our daemon starts for -n 5 (bin/thread-pool.cjs: 2 × n + 4), given to the floor too.
const UV_THREADS = '14';
const CRYPT_FLOOR = fileURLToPath(new URL('../crypt-floor-server.js', import.meta.url));

/** A throwaway system user (sat_bench_*) with a hash from Debian's mkpasswd, so the real saslauthd sees it too. */
export async function benchUser(name: string, password: string, method: HashMethod): Promise<void> {
  await ensureUser(name, await mkpasswd(password, method));
}

export async function removeBenchUser(name: string): Promise<void> {
  await removeUser(name);
}

/**
 * `-a shadow` for one hash scheme: right passwords, both daemons with -n 5. The floor is
 * crypt-floor-server.ts: bare node:net and the daemon's own crypt pool (5 hashes at once on the 14
 * libuv threads that `-n 5` starts), with no penalty, account check, deadline or log line.
 */
export function shadowScenario(method: 'sha-512' | 'yescrypt', count: number): Scenario {
  const user = `sat_bench_${method.replace('-', '')}`;
  const password = 'bench pw 1';
  const hash = method === 'sha-512' ? '$6$' : '$y$';
  return {
    name: `shadow ${hash}`,
    concurrency: [1, 8, 64],
    count,
    seconds: 10,
    hashMethod: method,
    async setup(): Promise<readonly Probe[]> {
      await benchUser(user, password, method);
      return [{ request: { login: user, password, service: 'imap', realm: '' }, expect: 'OK' }];
    },
    startOurs: (): Promise<BenchTarget> => startOurDaemon(['-a', 'shadow', '-n', THREADS]),
    floor: {
      name: `shadow ${hash} floor (bare node:net + crypt pool)`,
      start: (): Promise<BenchTarget> => startNodeScript(CRYPT_FLOOR, [user, '/etc/shadow', THREADS], { UV_THREADPOOL_SIZE: UV_THREADS }),
    },
    startReal: async (): Promise<BenchTarget | null> => (realSaslauthdInstalled() ? startRealDaemon(['-a', 'shadow', '-n', THREADS]) : null),
    async teardown(): Promise<void> {
      await removeBenchUser(user);
    },
  };
}

