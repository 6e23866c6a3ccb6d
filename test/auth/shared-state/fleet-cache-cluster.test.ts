import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheAuthenticator, CredentialCache } from '../../../src/auth/cache.js';
import { SharedState } from '../../../src/auth/shared-state/client.js';
import { FleetCache } from '../../../src/auth/shared-state/fleet-cache.js';
import { readFleetKey } from '../../../src/auth/shared-state/key-file.js';
import { parseSharedStateUrl } from '../../../src/auth/shared-state/url.js';
import { canConnect } from '../../fixtures/daemon.js';
import { FakeAuthenticator, req } from '../../fixtures/fake-authenticator.js';
import { REDIS_SERVER } from '../../fixtures/redis.js';

// The shared cache on a 3-master redis-server Cluster (redis-cluster://): entries of many users land
// on every master; hits, the change log and fleet flushes (SCAN on each master) work across them.
// Ports 27720–27722 (helper E2's range).
const PORTS = [27720, 27721, 27722];
const dir = mkdtempSync(join(tmpdir(), 'sat_f2-cluster-'));
const procs: ChildProcess[] = [];
const quiet = pino({ level: 'silent' });
const USERS = Array.from({ length: 12 }, (_, i) => `sat_f2_c${i}`);

beforeAll(async () => {
  for (const [i, p] of PORTS.entries()) {
    mkdirSync(join(dir, `n${i}`));
    procs.push(
      spawn(REDIS_SERVER, ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', join(dir, `n${i}`), '--protected-mode', 'no', '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `n${i}`, 'nodes.conf')], { stdio: 'ignore' }),
    );
  }
  for (const p of PORTS) {
    const until = Date.now() + 10_000;
    while (!(await canConnect(p))) {
      if (Date.now() > until) throw new Error(`redis-server ${p} did not start`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  execFileSync('redis-cli', ['--cluster', 'create', ...PORTS.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'ignore' });
  const until = Date.now() + 15_000;
  while (!execFileSync('redis-cli', ['-p', String(PORTS[0]), 'cluster', 'info'], { encoding: 'utf8' }).includes('cluster_state:ok')) {
    if (Date.now() > until) throw new Error('cluster never became ok');
    await new Promise((r) => setTimeout(r, 100));
  }
  writeFileSync(join(dir, 'key'), 'sat_f2 cluster test key, more than 32 bytes');
  chmodSync(join(dir, 'key'), 0o600);
}, 60_000);

afterAll(() => {
  for (const p of procs) p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const keysOn = (port: number): string[] =>
  execFileSync('redis-cli', ['-p', String(port), '--scan', '--pattern', 'saslauthd:*cache:e:*'], { encoding: 'utf8' }).split('\n').filter(Boolean);

describe('the shared cache on redis-cluster://', () => {
  it('hits across hosts, entries on every master, user and fleet flushes reach every master and every host', async () => {
    const key = readFleetKey(join(dir, 'key'));
    const hosts = await Promise.all(
      [1, 2].map(async () => {
        const backend = new FakeAuthenticator('shadow', Object.fromEntries(USERS.map((u) => [u, `${u} pw`])));
        const local = new CredentialCache({ ttlMs: 60_000, maxBytes: 1 << 20, staleMs: 0 });
        const state = new SharedState(parseSharedStateUrl(`redis-cluster://127.0.0.1:${PORTS[0]},127.0.0.1:${PORTS[1]}`), { timeoutMs: 1000, prefix: 'f2:' }, quiet);
        expect(await state.ready(10_000)).toBe(true);
        const fleet = new FleetCache(state, key, { ttlMs: 60_000, pollMs: 50, forgetLocal: (m) => local.forgetIf(m), flushLocal: () => local.flush() }, quiet);
        const auth = new CacheAuthenticator(backend, local, quiet, 'shadow', { cache: fleet, checkFor: () => ({ check: null }) });
        const ask = async (u: string, pw = `${u} pw`) => {
          const o = await auth.authenticate(req(u, pw), new AbortController().signal);
          return [o.kind, o.log?.['cached'] ?? null, o.log?.['shared'] ?? null];
        };
        return { backend, local, state, fleet, ask };
      }),
    );
    const [h1, h2] = hosts as [(typeof hosts)[0], (typeof hosts)[0]];
    try {
      for (const u of USERS) expect(await h1.ask(u)).toEqual(['ok', null, 'miss']);
      for (const u of USERS) expect(await h2.ask(u)).toEqual(['ok', true, 'hit']);
      const per = PORTS.map((p) => keysOn(p).length);
      expect(per.reduce((a, b) => a + b, 0)).toBe(USERS.length);
      expect(per.filter((n) => n > 0).length).toBe(3);
      // A password change on host 2 reaches host 1's local copy through the change log.
      h2.backend.users[USERS[0]!] = 'changed';
      h1.backend.users[USERS[0]!] = 'changed';
      expect(await h2.ask(USERS[0]!, 'changed')).toEqual(['ok', null, 'miss']);
      await new Promise((r) => setTimeout(r, 300));
      expect(h1.local.size).toBe(USERS.length - 1);
      expect(await h1.ask(USERS[0]!)).toEqual(['rejected', null, 'miss']);
      expect(await h2.fleet.flush(USERS[5]!.toUpperCase())).toBe(1);
      expect(await h1.fleet.flush()).toBe(USERS.length - 1);
      expect(PORTS.map((p) => keysOn(p).length)).toEqual([0, 0, 0]);
      await new Promise((r) => setTimeout(r, 300));
      expect(h1.local.size).toBe(USERS.length - 2); // c0 and c5 dropped; its own flush record is the caller's (Composed) to apply
      expect(h2.local.size).toBe(0);
    } finally {
      for (const h of hosts) {
        h.fleet.close();
        await h.state.close();
      }
    }
  });
});
