import type { HmacKey } from '../native/hmac-key.js';
import { BlockList, isIP } from 'node:net';
import type { Logger } from 'pino';
import { bracketed } from '../log/escape.js';
import { type AuthRequest, type Authenticator, type Outcome, rejected, unavailable, withLog } from './authenticator.js';
import { FleetRequest } from './fleet-request.js';
import { PasswordMemory } from './password-memory.js';
import { addressKey, userKey } from './penalty-keys.js';
import { UsageError } from '../errors.js';
import type { Secret } from './secret.js';
import type { Abortable } from './request-signal.js';

/** `--penalty-scope`: which counters a request is held and counted by. */
export type PenaltyScope = 'user' | 'address' | 'both';
export const PENALTY_SCOPES: readonly PenaltyScope[] = ['user', 'address', 'both'];

/** One penalised user or address, as `ctl penalty list` shows it. `key` is the folded key (penalty-keys.ts). */
export interface PenaltyEntry {
  readonly kind: 'user' | 'address';
  readonly key: string;
  readonly failures: number;
  /** The current delay: ms between two checks for this key. */
  readonly delayMs: number;
  /** Ms until the failures are forgotten if no new one comes. */
  readonly expiresInMs: number;
}

/** What `ctl penalty clear` clears: every key, one user (folded like penalty-keys.ts), or one address. */
export type PenaltyTarget = { readonly all: true } | { readonly user: string } | { readonly address: string };

export interface PenaltyOptions {
  /** `--fail-delay`: ms before a NO goes out (Default: 2000); 0 turns all delays and penalties off. */
  readonly failDelayMs: number;
  /** `--penalty-max`: cap in ms on the doubled failure delay (Default: 15000); ≤ failDelayMs: no doubling. */
  readonly penaltyMaxMs: number;
  /** Delay jitter: a delay d becomes d × (1 + random × jitter) (Default: 0.25). Never shorter than d. */
  readonly jitter?: number;
  /** `--trusted-addr`: client addresses without an address counter (the user counter still applies). */
  readonly trusted?: BlockList;
  /** Upper bound in ms for hold + delay together, to answer before the auth deadline (Default: none). */
  readonly maxTotalMs?: number;
  /** `--trusted-addr` as written, for describe() (Default: none). */
  readonly trustedAddrs?: readonly string[];
  /** `--penalty-max-tracked`: users + addresses tracked at once; beyond it the lowest count goes first (Default: 65536). */
  readonly maxTracked?: number;
  /** `--penalty-max-held`: requests held at once per user or address with failures; more get NO unchecked (Default: 4). */
  readonly maxHeld?: number;
  /** `--penalty-scope`: count and hold per user, per client address, or both (Default: both). */
  readonly scope?: PenaltyScope;
  /** Consecutive failures are forgotten this many ms after the last one (Default: 3 600 000). */
  readonly forgetAfterMs?: number;
  /** Ms the password that last succeeded for a user lets that user past a queue (Default: 7 days). */
  readonly rememberSuccessMs?: number;
  /** `--shared-state`: the fleet's counters, consulted while healthy; local ones otherwise (Default: none). */
  readonly fleet?: FleetPenalty | null;
  /** Key of the password memory's digests (Default: random); the composition gives it the cache's key. */
  readonly passwordKey?: HmacKey;
  readonly now?: () => number;
  readonly random?: () => number;
}

/** What the fleet knows of a request's keys before it is checked. */
export interface FleetLook {
  /** Failures per key, in the order asked. */
  readonly fails: readonly number[];
  /** The password is the one that last succeeded for this identity, on any host. */
  readonly known: boolean;
}

/**
 * The penalty's state shared by a fleet (src/auth/shared-state/penalty-store.ts keeps it in Redis).
 * Keys are the penalty's own (`u:<user>`, `a:<address>`). Every method throws SharedStateError when
 * the fleet cannot answer in time; the penalty then goes on with its local counters alone.
 */
