import { HmacKey } from '../native/hmac-key.js';
import type { Logger } from 'pino';
import type { Crypt } from '../native/crypt.js';
import type { AccountCheck, AuthRequest, Authenticator, Outcome } from './authenticator.js';
import { type BackendDefinition, type FlagValue, defaultValues } from './backends/definition.js';
import { CacheAuthenticator, CredentialCache, describeCache } from './cache.js';
import { ChainAuthenticator, type ContinueOn, DEFAULT_CONTINUE_ON, describeChain } from './chain.js';
import { type RouteSpec, backendType } from './chain-spec.js';
import { FORGET_AFTER_MS, type PenaltyEntry, PenaltyAuthenticator, type PenaltyScope, type PenaltyTarget, describePenalty, trustedList } from './penalty.js';
import { RequestPolicyAuthenticator, describeRequestPolicy } from './request-policy.js';
import { backendNamed } from './registry.js';
import { RoutingAuthenticator, routeLabel } from './routing.js';
import { SharedBackend } from './shared-backend.js';
import { BackendStartError } from '../errors.js';
import type { BackendStatus } from '../stats/backend-status.js';
import type { RequestStats } from '../stats/request-stats.js';
import { type Finding, found } from './check-finding.js';
import { DEFAULT_SHARED_STATE_TIMEOUT_MS, SharedState, type SharedStateConfig } from './shared-state/client.js';
import { type FleetKey, fleetKeyFor } from './shared-state/key-file.js';
import { FleetCache } from './shared-state/fleet-cache.js';
import { SharedPenaltyStore } from './shared-state/penalty-store.js';
import type { Abortable } from './request-signal.js';

export interface ComposeContext {
  readonly crypt: Crypt;
  readonly log: Logger;
  /** Looks up a backend definition by type (Default: the registry's); tests pass fakes. */
  readonly definition?: (type: string) => BackendDefinition;
  /** Counts each backend instance's decisions (Default: not counted). */
  readonly stats?: RequestStats;
  /** On reload: the fleet key in force, kept when a daemon that dropped root cannot re-read the file. */
  readonly fleetKey?: FleetKey | null;
}

/** What composition reads: auth's own settings, not the daemon's whole option bag. */
export interface CompositionOptions {
  /** `-a`: the default chain, backend names in order (`ldap,shadow`; `shadow:alt` names a second instance). */
  readonly chain: readonly string[];
  /** `-O`: the backend option every backend that reads one gets, unless `--link-option NAME.o=` overrides it. */
  readonly mechOption: string | null;
  /** `-n`: authentications decided at once (Default: 5). */
  readonly concurrency: number;
  /** Backends' own flags as given on the command line, by key (`passwd-file`); absent keys take the table default. */
  readonly backendFlags: Readonly<Record<string, FlagValue>>;
  /** `--link-option`: per backend name, flag values (and `mech-option`) for that instance only (Default: none). */
  readonly backendOverrides: Readonly<Record<string, Readonly<Record<string, FlagValue>>>>;
  /** `--route`: requests for a service or realm go to another chain, first match wins (Default: none). */
  readonly routes: readonly RouteSpec[];
  /** `--chain-continue-on`: per backend name (or `*`) the outcomes that pass to the next backend. */
  readonly chainContinueOn: Readonly<Record<string, readonly ContinueOn[]>>;
  /** `-c`, `-s`, `-t`, `--cache-stale-on-outage`. */
  readonly cache: boolean;
  readonly cacheSizeKiB: number;
  readonly cacheTtlSec: number;
  readonly cacheStaleOnOutageSec: number;
  /** `--fail-delay`, `--penalty-*`, `--trusted-addr`. */
  readonly failDelayMs: number;
  readonly penaltyMaxMs: number;
  readonly trustedAddrs: readonly string[];
  readonly penaltyScope: PenaltyScope;
  readonly penaltyMaxHeld: number;
  readonly penaltyMaxTracked: number;
  /** `-r`, `--allow-realm`. */
  readonly realmConcat: boolean;
  readonly allowedRealms: readonly string[];
  /** `--auth-timeout`: the penalty answers before it. */
  readonly authTimeoutMs: number;
  /** `--shared-state` with `--shared-state-timeout`, `-prefix`, `-ca` (Default: null, every host on its own). */
  readonly sharedState?: SharedStateConfig | null;
  /** `--cache-key-file`: the fleet key, read when the composition is built (Default: null). */
  readonly cacheKeyFile?: string | null;
}

