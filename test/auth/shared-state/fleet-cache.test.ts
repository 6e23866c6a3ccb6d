import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccountCheck, AuthRequest } from '../../../src/auth/authenticator.js';
import { rejected } from '../../../src/auth/authenticator.js';
import { CacheAuthenticator, CredentialCache } from '../../../src/auth/cache.js';
import { SharedState } from '../../../src/auth/shared-state/client.js';
import { FleetCache } from '../../../src/auth/shared-state/fleet-cache.js';
import { type FleetKey, readFleetKey } from '../../../src/auth/shared-state/key-file.js';
import { parseSharedStateUrl } from '../../../src/auth/shared-state/url.js';
import { FakeAuthenticator, down, req } from '../../fixtures/fake-authenticator.js';
import { type RunningRedis, startRedis, startSilentServer } from '../../fixtures/redis.js';

// issue 16 item 3: the credential cache shared by three hosts through a real redis-server. The hosts
// are three wrapper stacks in this process (the daemon-level proof is test/cli/fleet-cache.test.ts);
// the backend is a scripted one, so each test says exactly which answers came from where.
// Ports 27700–27799 are helper E2's.
const PORT = 27701;
const SILENT_PORT = 27702;
const USER = 'sat_f2_alice';
const OLD = 'old pw sat_f2 ü';
const NEW = 'new pw sat_f2';

const quiet = pino({ level: 'silent' });
let redis: RunningRedis;
let spy: Redis;
let key: FleetKey;
let tmp: string;

interface Host {
  readonly backend: FakeAuthenticator;
  readonly local: CredentialCache;
  readonly state: SharedState;
  readonly fleet: FleetCache;
  readonly auth: CacheAuthenticator;
  ask(r: AuthRequest): Promise<{ kind: string; cached: unknown; shared: unknown }>;
  close(): Promise<void>;
}

async function host(users: Record<string, string>, opts: { url?: string; staleMs?: number; check?: AccountCheck } = {}): Promise<Host> {
  const backend = new FakeAuthenticator('shadow', users);
  if (opts.check) Object.defineProperty(backend, 'accountCheck', { value: opts.check });
  const local = new CredentialCache({ ttlMs: 60_000, maxBytes: 1 << 20, staleMs: opts.staleMs ?? 0 });
  const state = new SharedState(parseSharedStateUrl(opts.url ?? redis.url), { timeoutMs: 100, probeIntervalMs: 50 }, quiet);
  await state.ready(5000);
  const fleet = new FleetCache(state, key, { ttlMs: 60_000, pollMs: 50, forgetLocal: (m) => local.forgetIf(m), flushLocal: () => local.flush() }, quiet);
  const auth = new CacheAuthenticator(backend, local, quiet, 'shadow', { cache: fleet, checkFor: (via) => (via === 'shadow' ? { check: opts.check ?? null } : null) });
  return {
    backend,
    local,
    state,
    fleet,
    auth,
    async ask(r) {
      const o = await auth.authenticate(r, new AbortController().signal);
      return { kind: o.kind, cached: o.log?.['cached'], shared: o.log?.['shared'] };
    },
    async close() {
      fleet.close();
      await state.close();
    },
  };
}

/** Each host asks its own backend once (Redis emptied before each), so each holds a local entry. */
async function eachVerifiedLocally(hosts: readonly Host[], r: AuthRequest): Promise<void> {
  for (const h of hosts) {
    for (const k of await spy.keys('saslauthd:cache:e:*')) await spy.del(k);
    expect(await h.ask(r)).toMatchObject({ kind: 'ok', cached: undefined, shared: 'miss' });
  }
  expect(hosts.map((h) => h.local.size)).toEqual(hosts.map(() => 1));
}

const settle = (ms = 300): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'sat_f2-fleet-'));
  writeFileSync(join(tmp, 'key'), 'sat_f2 fleet key, 32 bytes at least, test only\n');
  chmodSync(join(tmp, 'key'), 0o600);
  key = readFleetKey(join(tmp, 'key'));
  // DEBUG SLEEP makes a slow spell of a live Redis.
  redis = await startRedis(PORT, ['--enable-debug-command', 'local']);
  spy = redis.client();
  spy.on('error', () => {}); // the kill test's reconnects
});

