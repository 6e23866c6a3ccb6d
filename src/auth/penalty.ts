import { BlockList, isIP } from 'node:net';
import type { Logger } from 'pino';
import { bracketed } from '../log/escape.js';
import { type AuthRequest, type Authenticator, type Outcome, unavailable, withLog } from './authenticator.js';

export interface PenaltyOptions {
  /** `--fail-delay`: ms before a NO goes out (Default: 2000); 0 turns all delays and penalties off. */
  readonly failDelayMs: number;
  /** `--penalty-max`: cap in ms on the doubled failure delay (Default: 15000); ≤ failDelayMs: no doubling. */
  readonly penaltyMaxMs: number;
  /** Delay jitter: a delay d becomes d × (1 + random × jitter) (Default: 0.25). Never shorter than d. */
  readonly jitter?: number;
  /** `--trusted-addr`: client addresses never penalised (their NO still waits the base delay). */
  readonly trusted?: BlockList;
  /** Upper bound in ms for hold + delay together, to answer before the auth deadline (Default: none). */
  readonly maxTotalMs?: number;
  /** Users + addresses tracked at once; beyond it the least recently failed idle one is forgotten (Default: 65536). */
  readonly maxTracked?: number;
  /** Consecutive failures are forgotten this many ms after the last one (Default: 3 600 000). */
  readonly forgetAfterMs?: number;
  readonly now?: () => number;
  readonly random?: () => number;
}

interface Track {
  readonly key: string;
  fails: number;
  lastFailAt: number;
  /** Arrival numbers of the requests for this user/address being decided now; ascending, as they arrive in order. */
  readonly pending: number[];
  /** Held requests to wake when a pending one settles (created on first use: most tracks never wait). */
  waiters: Set<() => void> | null;
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
    if (family === 0 || rest.length > 0) throw new Error(`--trusted-addr: '${spec}' is not an IP address or CIDR block`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) {
      list.addAddress(addr, type);
    } else {
      const prefix = Number(bits);
      if (!/^\d+$/.test(bits) || prefix > (family === 4 ? 32 : 128)) throw new Error(`--trusted-addr: '${spec}' has a bad prefix length`);
      list.addSubnet(addr, prefix, type);
    }
  }
  return list;
}

/**
 * Brute-force defence around the whole composition. Every NO waits `failDelayMs` (jittered) on a
 * timer, so no worker or other request is held. Per user and per client address, consecutive
 * failures double that delay up to `penaltyMaxMs`, and the failures of parallel attempts count the
 * moment they settle (Dovecot's parallel-attempt gap). Once a user/address has failed, a new
 * request for it is also held *before* it is checked, as Dovecot does, counting the ones still in
 * progress as failures-to-be, so a quick reply never gives a right password away. A success resets
 * the user and address it came with and releases whatever waits on them.
 */
export class PenaltyAuthenticator implements Authenticator {
  readonly mech: string;
  readonly #tracks = new Map<string, Track>();
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #jitter: number;
  readonly #doubling: boolean;
  readonly #maxTracked: number;
  readonly #forgetAfterMs: number;
  readonly #maxTotalMs: number;
  #seq = 0;

