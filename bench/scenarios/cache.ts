import { fileURLToPath } from 'node:url';
import { realSaslauthdInstalled } from '../../test/fixtures/daemon.js';
import { startNodeScript, startOurDaemon, startRealDaemon } from '../daemons.js';
import type { Probe } from '../../test/fixtures/load.js';
import type { BenchTarget, Scenario } from '../scenario.js';
import { benchUser, removeBenchUser } from './shadow.js';

const THREADS = '5';
const USER = 'sat_cache_bench';
const PASSWORD = 'cache bench pw';
const FLOOR_SERVER = fileURLToPath(new URL('../floor-server.js', import.meta.url));

/**
 * `-a shadow -c`, the same right password over and over: after the first request every answer is a
 * cache hit, so this measures the request path itself (socket, codec, cache lookup, log line) and the
 * daemon CPU per hit, beside saslauthd's mmap cache. The hash is yescrypt so a miss would show.
 */
export const cacheScenario: Scenario = cacheHit('cache hit (-a shadow -c)', 'floor (bare node:net)', 40_000, true);

/**
 * `cold start`: the same load on a freshly started daemon, measured from its first request with no
 * warm-up (its first request is the one cache miss). A restarted daemon under load is not JIT-warm;
 * this row shows what its first few thousand requests cost, beside saslauthd's.
 */
export const coldStartScenario: Scenario = cacheHit('cold start (cache hit, first 3000 req)', 'floor, cold start (first 3000 req)', 3000, false);

/**
 * The floor (floor-server.ts) is the cheapest Node.js server that speaks the protocol: it accepts,
 * reads the four fields, compares login and password with the one pair it holds and answers. No
 * timers, logging or wrappers. In the cold-start row it too starts fresh, so that row's floor is
 * what Node.js itself spends on its first thousands of requests.
 */
function cacheHit(name: string, floorName: string, count: number, warmup: boolean): Scenario {
  return {
    name,
    concurrency: [1, 8, 64],
    count,
    seconds: 10,
    warmup,
    async setup(): Promise<readonly Probe[]> {
      await benchUser(USER, PASSWORD, 'yescrypt');
      return [{ request: { login: USER, password: PASSWORD, service: 'imap', realm: '' }, expect: 'OK' }];
    },
    startOurs: (): Promise<BenchTarget> => startOurDaemon(['-a', 'shadow', '-c', '-n', THREADS]),
    floor: { name: floorName, start: (): Promise<BenchTarget> => startNodeScript(FLOOR_SERVER, [USER, PASSWORD]) },
    startReal: async (): Promise<BenchTarget | null> => (realSaslauthdInstalled() ? startRealDaemon(['-a', 'shadow', '-c', '-n', THREADS]) : null),
    async teardown(): Promise<void> {
      await removeBenchUser(USER);
    },
  };
}