/** The daemon's authenticator: backends in chains, routes, cache and defence, built from the flags. */
export interface ComposedAuthenticator extends Authenticator {
  /**
   * Empties the credential cache (SIGUSR1, `ctl cache flush`), or only `user`'s entries; returns how
   * many entries it dropped (the fleet's, with --shared-state). 0 when -c is off.
   */
  flushCache(user?: string): Promise<number>;
  /** `--cache-key-file` as read, or null. */
  /** Users and addresses the failure penalty holds now (empty when --fail-delay 0). */
  penalties(): Promise<PenaltyEntry[]>;
  /** Forgets the failures of a user, an address or all (`ctl penalty clear`); returns the keys cleared. */
  clearPenalty(target: PenaltyTarget): Promise<number>;
  /** Each backend instance (as named in -a/--route) with its pools and server health. */
  backendStatus(): { readonly name: string; readonly status: BackendStatus }[];
  readonly fleetKey: FleetKey | null;
  /** `-c` with `--shared-state`: the fleet level (hits, misses, fallbacks, garbage counters), or null. */
  readonly fleetCache: FleetCache | null;
  /** The cache, or null when -c is off. */
  readonly cache: CredentialCache | null;
  /** `--user`: why some backend could not work without root (null: all can). */
  unprivilegedProblem(target: unknown): string | null;
  /** The login the backends receive (after `-r`): what the per-request log line names. */
  loginFor(req: AuthRequest): string;
  /** `--check`: every backend's own findings (files, live probes), each line tagged with the backend's name. */
  probe(signal: Abortable): Promise<Finding[]>;
  /** `--shared-state`: the fleet connection (its `healthy` is for status and metrics), or null. */
  readonly sharedState: SharedState | null;
}

const continueOnFor = (o: CompositionOptions, name: string): ReadonlySet<ContinueOn> =>
  new Set(o.chainContinueOn[name] ?? o.chainContinueOn['*'] ?? DEFAULT_CONTINUE_ON);

const chainLine = (o: CompositionOptions, chain: readonly string[]): string => describeChain(chain.map((n) => [n, continueOnFor(o, n)]));

const penaltyOptions = (o: CompositionOptions) => ({
  failDelayMs: o.failDelayMs,
  penaltyMaxMs: o.penaltyMaxMs,
  scope: o.penaltyScope,
  maxHeld: o.penaltyMaxHeld,
  maxTracked: o.penaltyMaxTracked,
  // Answer before the request deadline turns the NO into a "timeout" in the log.
  maxTotalMs: Math.max(0, o.authTimeoutMs - Math.min(1000, o.authTimeoutMs / 10)),
});

/** `--link-option` lines, in the flags' own names. */
const overrideLines = (o: CompositionOptions): string[] =>
  Object.entries(o.backendOverrides).map(([name, opts]) => `backend ${name}: ${Object.entries(opts).map(([k, v]) => `${k}=${v}`).join(' ')}`);

/**
 * Where each request goes, with cache and defence, for `-v` (nothing is built). Each line is in the
 * words of the wrapper it describes (chain.ts, request-policy.ts, cache.ts, penalty.ts).
 */
export function describeComposition(o: CompositionOptions): string[] {
  const lines = [`chain (-a): ${chainLine(o, o.chain)}`];
  if (o.realmConcat || o.allowedRealms.length > 0) lines.push(describeRequestPolicy(o));
  for (const r of o.routes) lines.push(`route ${routeLabel(r)}: ${chainLine(o, r.chain)}`);
  lines.push(...overrideLines(o), describeCache(o), ...describePenalty({ ...penaltyOptions(o), trustedAddrs: o.trustedAddrs }));
  if (o.sharedState) lines.push(describeSharedState(o.sharedState, o.failDelayMs > 0));
  return lines;
}

/** The `--shared-state` line of -v / --check: where, how long a call may take, what is shared. */
function describeSharedState(c: SharedStateConfig, penalty: boolean): string {
  return `shared state: ${c.url.shown} (${c.url.kind}${c.url.tls ? ', TLS' : ''}), ${c.timeoutMs ?? DEFAULT_SHARED_STATE_TIMEOUT_MS} ms per call, keys saslauthd:${c.prefix ?? ''}*; ${penalty ? 'failure penalty counted fleet-wide, ' : ''}local state while Redis is down`;
}