  constructor(
    private readonly inner: Authenticator,
    readonly options: PenaltyOptions,
    private readonly log: Logger,
  ) {
    this.mech = inner.mech;
    this.#now = options.now ?? (() => performance.now());
    this.#random = options.random ?? Math.random;
    this.#jitter = options.jitter ?? 0.25;
    this.#doubling = options.failDelayMs > 0 && options.penaltyMaxMs > options.failDelayMs;
    this.#maxTracked = options.maxTracked ?? 65536;
    this.#forgetAfterMs = options.forgetAfterMs ?? 3_600_000;
    this.#maxTotalMs = options.maxTotalMs ?? Number.POSITIVE_INFINITY;
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

  /** Ms a request that found `n` failures ahead of it waits before it is checked at all. */
  holdMs(n: number): number {
    return n === 0 || !this.#doubling ? 0 : this.failureDelayMs(n - 1);
  }

  async authenticate(req: AuthRequest, signal: AbortSignal): Promise<Outcome> {
    if (this.options.failDelayMs === 0) return this.inner.authenticate(req, signal);
    const arrival = this.#now();
    const host = hostOfClientAddr(req.clientAddr);
    const family = host !== null && this.options.trusted !== undefined ? isIP(host) : 0;
    const trusted = family !== 0 && this.options.trusted?.check(host!, family === 4 ? 'ipv4' : 'ipv6') === true;
    const tracks = this.#doubling && !trusted ? this.#enter([`u:${req.login}`, ...(host !== null ? [`a:${host}`] : [])]) : [];
    const seq = ++this.#seq;
    for (const t of tracks) t.pending.push(seq);
    let n = 0;
    let outcome: Outcome;
    try {
      for (let first = true; ; first = false) {
        n = this.#level(tracks, seq);
        const hold = this.holdMs(n);
        const remaining = arrival + hold - this.#now();
        if (remaining <= 0) break;
        if (first) this.log.debug({ user: req.login, service: req.service, ...(req.clientAddr !== null ? { remote: req.clientAddr } : {}), failures: n, hold_ms: hold }, 'held by the failure penalty');
        await this.#wait(remaining, tracks, signal);
        if (signal.aborted) {
          this.#leave(tracks, seq, null);
          return unavailable('timeout', 'request ended while held by the failure penalty', 'NO internal mechanism failure');
        }
      }
      outcome = await this.inner.authenticate(req, signal);
    } catch (e) {
      this.#leave(tracks, seq, null);
      throw e;
    }
    const failures = this.#leave(tracks, seq, outcome);
    if (outcome.kind === 'ok') return n > 0 ? withLog(outcome, { penalty: n }) : outcome;
    // Shedding load is decided before any password is looked at, so answering it at once tells a
    // guesser nothing, and holding it would only keep the overload's connections open longer.
    if (outcome.kind === 'unavailable' && outcome.code === 'overloaded') return outcome;
    // Failures of parallel attempts count as soon as they settle: the k-th of a burst waits 2^(k-1) × the delay.
    const level = Math.max(n, failures - 1);
    const delay = Math.min(this.failureDelayMs(level) * (1 + this.#random() * this.#jitter), this.#maxTotalMs);
    if (level > 0 && outcome.kind === 'rejected') {
      const ms = Math.round(delay);
      this.log.warn(
        { user: req.login, service: req.service, realm: req.realm, ...(req.clientAddr !== null ? { remote: req.clientAddr } : {}), failures, delay_ms: ms },
        `auth penalty: ${bracketed({ user: req.login, service: req.service, remote: req.clientAddr, failures, delay: `${ms}ms` })}`,
      );
    }
    const left = arrival + delay - this.#now();
    if (left > 0) await this.#wait(left, [], signal);
    return level > 0 ? withLog(outcome, { penalty: level }) : outcome;
  }

  describe(): string[] {
    const o = this.options;
    if (o.failDelayMs === 0) return ['fail delay: off'];
    const pen = this.#doubling ? `doubles per consecutive failure (user and client address) up to ${o.penaltyMaxMs} ms` : 'no penalty';
    return [`fail delay: ${o.failDelayMs} ms (+0..${Math.round(this.#jitter * 100)}% jitter), ${pen}`];
  }

  async close(): Promise<void> {
    await this.inner.close();
  }

  /**
   * Failures ahead of request `seq`, worst key wins: the settled ones and, once a user or address has
   * failed at least once, those still being decided for it too. A key with no failure holds nothing,
   * so parallel logins of one user, or many users behind one address, run in parallel.
   */
  #level(tracks: readonly Track[], seq: number): number {
    let worst = 0;
    const now = this.#now();
    for (const t of tracks) {
      if (t.fails > 0 && now - t.lastFailAt > this.#forgetAfterMs) t.fails = 0;
      if (t.fails === 0) continue;
      const ahead = t.pending.indexOf(seq);
      worst = Math.max(worst, t.fails + (ahead < 0 ? t.pending.length : ahead));
    }
    return worst;
  }

  #enter(keys: readonly string[]): Track[] {
    return keys.map((k) => {
      let t = this.#tracks.get(k);
      if (t === undefined) {
        if (this.#tracks.size >= this.#maxTracked) this.#evictOne();
        t = { key: k, fails: 0, lastFailAt: 0, pending: [], waiters: null };
        this.#tracks.set(k, t);
      }
      return t;
    });
  }

  /** Forgets the least recently failed user/address that has nothing in progress. */
  #evictOne(): boolean {
    for (const [k, t] of this.#tracks) {
      if (t.pending.length === 0 && !t.waiters?.size) {
        this.#tracks.delete(k);
        return true;
      }
    }
    return false;
  }

  /** Settles request `seq`; returns the worst consecutive-failure count after it (0 unless rejected). */
  #leave(tracks: readonly Track[], seq: number, outcome: Outcome | null): number {
    const now = this.#now();
    let failures = 0;
    for (const t of tracks) {
      if (outcome?.kind === 'ok') t.fails = 0;
      else if (outcome?.kind === 'rejected') {
        t.fails++;
        t.lastFailAt = now;
        failures = Math.max(failures, t.fails);
      }
      const i = t.pending.indexOf(seq);
      if (i >= 0) t.pending.splice(i, 1);
    }
    for (const t of tracks) if (t.waiters?.size) for (const wake of [...t.waiters]) wake();
    for (const t of tracks) {
      if (this.#tracks.get(t.key) !== t) continue;
      if (t.fails === 0 && t.pending.length === 0 && !t.waiters?.size) this.#tracks.delete(t.key);
      else if (outcome?.kind === 'rejected') {
        // Most recently failed goes to the end, so eviction takes the stalest first.
        this.#tracks.delete(t.key);
        this.#tracks.set(t.key, t);
      }
    }
    // Requests in progress may push the table past its bound for a moment (they are bounded by the
    // connection cap); once they settle it shrinks back.
    while (this.#tracks.size > this.#maxTracked && this.#evictOne());
    return failures;
  }

  /** Sleeps `ms` on a timer; wakes early when a request for one of `tracks` settles or `signal` aborts. */
  #wait(ms: number, tracks: readonly Track[], signal: AbortSignal): Promise<void> {
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
      const timer = setTimeout(done, Math.ceil(ms));
      signal.addEventListener('abort', done, { once: true });
      for (const t of tracks) (t.waiters ??= new Set()).add(done);
    });
  }
}
