import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Probe, runLoad } from '../fixtures/load.js';
import { procStats, waitForFds } from '../fixtures/hostile.js';
import { type RunningDaemon, startOurs } from '../fixtures/daemon.js';
import { type FixtureFiles, writeFixture } from '../fixtures/fixture-users.js';
import { verdict } from '../fixtures/testsaslauthd.js';

// 64 clients at once for a bounded count: every answer right, no errors, no descriptor leaked.
// Throughput, latency and RSS at start/end are figures for `npm run stress`.

const A = { name: 'sat_rel_load_a', password: 'Load A pass 1' };
const B = { name: 'sat_rel_load_b', password: 'Load B pass 2' };
const LOCKED = { name: 'sat_rel_load_l', password: 'Load L pass 3' };
let fx: FixtureFiles;
let d: RunningDaemon;

const req = (login: string, password: string, extra: { realm?: string; clientAddr?: string } = {}) =>
  ({ login, password, service: 'smtp', realm: extra.realm ?? '', ...(extra.clientAddr ? { clientAddr: extra.clientAddr } : {}) });

const PROBES: Probe[] = [
  { request: req(A.name, A.password), expect: 'OK' },
  { request: req(B.name, B.password, { clientAddr: '192.0.2.1;25' }), expect: 'OK' },
  { request: req(A.name, B.password), expect: 'NO' },
  { request: req(B.name, `${B.password} `), expect: 'NO' },
  { request: req(LOCKED.name, LOCKED.password), expect: 'NO' },
  { request: req('sat_rel_load_nobody', A.password), expect: 'NO' },
  { request: req(A.name, A.password, { realm: 'elsewhere' }), expect: 'OK' }, // realm ignored without -r, as saslauthd
];

beforeAll(async () => {
  fx = await writeFixture([
    { name: A.name, password: A.password, method: 'sha-512' },
    { name: B.name, password: B.password, method: 'sha-256' },
    { name: LOCKED.name, password: LOCKED.password, method: { literal: '!$6$abcdefgh$' + 'x'.repeat(86) } },
  ]);
  d = await startOurs(['-a', 'shadow', '--passwd-file', fx.passwd, '--shadow-file', fx.shadow, '-n', '4']);
});
afterAll(async () => {
  await d?.stop();
  fx?.remove();
});

describe('load', () => {
  it('64 concurrent clients, 4000 requests: every answer right, no error, fds back to baseline', async () => {
    expect(await verdict(d.socket, A.name, A.password)).toBe('OK');
    const baseline = procStats(d.proc.pid!).fds;
    const r = await runLoad(d.socket, PROBES, { concurrency: 64, count: 4000, seconds: 600 });
    expect({ requests: r.requests, errors: r.errors, wrong: r.wrong }).toEqual({ requests: 4000, errors: 0, wrong: 0 });
    expect(await waitForFds(d.proc.pid!, baseline, 30_000)).toBeLessThanOrEqual(baseline);
    expect(d.proc.exitCode).toBeNull();
    expect(d.output()).not.toMatch(/ERROR|FATAL/);
  }, 300_000);
});
