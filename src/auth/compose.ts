import type { Logger } from 'pino';
import type { DaemonOptions } from '../cli/daemon-options.js';
import { mechOfLink } from './chain-spec.js';
import type { Crypt } from '../native/crypt.js';
import type { AuthRequest, Authenticator, Outcome } from './authenticator.js';
import { CacheAuthenticator, CredentialCache, describeCache } from './cache.js';
import { ChainAuthenticator, type ContinueOn, DEFAULT_CONTINUE_ON } from './chain.js';
import { PenaltyAuthenticator, trustedList } from './penalty.js';
import { RequestPolicyAuthenticator, describeRequestPolicy } from './request-policy.js';
import { createAuthenticator } from './registry.js';
import { RoutingAuthenticator, routeLabel } from './routing.js';

export interface ComposeContext {
  readonly crypt: Crypt;
  readonly log: Logger;
}

/** The daemon's authenticator: backends in chains, routes, cache and defence, built from the flags. */
export interface ComposedAuthenticator extends Authenticator {
  /** Empties the credential cache (SIGUSR1, reload); returns how many entries it held. 0 when -c is off. */
  flushCache(): number;
  /** The cache, or null when -c is off. */
  readonly cache: CredentialCache | null;
  /** `--user`: why some backend could not work without root (null: all can). */
  unprivilegedProblem(target: unknown): string | null;
  /** The login the backends receive (after `-r`): what the per-request log line names. */
  loginFor(req: AuthRequest): string;
}

const continueOnFor = (o: DaemonOptions, link: string): ReadonlySet<ContinueOn> =>
  new Set(o.chainContinueOn[link] ?? o.chainContinueOn['*'] ?? DEFAULT_CONTINUE_ON);

function describeChain(o: DaemonOptions, chain: readonly string[]): string {
  return chain
    .map((l, i) => (i === chain.length - 1 ? l : `${l} [next on: ${[...continueOnFor(o, l)].join(', ') || 'nothing'}]`))
    .join(' -> ');
}

