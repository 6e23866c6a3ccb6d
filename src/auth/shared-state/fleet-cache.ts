import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { Cluster, type Redis } from 'ioredis';
import type { CacheKeyParts } from '../cache.js';
import { userKey } from '../penalty-keys.js';
import type { Secret } from '../secret.js';
import type { FleetKey } from './key-file.js';

/** What the cache needs of the fleet's Redis connection (SharedState, client.ts): deadline, health, key names. */
export interface FleetStore {
  /** False while Redis is down or marked down: calls would fail at once. */
  readonly healthy: boolean;
  /** The full key name for these parts (`saslauthd:<prefix>` + parts joined by `:`). */
  key(...parts: readonly string[]): string;
  /** Runs one call under the Redis deadline; throws when down, late or answered with an error. */
  call<T>(what: string, fn: (client: Redis | Cluster) => Promise<T>): Promise<T>;
  /** Told every health change; returns an unsubscribe. */
  onChange(listener: (healthy: boolean) => void): () => void;
}

/** One request's names and digest in the fleet: all HMACs under the fleet key, never the login or password. */
export interface FleetToken {
  /** Redis key of the entry: `…cache:e:{<user tag>}:<entry tag>` (the user tag groups a user's entries for a flush). */
  readonly key: string;
  readonly entryTag: string;
  /** HMAC(fleet key 'cache-password', entry tag ‖ password): bound to the entry, so equal passwords of two users differ. */
  readonly digest: Buffer;
}

/** What Redis said of a request's entry. `down`: Redis was not asked or did not answer; the local cache decides. */
export type FleetLookup =
  | { readonly kind: 'down'; readonly token: FleetToken }
  | { readonly kind: 'hit'; readonly token: FleetToken; /** the backend of the chain that accepted, for its account check */ readonly via: string }
  | { readonly kind: 'miss'; readonly token: FleetToken; /** none: no entry; other: another password's; garbage: not ours to read */ readonly prior: 'none' | 'other' | 'garbage' };

export interface FleetCacheOptions {
  /** `-t` in ms: Redis expires each entry this long after the last backend-verified success (PX). */
  readonly ttlMs: number;
  /** How often this host reads the fleet's change log to drop its local copies (Default: 1000 ms). */
  readonly pollMs?: number;
  /** The local cache's entries, for dropping those another host replaced or flushed. */
  readonly forgetLocal: (matches: (parts: CacheKeyParts) => boolean) => number;
  /** Empties the local cache. */
  readonly flushLocal: () => number;
}

const VALUE_VERSION = '1';
const DIGEST_B64_LENGTH = 43;
/** How many entries changed during an outage this host remembers to delete once Redis is back. */
const OWED_KEPT = 10000;
/** How many change records the fleet keeps: enough for a poll interval of changes on a busy fleet. */
const CHANGES_KEPT = 10000;
const b64 = (b: Buffer): string => b.toString('base64url');
/** SCAN MATCH treats these as pattern characters; a --shared-state-prefix may contain them. */
const globEscape = (s: string): string => s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

/**
 * The shared level of `-c` with `--shared-state`: a success on any host is stored in Redis under
 * names and digests keyed by the fleet key, with `-t` as Redis's own expiry, so every host sees it
 * and a success with another password replaces it everywhere. While Redis answers it is the one
 * that decides a hit; the local cache keeps every success this host verified, as the fallback when
 * Redis is slow or down and for --cache-stale-on-outage.
 *
 * The local copies must not outlive what the fleet dropped: a replaced entry or a flush is written
 * to a change log (a Redis stream holding only tags), which each host reads every `pollMs` and
 * applies to its local cache. A host that lost Redis goes on reading where it stopped when it comes
 * back; when it cannot know it missed nothing (Redis restarted or failed over, the log was trimmed
 * past its place) it empties its local cache instead.
 */
