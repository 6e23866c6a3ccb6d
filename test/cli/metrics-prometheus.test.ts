import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest } from '../../src/client/saslauthd-client.js';
import { type RunningDaemon, startOurs, waitForOutput } from '../fixtures/daemon.js';
import { run } from '../fixtures/run.js';
import { verdict } from '../fixtures/testsaslauthd.js';
import { userFiles } from '../fixtures/user-files.js';

// issue 14 item 4: --metrics-listen, checked by Debian's promtool and scraped by a real Prometheus.

const METRICS_PORT = 27110;
const PROMETHEUS_PORT = 27111;
const USER = 'sat_ct_metrics';
const OK = 4;
const NO = 3;

let tmp: string;
let d: RunningDaemon;
let prometheus: ChildProcess | null = null;
let promLog = '';

/** GET over HTTP (TCP, or a UNIX socket with `socketPath`), bounded. */
function get(url: string, socketPath?: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { timeout: 10_000, ...(socketPath ? { socketPath } : {}) }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => (body += b.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timeout`)));
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  tmp = mkdtempSync('/tmp/sat_ct-metrics-');
  const files = await userFiles(join(tmp, 'users'), { [USER]: 'right-pw' });
  d = await startOurs(['-a', 'shadow', '--passwd-file', files.passwd, '--shadow-file', files.shadow, '-c', '--metrics-listen', `127.0.0.1:${METRICS_PORT}`]);
  await waitForOutput(d, `metrics: http://127.0.0.1:${METRICS_PORT}/metrics`);
  for (let i = 0; i < OK; i++) expect(await verdict(d.socket, USER, 'right-pw')).toBe('OK');
  for (let i = 0; i < NO; i++) expect(await verdict(d.socket, USER, `wrong ${i}`)).toBe('NO');
});

afterAll(async () => {
  if (prometheus && prometheus.exitCode === null) {
    const gone = new Promise((r) => prometheus!.once('exit', r));
    prometheus.kill('SIGTERM');
    await gone;
  }
  await d?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('Prometheus metrics (real daemon, promtool, prometheus)', () => {
  it('serves the exposition format with the request counts, and nothing a client wrote', async () => {
    // Client-written fields that look like label syntax must never become labels.
    await sendRequest(d.socket, { login: 'evil",outcome="ok', password: 'x', service: 'svc_forged_label', realm: 'realm_forged_label' });
    const r = await get(`http://127.0.0.1:${METRICS_PORT}/metrics`);
    expect(r.status).toBe(200);
    expect(r.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(r.body).toContain(`\nsaslauthd_requests_total{outcome="ok"} ${OK}\n`);
    expect(r.body).toContain(`\nsaslauthd_requests_total{outcome="rejected"} ${NO + 1}\n`);
    expect(r.body).toContain('\nsaslauthd_backend_requests_total{backend="shadow",outcome="ok"} 1\n');
    expect(r.body).toContain(`\nsaslauthd_cache_hits_total ${OK - 1}\n`);
    expect(r.body).toContain('\nsaslauthd_cache_entries 1\n');
    expect(r.body).toContain('\nsaslauthd_pool_size{pool="crypt"} 5\n');
    expect(r.body).toContain(`\nsaslauthd_request_duration_seconds_count ${OK + NO + 1}\n`);
    expect(r.body).toContain('\nsaslauthd_connections_open ');
    expect(r.body).toContain('\nprocess_cpu_user_seconds_total ');
    for (const forged of ['evil', 'svc_forged_label', 'realm_forged_label', USER]) expect(r.body).not.toContain(forged);
    expect((await get(`http://127.0.0.1:${METRICS_PORT}/other`)).status).toBe(404);
  });

  it("passes Debian's promtool check metrics", async () => {
    const body = (await get(`http://127.0.0.1:${METRICS_PORT}/metrics`)).body;
    const r = await run('promtool', ['check', 'metrics'], { input: body });
    expect({ code: r.code, out: r.stdout + r.stderr }).toEqual({ code: 0, out: '' });
  });

  it('a real Prometheus scrapes it: the target is up and saslauthd_requests_total has the right count', async () => {
    const dir = join(tmp, 'prometheus');
    const config = join(tmp, 'prometheus.yml');
    writeFileSync(config, [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      'scrape_configs:',
      '  - job_name: saslauthd',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${METRICS_PORT}']`,
      '',
    ].join('\n'));
    prometheus = spawn('/usr/bin/prometheus', [
      `--config.file=${config}`,
      `--storage.tsdb.path=${dir}`,
      `--web.listen-address=127.0.0.1:${PROMETHEUS_PORT}`,
      '--log.level=warn',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    prometheus.stdout?.on('data', (b: Buffer) => (promLog += b.toString()));
    prometheus.stderr?.on('data', (b: Buffer) => (promLog += b.toString()));
    const api = `http://127.0.0.1:${PROMETHEUS_PORT}/api/v1`;
    const until = Date.now() + 90_000;
    let health = '';
    let value: string | null = null;
    while (Date.now() < until && (health !== 'up' || value === null)) {
      await new Promise((r) => setTimeout(r, 500));
      if (prometheus.exitCode !== null) throw new Error(`prometheus exited ${prometheus.exitCode}: ${promLog}`);
      try {
        const targets = JSON.parse((await get(`${api}/targets`)).body) as { data: { activeTargets: { health: string; scrapeUrl: string }[] } };
        health = targets.data.activeTargets.find((t) => t.scrapeUrl === `http://127.0.0.1:${METRICS_PORT}/metrics`)?.health ?? '';
        const q = JSON.parse((await get(`${api}/query?query=${encodeURIComponent('saslauthd_requests_total{outcome="ok",job="saslauthd"}')}`)).body) as {
          data: { result: { value: [number, string] }[] };
        };
        value = q.data.result[0]?.value[1] ?? null;
      } catch {
        // not listening yet
      }
    }
    expect(health, promLog).toBe('up');
    expect(value).toBe(String(OK));
  }, 120_000);

  it('listens on a UNIX socket path too', async () => {
    const sock = join(tmp, 'metrics.sock');
    const files = await userFiles(join(tmp, 'users2'), { [USER]: 'right-pw' });
    const d2 = await startOurs(['-a', 'shadow', '--passwd-file', files.passwd, '--shadow-file', files.shadow, '--metrics-listen', sock]);
    try {
      await waitForOutput(d2, `metrics: GET /metrics on UNIX socket ${sock}`);
      expect(await verdict(d2.socket, USER, 'right-pw')).toBe('OK');
      const r = await get('http://localhost/metrics', sock);
      expect(r.body).toContain('\nsaslauthd_requests_total{outcome="ok"} 1\n');
    } finally {
      await d2.stop();
    }
  });

  it('refuses a bad --metrics-listen value naming it', async () => {
    const r = await run(process.execPath, [join(__dirname, '../../bin/saslauthd-ts'), '-a', 'shadow', '--metrics-listen', 'localhost:99999']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("--metrics-listen <addr>' argument 'localhost:99999' is invalid. 'localhost:99999' is not IP:PORT ([IPv6]:PORT) or an absolute socket path");
  });
});
