import { rmSync, writeFileSync } from 'node:fs';
import { startOurDaemon, startRealDaemon, realSaslauthdInstalled } from '../daemons.js';
import { type LoadResult, type Probe, runLoad } from '../load.js';
import type { BenchTarget, Scenario } from '../scenario.js';
import { benchUser, removeBenchUser } from './shadow.js';

const THREADS = '5'; // Debian's default THREADS for saslauthd, used for both daemons
const SERVICE = 'sat-pam-bench';
const USER = 'sat_pam_bench';
const PASSWORD = 'bench pw 1';

const good: Probe = { request: { login: USER, password: PASSWORD, service: SERVICE, realm: '' }, expect: 'OK' };
const bad: Probe = { request: { login: USER, password: 'not the password', service: SERVICE, realm: '' }, expect: 'NO' };

/**
 * `-a pam` through pam_unix (a service file of our own), both daemons with -n 5.
 * - `good`: right passwords only.
 * - `mixed`: one request in four has a wrong password. pam_unix holds every failure ~2 s; saslauthd
 *   sits that out in one of its 5 workers, we in a timer (--pam-fail-delay) with the helper free.
 *   `pamMixedLoad` below measures it the way the issue states it (one client in four sends wrong
 *   passwords; good-password throughput); through `runLoad` the probes alternate instead.
 */
export function pamScenario(kind: 'good' | 'mixed', count: number): Scenario {
  return {
    name: kind === 'good' ? 'pam good' : 'pam 1/4 wrong',
    concurrency: kind === 'good' ? [1, 8, 64] : [8, 64],
    count,
    seconds: 10,
    async setup(): Promise<readonly Probe[]> {
      writeFileSync(`/etc/pam.d/${SERVICE}`, 'auth required pam_unix.so\naccount required pam_unix.so\n');
      benchUser(USER, PASSWORD, 'sha-512');
      return kind === 'good' ? [good] : [good, good, good, bad];
    },
    startOurs: (): Promise<BenchTarget> => startOurDaemon(['-a', 'pam', '-n', THREADS]),
    startReal: async (): Promise<BenchTarget | null> => (realSaslauthdInstalled() ? startRealDaemon(['-a', 'pam', '-n', THREADS]) : null),
    async teardown(): Promise<void> {
      removeBenchUser(USER);
      rmSync(`/etc/pam.d/${SERVICE}`, { force: true });
    },
  };
}

/**
 * Closed-loop load where client i sends wrong passwords when i % 4 === 3 and right ones otherwise;
 * returns the good clients' results (rps = good-password throughput) and the bad clients' count.
 */
export async function pamMixedLoad(socket: string, o: { concurrency: number; seconds: number }): Promise<{ good: LoadResult; badRequests: number }> {
  const goodClients = Math.max(1, o.concurrency - Math.floor(o.concurrency / 4));
  const badClients = o.concurrency - goodClients;
  const stopAt = { count: Number.MAX_SAFE_INTEGER, seconds: o.seconds };
  const [goodR, badR] = await Promise.all([
    runLoad(socket, [good], { concurrency: goodClients, ...stopAt }),
    badClients > 0 ? runLoad(socket, [bad], { concurrency: badClients, ...stopAt }) : Promise.resolve(null),
  ]);
  return { good: goodR, badRequests: badR?.requests ?? 0 };
}
