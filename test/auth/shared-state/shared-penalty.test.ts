import { createHash, randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PenaltyAuthenticator, type PenaltyOptions } from '../../../src/auth/penalty.js';
import { SharedState } from '../../../src/auth/shared-state/client.js';
import { FleetKey } from '../../../src/auth/shared-state/key-file.js';
import { SharedPenaltyStore } from '../../../src/auth/shared-state/penalty-store.js';
import { parseSharedStateUrl } from '../../../src/auth/shared-state/url.js';
import { FakeAuthenticator, req } from '../../fixtures/fake-authenticator.js';
import { type RunningRedis, startRedis } from '../../fixtures/redis.js';

// Three "hosts" in one process: each its own PenaltyAuthenticator, SharedState and backend, one Redis.
const PORT = 27611;
const KEY = new FleetKey('/test/key', randomBytes(32));
const signal = new AbortController().signal;
const silent = pino({ level: 'silent' });

let redis: RunningRedis;
const states: SharedState[] = [];
beforeAll(async () => {
  redis = await startRedis(PORT);
});
afterAll(async () => {
  await Promise.all(states.map((s) => s.close()));
  await redis.stop();
});
beforeEach(async () => {
  await redis.client().flushall();
});

const OPTS = { failDelayMs: 100, penaltyMaxMs: 200, jitter: 0, maxTotalMs: 10_000 } satisfies PenaltyOptions;

async function host(users: Record<string, string>, shared: boolean, o: PenaltyOptions = OPTS): Promise<{ p: PenaltyAuthenticator; b: FakeAuthenticator; s: SharedState | null }> {
  const b = new FakeAuthenticator('fake', users);
  if (!shared) return { p: new PenaltyAuthenticator(b, o, silent), b, s: null };
  const s = new SharedState(parseSharedStateUrl(redis.url), { timeoutMs: 200, prefix: 't:' }, silent);
  states.push(s);
  expect(await s.ready(5000)).toBe(true);
  const fleet = new SharedPenaltyStore(s, KEY, { ...o, forgetAfterMs: 3_600_000, maxTotalMs: o.maxTotalMs ?? 10_000 });
  return { p: new PenaltyAuthenticator(b, { ...o, fleet }, silent), b, s };
}

/** `n` guessers per host, each sending a fresh wrong password as soon as its last reply came, for `ms`. */
async function spread(hosts: readonly PenaltyAuthenticator[], user: string, n: number, ms: number): Promise<string[]> {
  const until = performance.now() + ms;
  const replies: string[] = [];
  let k = 0;
  await Promise.all(
    hosts.flatMap((p, h) =>
      Array.from({ length: n }, async (_, i) => {
        while (performance.now() < until) {
          const o = await p.authenticate(req(user, `guess ${h} ${i} ${k++}`, 'smtp'), signal);
          replies.push(o.kind);
        }
      }),
    ),
  );
  return replies;
}