export interface FleetPenalty {
  readonly healthy: boolean;
  /** `--shared-state` as it may be shown. */
  readonly shown: string;
  /** Keyed digest of (identity, password) under the fleet key. */
  digest(identity: string, password: Secret): string;
  /** A fresh lease token for one request. */
  token(): string;
  look(keys: readonly string[], identity: string, digest: string): Promise<FleetLook>;
  /** 0 ms: checkable now (leases taken on keys with failures); else how long to wait before asking again. */
  admit(keys: readonly string[], token: string): Promise<{ readonly fails: readonly number[]; readonly waitMs: number }>;
  /** A rejected check; returns the new failure count per key. */
  failed(keys: readonly string[], identity: string, digest: string, token: string): Promise<readonly number[]>;
  /** A successful check; `reset[i]`: key i may be cleared (when its failures are this identity's). */
  succeeded(keys: readonly string[], reset: readonly boolean[], identity: string, digest: string, token: string): Promise<void>;
  /** Frees leases of a check that decided nothing (unavailable, aborted). */
  release(keys: readonly string[], token: string): Promise<void>;
  list(): Promise<PenaltyEntry[]>;
  clear(target: PenaltyTarget): Promise<number>;
}

/** Consecutive failures are forgotten this long after the last one (Default of forgetAfterMs). */
export const FORGET_AFTER_MS = 3_600_000;

interface Track {
  readonly key: string;
  fails: number;
  lastFailAt: number;
  /** Earliest start of the next check while the key has failures. */
  nextCheckAt: number;
  /** Checks in flight for this key. */
  checking: number;
  /** Requests the penalty keeps open for this key: waiting for their check or for their NO to go out. */
  held: number;
  /** Held requests to wake when a check settles (created on first use: most tracks never wait). */
  waiters: Set<() => void> | null;
  /**
   * The exact identity (login as backends got it, and realm) behind the failures, or MIXED. Keys
   * fold several identities together (alice@victim.org, alice@attacker.org), so only a success of
   * the one identity that failed may clear them: the attacker owns the other.
   */
  failedBy: string | null;
}

const MIXED = '\0mixed';

/** saslauthd-style `[user=…] [service=…] [remote=…]` of the penalty's log lines. */
function where(req: AuthRequest): string {
  return bracketed({ user: req.login, service: req.service, remote: req.clientAddr });
}

/** `a.b.c.d;port` (v5 fifth field) → `a.b.c.d`; null when there is none. */
export function hostOfClientAddr(clientAddr: string | null): string | null {
  if (clientAddr === null || clientAddr === '') return null;
  const semi = clientAddr.lastIndexOf(';');
  const host = semi >= 0 ? clientAddr.slice(0, semi) : clientAddr;
  return host === '' ? null : host;
}

/** Parses `--trusted-addr` values (addresses or CIDR blocks) into a BlockList; throws naming the bad one. */
export function trustedList(specs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const spec of specs) {
    const [addr = '', bits, ...rest] = spec.split('/');
    const family = isIP(addr);
    if (family === 0 || rest.length > 0) throw new UsageError(`--trusted-addr: '${spec}' is not an IP address or CIDR block`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) {
      list.addAddress(addr, type);
    } else {
      const prefix = Number(bits);
      if (!/^\d+$/.test(bits) || prefix > (family === 4 ? 32 : 128)) throw new UsageError(`--trusted-addr: '${spec}' has a bad prefix length`);
      list.addSubnet(addr, prefix, type);
    }
  }
  return list;
}

const DAY_MS = 86_400_000;