/** Where each request goes, with cache and defence: for `-v` (nothing is built) and `--check`. */
export function describeComposition(o: DaemonOptions): string[] {
  const lines = [`chain (-a): ${describeChain(o, o.mechanisms)}`];
  if (o.realmConcat || o.allowedRealms.length > 0) lines.push(describeRequestPolicy(o));
  for (const r of o.routes) lines.push(`route ${routeLabel(r)}: ${describeChain(o, r.chain)}`);
  for (const [link, opts] of Object.entries(o.linkOptions)) {
    lines.push(`backend ${link}: ${Object.entries(opts).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  }
  lines.push(describeCache(o));
  if (o.failDelayMs === 0) {
    lines.push('fail delay: off');
  } else {
    const per = o.penaltyScope === 'both' ? 'user or client address' : o.penaltyScope === 'user' ? 'user' : 'client address';
    const pen = o.penaltyMaxMs > o.failDelayMs
      ? `doubles per consecutive failure of a ${per} up to ${o.penaltyMaxMs} ms; one check at a time per penalised key, at most ${o.penaltyMaxHeld} held, ${o.penaltyMaxTracked} remembered`
      : 'no penalty';
    lines.push(`fail delay: ${o.failDelayMs} ms (+0..25% jitter), ${pen}`);
    if (o.trustedAddrs.length > 0) lines.push(`trusted (no address counter): ${o.trustedAddrs.join(' ')}`);
  }
  return lines;
}

/** Every distinct link name, in the order first named (-a first, then routes). */
function linkNames(o: DaemonOptions): string[] {
  return [...new Set([...o.mechanisms, ...o.routes.flatMap((r) => r.chain)])];
}

class Composed implements ComposedAuthenticator {
  readonly mech: string;

  constructor(
    private readonly options: DaemonOptions,
    private readonly top: Authenticator,
    private readonly backends: ReadonlyMap<string, Authenticator>,
    readonly cache: CredentialCache | null,
  ) {
    this.mech = options.mechanisms.join(',');
  }

  authenticate(req: AuthRequest, signal: AbortSignal): Promise<Outcome> {
    return this.top.authenticate(req, signal);
  }

  loginFor(req: AuthRequest): string {
    return this.top.loginFor?.(req) ?? req.login;
  }

  flushCache(): number {
    return this.cache?.flush() ?? 0;
  }

  describe(): string[] {
    const lines = describeComposition(this.options);
    for (const [name, b] of this.backends) for (const l of b.describe()) lines.push(this.backends.size > 1 ? `[${name}] ${l}` : l);
    return lines;
  }

  /**
   * For `--user` (privilege drop): the first backend that could not work without root, or null.
   * A backend without the check is taken to need root.
   */
  unprivilegedProblem(target: unknown): string | null {
    for (const [name, b] of this.backends) {
      const check = (b as { unprivilegedProblem?: (t: unknown) => string | null }).unprivilegedProblem;
      const problem = check ? check.call(b, target) : `-a ${name} needs root to work, so --user cannot be used with it`;
      if (problem !== null) return this.backends.size > 1 && check ? `${name}: ${problem}` : problem;
    }
    return null;
  }

  async close(): Promise<void> {
    // Wrappers hold nothing; each backend is closed once even when several chains share it.
    this.cache?.flush();
    await Promise.all([...this.backends.values()].map((b) => b.close()));
  }
}

/** Builds every backend once, then chains, cache, routes, defence and request policy around them. */
export async function buildAuthenticator(options: DaemonOptions, ctx: ComposeContext): Promise<ComposedAuthenticator> {
  const backends = new Map<string, Authenticator>();
  try {
    for (const name of linkNames(options)) {
      const linkOptions = { ...options, ...options.linkOptions[name] } as DaemonOptions;
      try {
        backends.set(name, await createAuthenticator(mechOfLink(name), { options: linkOptions, crypt: ctx.crypt, log: ctx.log }));
      } catch (e) {
        throw new Error(name === mechOfLink(name) ? (e as Error).message : `${name}: ${(e as Error).message}`, { cause: e });
      }
    }
  } catch (e) {
    await Promise.allSettled([...backends.values()].map((b) => b.close()));
    throw e;
  }

  const cache = options.cache
    ? new CredentialCache({
        ttlMs: options.cacheTtlSec * 1000,
        maxBytes: options.cacheSizeKiB * 1024,
        staleMs: options.cacheStaleOnOutageSec * 1000,
      })
    : null;
  const chains = new Map<string, Authenticator>();
  const chainOf = (links: readonly string[]): Authenticator => {
    const key = links.join(',');
    let a = chains.get(key);
    if (a === undefined) {
      const built =
        links.length === 1
          ? backends.get(links[0]!)!
          : new ChainAuthenticator(links.map((name) => ({ name, authenticator: backends.get(name)!, continueOn: continueOnFor(options, name) })));
      a = cache ? new CacheAuthenticator(built, cache, ctx.log, key) : built;
      chains.set(key, a);
    }
    return a;
  };

  const fallback = chainOf(options.mechanisms);
  const routed =
    options.routes.length === 0
      ? fallback
      : new RoutingAuthenticator(options.routes.map((r) => ({ match: r, target: chainOf(r.chain), name: r.chain.join(',') })), fallback);
  const defended =
    options.failDelayMs === 0
      ? routed
      : new PenaltyAuthenticator(
          routed,
          {
            failDelayMs: options.failDelayMs,
            penaltyMaxMs: options.penaltyMaxMs,
            trusted: trustedList(options.trustedAddrs),
            scope: options.penaltyScope,
            maxHeld: options.penaltyMaxHeld,
            maxTracked: options.penaltyMaxTracked,
            // Answer before the request deadline turns the NO into a "timeout" in the log.
            maxTotalMs: Math.max(0, options.authTimeoutMs - Math.min(1000, options.authTimeoutMs / 10)),
          },
          ctx.log,
        );
  // Outermost: a request the policy refuses costs no check and counts against nobody.
  const top = new RequestPolicyAuthenticator(defended, { realmConcat: options.realmConcat, allowedRealms: options.allowedRealms });
  return new Composed(options, top, backends, cache);
}
