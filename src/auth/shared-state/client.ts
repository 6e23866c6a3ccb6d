import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis, ReplyError, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { SharedStateError, UsageError } from '../../errors.js';
import type { SharedStateUrl } from './url.js';

export interface SharedStateOptions {
  /** `--shared-state-timeout`: ms one call may take before it counts as Redis trouble (Default: 50). */
  readonly timeoutMs?: number;
  /** `--shared-state-prefix`: appended to `saslauthd:` in every key, so fleets can share a Redis (Default: none). */
  readonly prefix?: string;
  /** `--shared-state-ca`: PEM file of CAs for rediss:// (Default: Node's CA store). */
  readonly caFile?: string | null;
  /** Ms between probes while down (Default: 1000). */
  readonly probeIntervalMs?: number;
}

export const DEFAULT_SHARED_STATE_TIMEOUT_MS = 50;

/** `--shared-state` and its companion flags, as parsed. */
export interface SharedStateConfig extends SharedStateOptions {
  readonly url: SharedStateUrl;
}

/** What a Redis or Cluster client offers that we use; both ioredis classes have it. */
export type RedisClient = Redis | Cluster;

type Health = 'starting' | 'up' | 'down';

/**
 * The one connection to the fleet's Redis/Valkey (`--shared-state`), for every wrapper that shares
 * state (penalty, cache). ioredis because it is the client with Sentinel and Cluster support built
 * in, and lets us turn off its offline queue and retries: a command either goes out now or fails now.
 *
 * Every call has a deadline (`timeoutMs`). Trouble (a timeout, a lost connection) marks the state
 * down: from then on calls fail at once, without touching the network, so a dead or silent Redis
 * costs a request at most one deadline, and only the requests in flight when it went. A probe PINGs
 * every `probeIntervalMs` and marks it up again. Each change is logged once, with the reason and
 * that this host now works from its local state. An error reply (a script on garbage data) is the
 * caller's failure, not Redis's: it does not change the health.
 */
export class SharedState {
  /** `saslauthd:` + `--shared-state-prefix`: the start of every key we touch. */
  readonly keyPrefix: string;
  readonly timeoutMs: number;
  readonly #url: SharedStateUrl;
  readonly #client: RedisClient;
  readonly #log: Logger;
  readonly #probeMs: number;
  readonly #listeners = new Set<(healthy: boolean) => void>();
  readonly #scripts = new Set<string>();
  #health: Health = 'starting';
  #probe: NodeJS.Timeout | null = null;
  #probing = false;
  #closed = false;

  constructor(url: SharedStateUrl, options: SharedStateOptions, log: Logger) {
    this.#url = url;
    this.#log = log;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_SHARED_STATE_TIMEOUT_MS;
    this.#probeMs = options.probeIntervalMs ?? 1000;
    this.keyPrefix = `saslauthd:${options.prefix ?? ''}`;
    this.#client = createClient(url, this.timeoutMs, options.caFile ?? null);
    this.#client.on('ready', () => void this.#check('connected'));
    this.#client.on('error', (e: Error) => this.#down(`${e.message}`));
    this.#client.on('close', () => this.#down('connection closed'));
    this.#client.on('end', () => this.#down('connection ended'));
    this.#startProbe();
  }

  /** The URL as it may be shown (no password). */
  get shown(): string {
    return this.#url.shown;
  }

  /** True while calls go to Redis; false while this host works from its local state. */
  get healthy(): boolean {
    return this.#health === 'up';
  }

  /** Called with the new health on every change (not on repeats). Returns an unsubscribe. */
  onChange(listener: (healthy: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves when the state is up, or after `ms` (to start serving with fleet state if it is there). */
  async ready(ms: number): Promise<boolean> {
    if (this.healthy) return true;
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      // A first probe that is slow marks it down; the next one may still bring it up within `ms`.
      const off = this.onChange((up) => up && done());
      function done(): void {
        clearTimeout(t);
        off();
        resolve();
      }
    });
    return this.healthy;
  }

  /** `saslauthd:<prefix><parts joined by :>` */
  key(...parts: readonly string[]): string {
    return `${this.keyPrefix}${parts.join(':')}`;
  }