/**
 * Brute-force defence around the whole composition. Every NO waits `failDelayMs` (jittered) on a
 * timer, so no worker or other request is held. Per user and per client address (`scope`),
 * consecutive failures double that delay up to `penaltyMaxMs`, and for a user or address with
 * failures the penalty limits the guess *rate*, not only the latency: one check at a time, and the
 * next one no earlier than the current delay after the last failure, so N parallel guesses within
 * T ms cost at most T/delay + 1 checks however many connections carry them. At most `maxHeld`
 * requests wait per user/address; more get NO at once, unchecked, so one target cannot take every
 * connection slot. A (user, password) pair that failed recently does not escalate (a phone holding
 * an old password), and the password that last succeeded for a user is checked without queueing
 * (the real user's devices keep working while a bot hammers the name). A success resets the user
 * and address it came with and releases whatever waits on them.
 *
 * With `fleet` (`--shared-state`) the counts, the spacing, the one check in flight and the password
 * memory are also the fleet's, asked per request while it is healthy; the higher count wins. The
 * local maps stay as they are, not behind the same interface, because they are what every request
 * falls back to the moment the fleet does not answer: a failure is counted here only when the fleet
 * could not count it, and `maxHeld` stays per host (it guards this host's connection slots).
 */
export class PenaltyAuthenticator implements Authenticator {
  readonly name: string;
  readonly #tracks = new Map<string, Track>();
  /** The same tracks by failure count, each least recently failed first: the eviction order. */
  readonly #byFails = new Map<number, Map<string, Track>>();
  readonly #memory: PasswordMemory;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #jitter: number;
  readonly #doubling: boolean;
  readonly #maxTracked: number;
  readonly #maxHeld: number;
  readonly #scope: PenaltyScope;
  readonly #forgetAfterMs: number;
  readonly #maxTotalMs: number;
  readonly #fleet: FleetPenalty | null;

