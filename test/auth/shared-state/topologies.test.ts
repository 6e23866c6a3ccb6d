import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PenaltyAuthenticator } from '../../../src/auth/penalty.js';
import { SharedState } from '../../../src/auth/shared-state/client.js';
import { FleetKey } from '../../../src/auth/shared-state/key-file.js';
import { SharedPenaltyStore } from '../../../src/auth/shared-state/penalty-store.js';
import { parseSharedStateUrl } from '../../../src/auth/shared-state/url.js';
import { canConnect } from '../../fixtures/daemon.js';
import { FakeAuthenticator, req } from '../../fixtures/fake-authenticator.js';
import { REDIS_SERVER } from '../../fixtures/redis.js';

// The URL forms other than redis:// against real redis-server processes: a 3-master Cluster, a
// master behind a Sentinel, and TLS with a throwaway CA. Ports 27630–27639.
const CLUSTER = [27630, 27631, 27632];
const MASTER = 27633;
const SENTINEL = 27634;
const TLS = 27635;

const dir = mkdtempSync(join(tmpdir(), 'sat_f1-topo-'));
const procs: ChildProcess[] = [];
const states: SharedState[] = [];
const silent = pino({ level: 'silent' });

async function server(args: readonly string[], port: number): Promise<void> {
  const p = spawn(REDIS_SERVER, [...args], { stdio: 'ignore' });
  procs.push(p);
  const until = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (Date.now() > until || p.exitCode !== null) throw new Error(`redis-server ${args.join(' ')} did not start`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const common = (port: number, name: string): string[] => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', join(dir, name), '--protected-mode', 'no'];

function state(url: string, caFile: string | null = null): SharedState {
  const s = new SharedState(parseSharedStateUrl(url), { timeoutMs: 1000, caFile, prefix: 'topo:' }, silent);
  states.push(s);
  return s;
}

beforeAll(async () => {
  for (const n of ['c0', 'c1', 'c2', 'm', 's', 't']) execFileSync('mkdir', ['-p', join(dir, n)]);
  // Cluster: three masters, slots spread by redis-cli.
  await Promise.all(CLUSTER.map((p, i) => server([...common(p, `c${i}`), '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `c${i}`, 'nodes.conf')], p)));
  execFileSync('redis-cli', ['--cluster', 'create', ...CLUSTER.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'ignore' });
  const until = Date.now() + 15_000;
  while (!execFileSync('redis-cli', ['-p', String(CLUSTER[0]), 'cluster', 'info'], { encoding: 'utf8' }).includes('cluster_state:ok')) {
    if (Date.now() > until) throw new Error('cluster never became ok');
    await new Promise((r) => setTimeout(r, 100));
  }
  // Sentinel watching one master.
  await server(common(MASTER, 'm'), MASTER);
  writeFileSync(join(dir, 's', 'sentinel.conf'), `port ${SENTINEL}\nbind 127.0.0.1\ndir ${join(dir, 's')}\nsentinel monitor sat_f1_master 127.0.0.1 ${MASTER} 1\n`);
  await server([join(dir, 's', 'sentinel.conf'), '--sentinel'], SENTINEL);
  // TLS: a throwaway CA and a server certificate for 127.0.0.1.
  const t = join(dir, 't');
  const ssl = (...a: string[]): void => void execFileSync('openssl', a, { stdio: 'ignore', cwd: t });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=sat_f1 test CA');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(t, 'ext'), 'subjectAltName=IP:127.0.0.1\n');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'ext');
  // A second CA that signed nothing: a server we must refuse when only it is trusted.
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other.key', '-out', 'other.pem', '-days', '1', '-subj', '/CN=sat_f1 other CA');
  await server(['--port', '0', '--tls-port', String(TLS), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', t, '--tls-cert-file', join(t, 'server.pem'), '--tls-key-file', join(t, 'server.key'), '--tls-ca-cert-file', join(t, 'ca.pem'), '--tls-auth-clients', 'no'], TLS);
}, 60_000);

afterAll(async () => {
  await Promise.all(states.map((s) => s.close()));
  for (const p of procs) p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('--shared-state topologies', () => {
  it('redis-cluster://: counters for users in different slots, list and clear over every master', async () => {
    const s = state(`redis-cluster://127.0.0.1:${CLUSTER[0]},127.0.0.1:${CLUSTER[1]}`);
    expect(await s.ready(10_000)).toBe(true);
    const fleet = new SharedPenaltyStore(s, new FleetKey('/k', randomBytes(32)), { failDelayMs: 50, penaltyMaxMs: 100, forgetAfterMs: 60_000, maxTotalMs: 5000 });
    const p = new PenaltyAuthenticator(new FakeAuthenticator('f', {}), { failDelayMs: 50, penaltyMaxMs: 100, jitter: 0, fleet }, silent);
    const users = Array.from({ length: 12 }, (_, i) => `sat_f1_c${i}`);
    for (const u of users) expect((await p.authenticate(req(u, 'wrong'), new AbortController().signal)).kind).toBe('rejected');
    // The keys really are spread over the masters.
    const perNode = CLUSTER.map((port) => Number(execFileSync('redis-cli', ['-p', String(port), 'dbsize'], { encoding: 'utf8' }).trim()));
    expect(perNode.filter((n) => n > 0).length).toBeGreaterThan(1);
    expect((await fleet.list()).map((e) => e.key).sort()).toEqual([...users].sort());
    expect(await fleet.clear({ all: true })).toBe(12);
    expect(await fleet.list()).toEqual([]);
  }, 30_000);

  it('redis-sentinel://: finds the master through the Sentinel', async () => {
    const s = state(`redis-sentinel://127.0.0.1:${SENTINEL}/sat_f1_master`);
    expect(await s.ready(10_000)).toBe(true);
    await s.call('SET', (c) => c.set(s.key('probe'), 'via-sentinel'));
    expect(execFileSync('redis-cli', ['-p', String(MASTER), 'get', 'saslauthd:topo:probe'], { encoding: 'utf8' }).trim()).toBe('via-sentinel');
  }, 30_000);

  it('rediss://: verified against --shared-state-ca; an untrusted certificate is never used', async () => {
    const good = state(`rediss://127.0.0.1:${TLS}`, join(dir, 't', 'ca.pem'));
    expect(await good.ready(10_000)).toBe(true);
    expect(await good.call('PING', (c) => c.ping())).toBe('PONG');
    // Trusting only another CA, or only the system store: no connection is ever up.
    const wrongCa = state(`rediss://127.0.0.1:${TLS}`, join(dir, 't', 'other.pem'));
    const systemCa = state(`rediss://127.0.0.1:${TLS}`);
    expect(await wrongCa.ready(2000)).toBe(false);
    expect(await systemCa.ready(100)).toBe(false);
    await expect(wrongCa.call('PING', (c) => c.ping())).rejects.toThrow(/is down/);
  }, 30_000);
});
