import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startOurs } from '../fixtures/daemon.js';
import { DAEMON_BIN } from '../fixtures/paths.js';
import { run } from '../fixtures/run.js';
import { type RunningRedis, startRedis } from '../fixtures/redis.js';
import { verdict } from '../fixtures/testsaslauthd.js';
import { eventually, jsonLines } from '../fixtures/user-files.js';
import { ensureUser, mkpasswd, removeUser } from '../fixtures/users.js';

// issue 16 items 3 and 5: three saslauthd-ts on one real redis-server with -c, real users in
// /etc/shadow with yescrypt hashes, asked through Debian's testsaslauthd. What the hosts did is read
// from their own log lines (cached / shared = hit | miss | down). Ports 27700–27799 are helper E2's.
const PORT = 27711;
const CHANGE = 'sat_f2_change';
const FLUSH = 'sat_f2_flush';
const OTHER = 'sat_f2_other';
const OLD = 'f2 old pw ü';
const NEW = 'f2 new pw';
const USERS = [CHANGE, FLUSH, OTHER];

let tmp: string;
let keyFile: string;
let redis: RunningRedis;
let spy: Redis;
let hosts: RunningDaemon[] = [];

const records = (d: RunningDaemon, user: string): Record<string, unknown>[] => jsonLines(d.output()).filter((r) => r['user'] === user && 'outcome' in r);
const last = (d: RunningDaemon, user: string): Record<string, unknown> => {
  const r = records(d, user).at(-1);
  if (r === undefined) throw new Error(`no log line for ${user}`);
  return r;
};
/** The verdict and what the host's log line says about the cache. */
async function ask(d: RunningDaemon, user: string, pw: string): Promise<[string, unknown, unknown]> {
  const v = await verdict(d.socket, user, pw);
  const r = last(d, user);
  return [v, r['cached'] ?? null, r['shared'] ?? null];
}

async function startHost(): Promise<RunningDaemon> {
  return startOurs(['-a', 'shadow', '-c', '--log-format', 'json', '--shared-state', redis.url, '--cache-key-file', keyFile, '--shared-state-timeout', '200']);
}

async function cacheKeys(): Promise<string[]> {
  return (await spy.keys('saslauthd:cache:e:*')).sort();
}

beforeAll(async () => {
  tmp = mkdtempSync('/tmp/sat_f2-fleet-');
  keyFile = join(tmp, 'fleet.key');
  writeFileSync(keyFile, `${randomBytes(48).toString('base64')}\n`);
  chmodSync(keyFile, 0o600);
  const hash = await mkpasswd(OLD, 'yescrypt');
  for (const u of USERS) await ensureUser(u, hash);
  redis = await startRedis(PORT);
  spy = redis.client();
  spy.on('error', () => {}); // reconnects while the SIGKILL test has Redis down
  hosts = await Promise.all([1, 2, 3].map(() => startHost()));
}, 60_000);

afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
  await redis?.stop();
  for (const u of USERS) await removeUser(u);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('three saslauthd-ts with -c on one redis-server (issue 16)', () => {
  it('a password change accepted on host 1 is seen on all: the old password is no longer a cache hit on hosts 2 and 3', async () => {
    const [h1, h2, h3] = hosts as [RunningDaemon, RunningDaemon, RunningDaemon];
    expect(await ask(h1, CHANGE, OLD)).toEqual(['OK', null, 'miss']);
    // Hosts 2 and 3 never asked /etc/shadow: host 1's success answers for them.
    expect(await ask(h2, CHANGE, OLD)).toEqual(['OK', true, 'hit']);
    expect(await ask(h3, CHANGE, OLD)).toEqual(['OK', true, 'hit']);
    // The shadow file changes. A cache does not read it: until a success with the new password the
    // old one still hits (as in saslauthd and on one host), for -t at most.
    await ensureUser(CHANGE, await mkpasswd(NEW, 'yescrypt'));
    expect(await ask(h2, CHANGE, OLD)).toEqual(['OK', true, 'hit']);
    // Host 1 accepts the new password: that replaces the entry for the fleet.
    expect(await ask(h1, CHANGE, NEW)).toEqual(['OK', null, 'miss']);
    expect(await ask(h2, CHANGE, OLD)).toEqual(['NO', null, 'miss']);
    expect(last(h2, CHANGE)).toMatchObject({ outcome: 'rejected', code: 'bad-password' });
    expect(await ask(h3, CHANGE, OLD)).toEqual(['NO', null, 'miss']);
    expect(await ask(h2, CHANGE, NEW)).toEqual(['OK', true, 'hit']);
    expect(await ask(h3, CHANGE, NEW)).toEqual(['OK', true, 'hit']);
  });

  it('a flush on one host (SIGUSR1) flushes the fleet', async () => {
    const [h1, h2, h3] = hosts as [RunningDaemon, RunningDaemon, RunningDaemon];
    expect(await ask(h1, FLUSH, OLD)).toEqual(['OK', null, 'miss']);
    expect(await ask(h2, FLUSH, OLD)).toEqual(['OK', true, 'hit']);
    expect((await cacheKeys()).length).toBeGreaterThanOrEqual(2);
    h3.proc.kill('SIGUSR1');
    await eventually(() => jsonLines(h3.output()).some((r) => r['signal'] === 'SIGUSR1'), 'host 3 logs the flush');
    expect(await cacheKeys()).toEqual([]);
    expect(await ask(h1, FLUSH, OLD)).toEqual(['OK', null, 'miss']);
    expect(await ask(h2, FLUSH, OLD)).toEqual(['OK', true, 'hit']);
  });

  it('a reload (SIGHUP) on one host empties its local cache only: the fleet entry still answers there and elsewhere', async () => {
    const [h1, h2] = hosts as [RunningDaemon, RunningDaemon, RunningDaemon];
    expect(await ask(h1, FLUSH, OLD)).toMatchObject(['OK', true, 'hit']);
    h2.proc.kill('SIGHUP');
    await eventually(() => h2.output().includes('configuration reloaded'), 'host 2 reloads');
    expect(await ask(h2, FLUSH, OLD)).toEqual(['OK', true, 'hit']);
    expect(await ask(h1, FLUSH, OLD)).toEqual(['OK', true, 'hit']);
    expect(await cacheKeys()).not.toEqual([]);
  });

  it('Redis holds no password, no unkeyed hash of one, no login in a key name', async () => {
    const dump: Buffer[] = [];
    const keys = await spy.keys('*');
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) {
      dump.push(Buffer.from(k));
      const type = await spy.type(k);
      if (type === 'string') dump.push((await spy.getBuffer(k))!);
      else if (type === 'stream') for (const [id, fields] of await spy.xrange(k, '-', '+')) dump.push(Buffer.from(id), ...fields.map((f) => Buffer.from(f)));
      else if (type === 'hash') for (const [f, v] of Object.entries(await spy.hgetall(k))) dump.push(Buffer.from(f), Buffer.from(v));
      else if (type === 'zset') dump.push(...(await spy.zrange(k, 0, -1, 'WITHSCORES')).map((x) => Buffer.from(x)));
      else if (type === 'list') dump.push(...(await spy.lrange(k, 0, -1)).map((x) => Buffer.from(x)));
      else if (type === 'set') dump.push(...(await spy.smembers(k)).map((x) => Buffer.from(x)));
    }
    const all = Buffer.concat(dump);
    for (const pw of [OLD, NEW]) {
      expect(all.includes(Buffer.from(pw)), 'password').toBe(false);
      for (const alg of ['md5', 'sha1', 'sha256', 'sha512']) {
        const d = createHash(alg).update(pw).digest();
        for (const form of [d, Buffer.from(d.toString('hex')), Buffer.from(d.toString('base64')), Buffer.from(d.toString('base64url'))]) {
          expect(all.includes(form), `${alg} of the password`).toBe(false);
        }
      }
    }
    for (const u of USERS) {
      for (const k of keys) expect(k.toLowerCase()).not.toContain(u);
      expect(all.includes(Buffer.from(u)), `login ${u} anywhere`).toBe(false);
    }
    for (const k of await cacheKeys()) expect(k).toMatch(/^saslauthd:cache:e:\{[A-Za-z0-9_-]{43}\}:[A-Za-z0-9_-]{43}$/);
  });

  it('garbage under our keys: no crash, no wrong OK', async () => {
    const [h1, h2] = hosts as [RunningDaemon, RunningDaemon, RunningDaemon];
    expect(await ask(h1, OTHER, OLD)).toEqual(['OK', null, 'miss']);
    const keys = await cacheKeys();
    expect(keys.length).toBeGreaterThan(0);
    const garbage: (string | Buffer)[] = ['x', '1 AAAA shadow', Buffer.alloc(100_000, 0xff), `1 ${'A'.repeat(43)} shadow`];
    for (const g of garbage) {
      for (const k of keys) await spy.set(k, g);
      await spy.del('saslauthd:cache:changes');
      await spy.set('saslauthd:cache:changes', g);
      for (const h of hosts) expect(await verdict(h.socket, OTHER, 'wrong')).toBe('NO');
      expect(await verdict(h2.socket, OTHER, OLD)).toBe('OK');
    }
    for (const k of keys) {
      await spy.del(k);
      await spy.hset(k, 'digest', 'x');
    }
    for (const h of hosts) expect(await verdict(h.socket, OTHER, 'wrong')).toBe('NO');
    expect(await ask(h1, OTHER, OLD)).toEqual(['OK', null, 'miss']);
    expect(await ask(h2, OTHER, OLD)).toEqual(['OK', true, 'hit']);
    await spy.del('saslauthd:cache:changes');
    for (const h of hosts) expect(h.proc.exitCode).toBeNull();
  });

  it('Redis SIGKILLed: each host falls back to its local cache, no wrong OK, no stall; back on the fleet after a restart', async () => {
    const [h1, h2, h3] = hosts as [RunningDaemon, RunningDaemon, RunningDaemon];
    // Host 3 holds NEW in its own local cache; host 2 does not (its NEW answers came from Redis).
    await spy.del(...(await cacheKeys()));
    expect(await ask(h3, CHANGE, NEW)).toEqual(['OK', null, 'miss']);
    await redis.kill();
    const t0 = Date.now();
    for (const h of hosts) {
      expect(await verdict(h.socket, CHANGE, OLD)).toBe('NO');
      expect(await verdict(h.socket, CHANGE, 'wrong')).toBe('NO');
    }
    expect(await ask(h3, CHANGE, NEW)).toEqual(['OK', true, 'down']);
    expect(await ask(h2, CHANGE, NEW)).toEqual(['OK', null, 'down']);
    expect(await ask(h2, CHANGE, NEW)).toEqual(['OK', true, 'down']);
    // 9 requests with Redis gone, each with yescrypt or a local hit: a stall would be a deadline each.
    expect(Date.now() - t0).toBeLessThan(15_000);
    for (const h of hosts) expect(h.output()).toMatch(/shared state redis:\/\/127\.0\.0\.1:27711 is down/);
    await redis.restart();
    // Up at start, then up again after the restart.
    await eventually(() => hosts.every((h) => (h.output().match(/shared state redis:\/\/127\.0\.0\.1:27711 is up/g) ?? []).length >= 2), 'all hosts back on Redis');
    expect(await ask(h1, CHANGE, NEW)).toEqual(['OK', null, 'miss']);
    expect(await ask(h2, CHANGE, NEW)).toEqual(['OK', true, 'hit']);
    expect(await ask(h3, CHANGE, OLD)).toEqual(['NO', null, 'miss']);
  });
});