describe('shared penalty: three hosts on one Redis', () => {
  it('a guess spread over three hosts is throttled as on one host (and not with local state)', async () => {
    const D = OPTS.failDelayMs;
    const T = 3000;
    const fleet = await Promise.all([0, 1, 2].map(() => host({ sat_f1_ann: 'right' }, true)));
    // As the single-host attack test does: the user has a failure before the guessers start.
    expect((await fleet[0]!.p.authenticate(req('sat_f1_ann', 'first wrong'), signal)).kind).toBe('rejected');
    fleet[0]!.b.calls = [];
    const t0 = performance.now();
    const r = await spread(fleet.map((h) => h.p), 'sat_f1_ann', 4, T);
    const elapsed = performance.now() - t0;
    const shared = fleet.reduce((a, h) => a + h.b.calls.length, 0);
    expect(r.every((k) => k === 'rejected')).toBe(true);
    // One host's budget: one check per current delay (D, then 2D) after the first, plus the first burst.
    expect(shared).toBeLessThanOrEqual(Math.floor(elapsed / (2 * D)) + 2);

    const alone = await Promise.all([0, 1, 2].map(() => host({ sat_f1_ann: 'right' }, false)));
    for (const h of alone) {
      await h.p.authenticate(req('sat_f1_ann', 'first wrong'), signal);
      h.b.calls = [];
    }
    const t1 = performance.now();
    await spread(alone.map((h) => h.p), 'sat_f1_ann', 4, T);
    const elapsedLocal = performance.now() - t1;
    const local = alone.reduce((a, h) => a + h.b.calls.length, 0);
    console.log(`shared penalty: backend checks for one user from 3 hosts × 4 guessers in ${Math.round(elapsed)} ms: shared ${shared}, local-only ${local} (${Math.round(elapsedLocal)} ms)`);
    expect(local).toBeGreaterThan(2 * shared);
    expect(local).toBeGreaterThan(2 * (elapsedLocal / (2 * D)));
  }, 30_000);

  it('a success on another host lets the real user past the queue and clears the failures', async () => {
    const [a, b] = await Promise.all([host({ sat_f1_bob: 'right' }, true), host({ sat_f1_bob: 'right' }, true)]);
    expect((await b!.p.authenticate(req('sat_f1_bob', 'right'), signal)).kind).toBe('ok');
    for (let i = 0; i < 3; i++) expect((await a!.p.authenticate(req('sat_f1_bob', `wrong${i}`), signal)).kind).toBe('rejected');
    expect((await b!.p.list()).find((e) => e.key === 'sat_f1_bob')).toMatchObject({ kind: 'user', failures: 3, delayMs: 200 });
    // The password that last succeeded (on host b) is not queued on host a.
    const t0 = performance.now();
    expect((await a!.p.authenticate(req('sat_f1_bob', 'right'), signal)).kind).toBe('ok');
    expect(performance.now() - t0).toBeLessThan(150);
    expect((await b!.p.list()).find((e) => e.key === 'sat_f1_bob')).toBeUndefined();
  });

  it('the same wrong password again counts once, whichever host sees it', async () => {
    const hs = await Promise.all([0, 1, 2].map(() => host({ sat_f1_cy: 'right' }, true)));
    for (const h of hs) expect((await h.p.authenticate(req('sat_f1_cy', 'old-password'), signal)).kind).toBe('rejected');
    expect((await hs[0]!.p.list()).find((e) => e.key === 'sat_f1_cy')?.failures).toBe(1);
  });

  it('list and clear act on the fleet: a clear on one host frees the user on the others', async () => {
    const [a, b] = await Promise.all([host({}, true), host({}, true)]);
    await a!.p.authenticate({ ...req('sat_f1_dee', 'x'), clientAddr: '192.0.2.7;1234' }, signal);
    await a!.p.authenticate({ ...req('sat_f1_dee', 'y'), clientAddr: '192.0.2.7;1234' }, signal);
    const l = await b!.p.list();
    expect(l.map((e) => [e.kind, e.key, e.failures])).toEqual([
      ['address', '192.0.2.7', 2],
      ['user', 'sat_f1_dee', 2],
    ]);
    expect(l.every((e) => e.expiresInMs > 3_500_000 && e.expiresInMs <= 3_600_000)).toBe(true);
    expect(await b!.p.clear({ user: 'SAT_F1_DEE@example.org' })).toBe(1);
    expect((await a!.p.list()).map((e) => e.key)).toEqual(['192.0.2.7']);
    expect(await b!.p.clear({ all: true })).toBe(1);
    expect(await a!.p.list()).toEqual([]);
  });

  it('Redis never sees a password or an unkeyed hash of one', async () => {
    const hs = await Promise.all([0, 1].map(() => host({ sat_f1_eve: 'Correct-Horse-1' }, true)));
    const pws = ['Correct-Horse-1', 'Wrong-Battery-2', 'Wrong-Staple-3'];
    for (const pw of pws) for (const h of hs) await h.p.authenticate(req('sat_f1_eve', pw), signal);
    const c = redis.client();
    const keys = await c.keys('*');
    expect(keys.length).toBeGreaterThan(2);
    let dump = keys.join('\n');
    for (const k of keys) {
      const t = await c.type(k);
      dump += `\n${t === 'hash' ? JSON.stringify(await c.hgetall(k)) : t === 'string' ? await c.get(k) : ''}`;
    }
    for (const pw of pws) {
      expect(dump).not.toContain(pw);
      for (const alg of ['sha256', 'sha1', 'md5', 'sha512']) {
        for (const input of [pw, `sat_f1_eve\0\0${pw}`, `sat_f1_eve\0${pw}`]) {
          const h = createHash(alg).update(input);
          const hex = h.copy().digest('hex');
          expect(dump).not.toContain(hex.slice(0, 16));
          expect(dump).not.toContain(h.digest('base64url').slice(0, 16));
        }
      }
    }
  });

  it('garbage under our keys: no crash, no wrong OK, the fleet heals the key', async () => {
    const h = await host({ sat_f1_gus: 'right' }, true);
    const c = redis.client();
    // Wrong types, huge and hostile values where counters, leases and digests live.
    await c.set('saslauthd:t:pen:u:sat_f1_gus', 'x'.repeat(1_000_000));
    await c.hset('saslauthd:t:pen:a:192.0.2.9', { f: '1e308', n: '9e99', l: 'someone', lu: '9e99', b: 'z' });
    await c.hset('saslauthd:t:pen:u:sat_f1_hal', { f: '-5', n: 'nan', lu: 'inf' });
    await c.rpush('saslauthd:t:pw:s:whatever', 'a', 'b');
    const keys = await c.keys('saslauthd:t:pw:*');
    expect(keys).toHaveLength(1);
    const r = (login: string, pw: string) => ({ ...req(login, pw), clientAddr: '192.0.2.9;25' });
    const t0 = performance.now();
    expect((await h.p.authenticate(r('sat_f1_gus', 'wrong'), signal)).kind).toBe('rejected');
    expect((await h.p.authenticate(r('sat_f1_hal', 'right'), signal)).kind).toBe('rejected');
    expect((await h.p.authenticate(r('sat_f1_gus', 'right'), signal)).kind).toBe('ok');
    // A planted lease and next-check time far in the future hold a request no longer than --penalty-max each time.
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(await c.type('saslauthd:t:pen:u:sat_f1_gus')).not.toBe('string');
    expect(h.s!.healthy).toBe(true);
    // And a list over garbage still answers.
    await c.set('saslauthd:t:pen:u:zzz', 'garbage');
    await expect(h.p.list()).resolves.toBeInstanceOf(Array);
  }, 30_000);
});
