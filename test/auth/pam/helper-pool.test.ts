import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PamHelperPool } from '../../../src/auth/backends/pam/helper-pool.js';
import { PAM_HELPER_PATH } from '../../../src/auth/backends/pam/factory.js';
import { processesMatching } from '../../fixtures/pam.js';

// Unit tests of the pool's bookkeeping. A stand-in helper that never answers keeps a slot busy; the
// real helper's behaviour under real PAM is proven in pam-isolation.test.ts.
const DIR = '/tmp/sat-pam-pool';
const SILENT = `${DIR}/silent-helper.sh`;
const log = pino({ level: 'silent' });
const req = { service: 'sat-pam-none', login: 'sat_pam_nobody', password: Buffer.from('x'), rhost: null };

beforeAll(() => {
  mkdirSync(DIR, { recursive: true });
  writeFileSync(SILENT, '#!/bin/sh\nexec sleep 317\n');
  chmodSync(SILENT, 0o755);
});
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

describe('PamHelperPool', () => {
  it('queues behind a busy helper, lets a waiting request leave on abort, and answers the rest "closed" on close', async () => {
    const pool = new PamHelperPool({ helperPath: SILENT, size: 1, maxQueue: 2, timeoutMs: 60_000 }, log);
    pool.start();
    const busy = pool.run(req, new AbortController().signal);
    const leaving = new AbortController();
    const waiting1 = pool.run(req, leaving.signal);
    const waiting2 = pool.run(req, new AbortController().signal);
    expect(pool.stats.queued).toBe(2);
    expect(await pool.run(req, new AbortController().signal)).toEqual({ kind: 'overloaded' });
    leaving.abort();
    expect(await waiting1).toEqual({ kind: 'aborted' });
    expect(pool.stats.queued).toBe(1);
    await pool.close();
    expect(await waiting2).toEqual({ kind: 'closed' });
    expect((await busy).kind).toBe('died');
    expect(processesMatching('sleep 317')).toEqual([]);
  });

  it('kills a helper past its deadline and replaces it', async () => {
    const pool = new PamHelperPool({ helperPath: SILENT, size: 1, maxQueue: 10, timeoutMs: 300 }, log);
    pool.start();
    const first = pool.stats.pids;
    expect(await pool.run(req, new AbortController().signal)).toEqual({ kind: 'timeout' });
    const until = Date.now() + 10_000;
    while ((pool.stats.helpers !== 1 || pool.stats.pids[0] === first[0]) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(pool.stats.replaced).toBe(1);
    expect(pool.stats.pids).not.toEqual(first);
    await pool.close();
  });

  it('does not spin when the helper cannot even start', async () => {
    const pool = new PamHelperPool({ helperPath: `${DIR}/missing`, size: 2, maxQueue: 10, timeoutMs: 1000 }, log);
    pool.start();
    await new Promise((r) => setTimeout(r, 1500));
    // Two at start, then at most one refill round per second.
    expect(pool.stats.replaced).toBeLessThanOrEqual(6);
    await pool.close();
  });

  it('runs a real PAM conversation in the real helper (unknown service falls back to other)', async () => {
    const pool = new PamHelperPool({ helperPath: PAM_HELPER_PATH, size: 1, maxQueue: 10, timeoutMs: 10_000 }, log);
    pool.start();
    const r = await pool.run(req, new AbortController().signal);
    expect(r.kind).toBe('reply');
    if (r.kind === 'reply') expect(r.reply.stage === 'auth' || r.reply.stage === 'start').toBe(true);
    await pool.close();
    expect(pool.stats.helpers).toBe(0);
  });
});
