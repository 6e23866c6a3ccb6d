import { timingSafeEqual } from 'node:crypto';
import { HmacKey } from '../native/hmac-key.js';
import type { Logger } from 'pino';
import { type AccountCheck, type AuthRequest, type Authenticator, type Outcome, ok, unavailable, withLog } from './authenticator.js';
import type { Secret } from './secret.js';
import { escapeLogValue } from '../log/escape.js';
import { userKey } from './penalty-keys.js';
import type { FleetCache, FleetLookup } from './shared-state/fleet-cache.js';
import { UnreachableError } from '../errors.js';
import type { Abortable } from './request-signal.js';

export interface CredentialCacheOptions {
  /** `-t`: an entry answers for this many ms after the backend last accepted it (Default: 28 800 000). */
  readonly ttlMs: number;
  /** `-s` × 1024: memory budget in bytes, counted per entry as key bytes + digest + overhead. */
  readonly maxBytes: number;
  /** `--cache-stale-on-outage` in ms: how old an entry may be to answer while the backend is down (0: off). */
  readonly staleMs: number;
  /** Monotonic clock in ms (Default: performance.now), injectable for tests. */
  readonly now?: () => number;
  /**
   * HMAC key (Default: 32 random bytes per start). The composition gives the cache and the penalty's
   * password memory one key, so each request digests its password once (Secret.keyedDigest). Tests
   * inject one to check the stored value.
   */
  readonly hmacKey?: Buffer | HmacKey;
}

/** Bytes charged per entry on top of its key and digest: Map slot, entry object, Buffer header. */
export const ENTRY_OVERHEAD_BYTES = 160;
const DIGEST_BYTES = 32;

interface Entry {
  /** HMAC-SHA-256(start-up key, password). Never the password, never a plain hash of it. */
  readonly digest: Buffer;
  /** When the backend last accepted this password (clock ms). Hits do not move it. */
  readonly created: number;
  readonly bytes: number;
  /** The accepting backend's account check (lock, expiry, user gone), asked on every hit; null: it has none. */
  readonly recheck: AccountCheck | null;
}

/** What a lookup found for a (key, password) pair whose digest matched. */
export interface CacheMatch {
  readonly ageMs: number;
  readonly recheck: AccountCheck | null;
}

/** The fields that make a cache key. `backend` is the chain that decided (`ldap,shadow`). */
export interface CacheKeyParts {
  readonly login: string;
  readonly realm: string;
  readonly service: string;
  readonly backend: string;
}

// NUL cannot occur in a request field (the validator refuses it), so joining on it is unambiguous.
const keyOf = (k: CacheKeyParts): string => `${k.backend}\0${k.service}\0${k.realm}\0${k.login}`;

/**
 * In-memory success cache shared by every chain: LRU by bytes, absolute TTL from the last
 * backend-verified success. Replaces saslauthd's mmap file of unsalted MD5s.
 */
export class CredentialCache {
  readonly #key: HmacKey;
  readonly #map = new Map<string, Entry>();
  readonly #now: () => number;
  #bytes = 0;
  hits = 0;
  misses = 0;
  /** Entries dropped because the backend's account check refused them on a hit (lock, expiry, user gone). */
  revoked = 0;
  evictions = 0;

  constructor(readonly options: CredentialCacheOptions) {
    const k = options.hmacKey;
    this.#key = k === undefined ? HmacKey.random() : Buffer.isBuffer(k) ? new HmacKey(k) : k;
    this.#now = options.now ?? (() => performance.now());
  }

  get ttlMs(): number {
    return this.options.ttlMs;
  }

  get size(): number {
    return this.#map.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** How long an entry is worth keeping: the longer of its TTL and the stale-on-outage window. */
  get #keepMs(): number {
    return Math.max(this.options.ttlMs, this.options.staleMs);
  }

