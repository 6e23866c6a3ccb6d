import { fileURLToPath } from 'node:url';
import { type RunningDovecot, startDovecot } from '../../test/fixtures/dovecot.js';
import { realSaslauthdInstalled } from '../../test/fixtures/daemon.js';
import { startNodeScript, startOurDaemon, startRealDaemon } from '../daemons.js';
import type { Probe } from '../../test/fixtures/load.js';
import type { BenchTarget, Scenario } from '../scenario.js';

// Dovecot listens on 24320-24322 (the rimap range is 24300-24399).
const DOVECOT_BASE = 24320;
const USER = { name: 'sat_rimap_bench', password: 'Bench-pw 1' };
/** The `-O` both daemons get: the Dovecot below. */
export const RIMAP_BENCH_TARGET = `127.0.0.1/${DOVECOT_BASE}`;

let dovecot: RunningDovecot | null = null;

/** A throwaway Dovecot with the bench user, and the one request both rimap rows send: its right password. */
async function startBenchDovecot(): Promise<readonly Probe[]> {
  dovecot = await startDovecot({ basePort: DOVECOT_BASE, users: [USER] });
  return [{ request: { login: USER.name, password: USER.password, service: 'imap', realm: '' }, expect: 'OK' }];
}

async function stopBenchDovecot(): Promise<void> {
  await dovecot?.stop();
  dovecot = null;
}

const FLOOR_SERVER = fileURLToPath(new URL('../rimap-floor-server.js', import.meta.url));
const BACKEND_FLOOR_SERVER = fileURLToPath(new URL('../backend-floor-server.js', import.meta.url));

/**
 * rimap against a local Dovecot on its plaintext port, the one mode the real saslauthd supports.
 * Right passwords only: Dovecot holds every failed login for about half a second (its auth failure
 * delay cannot go lower), which would measure Dovecot's timer rather than either daemon. The wrong
 * and unknown cases are proven in test/auth/rimap/.
 */
export const rimapScenario: Scenario = {
  name: 'rimap (Dovecot, plaintext LOGIN)',
  concurrency: [1, 8, 64],
  count: 3000,
  seconds: 10,
  setup: startBenchDovecot,
  startOurs(): Promise<BenchTarget> {
    return startOurDaemon(['-a', 'rimap', '-O', RIMAP_BENCH_TARGET]);
  },
  // rimap-floor-server.ts on the same Dovecot: a fresh TCP connection and one LOGIN per request.
  floor: { name: 'rimap floor (bare node:net)', start: (): Promise<BenchTarget> => startNodeScript(FLOOR_SERVER, ['127.0.0.1', String(DOVECOT_BASE)]) },
  // Our rimap backend (its IMAP client, spare connections, limiter) in the same bare server.
  backendFloor: {
    name: 'rimap backend floor (bare node:net + our rimap)',
    start: (): Promise<BenchTarget> => startNodeScript(BACKEND_FLOOR_SERVER, ['rimap', '-O', RIMAP_BENCH_TARGET]),
  },
  async startReal(): Promise<BenchTarget | null> {
    if (!realSaslauthdInstalled()) return null;
    return startRealDaemon(['-a', 'rimap', '-O', RIMAP_BENCH_TARGET, '-n', '5']);
  },
  teardown: stopBenchDovecot,
};

export default rimapScenario;
