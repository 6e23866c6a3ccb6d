import { fileURLToPath } from 'node:url';
import { startNodeScript } from '../daemons.js';
import type { Probe } from '../../test/fixtures/load.js';
import type { BenchTarget, Scenario } from '../scenario.js';

const USER = 'sat_floor_bench';
const PASSWORD = 'floor bench pw';
const SERVER = fileURLToPath(new URL('../floor-server.js', import.meta.url));

/**
 * `floor (bare node:net)`: the cheapest Node.js server that speaks the protocol (floor-server.ts),
 * under the cache-hit load. It is what a cache hit would cost in Node.js with nothing of ours on
 * the path, so the bench prints the cache-hit row's distance to it. No saslauthd column: its
 * cache hit is the row above.
 */
export const floorScenario: Scenario = {
  name: 'floor (bare node:net)',
  concurrency: [1, 8, 64],
  count: 40_000,
  seconds: 10,
  async setup(): Promise<readonly Probe[]> {
    return [{ request: { login: USER, password: PASSWORD, service: 'imap', realm: '' }, expect: 'OK' }];
  },
  startOurs: (): Promise<BenchTarget> => startNodeScript(SERVER, [USER, PASSWORD]),
  startReal: async (): Promise<BenchTarget | null> => null,
  async teardown(): Promise<void> {},
};