  constructor(
    private readonly inner: Authenticator,
    readonly options: PenaltyOptions,
    private readonly log: Logger,
  ) {
    this.name = inner.name;
    this.#now = options.now ?? (() => performance.now());
    this.#random = options.random ?? Math.random;
    this.#jitter = options.jitter ?? 0.25;
    this.#doubling = options.failDelayMs > 0 && options.penaltyMaxMs > options.failDelayMs;
    this.#maxTracked = options.maxTracked ?? 65536;
    this.#maxHeld = options.maxHeld ?? 4;
    this.#scope = options.scope ?? 'both';
    this.#forgetAfterMs = options.forgetAfterMs ?? FORGET_AFTER_MS;
    this.#maxTotalMs = options.maxTotalMs ?? Number.POSITIVE_INFINITY;
    this.#fleet = options.fleet ?? null;
    this.#memory = new PasswordMemory({
      maxEntries: this.#maxTracked,
      failureTtlMs: this.#forgetAfterMs,
      successTtlMs: options.rememberSuccessMs ?? 7 * DAY_MS,
      now: this.#now,
      ...(options.passwordKey ? { key: options.passwordKey } : {}),
    });
  }

  /** Users and addresses with a failure count or a request in progress (for tests and `-d`). */
  get tracked(): number {
    return this.#tracks.size;
  }

  /** Minimum ms before the NO of a request that found `n` failures (settled or pending) ahead of it. */
  failureDelayMs(n: number): number {
    const d = this.options.failDelayMs;
    if (!this.#doubling) return Math.min(d, this.#maxTotalMs);
    return Math.min(this.options.penaltyMaxMs, d * 2 ** Math.min(n, 30), this.#maxTotalMs);
  }

  /** Ms between two checks of a user/address with `fails` consecutive failures (the current delay). */
  checkIntervalMs(fails: number): number {
    return fails === 0 ? 0 : Math.min(this.options.penaltyMaxMs, this.options.failDelayMs * 2 ** Math.min(fails - 1, 30));
  }

  async authenticate(req: AuthRequest, signal: Abortable): Promise<Outcome> {
    if (this.options.failDelayMs === 0) return this.inner.authenticate(req, signal);
    const arrival = this.#now();
    const user = userKey(req.login);
    const keys: string[] = [];
    if (this.#doubling && this.#scope !== 'address') keys.push(`u:${user}`);
    const host = hostOfClientAddr(req.clientAddr);
    if (this.#doubling && this.#scope !== 'user' && host !== null) {
      const a = addressKey(host);
      // Trust exempts the address counter only: the 5th field is whatever the client wrote.
      const trusted = a.ip !== null && this.options.trusted?.check(a.ip, a.family!) === true;
      if (!trusted) keys.push(`a:${a.key}`);
    }
    // The password memory is per exact identity, not per folded key: a password that succeeded for
    // alice@attacker.org proves nothing about alice@victim.org.
    const identity = `${req.login}\0${req.realm}`;
    const digest = this.#doubling ? this.#memory.digest(identity, req.password) : null;
    // The fleet's view, while it answers in time: its counts add to ours (the higher wins), and a
    // request it cannot reach goes on with the local counters alone. Nothing it says can make an OK.
    const fleet = this.#fleet !== null && this.#fleet.healthy && keys.length > 0 ? new FleetRequest(this.#fleet, keys, identity, req.password) : null;
    // The password that last succeeded for this user: only someone who knows it can be let past the
    // queue, and the check still decides.
    let known = this.#isKnown(identity, digest) || (fleet !== null && (await fleet.look()));
    const tracks = this.#enter(keys);
    const full = known ? undefined : this.#full(tracks, fleet);
    if (full !== undefined) {
      this.#tidy(tracks, false);
      return this.#unchecked(req, full, this.#failsWith(full, fleet), `${full.held} requests for this ${full.key.startsWith('u:') ? 'user' : 'client address'} already held (--penalty-max-held)`);
    }
    for (const t of tracks) t.held++;
    let n = 0;
    let outcome: Outcome | undefined;
    try {
      for (let first = true; !known; first = false) {
        n = this.#maxFails(tracks, fleet);
        let wait = this.#untilCheck(tracks);
        if (wait <= 0 && fleet !== null) wait = await fleet.admit();
        if (wait <= 0) break;
        const left = arrival + this.#maxTotalMs - this.#now();
        if (left <= 0) {
          let t = tracks[0]!;
          for (const b of tracks) if (this.#failsWith(b, fleet) > this.#failsWith(t, fleet)) t = b;
          return this.#unchecked(req, t, this.#failsWith(t, fleet), `no check possible before the deadline (${t.held - 1} others held)`);
        }
        if (first) this.log.debug({ user: req.login, service: req.service, ...(req.clientAddr !== null ? { remote: req.clientAddr } : {}), failures: n, hold_ms: Math.round(Math.min(wait, left)) }, 'held by the failure penalty');
        await this.#wait(Math.min(wait, left), tracks, signal);
        if (signal.aborted) return unavailable('timeout', 'request ended while held by the failure penalty', 'NO internal mechanism failure');
        known = this.#isKnown(identity, digest);
      }
      n = this.#maxFails(tracks, fleet);
      for (const t of tracks) t.checking++;
      try {
        outcome = await this.inner.authenticate(req, signal);
      } finally {
        for (const t of tracks) t.checking--;
      }
      // Counted in the fleet when it takes the count; locally only when it does not, so an outage
      // leaves each host its own count and a healthy fleet does not count a guess twice.
      const counted = fleet !== null && (await fleet.settle(outcome, tracks.map((t) => t.held <= 1)));
      this.#settle(tracks, identity, digest, outcome, !counted);
      if (outcome.kind === 'ok') return n > 0 ? withLog(outcome, { penalty: n }) : outcome;
      // Shedding load is decided before any password is looked at, so answering it at once tells a
      // guesser nothing, and holding it would only keep the overload's connections open longer.
      if (outcome.kind === 'unavailable' && outcome.code === 'overloaded') return outcome;
      const failures = this.#maxFails(tracks, fleet);
      const level = Math.max(0, failures - 1);
      const delay = Math.min(this.failureDelayMs(level) * (1 + this.#random() * this.#jitter), this.#maxTotalMs);
      if (level > 0 && outcome.kind === 'rejected') {
        const ms = Math.round(delay);
        this.log.warn(
          { user: req.login, service: req.service, realm: req.realm, ...(req.clientAddr !== null ? { remote: req.clientAddr } : {}), failures, delay_ms: ms },
          `auth penalty: ${where(req)} [failures=${failures}] [delay=${ms}ms]`,
        );
      }
      // Beyond the held cap (a burst checked before any failure was known), waiting out the delay
      // would only keep connections open: the guess is spent, and the next check waits its turn anyway.
      const crowded = tracks.some((t) => t.held > this.#maxHeld);
      const left = arrival + delay - this.#now();
      if (left > 0 && !crowded) await this.#wait(left, [], signal);
      return level > 0 ? withLog(outcome, { penalty: level }) : outcome;
    } finally {
      for (const t of tracks) t.held--;
      this.#tidy(tracks, true);
      if (outcome === undefined) fleet?.abandon();
    }
  }

  // The helpers below were closures inside authenticate(): as methods they are not allocated on
  // every request (issue 15).

  /** The password that last succeeded for this identity (digest null: no password memory). */
  #isKnown(identity: string, digest: string | null): boolean {
    return digest !== null && this.#memory.succeededRecently(identity, digest);
  }

  /** A key's failures: this host's, or the fleet's when it heard more. */
  #failsWith(t: Track, fleet: FleetRequest | null): number {
    const local = this.#failsOf(t);
    return fleet === null ? local : Math.max(local, fleet.fails(t.key));
  }

  /** The highest failure count of `tracks`, 0 when none. */
  #maxFails(tracks: readonly Track[], fleet: FleetRequest | null): number {
    let n = 0;
    for (const t of tracks) n = Math.max(n, this.#failsWith(t, fleet));
    return n;
  }

  /** The first key with failures that already holds --penalty-max-held requests. */
  #full(tracks: readonly Track[], fleet: FleetRequest | null): Track | undefined {
    for (const t of tracks) if (this.#failsWith(t, fleet) > 0 && t.held >= this.#maxHeld) return t;
    return undefined;
  }

  /**
   * Users and addresses with failures: the fleet's when it answers (merged with this host's, the
   * higher count winning), else this host's alone.
   */
  async list(): Promise<PenaltyEntry[]> {
    const now = this.#now();
    const byKey = new Map<string, PenaltyEntry>();
    for (const t of this.#tracks.values()) {
      const failures = this.#failsOf(t);
      if (failures === 0) continue;
      const kind = t.key.startsWith('u:') ? 'user' : 'address';
      byKey.set(t.key, { kind, key: t.key.slice(2), failures, delayMs: this.checkIntervalMs(failures), expiresInMs: Math.max(0, Math.round(t.lastFailAt + this.#forgetAfterMs - now)) });
    }
    if (this.#fleet !== null && this.#fleet.healthy) {
      for (const e of await this.#fleet.list()) {
        const k = `${e.kind === 'user' ? 'u' : 'a'}:${e.key}`;
        const mine = byKey.get(k);
        if (mine === undefined || e.failures > mine.failures) byKey.set(k, e);
      }
    }
    return [...byKey.values()].sort((a, b) => b.failures - a.failures || a.key.localeCompare(b.key));
  }

  /**
   * Forgets failures (`ctl penalty clear`): on this host, and in the fleet when shared state is up;
   * returns how many users/addresses were cleared (fleet and local counted once per key). Requests
   * held for a cleared key are woken and checked.
   */
  async clear(target: PenaltyTarget): Promise<number> {
    const match =
      'all' in target
        ? (): boolean => true
        : 'user' in target
          ? (t: Track): boolean => t.key === `u:${userKey(target.user)}`
          : (t: Track): boolean => t.key === `a:${addressKey(hostOfClientAddr(target.address) ?? target.address).key}`;
    let local = 0;
    for (const t of [...this.#tracks.values()]) {
      if (!match(t) || this.#failsOf(t) === 0) continue;
      local++;
      this.#setFails(t, 0);
      this.#tidy([t], true);
    }
    const fleet = this.#fleet !== null && this.#fleet.healthy ? await this.#fleet.clear(target) : 0;
    return Math.max(local, fleet);
  }

  describe(): string[] {
    const fleet = this.#fleet === null ? [] : [`failure penalty shared through ${this.#fleet.shown} (${this.#fleet.healthy ? 'up' : 'down: local counters'})`];
    return [...this.inner.describe(), ...describePenalty(this.options), ...fleet];
  }

  async close(): Promise<void> {
    await this.inner.close();
  }

  /** NO without a check, logged for fail2ban: the penalty would not let this request be checked. */
  #unchecked(req: AuthRequest, t: Track, failures: number, why: string): Outcome {
    this.log.warn(
      { user: req.login, service: req.service, realm: req.realm, ...(req.clientAddr !== null ? { remote: req.clientAddr } : {}), failures, held: t.held, checked: false },
      `auth penalty: ${where(req)} [failures=${failures}] [held=${t.held}] [checked=no]`,
    );
    return withLog(rejected('not-authorized', `not checked: ${why}`, 'NO authentication failed'), { penalty: failures });
  }

  /** Consecutive failures of a key, 0 once they are older than forgetAfterMs. */
  #failsOf(t: Track): number {
    if (t.fails > 0 && this.#now() - t.lastFailAt > this.#forgetAfterMs) this.#setFails(t, 0);
    return t.fails;
  }

  /**
   * Ms until a request for `tracks` may be checked: 0 now; Infinity while a check for a key with
   * failures is in flight (a settle wakes the waiters). A key without failures never holds anything,
   * so parallel logins of one user, or many users behind one address, run in parallel.
   */
  #untilCheck(tracks: readonly Track[]): number {
    let wait = 0;
    const now = this.#now();
    for (const t of tracks) {
      if (this.#failsOf(t) === 0) continue;
      if (t.checking > 0) return Number.POSITIVE_INFINITY;
      wait = Math.max(wait, t.nextCheckAt - now);
    }
    return wait;
  }

  #settle(tracks: readonly Track[], identity: string, digest: string | null, outcome: Outcome, count: boolean): void {
    const now = this.#now();
    if (outcome.kind === 'ok') {
      if (digest !== null) this.#memory.noteSuccess(identity, digest);
      // A success says nothing about the other requests held for the same user or address (a bot
      // hammering the name while the real user logs in): resetting then would release them all
      // at once and restart the doubling. Alone, and only for failures of its own identity, it resets.
      for (const t of tracks) if (t.held <= 1 && (t.failedBy === null || t.failedBy === identity)) this.#setFails(t, 0);
    } else if (outcome.kind === 'rejected') {
      // The same password again is the same guess: it counts once (at least as one failure).
      const repeat = digest !== null && this.#memory.failedRecently(digest);
      if (digest !== null) this.#memory.noteFailure(identity, digest);
      for (const t of count ? tracks : []) {
        t.failedBy = t.failedBy === null || t.failedBy === identity ? identity : MIXED;
        this.#setFails(t, repeat ? Math.max(1, t.fails) : t.fails + 1);
        t.lastFailAt = now;
        t.nextCheckAt = now + this.checkIntervalMs(t.fails);
        // Most recently failed goes to the end, so eviction takes the stalest of a count first.
        const bucket = this.#byFails.get(t.fails)!;
        bucket.delete(t.key);
        bucket.set(t.key, t);
      }
    }
    for (const t of tracks) if (t.waiters?.size) for (const wake of [...t.waiters]) wake();
  }

  #setFails(t: Track, fails: number): void {
    if (t.fails === fails && this.#byFails.get(fails)?.has(t.key)) return;
    const old = this.#byFails.get(t.fails);
    old?.delete(t.key);
    if (old?.size === 0) this.#byFails.delete(t.fails);
    t.fails = fails;
    if (fails === 0) {
      t.nextCheckAt = 0;
      t.failedBy = null;
    }
    let bucket = this.#byFails.get(fails);
    if (bucket === undefined) this.#byFails.set(fails, (bucket = new Map()));
    bucket.set(t.key, t);
  }

  #enter(keys: readonly string[]): Track[] {
    const tracks: Track[] = [];
    for (const k of keys) {
      let t = this.#tracks.get(k);
      if (t === undefined) {
        t = { key: k, fails: 0, lastFailAt: 0, nextCheckAt: 0, checking: 0, held: 0, waiters: null, failedBy: null };
        this.#tracks.set(k, t);
        this.#setFails(t, 0);
      }
      tracks.push(t);
    }
    return tracks;
  }

  get #remembered(): number {
    return this.#tracks.size - (this.#byFails.get(0)?.size ?? 0);
  }

  #idle(t: Track): boolean {
    return t.checking === 0 && t.held === 0 && !t.waiters?.size;
  }

  #drop(t: Track): void {
    this.#tracks.delete(t.key);
    const bucket = this.#byFails.get(t.fails);
    bucket?.delete(t.key);
    if (bucket?.size === 0) this.#byFails.delete(t.fails);
  }

  /**
   * Forgets one idle key: one whose failures have expired if any, else the least recently failed of
   * the lowest count (never-failed keys are dropped as soon as they are idle). When every key of the
   * lowest count is busy, nothing is forgotten until one settles: filling the table with throwaway
   * names (one failure each) therefore never pushes out a user or address with more failures.
   */
  #evictOne(): boolean {
    const counts = [...this.#byFails.keys()].filter((c) => c > 0).sort((a, b) => a - b);
    const now = this.#now();
    for (const c of counts) {
      const oldest = this.#byFails.get(c)!.values().next().value;
      if (oldest !== undefined && this.#idle(oldest) && now - oldest.lastFailAt > this.#forgetAfterMs) {
        this.#drop(oldest);
        return true;
      }
    }
    const lowest = counts[0];
    if (lowest === undefined) return false;
    for (const t of this.#byFails.get(lowest)!.values()) {
      if (this.#idle(t)) {
        this.#drop(t);
        return true;
      }
    }
    return false;
  }

  /** Drops keys with nothing left to remember, and shrinks the table back to its bound. */
  #tidy(tracks: readonly Track[], wake: boolean): void {
    for (const t of tracks) {
      if (this.#tracks.get(t.key) !== t) continue;
      if (wake && t.waiters?.size) for (const w of [...t.waiters]) w();
      if (this.#failsOf(t) === 0 && this.#idle(t)) this.#drop(t);
    }
    // The bound is on what is remembered: keys with failures. A key without any exists only while a
    // request for it is in progress, and those are bounded by the connection cap.
    while (this.#remembered > this.#maxTracked && this.#evictOne());
  }

  /** Sleeps `ms` on a timer; wakes early when a check for one of `tracks` settles or `signal` aborts. */
  #wait(ms: number, tracks: readonly Track[], signal: Abortable): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        for (const t of tracks) t.waiters?.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Number.isFinite(ms) ? Math.ceil(ms) : 2_147_483_647);
      signal.addEventListener('abort', done, { once: true });
      for (const t of tracks) (t.waiters ??= new Set()).add(done);
    });
  }
}

/** The fail-delay lines for `-v` (nothing built) and for the wrapper's describe(): one wording. */
export function describePenalty(o: PenaltyOptions & { readonly trustedAddrs?: readonly string[] }): string[] {
  if (o.failDelayMs === 0) return ['fail delay: off'];
  const scope = o.scope ?? 'both';
  const per = scope === 'both' ? 'user or client address' : scope === 'user' ? 'user' : 'client address';
  const pen = o.penaltyMaxMs > o.failDelayMs
    ? `doubles per consecutive failure of a ${per} up to ${o.penaltyMaxMs} ms; one check at a time per penalised key, at most ${o.maxHeld ?? 4} held, ${o.maxTracked ?? 65536} remembered`
    : 'no penalty';
  const lines = [`fail delay: ${o.failDelayMs} ms (+0..${Math.round((o.jitter ?? 0.25) * 100)}% jitter), ${pen}`];
  if (o.trustedAddrs !== undefined && o.trustedAddrs.length > 0) lines.push(`trusted (no address counter): ${o.trustedAddrs.join(' ')}`);
  return lines;
}
