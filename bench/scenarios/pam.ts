import { rmSync, writeFileSync } from 'node:fs';
import { realSaslauthdInstalled } from '../../test/fixtures/daemon.js';
import { startOurDaemon, startRealDaemon } from '../daemons.js';
import type { Probe } from '../../test/fixtures/load.js';
import type { BenchTarget, Scenario } from '../scenario.js';
import { benchUser, removeBenchUser } from './shadow.js';

const THREADS = '5'; // Debian's default THREADS for saslauthd, used for both daemons
const SERVICE = 'sat-pam-bench';
const USER = 'sat_pam_bench';
// Wrong passwords go to another account, as a guesser's would: our per-user penalty then holds the
// guesser's requests, not the legitimate user's, which is the comparison the issue asks for.
const GUESSED = 'sat_pam_bench_g';
const PASSWORD = 'bench pw 1';

const good: Probe = { request: { login: USER, password: PASSWORD, service: SERVICE, realm: '' }, expect: 'OK' };
const bad: Probe = { request: { login: GUESSED, password: 'not the password', service: SERVICE, realm: '' }, expect: 'NO' };

/**
 * `-a pam` through pam_unix (a service file of our own), both daemons with -n 5.
 * - `good`: right passwords only.
 * - `mixed`: one request in four has a wrong password. pam_unix holds every failure ~2 s; saslauthd
 *   sits that out in one of its 5 workers, we in a timer (--pam-fail-delay) with the helper free.
 *   Client i sends probe i mod 4, so one client in four sends wrong passwords; the bench prints
 *   the right-password throughput ratio.
 */
export function pamScenario(kind: 'good' | 'mixed', count: number): Scenario {
  return {
    name: kind === 'good' ? 'pam good' : 'pam 1/4 wrong',
    concurrency: kind === 'good' ? [1, 8, 64] : [8, 64],
    perClient: kind === 'mixed',
    count,
    seconds: 10,
    async setup(): Promise<readonly Probe[]> {
      writeFileSync(`/etc/pam.d/${SERVICE}`, 'auth required pam_unix.so\naccount required pam_unix.so\n');
      await benchUser(USER, PASSWORD, 'sha-512');
      if (kind === 'mixed') await benchUser(GUESSED, PASSWORD, 'sha-512');
      return kind === 'good' ? [good] : [good, good, good, bad];
    },
    startOurs: (): Promise<BenchTarget> => startOurDaemon(['-a', 'pam', '-n', THREADS]),
    startReal: async (): Promise<BenchTarget | null> => (realSaslauthdInstalled() ? startRealDaemon(['-a', 'pam', '-n', THREADS]) : null),
    async teardown(): Promise<void> {
      await removeBenchUser(USER);
      await removeBenchUser(GUESSED);
      rmSync(`/etc/pam.d/${SERVICE}`, { force: true });
    },
  };
}
