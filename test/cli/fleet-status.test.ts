import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest } from '../../src/client/saslauthd-client.js';
import { type RunningDaemon, waitForOutput } from '../fixtures/daemon.js';
import { DAEMON_BIN } from '../fixtures/paths.js';
import { type RunningRedis, startRedis } from '../fixtures/redis.js';
import { run } from '../fixtures/run.js';
import { shadowDaemons } from '../fixtures/shadow-daemons.js';

// Issue 16 item 4 meets issue 14 items 1 and 4: whether this host uses the fleet's state is shown in
// `ctl status` and in the metrics, and follows a real redis-server going away and coming back.
// Ports: 27630 (redis), 27631 (metrics).
const REDIS_PORT = 27630;
const METRICS_PORT = 27631;
const USER = 'sat_fs_ann';
const start = shadowDaemons('/tmp/sat_fs-', [USER]);

let redis: RunningRedis;
let keyDir: string;
let d: RunningDaemon;
beforeAll(async () => {
  redis = await startRedis(REDIS_PORT);
  keyDir = mkdtempSync('/tmp/sat_fs-key-');
  writeFileSync(join(keyDir, 'fleet.key'), randomBytes(48), { mode: 0o600 });
  d = await start([
    '-c', '--fail-delay', '0', '--metrics-listen', `127.0.0.1:${METRICS_PORT}`,
    '--shared-state', redis.url, '--cache-key-file', join(keyDir, 'fleet.key'), '--shared-state-prefix', 'sat_fs:',
  ]);
  await waitForOutput(d, 'control socket:');
});
afterAll(async () => {
  await redis.stop();
  rmSync(keyDir, { recursive: true, force: true });
});

const ctl = (...args: string[]) => run(process.execPath, [DAEMON_BIN, 'ctl', '-m', dirname(d.socket), ...args], { timeoutMs: 30_000 });
const ask = () => sendRequest(d.socket, { login: USER, password: `${USER}-pw`, service: 'smtp', realm: '' }, { timeoutMs: 10_000 });
const metric = async (line: RegExp): Promise<string | undefined> => {
  const text = await (await fetch(`http://127.0.0.1:${METRICS_PORT}/metrics`)).text();
  return text.split('\n').find((l) => line.test(l));
};

describe('shared state in ctl status and metrics', () => {
  it('shows the fleet up, with the fleet cache counters', async () => {
    expect(await ask()).toBe('OK');
    expect(await ask()).toBe('OK');
    const r = await ctl('--json', 'status');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as { sharedState: { url: string; up: boolean; cache: { hits: number; misses: number; fallbacks: number } } };
    expect(s.sharedState).toEqual({ url: expect.stringContaining(`127.0.0.1:${REDIS_PORT}`), up: true, cache: { hits: 1, misses: 1, fallbacks: 0 } });
    const human = await ctl('status');
    expect(human.stdout).toMatch(/^shared state: \S+ up; fleet cache 1 hits, 1 misses, 0 decided locally$/m);
    expect(await metric(/^saslauthd_shared_state_up /)).toBe('saslauthd_shared_state_up 1');
    expect(await metric(/^saslauthd_shared_cache_lookups_total\{result="hit"\}/)).toBe('saslauthd_shared_cache_lookups_total{result="hit"} 1');
  });

  it('shows it down while Redis is gone, and up again when it is back', async () => {
    await redis.kill();
    await waitForOutput(d, 'is down');
    expect(await ask()).toBe('OK'); // the local cache decides: this host verified it itself
    const human = await ctl('status');
    expect(human.stdout).toMatch(/^shared state: \S+ DOWN \(this host works on its local penalty counters and cache\); fleet cache 1 hits, 1 misses, 1 decided locally$/m);
    expect(await metric(/^saslauthd_shared_state_up /)).toBe('saslauthd_shared_state_up 0');
    await redis.restart();
    const until = Date.now() + 10_000;
    while (!(await metric(/^saslauthd_shared_state_up 1$/)) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    expect(await metric(/^saslauthd_shared_state_up /)).toBe('saslauthd_shared_state_up 1');
    expect((await ctl('status')).stdout).toMatch(/^shared state: \S+ up;/m);
  });
});