describe('start-up with a fleet cache', () => {
  const check = (...args: string[]) => run(process.execPath, [DAEMON_BIN, '--check', '-a', 'shadow', '-c', '--shared-state', `redis://127.0.0.1:${PORT}`, ...args]);

  it('--check names the shared cache', async () => {
    const r = await check('--cache-key-file', keyFile);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      'cache: on, in memory, ttl 28800 s, 964 KiB (~4406 entries), HMAC-SHA-256 with a per-start key, stale-on-outage off; shared by the fleet (--shared-state): Redis decides hits and expires entries after 28800 s, names and digests HMAC-SHA-256 under --cache-key-file, this cache answers while Redis is down',
    );
  });

  it('-c with --shared-state and no key file, or a key file others may read, or a symlink: refused, naming the file', async () => {
    const none = await check();
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('--shared-state needs --cache-key-file');
    const loose = join(tmp, 'loose.key');
    writeFileSync(loose, randomBytes(48).toString('base64'));
    chmodSync(loose, 0o644);
    const r = await check('--cache-key-file', loose);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`--cache-key-file ${loose}: has mode 0644: group or other users may read or change it`);
    const link = join(tmp, 'link.key');
    symlinkSync(keyFile, link);
    const l = await check('--cache-key-file', link);
    expect(l.code).toBe(1);
    expect(l.stderr).toContain(`--cache-key-file ${link}: is a symbolic link`);
  });
});