afterAll(async () => {
  await redis?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('the shared credential cache (three hosts, one redis-server)', () => {
  it('a success on host 1 is a hit on hosts 2 and 3 without their backend', async () => {
    await spy.flushall();
    const hosts = await Promise.all([1, 2, 3].map(() => host({ [USER]: OLD })));
    try {
      expect(await hosts[0]!.ask(req(USER, OLD))).toEqual({ kind: 'ok', cached: undefined, shared: 'miss' });
      expect(await hosts[1]!.ask(req(USER, OLD))).toEqual({ kind: 'ok', cached: true, shared: 'hit' });
      expect(await hosts[2]!.ask(req(USER, OLD))).toEqual({ kind: 'ok', cached: true, shared: 'hit' });
      expect(hosts.map((h) => h.backend.calls.length)).toEqual([1, 0, 0]);
      // Another service is another entry.
      expect(await hosts[1]!.ask(req(USER, OLD, 'smtp'))).toMatchObject({ cached: undefined, shared: 'miss' });
    } finally {
      await Promise.all(hosts.map((h) => h.close()));
    }
  });

  it('a password change accepted on host 1 replaces the entry everywhere: the old password is no hit on 2 and 3, not even locally', async () => {
    await spy.flushall();
    const hosts = await Promise.all([1, 2, 3].map(() => host({ [USER]: OLD })));
    try {
      // Every host has the old password in its own local cache too (each verified it while Redis had no entry).
      await eachVerifiedLocally(hosts, req(USER, OLD));
      for (const h of hosts) h.backend.users[USER] = NEW;
      expect(await hosts[0]!.ask(req(USER, NEW))).toEqual({ kind: 'ok', cached: undefined, shared: 'miss' });
      expect(await hosts[1]!.ask(req(USER, OLD))).toEqual({ kind: 'rejected', cached: undefined, shared: 'miss' });
      expect(await hosts[1]!.ask(req(USER, NEW))).toEqual({ kind: 'ok', cached: true, shared: 'hit' });
      // Host 3 was not asked since: the change log reached its local cache all the same.
      await settle();
      expect(hosts[2]!.local.size).toBe(0);
      expect(hosts[0]!.local.size).toBe(1);
      expect(await hosts[2]!.ask(req(USER, OLD))).toEqual({ kind: 'rejected', cached: undefined, shared: 'miss' });
    } finally {
      await Promise.all(hosts.map((h) => h.close()));
    }
  });

  it('a flush on one host flushes the fleet (every host, every user), and a user flush only that user', async () => {
    await spy.flushall();
    const users = { [USER]: OLD, sat_f2_bob: 'bob pw' };
    const hosts = await Promise.all([1, 2, 3].map(() => host(users)));
    try {
      for (const h of hosts) {
        await h.ask(req(USER, OLD));
        await h.ask(req('sat_f2_bob', 'bob pw'));
      }
      expect(await spy.keys('saslauthd:cache:e:*')).toHaveLength(2);
      // Only host 1 asked its backend; 2 and 3 had fleet hits, which the local level does not copy.
      expect(hosts.map((h) => h.local.size)).toEqual([2, 0, 0]);
      expect(await hosts[2]!.fleet.flush('SAT_F2_BOB')).toBe(1); // the penalty's folding: any spelling
      await settle();
      expect(hosts.map((h) => h.local.size)).toEqual([1, 0, 0]);
      expect(await hosts[0]!.ask(req(USER, OLD))).toMatchObject({ cached: true, shared: 'hit' });
      expect(await hosts[0]!.ask(req('sat_f2_bob', 'bob pw'))).toMatchObject({ cached: undefined, shared: 'miss' });
      expect(await hosts[1]!.fleet.flush()).toBe(2);
      await settle();
      expect(await spy.keys('saslauthd:cache:e:*')).toEqual([]);
      expect(hosts.map((h) => h.local.size)).toEqual([0, 0, 0]);
    } finally {
      await Promise.all(hosts.map((h) => h.close()));
    }
  });

  it('the account check runs on a fleet hit: locked after the entry was made elsewhere = NO, entry dropped for all', async () => {
    await spy.flushall();
    let locked = false;
    const check: AccountCheck = async () => (locked ? rejected('locked', 'account is locked (!)', 'NO') : null);
    const hosts = await Promise.all([1, 2].map(() => host({ [USER]: OLD }, { check })));
    try {
      await hosts[0]!.ask(req(USER, OLD));
      locked = true;
      hosts[1]!.backend.forced = rejected('locked', 'account is locked (!)', 'NO');
      expect(await hosts[1]!.ask(req(USER, OLD))).toEqual({ kind: 'rejected', cached: undefined, shared: 'hit' });
      expect(await spy.keys('saslauthd:cache:e:*')).toEqual([]);
    } finally {
      await Promise.all(hosts.map((h) => h.close()));
    }
  });

  it('Redis sees no password, no unkeyed hash of it, no login: only HMAC names and digests', async () => {
    await spy.flushall();
    const h = await host({ [USER]: OLD });
    try {
      await h.ask(req(USER, OLD));
      h.backend.users[USER] = NEW;
      await h.ask(req(USER, NEW));
      const dump: Buffer[] = [];
      for (const k of await spy.keys('*')) {
        dump.push(Buffer.from(k));
        const type = await spy.type(k);
        if (type === 'string') dump.push((await spy.getBuffer(k))!);
        else if (type === 'stream') for (const [id, fields] of await spy.xrange(k, '-', '+')) dump.push(Buffer.from(id), ...fields.map((f) => Buffer.from(f)));
        else throw new Error(`unexpected ${type} at ${k}`);
      }
      const all = Buffer.concat(dump);
      expect(all.length).toBeGreaterThan(100);
      const forbidden: [string, Buffer][] = [];
      for (const pw of [OLD, NEW]) {
        forbidden.push([`password ${pw}`, Buffer.from(pw)]);
        for (const alg of ['md5', 'sha1', 'sha256', 'sha512']) {
          const d = createHash(alg).update(pw).digest();
          forbidden.push([`${alg}(pw) raw`, d], [`${alg}(pw) hex`, Buffer.from(d.toString('hex'))], [`${alg}(pw) base64`, Buffer.from(d.toString('base64'))], [`${alg}(pw) base64url`, Buffer.from(d.toString('base64url'))]);
          // saslauthd's own cache hashes login, realm, service and password together.
          const salted = createHash(alg).update(`${USER}\0\0imap\0${pw}`).digest();
          forbidden.push([`${alg}(fields) hex`, Buffer.from(salted.toString('hex'))], [`${alg}(fields) raw`, salted]);
        }
      }
      forbidden.push(['login', Buffer.from(USER)], ['login upper', Buffer.from(USER.toUpperCase())], ['service', Buffer.from('imap')]);
      for (const [what, bytes] of forbidden) expect(all.includes(bytes), what).toBe(false);
      for (const k of await spy.keys('*')) expect(k).toMatch(/^saslauthd:cache:(e:\{[A-Za-z0-9_-]{43}\}:[A-Za-z0-9_-]{43}|changes)$/);
      // The entry lives exactly -t in Redis.
      const [entry] = await spy.keys('saslauthd:cache:e:*');
      const pttl = await spy.pttl(entry!);
      expect(pttl).toBeGreaterThan(55_000);
      expect(pttl).toBeLessThanOrEqual(60_000);
    } finally {
      await h.close();
    }
  });

  it('garbage under our keys: no crash, no wrong OK; a success overwrites it', async () => {
    await spy.flushall();
    const h = await host({ [USER]: OLD });
    try {
      await h.ask(req(USER, OLD));
      const [entry] = await spy.keys('saslauthd:cache:e:*');
      const good = (await spy.getBuffer(entry!))!;
      // Every kind of wrong value, and a wrong type: each is a miss, the backend decides.
      const digestOfOther = good.toString().replace(/^1 (\S+)/, (_, d: string) => `1 ${d.slice(0, -2)}AA`);
      const values: (string | Buffer)[] = ['', 'garbage', '1', '1  shadow', '2 ' + good.toString().slice(2), digestOfOther, Buffer.alloc(600, 0x31), Buffer.from([0xff, 0x00, 0x20])];
      for (const v of values) {
        await spy.set(entry!, v);
        h.local.flush();
        expect(await h.ask(req(USER, 'wrong'))).toMatchObject({ kind: 'rejected' });
        await spy.set(entry!, v);
        expect(await h.ask(req(USER, OLD))).toMatchObject({ kind: 'ok', cached: undefined, shared: 'miss' });
        expect((await spy.get(entry!)) ?? '').toMatch(/^1 [A-Za-z0-9_-]{43} shadow$/);
      }
      await spy.del(entry!);
      await spy.hset(entry!, 'x', '1');
      expect(await h.ask(req(USER, 'wrong'))).toMatchObject({ kind: 'rejected' });
      expect(await h.ask(req(USER, OLD))).toMatchObject({ kind: 'ok', cached: undefined });
      expect(await spy.type(entry!)).toBe('string'); // SET replaced the hash
      expect(await h.ask(req(USER, OLD))).toMatchObject({ kind: 'ok', cached: true, shared: 'hit' });
      // Garbage where the change log goes: polls and stores go on.
      await spy.del('saslauthd:cache:changes');
      await spy.set('saslauthd:cache:changes', 'not a stream');
      h.backend.users[USER] = NEW;
      expect(await h.ask(req(USER, NEW))).toMatchObject({ kind: 'ok' });
      await settle(200);
      expect(await h.ask(req(USER, OLD))).toMatchObject({ kind: 'rejected' });
      expect(h.state.healthy).toBe(true);
    } finally {
      await h.close();
    }
  });

  it('Redis SIGKILLed: the local cache answers, never a wrong OK; a change made before the kill holds; back to the fleet after restart', async () => {
    await spy.flushall();
    const hosts = await Promise.all([1, 2].map(() => host({ [USER]: OLD })));
    try {
      await eachVerifiedLocally(hosts, req(USER, OLD));
      for (const h of hosts) h.backend.users[USER] = NEW;
      await hosts[0]!.ask(req(USER, NEW));
      await settle(); // the change log reaches host 2
      await redis.kill();
      const t0 = performance.now();
      // Host 2 never saw the new password itself: its old entry is gone, the backend refuses.
      expect(await hosts[1]!.ask(req(USER, OLD))).toMatchObject({ kind: 'rejected' });
      expect(await hosts[1]!.ask(req(USER, NEW))).toMatchObject({ kind: 'ok', cached: undefined, shared: 'down' });
      expect(await hosts[1]!.ask(req(USER, NEW))).toMatchObject({ kind: 'ok', cached: true, shared: 'down' });
      expect(await hosts[0]!.ask(req(USER, NEW))).toMatchObject({ kind: 'ok', cached: true, shared: 'down' });
      expect(await hosts[0]!.ask(req(USER, 'wrong'))).toMatchObject({ kind: 'rejected', shared: 'down' });
      expect(performance.now() - t0).toBeLessThan(2000); // one deadline at most, not a stall per request
      await redis.restart();
      for (const h of hosts) await h.state.ready(5000);
      expect(hosts.every((h) => h.state.healthy)).toBe(true);
      await settle();
      expect(hosts.map((h) => h.local.size)).toEqual([0, 0]); // another run_id: changes may be lost, dropped
      expect(await hosts[1]!.ask(req(USER, NEW))).toMatchObject({ kind: 'ok', cached: undefined, shared: 'miss' });
      expect(await hosts[0]!.ask(req(USER, NEW))).toMatchObject({ kind: 'ok', cached: true, shared: 'hit' });
    } finally {
      await Promise.all(hosts.map((h) => h.close()));
    }
  });

  it('a slow spell (Redis alive, same run): the local cache is kept, and changes made meanwhile still reach it', async () => {
    await spy.flushall();
    const hosts = await Promise.all([1, 2].map(() => host({ [USER]: OLD })));
    try {
      await eachVerifiedLocally(hosts, req(USER, OLD));
      await settle(200); // both have read the (empty) log once
      // Redis busy for 600 ms: calls pass the 100 ms deadline, both hosts mark it down.
      const sleeper = redis.client();
      sleeper.on('error', () => {});
      await sleeper.ping();
      const busy = sleeper.call('DEBUG', 'SLEEP', '0.6');
      await settle(30);
      expect(await hosts[0]!.ask(req(USER, OLD))).toMatchObject({ kind: 'ok', cached: true, shared: 'down' });
      await busy;
      sleeper.disconnect();
      for (const h of hosts) await h.state.ready(5000);
      await settle();
      expect(hosts.map((h) => h.local.size)).toEqual([1, 1]);
      // And the change log still works from where each host stopped.
      for (const h of hosts) h.backend.users[USER] = NEW;
      expect(await hosts[0]!.ask(req(USER, NEW))).toMatchObject({ kind: 'ok', shared: 'miss' });
      await settle();
      expect(hosts[1]!.local.size).toBe(0);
    } finally {
      await Promise.all(hosts.map((h) => h.close()));
    }
  });

  it('a password changed while Redis was away: once back, the old password is no fleet hit (the entry is deleted, not kept)', async () => {
    await spy.flushall();
    const hosts = await Promise.all([1, 2].map(() => host({ [USER]: OLD })));
    try {
      expect(await hosts[0]!.ask(req(USER, OLD))).toMatchObject({ kind: 'ok', shared: 'miss' });
      expect(await hosts[1]!.ask(req(USER, OLD))).toMatchObject({ kind: 'ok', cached: true, shared: 'hit' });
      await settle(200);
      const sleeper = redis.client();
      sleeper.on('error', () => {});
      await sleeper.ping();
      const busy = sleeper.call('DEBUG', 'SLEEP', '0.6');
      await settle(30);
      for (const h of hosts) h.backend.users[USER] = NEW;
      // Host 1 accepts the new password while Redis cannot hear it.
      expect(await hosts[0]!.ask(req(USER, NEW))).toMatchObject({ kind: 'ok', cached: undefined, shared: 'down' });
      await busy;
      sleeper.disconnect();
      for (const h of hosts) await h.state.ready(5000);
      await settle();
      expect(await spy.keys('saslauthd:cache:e:*')).toEqual([]);
      expect(await hosts[1]!.ask(req(USER, OLD))).toMatchObject({ kind: 'rejected', shared: 'miss' });
      expect(await hosts[1]!.ask(req(USER, NEW))).toMatchObject({ kind: 'ok', cached: undefined, shared: 'miss' });
      expect(await hosts[0]!.ask(req(USER, NEW))).toMatchObject({ kind: 'ok', cached: true, shared: 'hit' });
    } finally {
      await Promise.all(hosts.map((h) => h.close()));
    }
  });

  it('a Redis that accepts and never answers costs one deadline, then the local cache; stale-on-outage unchanged', async () => {
    const silent = await startSilentServer(SILENT_PORT);
    const h = await host({ [USER]: OLD }, { url: `redis://127.0.0.1:${SILENT_PORT}`, staleMs: 3_600_000 });
    try {
      const t0 = performance.now();
      expect(await h.ask(req(USER, OLD))).toMatchObject({ kind: 'ok', cached: undefined, shared: 'down' });
      expect(await h.ask(req(USER, OLD))).toMatchObject({ kind: 'ok', cached: true, shared: 'down' });
      expect(await h.ask(req(USER, 'wrong'))).toMatchObject({ kind: 'rejected' });
      h.backend.forced = down();
      expect(await h.ask(req(USER, 'wrong'))).toMatchObject({ kind: 'unavailable' });
      expect(performance.now() - t0).toBeLessThan(2000);
    } finally {
      await h.close();
      await silent.close();
    }
  });
});