  digest(password: Secret): Buffer {
    return password.keyedDigest(this.#key);
  }

  /** The entry's age when it exists, is still worth keeping and its digest matches; else null. */
  match(parts: CacheKeyParts, digest: Buffer): CacheMatch | null {
    const k = keyOf(parts);
    const e = this.#map.get(k);
    if (e === undefined) return null;
    const ageMs = this.#now() - e.created;
    if (ageMs >= this.#keepMs || ageMs < 0) {
      this.#delete(k, e);
      return null;
    }
    if (!timingSafeEqual(e.digest, digest)) return null;
    // Most recently used moves to the end; the TTL stays where it was.
    this.#map.delete(k);
    this.#map.set(k, e);
    return { ageMs, recheck: e.recheck };
  }

  /** Records a backend-verified success, replacing any entry for the same key. */
  store(parts: CacheKeyParts, digest: Buffer, recheck: AccountCheck | null = null): void {
    const k = keyOf(parts);
    const bytes = Buffer.byteLength(k) + DIGEST_BYTES + ENTRY_OVERHEAD_BYTES;
    const old = this.#map.get(k);
    if (old !== undefined) this.#delete(k, old);
    if (bytes > this.options.maxBytes) return;
    while (this.#bytes + bytes > this.options.maxBytes) {
      const oldest = this.#map.entries().next();
      if (oldest.done) break;
      this.#delete(oldest.value[0], oldest.value[1]);
      this.evictions++;
    }
    this.#map.set(k, { digest, created: this.#now(), bytes, recheck });
    this.#bytes += bytes;
  }

  /** Drops one entry (the backend refused the password it holds). */
  forget(parts: CacheKeyParts): void {
    const k = keyOf(parts);
    const e = this.#map.get(k);
    if (e !== undefined) this.#delete(k, e);
  }

  /**
   * Drops every entry (SIGUSR1, reload), or with `user` those of that user (`ctl cache flush USER`),
   * matched with the penalty's key folding so every spelling of the login goes: dropping too much
   * costs only a backend check. Returns how many entries were dropped.
   */
  flush(user?: string): number {
    if (user === undefined) {
      const n = this.#map.size;
      this.#map.clear();
      this.#bytes = 0;
      return n;
    }
    const want = userKey(user);
    return this.forgetIf((p) => userKey(p.login) === want);
  }

  /** Drops the entries whose key parts match (another host of the fleet replaced or flushed them); returns how many. */
  forgetIf(matches: (parts: CacheKeyParts) => boolean): number {
    let n = 0;
    for (const [k, e] of [...this.#map]) {
      const [backend = '', service = '', realm = '', login = ''] = k.split('\0');
      if (!matches({ backend, service, realm, login })) continue;
      this.#delete(k, e);
      n++;
    }
    return n;
  }

  /** What the cache holds, oldest first: for tests and debugging. Digests are copies. */
  snapshot(): { key: string; digest: Buffer; ageMs: number }[] {
    const now = this.#now();
    return [...this.#map].map(([key, e]) => ({ key, digest: Buffer.from(e.digest), ageMs: now - e.created }));
  }

  #delete(k: string, e: Entry): void {
    this.#map.delete(k);
    this.#bytes -= e.bytes;
  }
}

type Refusal = Exclude<Outcome, { kind: 'ok' }>;

// A hit without a fleet gets the same frozen outcome every time, not two new objects (issue 15):
// outcomes are read-only, and withLog copies.
const CACHED_OK: Outcome = Object.freeze({ ...ok(), log: Object.freeze({ cached: true }) });

/** The shared level of the cache and how to find the account check of the backend a fleet entry names. */
export interface FleetLevel {
  readonly cache: FleetCache;
  /** The account check of `via` (`check: null`: it has none), or null when `via` is no backend of this chain. */
  readonly checkFor: (via: string) => { readonly check: AccountCheck | null } | null;
}

/** The account check's refusal, or null. One that throws vouches for nobody: no cache hit. */
async function askAccount(check: AccountCheck, req: AuthRequest, signal: Abortable): Promise<Refusal | null> {
  try {
    const o = await check(req, signal);
    return o === null || o.kind === 'ok' ? null : o;
  } catch (e) {
    return { kind: 'unavailable', code: 'backend-error', reason: `account check failed: ${(e as Error).message}`, compat: 'NO internal mechanism failure' };
  }
}

/**
 * `-c`: answers OK from the cache when the same password was accepted by `inner` less than `-t`
 * seconds ago for the same (login, realm, service, chain), and the backend that accepted it sees no
 * reason to refuse the account now (its accountCheck: lock, expiry, user gone). Only successes are
 * stored; a different password always goes to the backend and, when accepted, replaces the entry.
 * A backend without an account check (pam, ldap, rimap) is trusted for the whole `-t`.
 */
export class CacheAuthenticator implements Authenticator {
  readonly name: string;
  /** Backend checks in progress, by cache key and password digest: what an identical request joins. */
  readonly #checking = new Map<string, Promise<Outcome | null>>();

  /**
   * `backend` names the chain in the cache key (Default: inner.name). `fleet` is the shared level
   * (`--shared-state` with `--cache-key-file`), with the account check of the backend a fleet entry
   * names (the host that stored it knew which link of the chain accepted).
   */
  constructor(
    private readonly inner: Authenticator,
    private readonly cache: CredentialCache,
    private readonly log: Logger,
    private readonly backend: string = inner.name,
    private readonly fleet: FleetLevel | null = null,
  ) {
    this.name = inner.name;
  }

  /**
   * Not an async function: V8 gives each call of one a frame as large as all its registers, and
   * this runs on every request (issue 15). Without a fleet, a hit whose account check passes goes
   * through no async function at all; the fleet's lookup and every miss go on in #viaFleet and #miss.
   */
  authenticate(req: AuthRequest, signal: Abortable): Promise<Outcome> {
    try {
      const parts: CacheKeyParts = { login: req.login, realm: req.realm, service: req.service, backend: this.backend };
      const digest = this.cache.digest(req.password);
      const found = this.cache.match(parts, digest);
      if (this.fleet !== null) return this.#viaFleet(this.fleet, parts, digest, found, req, signal);
      // As in #viaFleet with the fleet down: the local entry's check, and whether it may hit.
      const check = found?.recheck ?? null;
      const fresh = this.#fresh(found);
      if (check === null) return fresh ? Promise.resolve(this.#hit(null)) : this.#miss(parts, digest, found, null, null, req, signal);
      return askAccount(check, req, signal).then((refusal) =>
        fresh && refusal === null ? this.#hit(null) : this.#miss(parts, digest, found, null, refusal, req, signal),
      );
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * With the fleet up, Redis decides hits: the local entry only stands in while it is down, and
   * for stale-on-outage. A deadline-bound call: Redis slow or gone gives 'down', never a wait.
   */
  async #viaFleet(fleet: FleetLevel, parts: CacheKeyParts, digest: Buffer, local: CacheMatch | null, req: AuthRequest, signal: Abortable): Promise<Outcome> {
    let found = local;
    const shared = await fleet.cache.lookup(parts, req.password);
    let check: AccountCheck | null;
    let fresh: boolean;
    const vouch = shared.kind === 'hit' ? fleet.checkFor(shared.via) : null;
    if (shared.kind === 'hit' && vouch !== null) {
      check = vouch.check;
      fresh = true;
    } else {
      // Another host accepted another password since: this host's copy is no longer the password.
      if (shared.kind === 'miss' && shared.prior === 'other' && found !== null) {
        this.cache.forget(parts);
        found = null;
      }
      // The local entry's check runs even when it cannot hit: it may still answer stale-on-outage.
      check = found?.recheck ?? null;
      fresh = shared.kind === 'down' && this.#fresh(found);
    }
    const refusal = check ? await askAccount(check, req, signal) : null;
    if (fresh && refusal === null) return this.#hit(shared);
    return this.#miss(parts, digest, found, shared, refusal, req, signal);
  }

  /** A local entry young enough to answer (an older one is kept only for stale-on-outage). */
  #fresh(found: CacheMatch | null): boolean {
    return found !== null && found.ageMs < this.cache.ttlMs;
  }

  /** A hit: without a fleet the same frozen outcome every time. */
  #hit(shared: FleetLookup | null): Outcome {
    this.cache.hits++;
    return shared === null ? CACHED_OK : { ...ok(), log: { cached: true, shared: shared.kind } };
  }

  /** No hit: the backend decides (after `refusal`, the account check's, without joining a running check). */
  async #miss(parts: CacheKeyParts, digest: Buffer, local: CacheMatch | null, shared: FleetLookup | null, refusal: Refusal | null, req: AuthRequest, signal: Abortable): Promise<Outcome> {
    let found = local;
    let fleetEntryGone = false;
    if (refusal?.kind === 'rejected') {
      // The account changed under the entry. The backend still decides, with its crypt, so the reply
      // and its timing are what any other password would get: the cache reveals nothing.
      this.cache.forget(parts);
      this.cache.revoked++;
      found = null;
      if (shared?.kind === 'hit') {
        await this.fleet!.cache.forget(shared.token);
        fleetEntryGone = true;
      }
    }
    this.cache.misses++;
    // After a refusal the account changed: a check that started before that may have read it unchanged.
    const answer = refusal === null ? await this.#check(parts, digest, req, signal) : await this.inner.authenticate(req, signal);
    const refused = refusal === null ? answer : withLog(answer, { recheck: refusal.code });
    const outcome = shared === null ? refused : withLog(refused, { shared: shared.kind });
    switch (outcome.kind) {
      case 'ok': {
        // The recheck is this cache's business: it goes into the entry, not on up with the outcome.
        const { recheck: acceptedBy, ...plain } = outcome;
        this.cache.store(parts, digest, acceptedBy ?? this.inner.accountCheck ?? null);
        if (shared !== null) {
          // While Redis is down this only notes the entry, to be deleted from Redis once it is back.
          const via = typeof outcome.log?.['via'] === 'string' ? outcome.log['via'] : this.backend;
          await this.fleet!.cache.store(shared.token, via, shared.kind === 'miss' && shared.prior !== 'none');
        }
        return plain;
      }
      case 'unavailable': {
        const staleMs = this.cache.options.staleMs;
        // A request that ended (its client gone, its deadline) saw no outage: closing the connection
        // mid-check must not turn into a stale OK, which the penalty would count as a success.
        if (found !== null && staleMs > 0 && found.ageMs < staleMs && !signal.aborted) {
          const ageSec = Math.floor(found.ageMs / 1000);
          this.log.warn(
            { user: req.login, service: req.service, realm: req.realm, mech: this.name, code: outcome.code, age_s: ageSec },
            `backend unavailable (${escapeLogValue(outcome.reason)}); answered OK from a cached success ${ageSec} s old (--cache-stale-on-outage)`,
          );
          return withLog(ok(), { cached: true, stale: true, ...outcome.log });
        }
        return outcome;
      }
      case 'rejected':
        // Only reached with a matching entry when it is past its TTL (kept for stale-on-outage): the
        // backend has now refused that very password, so it must not answer during an outage.
        if (found !== null) this.cache.forget(parts);
        // A fleet entry for this very password that the backend now refuses must go for every host.
        if (shared?.kind === 'hit' && !fleetEntryGone) await this.fleet!.cache.forget(shared.token);
        return outcome;
      default: {
        const never: never = outcome;
        throw new UnreachableError(`unhandled outcome ${String(never)}`);
      }
    }
  }

  /**
   * The backend's verdict on a miss. A request for the same key and password that arrives while
   * one is being checked waits for that check instead of starting another (`coalesced=true` in its
   * log line): after a restart, or when a client opens several connections at once, a burst of
   * identical logins costs one hash instead of one each. Only a verdict reached while the first
   * request was still live is shared, OK or NO; when the check ends unavailable or throws, or the
   * first request was aborted (its deadline, its client gone), each request that waited asks the
   * backend itself, unless it has ended meanwhile too. A request's own deadline still applies while
   * it waits: the request handler answers it then, whatever this promise does.
   */
  async #check(parts: CacheKeyParts, digest: Buffer, req: AuthRequest, signal: Abortable): Promise<Outcome> {
    if (signal.aborted) return this.inner.authenticate(req, signal);
    const key = `${keyOf(parts)}\0${digest.toString('base64')}`;
    const running = this.#checking.get(key);
    if (running !== undefined) {
      req.trace?.('cache', 'the same login and password are being checked already: waiting for that verdict');
      const shared = await running;
      if (shared !== null) return withLog(shared, { coalesced: true });
      if (signal.aborted) return unavailable('timeout', 'request ended while waiting for the check of the same password', 'NO internal mechanism failure');
      return this.inner.authenticate(req, signal);
    }
    const check = this.inner.authenticate(req, signal);
    // What the waiters get: the verdict of a request still live when it came, else null, at once
    // when this request is aborted (its check may then never settle: a backend that ignores the
    // signal), and newcomers no longer join it.
    let release!: (o: Outcome | null) => void;
    const verdict = new Promise<Outcome | null>((resolve) => (release = resolve));
    this.#checking.set(key, verdict);
    const abandon = (): void => {
      if (this.#checking.get(key) === verdict) this.#checking.delete(key);
      release(null);
    };
    signal.addEventListener('abort', abandon, { once: true });
    try {
      const o = await check;
      release(o.kind === 'unavailable' || signal.aborted ? null : o);
      return o;
    } finally {
      signal.removeEventListener('abort', abandon);
      abandon();
    }
  }

  describe(): string[] {
    return this.inner.describe();
  }

  async close(): Promise<void> {
    await this.inner.close();
  }
}

/** One line for `-v`/`--check`. */
export function describeCache(o: { cache: boolean; cacheTtlSec: number; cacheSizeKiB: number; cacheStaleOnOutageSec: number; sharedState?: unknown }): string {
  if (!o.cache) return 'cache: off';
  const approx = Math.floor((o.cacheSizeKiB * 1024) / (ENTRY_OVERHEAD_BYTES + DIGEST_BYTES + 32));
  const stale = o.cacheStaleOnOutageSec > 0 ? `${o.cacheStaleOnOutageSec} s` : 'off';
  const line = `cache: on, in memory, ttl ${o.cacheTtlSec} s, ${o.cacheSizeKiB} KiB (~${approx} entries), HMAC-SHA-256 with a per-start key, stale-on-outage ${stale}`;
  return o.sharedState
    ? `${line}; shared by the fleet (--shared-state): Redis decides hits and expires entries after ${o.cacheTtlSec} s, names and digests HMAC-SHA-256 under --cache-key-file, this cache answers while Redis is down`
    : line;
}