  /**
   * Runs `fn` against the client under the deadline. Throws SharedStateError at once when the state
   * is down, and when the call fails or passes the deadline (which marks it down). `what` names the
   * call in the log.
   */
  async call<T>(what: string, fn: (client: RedisClient) => Promise<T>): Promise<T> {
    if (this.#health !== 'up') throw new SharedStateError('down', `shared state ${this.#url.shown} is down`);
    return this.#timed(what, fn);
  }

  /**
   * Runs a Lua script (EVALSHA, loading it on the first NOSCRIPT) under the same rules as call().
   * Scripts run atomically on the server: this is how counters stay right across hosts.
   */
  script(name: string, lua: string, keys: readonly string[], args: ReadonlyArray<string | number | Buffer>): Promise<unknown> {
    return this.call(name, (c) => {
      if (!this.#scripts.has(name)) {
        c.defineCommand(name, { lua, numberOfKeys: keys.length });
        this.#scripts.add(name);
      }
      const run = (c as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[name]!;
      return run.call(c, ...keys, ...args);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#probe !== null) clearInterval(this.#probe);
    this.#probe = null;
    this.#listeners.clear();
    this.#client.disconnect();
  }

  async #timed<T>(what: string, fn: (client: RedisClient) => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SharedStateError('timeout', `shared state ${this.#url.shown}: no answer to ${what} within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      return await Promise.race([fn(this.#client), deadline]);
    } catch (e) {
      if (e instanceof ReplyError) throw new SharedStateError('reply', `shared state ${this.#url.shown}: ${what}: ${(e as Error).message}`);
      const err = e instanceof SharedStateError ? e : new SharedStateError('connection', `shared state ${this.#url.shown}: ${what}: ${(e as Error).message}`);
      this.#down(err.reason === 'timeout' ? `no answer to ${what} within ${this.timeoutMs} ms` : (e as Error).message);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Marks up only when a PING comes back in time: 'ready' alone does not prove answers arrive. */
  async #check(why: string): Promise<void> {
    if (this.#closed || this.#probing) return;
    this.#probing = true;
    try {
      const pong = await this.#timed('PING', (c) => c.ping());
      if (pong === 'PONG') this.#set('up', why);
    } catch {
      // #timed marked it down
    } finally {
      this.#probing = false;
    }
  }

  #down(why: string): void {
    this.#set('down', why);
  }

  #set(health: 'up' | 'down', why: string): void {
    if (this.#closed || this.#health === health) return;
    const before = this.#health;
    this.#health = health;
    if (health === 'up') {
      this.#log.info({ shared_state: this.#url.shown, shared_state_up: true }, `shared state ${this.#url.shown} is up (${why}): this host uses the fleet's penalty counters and cache${before === 'down' ? ' again' : ''}`);
    } else {
      this.#log.warn(
        { shared_state: this.#url.shown, shared_state_up: false, reason: why },
        `shared state ${this.#url.shown} is down (${why}): this host falls back to its local penalty counters and cache until it is back`,
      );
    }
    for (const l of [...this.#listeners]) l(health === 'up');
  }

  #startProbe(): void {
    this.#probe = setInterval(() => {
      if (this.#health !== 'up') void this.#check('answering again');
    }, this.#probeMs);
    this.#probe.unref();
  }
}

/** ioredis options: no offline queue, no retries of a command, our deadline on every command. */
function createClient(url: SharedStateUrl, timeoutMs: number, caFile: string | null): RedisClient {
  let tls: ConnectionOptions | undefined;
  if (url.tls) {
    let ca: Buffer | undefined;
    if (caFile !== null) {
      try {
        ca = readFileSync(caFile);
      } catch (e) {
        throw new UsageError(`--shared-state-ca ${caFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    // Verified: rejectUnauthorized stays on, and the name checked is the host we dialled.
    tls = { rejectUnauthorized: true, ...(ca !== undefined ? { ca } : {}) };
  } else if (caFile !== null) {
    throw new UsageError(`--shared-state-ca needs a TLS URL (rediss://…), not ${url.shown}`);
  }
  const common: RedisOptions = {
    ...(url.username !== null ? { username: url.username } : {}),
    ...(url.password !== null ? { password: url.password } : {}),
    db: url.db,
    commandTimeout: timeoutMs,
    connectTimeout: Math.max(timeoutMs * 4, 1000),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // Reconnect forever, backing off to 2 s: Redis coming back must bring the fleet state back.
    retryStrategy: (times: number) => Math.min(100 * times, 2000),
    lazyConnect: false,
    ...(tls !== undefined ? { tls } : {}),
  };
  switch (url.kind) {
    case 'single':
      return new Redis({ ...common, host: url.nodes[0]!.host, port: url.nodes[0]!.port });
    case 'sentinel':
      return new Redis({
        ...common,
        sentinels: url.nodes.map((n) => ({ host: n.host, port: n.port })),
        name: url.masterName!,
        ...(tls !== undefined ? { enableTLSForSentinelMode: true, sentinelTLS: tls } : {}),
        sentinelRetryStrategy: (times: number) => Math.min(100 * times, 2000),
      });
    case 'cluster': {
      const { db: _db, ...redisOptions } = common;
      return new Cluster(
        url.nodes.map((n) => ({ host: n.host, port: n.port })),
        {
          redisOptions,
          enableOfflineQueue: false,
          maxRedirections: 4,
          slotsRefreshTimeout: Math.max(timeoutMs * 4, 1000),
          clusterRetryStrategy: (times: number) => Math.min(100 * times, 2000),
          ...(tls !== undefined ? { dnsLookup: (address, callback) => callback(null, address) } : {}),
        },
      );
    }
  }
}
