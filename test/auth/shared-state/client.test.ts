import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SharedState } from '../../../src/auth/shared-state/client.js';
import { parseSharedStateUrl } from '../../../src/auth/shared-state/url.js';
import { SharedStateError } from '../../../src/errors.js';
import { type RunningRedis, startRedis, startSilentServer } from '../../fixtures/redis.js';

// Ports 27600–27699 are this suite's (helper E1's range).
const PORT = 27601;
const SILENT_PORT = 27602;

function logged(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  return { log: pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) }), lines };
}

const until = async (cond: () => boolean, ms: number): Promise<number> => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - t0;
};

describe('SharedState against a real redis-server', () => {
  let redis: RunningRedis;
  beforeAll(async () => {
    redis = await startRedis(PORT, ['--requirepass', 'pw-never-logged']);
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('connects, keys under saslauthd:<prefix>, runs scripts atomically, logs no password', async () => {
    const { log, lines } = logged();
    const s = new SharedState(parseSharedStateUrl(`redis://:pw-never-logged@127.0.0.1:${PORT}`), { timeoutMs: 200, prefix: 'f1:', probeIntervalMs: 50 }, log);
    try {
      expect(await s.ready(5000)).toBe(true);
      expect(s.key('u', 'alice')).toBe('saslauthd:f1:u:alice');
      const incr = "return redis.call('INCRBY', KEYS[1], ARGV[1])";
      const got = await Promise.all([1, 2, 3].map(() => s.script('sat_incr', incr, [s.key('t')], [2])));
      expect((got as number[]).sort()).toEqual([2, 4, 6]);
      expect(await s.call('GET', (c) => c.get('saslauthd:f1:t'))).toBe('6');
      expect(JSON.stringify(lines)).not.toContain('pw-never-logged');
      expect(lines.filter((l) => l['shared_state_up'] === true)).toHaveLength(1);
    } finally {
      await s.close();
    }
  });

  it('an error reply (WRONGTYPE) is the call’s failure, not an outage', async () => {
    const { log } = logged();
    const s = new SharedState(parseSharedStateUrl(`redis://:pw-never-logged@127.0.0.1:${PORT}`), { timeoutMs: 200 }, log);
    try {
      await s.ready(5000);
      await s.call('SET', (c) => c.set(s.key('str'), 'x'));
      const e = await s.call('HGET', (c) => c.hget(s.key('str'), 'f')).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(SharedStateError);
      expect((e as SharedStateError).reason).toBe('reply');
      expect(s.healthy).toBe(true);
    } finally {
      await s.close();
    }
  });

  it('SIGKILL of redis-server: down once, calls fail at once, up once when it is back', async () => {
    const { log, lines } = logged();
    const s = new SharedState(parseSharedStateUrl(`redis://:pw-never-logged@127.0.0.1:${PORT}`), { timeoutMs: 100, probeIntervalMs: 50 }, log);
    const changes: boolean[] = [];
    try {
      expect(await s.ready(5000)).toBe(true);
      s.onChange((h) => changes.push(h));
      await redis.kill();
      await until(() => !s.healthy, 3000);
      // Down: no network, no wait.
      for (let i = 0; i < 20; i++) {
        const t0 = performance.now();
        const e = await s.call('GET', (c) => c.get(s.key('x'))).catch((x: unknown) => x);
        expect((e as SharedStateError).reason).toBe('down');
        expect(performance.now() - t0).toBeLessThan(100);
      }
      await redis.restart();
      const back = await until(() => s.healthy, 10_000);
      expect(back).toBeGreaterThanOrEqual(0);
      expect(await s.call('PING', (c) => c.ping())).toBe('PONG');
      expect(changes).toEqual([false, true]);
      const warn = lines.filter((l) => l['shared_state_up'] === false);
      expect(warn).toHaveLength(1);
      expect(String(warn[0]!['msg'])).toMatch(/^shared state redis:\/\/\*\*\*@127\.0\.0\.1:27601 is down \(.+\): this host falls back to its local penalty counters and cache until it is back$/);
      expect(JSON.stringify(lines)).not.toContain('pw-never-logged');
    } finally {
      await s.close();
    }
  });

  it('a server that accepts and never answers: never up, every call within the deadline', async () => {
    const silent = await startSilentServer(SILENT_PORT);
    const { log } = logged();
    const s = new SharedState(parseSharedStateUrl(`redis://127.0.0.1:${SILENT_PORT}`), { timeoutMs: 50, probeIntervalMs: 50 }, log);
    try {
      expect(await s.ready(500)).toBe(false);
      expect(silent.connections).toBeGreaterThan(0);
      const t0 = performance.now();
      const e = await s.call('GET', (c) => c.get('k')).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(SharedStateError);
      expect(performance.now() - t0).toBeLessThan(50 + 100);
    } finally {
      await s.close();
      await silent.close();
    }
  });
});
