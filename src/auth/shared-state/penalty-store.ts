import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import { SharedStateError } from '../../errors.js';
import type { FleetPenalty, FleetLook, PenaltyEntry, PenaltyTarget } from '../penalty.js';
import { addressKey, userKey } from '../penalty-keys.js';
import type { Secret } from '../secret.js';
import type { RedisClient, SharedState } from './client.js';
import type { FleetKey } from './key-file.js';

export interface SharedPenaltyOptions {
  /** `--fail-delay` (ms). */
  readonly failDelayMs: number;
  /** `--penalty-max` (ms). */
  readonly penaltyMaxMs: number;
  /** Ms after the last failure a key's failures are forgotten; Redis expires the key then. */
  readonly forgetAfterMs: number;
  /** Ms a check may hold a key's lease (the request deadline); a host that dies frees it after this. */
  readonly maxTotalMs: number;
  /** Ms a failed (user, password) digest is remembered (Default: forgetAfterMs). */
  readonly failureTtlMs?: number;
  /** Ms the password that last succeeded for a user is remembered (Default: 7 days). */
  readonly successTtlMs?: number;
}

// Shared by the scripts: the server's clock (one clock for the fleet), and garbage-proof reads.
// A key of another type under our name is dropped (fresh counter) rather than failing every request;
// numbers are clamped, so a planted huge value cannot hold a key for ever or overflow the doubling.
const PRELUDE = `
local function now() local t = redis.call('TIME') return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) end
local function own(k, want) local ty = redis.call('TYPE', k)['ok'] if ty ~= want and ty ~= 'none' then redis.call('DEL', k) end end
local function num(v, max) local n = tonumber(v) if n == nil or n ~= n or n < 0 then return 0 end if n > max then return max end return math.floor(n) end
`;

/** Fails of a key, whether it is checkable now, and a lease for this request when it has failures. */
const ADMIT = `${PRELUDE}
local k, token, leaseMs, pollMs, maxWait = KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
own(k, 'hash')
local f = num(redis.call('HGET', k, 'f'), 1000000)
if f == 0 then return {0, 0, 0} end
local t = now()
local holder = redis.call('HGET', k, 'l')
local lu = num(redis.call('HGET', k, 'lu'), 1e15)
-- Times further ahead than this host would ever set are not ours (garbage, or a clock gone wrong): ignored.
if holder and holder ~= token and lu > t and lu <= t + leaseMs then return {f, math.min(lu - t, pollMs), 0} end
local nx = num(redis.call('HGET', k, 'n'), 1e15)
if nx > t and nx <= t + maxWait then return {f, nx - t, 0} end
redis.call('HSET', k, 'l', token, 'lu', t + leaseMs)
return {f, 0, 1}`;

/** A rejected check: one more failure (or at least one for a repeated password), next check spaced. */
const FAIL = `${PRELUDE}
local k, token, tag, rep = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local delay, cap, forget = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
own(k, 'hash')
local old = num(redis.call('HGET', k, 'f'), 1000000)
local f = old + 1
if rep == '1' then f = math.max(1, old) end
local by = redis.call('HGET', k, 'b')
if old == 0 or not by or by == tag then by = tag else by = '*' end
local t = now()
redis.call('HSET', k, 'f', f, 't', t, 'n', t + math.min(cap, delay * 2 ^ math.min(f - 1, 30)), 'b', by)
if redis.call('HGET', k, 'l') == token then redis.call('HDEL', k, 'l', 'lu') end
redis.call('PEXPIRE', k, forget)
return f`;

/** A success: frees the lease; clears the failures when all were this identity's and it may reset. */
const SUCCEED = `${PRELUDE}
local k, token, tag, reset = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
own(k, 'hash')
if redis.call('HGET', k, 'l') == token then redis.call('HDEL', k, 'l', 'lu') end
local by = redis.call('HGET', k, 'b')
if reset == '1' and (not by or by == tag) then redis.call('DEL', k) return 0 end
return num(redis.call('HGET', k, 'f'), 1000000)`;

const RELEASE = `
if redis.call('TYPE', KEYS[1])['ok'] == 'hash' and redis.call('HGET', KEYS[1], 'l') == ARGV[1] then redis.call('HDEL', KEYS[1], 'l', 'lu') end
return 0`;