/** Every distinct backend name, in the order first named (-a first, then routes). */
function backendNames(o: CompositionOptions): string[] {
  return [...new Set([...o.chain, ...o.routes.flatMap((r) => r.chain)])];
}

class Composed implements ComposedAuthenticator {
  readonly name: string;

  constructor(
    private readonly options: CompositionOptions,
    private readonly top: Authenticator,
    private readonly backends: ReadonlyMap<string, Authenticator>,
    readonly cache: CredentialCache | null,
    private readonly penalty: PenaltyAuthenticator | null,
    readonly sharedState: SharedState | null,
    /** The fleet level of -c (null without --shared-state); its counters are for status and metrics. */
    readonly fleetCache: FleetCache | null = null,
    /** `--cache-key-file` as read (null without --shared-state). */
    readonly fleetKey: FleetKey | null = null,
  ) {
    this.name = options.chain.join(',');
  }

  authenticate(req: AuthRequest, signal: Abortable): Promise<Outcome> {
    return this.top.authenticate(req, signal);
  }

  loginFor(req: AuthRequest): string {
    return this.top.loginFor?.(req) ?? req.login;
  }

  /**
   * Empties the cache, or `user`'s entries (every spelling the penalty folds together). With the
   * fleet, Redis's entries go too and every host drops its local copies; the count is then the
   * fleet's (this host's when Redis cannot be reached).
   */
  async flushCache(user?: string): Promise<number> {
    const local = this.cache?.flush(user) ?? 0;
    const fleet = (await this.fleetCache?.flush(user)) ?? null;
    return fleet ?? local;
  }

  async penalties(): Promise<PenaltyEntry[]> {
    return (await this.penalty?.list()) ?? [];
  }

  async clearPenalty(target: PenaltyTarget): Promise<number> {
    return (await this.penalty?.clear(target)) ?? 0;
  }

  backendStatus(): { readonly name: string; readonly status: BackendStatus }[] {
    return [...this.backends].map(([name, b]) => ({ name, status: b.status?.() ?? {} }));
  }

  /** What the wrapper tree says of itself, top down; a backend several chains share is listed once. */
  describe(): string[] {
    return [...new Set([...this.top.describe(), ...overrideLines(this.options), describeCache(this.options)])];
  }

  /**
   * For `--user` (privilege drop): the first backend that could not work without root, or null.
   * A backend without the check is taken to need root.
   */
  unprivilegedProblem(target: unknown): string | null {
    for (const [name, shared] of this.backends) {
      const b = shared instanceof SharedBackend ? shared.backend : shared;
      const check = (b as { unprivilegedProblem?: (t: unknown) => string | null }).unprivilegedProblem;
      const problem = check ? check.call(b, target) : `-a ${name} needs root to work, so --user cannot be used with it`;
      if (problem !== null) return this.backends.size > 1 && check ? `${name}: ${problem}` : problem;
    }
    return null;
  }

  async probe(signal: Abortable): Promise<Finding[]> {
    const all = await Promise.all(
      [...this.backends].map(async ([name, shared]) => {
        const b = shared instanceof SharedBackend ? shared.backend : shared;
        const findings = b.probe ? await b.probe(signal) : [found.ok('nothing to probe beyond start-up')];
        return findings.map((f) => ({ ...f, text: `${name}: ${f.text}` }));
      }),
    );
    return all.flat();
  }

  /** Closes down the wrapper tree; a shared backend closes once however many chains hold it. */
  async close(): Promise<void> {
    // This host's copies only: a reload or a stop on one host does not flush the fleet.
    this.fleetCache?.close();
    this.cache?.flush();
    try {
      await this.top.close();
    } finally {
      await this.sharedState?.close();
    }
  }
}

/** One backend instance from its definition, its flags and its `--link-option` overrides. */
async function createBackend(o: CompositionOptions, name: string, ctx: ComposeContext): Promise<Authenticator> {
  const def = (ctx.definition ?? backendNamed)(backendType(name));
  const own = o.backendOverrides[name] ?? {};
  const values: Record<string, FlagValue> = defaultValues(def);
  for (const k of Object.keys(values)) values[k] = own[k] !== undefined ? own[k]! : (o.backendFlags[k] ?? values[k]!);
  const mechOption = own['mech-option'] !== undefined ? (own['mech-option'] as string | null) : o.mechOption;
  const options = def.options(values, { mechOption, concurrency: o.concurrency });
  return def.create(options, { crypt: ctx.crypt, log: ctx.log.child({ mech: def.name }) });
}