export class FleetCache {
  readonly #store: FleetStore;
  readonly #key: FleetKey;
  readonly #options: FleetCacheOptions;
  readonly #log: Logger;
  /** Marks this host's own change records, which it need not apply. */
  readonly #origin = b64(randomBytes(9));
  readonly #changes: string;
  readonly #timer: NodeJS.Timeout;
  readonly #off: () => void;
  /**
   * The last change record applied. From the start of the log at first: records older than this host
   * can only drop entries it made since, which costs a backend check, never a wrong OK.
   */
  #lastId = '0-0';
  #polling = false;
  #wasDown = false;
  /** Redis's run_id when last up: another one after an outage means its data (and our log) may be gone. */
  #runId: string | null = null;
  #garbageLogged = false;
  /** Entries to delete from Redis when it is back (key → entry tag), at most OWED_KEPT. */
  readonly #owed = new Map<string, string>();
  #owedLost = false;
  /** Counters for status/metrics: Redis hits and misses, requests the local cache decided (Redis down or late), values not ours. */
  hits = 0;
  misses = 0;
  fallbacks = 0;
  garbage = 0;

  constructor(store: FleetStore, key: FleetKey, options: FleetCacheOptions, log: Logger) {
    this.#store = store;
    this.#key = key;
    this.#options = options;
    this.#log = log;
    this.#changes = store.key('cache', 'changes');
    this.#off = store.onChange((healthy) => {
      if (!healthy) {
        this.#wasDown = true;
        return;
      }
      const after = this.#wasDown;
      this.#wasDown = false;
      void this.#resync(after);
    });
    if (store.healthy) void this.#resync(false);
    this.#timer = setInterval(() => void this.poll(), options.pollMs ?? 1000);
    this.#timer.unref();
  }

  /** The entry's names and digest for this request. */
  token(parts: CacheKeyParts, password: Secret): FleetToken {
    const entry = this.#entryTag(parts);
    const user = b64(this.#key.mac('cache-user', [userKey(parts.login)]));
    const digest = this.#key.mac('cache-password', [entry, password.expose()]);
    return { key: this.#store.key('cache', 'e', `{${user}}`, b64(entry)), entryTag: b64(entry), digest };
  }

  async lookup(parts: CacheKeyParts, password: Secret): Promise<FleetLookup> {
    const token = this.token(parts, password);
    if (!this.#store.healthy) {
      this.fallbacks++;
      return { kind: 'down', token };
    }
    let value: Buffer | null;
    try {
      value = await this.#store.call('cache GET', (c) => c.getBuffer(token.key));
    } catch (e) {
      // An error reply (our key holds a list, a hash…) is garbage in Redis, not Redis trouble.
      if (isReplyError(e)) return this.#garbage(token);
      this.fallbacks++;
      return { kind: 'down', token };
    }
    if (value === null) {
      this.misses++;
      return { kind: 'miss', token, prior: 'none' };
    }
    const parsed = parseValue(value);
    if (parsed === null) return this.#garbage(token);
    if (!timingSafeEqual(parsed.digest, token.digest)) {
      this.misses++;
      return { kind: 'miss', token, prior: 'other' };
    }
    this.hits++;
    return { kind: 'hit', token, via: parsed.via };
  }

  /**
   * Records a backend-verified success for the fleet, replacing any entry (the TTL starts again).
   * When it replaced another password's entry, the change log tells the other hosts to drop theirs.
   * A success Redis did not get (down, late) is owed: see #owe.
   */
  async store(token: FleetToken, via: string, replaced: boolean): Promise<void> {
    if (!this.#store.healthy) return this.#owe(token);
    const value = `${VALUE_VERSION} ${b64(token.digest)} ${via}`;
    try {
      await this.#store.call('cache SET', (c) => c.set(token.key, value, 'PX', this.#options.ttlMs));
      if (replaced) await this.#record('e', token.entryTag);
    } catch (e) {
      this.#owe(token);
      this.#log.debug({ err: (e as Error).message }, 'shared cache: could not store a success; it stays in the local cache');
    }
  }

  /** Drops the fleet's entry (the backend or its account check refused what it holds). */
  async forget(token: FleetToken): Promise<void> {
    if (!this.#store.healthy) return this.#owe(token);
    try {
      await this.#store.call('cache DEL', (c) => c.unlink(token.key));
      await this.#record('e', token.entryTag);
    } catch (e) {
      this.#owe(token);
      this.#log.debug({ err: (e as Error).message }, 'shared cache: could not drop an entry');
    }
  }

  /**
   * An entry this host changed while Redis could not hear it: Redis may still hold the password
   * from before (a user who changed it during the outage), which would be a hit on every host once
   * Redis is back. On reconnecting the entry is deleted, not written: this host cannot know whether
   * another host stored something newer meanwhile, and a missing entry costs one backend check.
   */
  #owe(token: FleetToken): void {
    if (this.#owed.size >= OWED_KEPT) {
      this.#owedLost = true;
      return;
    }
    this.#owed.set(token.key, token.entryTag);
  }

  /** Deletes the entries owed since the outage and tells the other hosts; true when all went out. */
  async #payOwed(): Promise<boolean> {
    if (this.#owedLost) {
      this.#log.warn({}, `shared cache: more than ${OWED_KEPT} entries changed on this host while Redis was away; the rest stay in Redis until -t (flush the cache to be sure)`);
      this.#owedLost = false;
    }
    for (const [key, tag] of [...this.#owed]) {
      if (!this.#store.healthy) return false;
      try {
        await this.#store.call('cache DEL', (c) => c.unlink(key));
        await this.#record('e', tag);
        this.#owed.delete(key);
      } catch {
        return false;
      }
    }
    return true;
  }

  /**
   * Empties the fleet's cache, or one user's entries (every spelling the penalty folds together),
   * and tells every host to drop its local copies. Returns the entries removed from Redis, or null
   * when Redis could not be reached (the local cache is flushed by the caller either way).
   */
  async flush(user?: string): Promise<number | null> {
    if (!this.#store.healthy) {
      this.#log.warn({}, 'shared cache: Redis is down; flushed this host\'s local cache only (the fleet\'s entries expire after -t or go with a flush once Redis is back)');
      return null;
    }
    const pattern =
      user === undefined
        ? `${globEscape(this.#store.key('cache', 'e'))}:*`
        : `${globEscape(this.#store.key('cache', 'e', `{${b64(this.#key.mac('cache-user', [userKey(user)]))}}`))}:*`;
    try {
      let n = 0;
      for (const node of await this.#store.call('cache nodes', async (c) => (c instanceof Cluster ? c.nodes('master') : [c]))) {
        let cursor = '0';
        do {
          const [next, keys] = await this.#store.call('cache SCAN', () => node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000));
          cursor = next;
          // One UNLINK per key: in a Cluster the keys of one batch may live in different slots.
          if (keys.length > 0) n += (await this.#store.call('cache UNLINK', () => Promise.all(keys.map((k) => node.unlink(k))))).reduce((a, b) => a + b, 0);
        } while (cursor !== '0');
      }
      if (user === undefined) await this.#record('all', '1');
      else await this.#record('u', b64(this.#key.mac('cache-user', [userKey(user)])));
      return n;
    } catch (e) {
      this.#log.warn({ err: (e as Error).message }, `shared cache: the fleet flush did not complete (${(e as Error).message}); this host's local cache was flushed`);
      return null;
    }
  }

  /** Reads the change log since the last poll and drops the local entries it names. Public for tests. */
  async poll(): Promise<void> {
    if (this.#polling || !this.#store.healthy) return;
    this.#polling = true;
    try {
      if (this.#owed.size > 0 || this.#owedLost) await this.#payOwed();
      const got = await this.#store.call('cache XREAD', (c) => c.xread('COUNT', CHANGES_KEPT, 'STREAMS', this.#changes, this.#lastId));
      const records = got?.[0]?.[1] ?? [];
      if (records.length === 0) return;
      this.#lastId = records.at(-1)![0];
      const entries = new Set<string>();
      const users = new Set<string>();
      let all = false;
      for (const [, fields] of records) {
        const [kind, tag, , origin] = fields;
        if (origin === this.#origin || tag === undefined) continue;
        if (kind === 'all') all = true;
        else if (kind === 'e') entries.add(tag);
        else if (kind === 'u') users.add(tag);
      }
      if (all) this.#options.flushLocal();
      else if (entries.size + users.size > 0) {
        this.#options.forgetLocal(
          (p) => entries.has(b64(this.#entryTag(p))) || (users.size > 0 && users.has(b64(this.#key.mac('cache-user', [userKey(p.login)])))),
        );
      }
    } catch (e) {
      if (isReplyError(e) && !this.#garbageLogged) {
        this.#garbageLogged = true;
        this.#log.warn({ key: this.#changes }, `shared cache: ${this.#changes} is not a stream we wrote (${(e as Error).message}); other hosts' changes reach this host's local cache only through Redis reconnects`);
      }
    } finally {
      this.#polling = false;
    }
  }

  /**
   * On (re)connecting: notes Redis's run_id; after an outage, keeps the local cache only when the
   * same Redis still holds the log from where this host stopped reading (a slow spell, a network
   * blip), else drops it, since changes made meanwhile may be lost to it.
   */
  async #resync(afterOutage: boolean): Promise<void> {
    let intact = false;
    let runId: string | null = null;
    try {
      runId = await this.#store.call('cache INFO', async (c) => (c instanceof Cluster ? null : (/run_id:(\w+)/.exec(await c.info('server'))?.[1] ?? null)));
      if (afterOutage && runId !== null && runId === this.#runId) {
        const lastId = this.#lastId;
        intact =
          lastId === '0-0'
            ? (await this.#store.call('cache XLEN', (c) => c.xlen(this.#changes))) < CHANGES_KEPT
            : (await this.#store.call('cache XRANGE', (c) => c.xrange(this.#changes, lastId, lastId))).length === 1;
      }
    } catch {
      // Unknown: the safe answer below.
    }
    if (runId !== null || this.#runId === null) this.#runId = runId;
    if (this.#owed.size > 0 || this.#owedLost) await this.#payOwed();
    if (!afterOutage || intact) return;
    const n = this.#options.flushLocal();
    this.#lastId = '0-0';
    this.#log.info({ shared_cache_local_dropped: n }, `shared cache: Redis is back but may have lost changes made meanwhile (restart, failover, or log trimmed); dropped the ${n} local entries`);
  }

  close(): void {
    clearInterval(this.#timer);
    this.#off();
  }

  #entryTag(p: CacheKeyParts): Buffer {
    return this.#key.mac('cache-entry', [p.backend, p.service, p.realm, p.login]);
  }

  async #record(kind: 'e' | 'u' | 'all', tag: string): Promise<void> {
    await this.#store.call('cache XADD', (c) => c.xadd(this.#changes, 'MAXLEN', '~', CHANGES_KEPT, '*', kind, tag, 'o', this.#origin));
  }

  #garbage(token: FleetToken): FleetLookup {
    this.garbage++;
    this.misses++;
    if (!this.#garbageLogged) {
      this.#garbageLogged = true;
      this.#log.warn({}, 'shared cache: Redis holds something under a cache key that is not an entry we wrote; treated as no entry (a success overwrites it)');
    }
    return { kind: 'miss', token, prior: 'garbage' };
  }
}

function isReplyError(e: unknown): boolean {
  const err = e as { name?: string; reason?: string; cause?: unknown };
  return err?.name === 'ReplyError' || err?.reason === 'reply';
}

/** `1 <digest base64url> <via>`, or null for anything else. */
function parseValue(v: Buffer): { digest: Buffer; via: string } | null {
  if (v.length > 512) return null;
  const m = /^1 ([A-Za-z0-9_-]{43}) ([^\s]{1,256})$/.exec(v.toString('latin1'));
  if (m === null) return null;
  const digest = Buffer.from(m[1]!, 'base64url');
  return digest.length === 32 && m[1]!.length === DIGEST_B64_LENGTH ? { digest, via: m[2]! } : null;
}