/** Marks a (user, password) digest as failed; says whether it already was (the same guess again). */
const MARK_FAILED = `${PRELUDE}
own(KEYS[1], 'string')
local was = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], '1', 'PX', tonumber(ARGV[1]))
if was then return 1 end
return 0`;

/** A digest that now fails is no longer the password that last succeeded. */
const FORGET_SUCCESS = `
if redis.call('TYPE', KEYS[1])['ok'] == 'string' and redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * The failure penalty's state for a whole fleet, in Redis: per user and per address a hash
 * `pen:u:<user>` / `pen:a:<address>` with the failure count, the time of the next allowed check,
 * whose failures they are (an HMAC tag), and a lease for the one check in flight; per (user,
 * password) only HMACs under the fleet key (`pw:f:<digest>` for a failed pair, `pw:s:<identity tag>`
 * for the password that last succeeded). Every change is one Lua script on one key, atomic on the
 * server, timed by the server's clock, and one key per script so it works on a Cluster too.
 */
export class SharedPenaltyStore implements FleetPenalty {
  readonly #state: SharedState;
  readonly #key: FleetKey;
  readonly #o: Required<SharedPenaltyOptions>;
  readonly #leaseMs: number;
  readonly #pollMs: number;

  constructor(state: SharedState, fleetKey: FleetKey, options: SharedPenaltyOptions) {
    this.#state = state;
    this.#key = fleetKey;
    this.#o = { failureTtlMs: options.forgetAfterMs, successTtlMs: 7 * 86_400_000, ...options };
    // Long enough for a check (a backend answers in well under this), short enough that a host that
    // lost Redis, or died, mid-check blocks its user/address on the other hosts only briefly.
    this.#leaseMs = Math.max(1000, Math.min(Number.isFinite(options.maxTotalMs) ? options.maxTotalMs : 30_000, 5000));
    // A held request on another host hears of a settled check only by asking again.
    this.#pollMs = Math.max(20, Math.min(250, Math.round(options.failDelayMs / 8)));
  }

  get healthy(): boolean {
    return this.#state.healthy;
  }

  get shown(): string {
    return this.#state.shown;
  }

  /** HMAC of the pair under the fleet key: the only form of a password Redis ever sees. */
  digest(identity: string, password: Secret): string {
    return this.#key.mac('penalty-password', [identity, password.expose()]).toString('base64url').slice(0, 32);
  }

  /** A lease owner's token: unique per request and host. */
  token(): string {
    return randomBytes(12).toString('base64url');
  }

  async look(keys: readonly string[], identity: string, digest: string): Promise<FleetLook> {
    const [known, ...fails] = await Promise.all([
      this.#state.call('GET', (c) => c.get(this.#successKey(identity))).then((d) => d === digest, (e: unknown) => {
        // Garbage under the key is "not known", which only means no fast lane; an outage is an outage.
        if (e instanceof SharedStateError && e.reason === 'reply') return false;
        throw e;
      }),
      ...keys.map((k) => this.#state.call('HGET', (c) => c.hget(this.#penKey(k), 'f')).then(
        (v) => clampFails(v),
        (e: unknown) => {
          if (e instanceof SharedStateError && e.reason === 'reply') return 0;
          throw e;
        },
      )),
    ]);
    return { known: known as boolean, fails: fails as number[] };
  }

  async admit(keys: readonly string[], token: string): Promise<{ readonly fails: readonly number[]; readonly waitMs: number }> {
    const got = await Promise.all(keys.map((k) => this.#state.script('sasl_pen_admit', ADMIT, [this.#penKey(k)], [token, this.#leaseMs, this.#pollMs, this.#o.penaltyMaxMs])));
    const rows = got.map(triple);
    const waitMs = Math.max(0, ...rows.map((r) => r[1]));
    // Leases on some keys but not all would block other hosts for nothing while this one waits.
    if (waitMs > 0 && rows.some((r) => r[2] === 1)) await this.release(keys, token);
    return { fails: rows.map((r) => r[0]), waitMs };
  }

  async failed(keys: readonly string[], identity: string, digest: string, token: string): Promise<readonly number[]> {
    const repeat = (await this.#state.script('sasl_pen_mark_failed', MARK_FAILED, [this.#state.key('pw', 'f', digest)], [this.#o.failureTtlMs])) === 1;
    const tag = this.#tag(identity);
    const [, ...fails] = await Promise.all([
      this.#state.script('sasl_pen_forget_success', FORGET_SUCCESS, [this.#successKey(identity)], [digest]),
      ...keys.map((k) => this.#state.script('sasl_pen_fail', FAIL, [this.#penKey(k)], [token, tag, repeat ? '1' : '0', this.#o.failDelayMs, this.#o.penaltyMaxMs, this.#o.forgetAfterMs])),
    ]);
    return fails.map(clampFails);
  }

  async succeeded(keys: readonly string[], reset: readonly boolean[], identity: string, digest: string, token: string): Promise<void> {
    const tag = this.#tag(identity);
    await Promise.all([
      this.#state.call('DEL', (c) => c.del(this.#state.key('pw', 'f', digest))),
      this.#state.call('SET', (c) => c.set(this.#successKey(identity), digest, 'PX', this.#o.successTtlMs)),
      ...keys.map((k, i) => this.#state.script('sasl_pen_succeed', SUCCEED, [this.#penKey(k)], [token, tag, reset[i] === true ? '1' : '0'])),
    ]);
  }

  async release(keys: readonly string[], token: string): Promise<void> {
    await Promise.all(keys.map((k) => this.#state.script('sasl_pen_release', RELEASE, [this.#penKey(k)], [token])));
  }

  /** Every user and address with failures in the fleet. */
  async list(): Promise<PenaltyEntry[]> {
    const out: PenaltyEntry[] = [];
    const prefix = this.#penKey('');
    for (const key of await this.#scan(`${prefix}*`)) {
      const local = key.slice(prefix.length);
      const kind = local.startsWith('u:') ? 'user' : local.startsWith('a:') ? 'address' : null;
      if (kind === null) continue;
      const [f, ttl] = await Promise.all([
        this.#state.call('HGET', (c) => c.hget(key, 'f')).catch(() => null),
        this.#state.call('PTTL', (c) => c.pttl(key)),
      ]);
      const failures = clampFails(f);
      if (failures === 0) continue;
      const delayMs = Math.min(this.#o.penaltyMaxMs, this.#o.failDelayMs * 2 ** Math.min(failures - 1, 30));
      out.push({ kind, key: local.slice(2), failures, delayMs, expiresInMs: Math.max(0, ttl) });
    }
    return out;
  }

  /** Forgets the failures of one user, one address, or all, fleet-wide; returns how many keys went. */
  async clear(target: PenaltyTarget): Promise<number> {
    let keys: string[];
    if ('all' in target) keys = await this.#scan(`${this.#penKey('')}*`);
    else if ('user' in target) keys = [this.#penKey(`u:${userKey(target.user)}`)];
    else keys = [this.#penKey(`a:${addressKey(target.address).key}`)];
    let n = 0;
    for (const k of keys) n += await this.#state.call('DEL', (c) => c.del(k));
    return n;
  }

  /** SCAN on every master (a Cluster has one key space per shard), each step under the deadline. */
  async #scan(match: string): Promise<string[]> {
    const found = new Set<string>();
    const nodes = await this.#state.call('nodes', async (c) => (c instanceof Cluster ? c.nodes('master') : [c]) as RedisClient[]);
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await this.#state.call('SCAN', () => (node as RedisClient).scan(cursor, 'MATCH', match, 'COUNT', 1000));
        cursor = next;
        for (const k of keys) found.add(k);
        if (found.size > 1_000_000) return [...found];
      } while (cursor !== '0');
    }
    return [...found];
  }

  #penKey(local: string): string {
    return this.#state.key('pen', local);
  }

  #tag(identity: string): string {
    return this.#key.mac('penalty-identity', [identity]).toString('base64url').slice(0, 22);
  }

  #successKey(identity: string): string {
    return this.#state.key('pw', 's', this.#tag(identity));
  }
}

function clampFails(v: unknown): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,7}$/.test(v) ? Number(v) : 0;
  return Math.min(Math.max(0, Math.floor(n)), 1_000_000);
}

/** A script's `{a, b, c}` reply; anything else (garbage) reads as no failures, no wait. */
function triple(v: unknown): [number, number, number] {
  if (!Array.isArray(v)) return [0, 0, 0];
  const n = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) && x >= 0 ? x : 0);
  return [clampFails(v[0]), n(v[1]), n(v[2])];
}