/** Builds every backend once, then chains, cache, routes, defence and request policy around them. */
export async function buildAuthenticator(options: CompositionOptions, ctx: ComposeContext): Promise<ComposedAuthenticator> {
  // Read before anything starts: a key file others can read is a start-up error, not a warning.
  const fleetKey = options.sharedState ? fleetKeyFor(options.cacheKeyFile ?? '', ctx.fleetKey ?? null, (m) => ctx.log.warn(m)) : null;
  // One connection for everything the fleet shares (penalty, cache); made first so a bad CA file
  // fails before any backend starts, and closed with them when one cannot.
  const shared = options.sharedState ? new SharedState(options.sharedState.url, options.sharedState, ctx.log) : null;
  const backends = new Map<string, Authenticator>();
  const names = backendNames(options);
  try {
    for (const name of names) {
      try {
        backends.set(name, new SharedBackend(name, await createBackend(options, name, ctx), names.length > 1, ctx.stats ?? null));
      } catch (e) {
        throw new BackendStartError(name === backendType(name) ? (e as Error).message : `${name}: ${(e as Error).message}`, { cause: e, backend: name });
      }
    }
  } catch (e) {
    await Promise.allSettled([...backends.values()].map((b) => b.close()));
    await shared?.close();
    throw e;
  }

  // One key for the cache's digests and the penalty's password memory: a request then digests its
  // password once (Secret.keyedDigest), not once for each (issue 15).
  const passwordKey = HmacKey.random();
  const cache = options.cache
    ? new CredentialCache({
        hmacKey: passwordKey,
        ttlMs: options.cacheTtlSec * 1000,
        maxBytes: options.cacheSizeKiB * 1024,
        staleMs: options.cacheStaleOnOutageSec * 1000,
      })
    : null;
  // -c with --shared-state: Redis holds the fleet's successes; this host's cache is the fallback.
  const fleetCache =
    cache !== null && shared !== null && fleetKey !== null
      ? new FleetCache(
          shared,
          fleetKey,
          { ttlMs: options.cacheTtlSec * 1000, forgetLocal: (m) => cache.forgetIf(m), flushLocal: () => cache.flush() },
          ctx.log,
        )
      : null;
  const chains = new Map<string, Authenticator>();
  const chainOf = (names: readonly string[]): Authenticator => {
    const key = names.join(',');
    let a = chains.get(key);
    if (a === undefined) {
      const built =
        names.length === 1
          ? backends.get(names[0]!)!
          : new ChainAuthenticator(names.map((name) => ({ name, authenticator: backends.get(name)!, continueOn: continueOnFor(options, name) })));
      // A fleet entry names the backend that accepted; only a backend of this chain may vouch for it.
      const checkFor = (via: string): { readonly check: AccountCheck | null } | null =>
        names.includes(via) ? { check: backends.get(via)!.accountCheck ?? null } : null;
      a = cache ? new CacheAuthenticator(built, cache, ctx.log, key, fleetCache ? { cache: fleetCache, checkFor } : null) : built;
      chains.set(key, a);
    }
    return a;
  };

  const routed = new RoutingAuthenticator(
    options.routes.map((r) => ({ match: r, target: chainOf(r.chain), name: r.chain.join(',') })),
    chainOf(options.chain),
  );
  const pOptions = penaltyOptions(options);
  const fleet = shared !== null && fleetKey !== null ? new SharedPenaltyStore(shared, fleetKey, { ...pOptions, forgetAfterMs: FORGET_AFTER_MS }) : null;
  const penalty =
    options.failDelayMs === 0
      ? null
      : new PenaltyAuthenticator(routed, { ...pOptions, trusted: trustedList(options.trustedAddrs), trustedAddrs: options.trustedAddrs, fleet, passwordKey }, ctx.log);
  const defended = penalty ?? routed;
  // Outermost: a request the policy refuses costs no check and counts against nobody.
  const top = new RequestPolicyAuthenticator(defended, { realmConcat: options.realmConcat, allowedRealms: options.allowedRealms });
  // Serve with fleet state from the first request when Redis is there; without it, start anyway on local state.
  if (shared !== null) await shared.ready(Math.max(1000, shared.timeoutMs * 10));
  return new Composed(options, top, backends, cache, penalty, shared, fleetCache, fleetKey);
}
