import { type AuthRequest, type Authenticator, type Outcome, withLog } from './authenticator.js';
import type { Abortable } from './request-signal.js';

/** Which requests a route takes: by SASL service name or by realm (both compared case-insensitively). */
export interface RouteMatch {
  readonly on: 'service' | 'realm';
  readonly value: string;
}

export interface Route {
  readonly match: RouteMatch;
  readonly target: Authenticator;
  /** The chain as named on the command line (`shadow:b`), for logs (Default: target.name). */
  readonly name?: string;
}

export const routeLabel = (m: RouteMatch): string => `${m.on}:${m.value}`;

/**
 * `--route smtp=ldap`, `--route realm:example.org=rimap`: the first route that matches decides which
 * chain answers; requests no route takes go to `-a`.
 */
export class RoutingAuthenticator implements Authenticator {
  readonly name: string;
  readonly #routes: readonly { on: 'service' | 'realm'; value: string; label: string; name: string; target: Authenticator }[];

  constructor(
    routes: readonly Route[],
    private readonly fallback: Authenticator,
  ) {
    this.name = fallback.name;
    this.#routes = routes.map((r) => ({ on: r.match.on, value: r.match.value.toLowerCase(), label: routeLabel(r.match), name: r.name ?? r.target.name, target: r.target }));
  }

  authenticate(req: AuthRequest, signal: Abortable): Promise<Outcome> {
    const service = req.service.toLowerCase();
    const realm = req.realm.toLowerCase();
    for (const r of this.#routes) {
      if ((r.on === 'service' ? service : realm) === r.value) {
        req.trace?.('route', `--route ${r.label} matched: chain ${r.name}`);
        return r.target.authenticate(req, signal).then((o) => withLog(o, { route: r.label, via: r.name }));
      }
    }
    req.trace?.('route', this.#routes.length === 0 ? `chain (-a) ${this.fallback.name}` : `no --route matched service '${req.service}' or realm '${req.realm}': chain (-a) ${this.fallback.name}`);
    return this.fallback.authenticate(req, signal);
  }

  describe(): string[] {
    // The first line of a chain (or a lone backend) is its name: the route's line says it.
    const [first = this.fallback.name, ...rest] = this.fallback.describe();
    const routes = this.#routes.map((r) => {
      const [head = r.name, ...more] = r.target.describe();
      return { line: `route ${r.label}: ${head}`, more };
    });
    return [`chain (-a): ${first}`, ...routes.map((r) => r.line), ...rest, ...routes.flatMap((r) => r.more)];
  }

  async close(): Promise<void> {
    await Promise.all([...this.#routes.map((r) => r.target.close()), this.fallback.close()]);
  }
}
