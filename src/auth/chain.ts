import { type AuthRequest, type Authenticator, type Outcome } from './authenticator.js';

/**
 * When a link hands the request to the next one (Dovecot's result_failure / result_internalfail):
 * `unknown` — the backend does not know the user; `unavailable` — it could not decide;
 * `rejected` — any rejection, including a wrong password.
 */
export type ContinueOn = 'unknown' | 'unavailable' | 'rejected';

export const CONTINUE_ON: readonly ContinueOn[] = ['unknown', 'unavailable', 'rejected'];

/** What a link does when no `--chain-continue-on` says otherwise. */
export const DEFAULT_CONTINUE_ON: readonly ContinueOn[] = ['unknown', 'unavailable'];

export interface ChainLink {
  /** As written in `-a`/`--route`: `ldap`, `shadow:alt`. */
  readonly name: string;
  readonly authenticator: Authenticator;
  /** Outcomes after which the next link is asked (ignored on the last link). */
  readonly continueOn: ReadonlySet<ContinueOn>;
}

function continues(o: Outcome, on: ReadonlySet<ContinueOn>): boolean {
  switch (o.kind) {
    case 'ok':
      return false;
    case 'unavailable':
      return on.has('unavailable');
    case 'rejected':
      return on.has('rejected') || (o.code === 'unknown-user' && on.has('unknown'));
    default: {
      const never: never = o;
      throw new Error(`unhandled outcome ${String(never)}`);
    }
  }
}

/**
 * `-a ldap,shadow`: asks each link in order. A success ends the chain; a rejection ends it unless the
 * link continues on it; "unknown user" and "unavailable" go on by default. When a link was unavailable
 * and a later one does not know the user, the answer is "unavailable", not "unknown user": the first
 * backend might have known them (Dovecot answers internal failure here too).
 */
export class ChainAuthenticator implements Authenticator {
  readonly name: string;

  constructor(readonly links: readonly ChainLink[]) {
    if (links.length === 0) throw new Error('a chain needs at least one backend');
    this.name = links.map((l) => l.name).join(',');
  }

  async authenticate(req: AuthRequest, signal: AbortSignal): Promise<Outcome> {
    const notes: string[] = [];
    let down: Outcome | null = null;
    let last: Outcome | null = null;
    let via = '';
    for (const [i, link] of this.links.entries()) {
      if (i > 0 && signal.aborted) break;
      const o = await link.authenticator.authenticate(req, signal);
      last = o;
      via = link.name;
      // Which link accepted is known only here: the cache re-checks that backend's account on a hit.
      if (o.kind === 'ok') {
        const check = link.authenticator.accountCheck;
        return { ...o, log: { via, ...o.log }, ...(check ? { recheck: check } : {}) };
      }
      notes.push(`${link.name}: ${o.reason}`);
      if (o.kind === 'unavailable') down ??= o;
      if (!continues(o, link.continueOn)) break;
    }
    if (last === null) throw new Error('chain ran no link');
    const reason = notes.join('; ');
    if (last.kind === 'rejected' && last.code === 'unknown-user' && down !== null && down.kind === 'unavailable') {
      return { ...down, reason, log: { via, ...down.log } };
    }
    return last.kind === 'ok' ? last : { ...last, reason, log: { via, ...last.log } };
  }

  /** The chain in one line, then what each backend says of itself (their first lines, their names, are in it). */
  describe(): string[] {
    return [describeChain(this.links.map((l) => [l.name, l.continueOn])), ...this.links.flatMap((l) => l.authenticator.describe().slice(1))];
  }

  async close(): Promise<void> {
    await Promise.all(this.links.map((l) => l.authenticator.close()));
  }
}

/** `ldap [next on: unknown, unavailable] -> shadow`: for `-v` (nothing built) and describe(). */
export function describeChain(links: readonly (readonly [string, ReadonlySet<ContinueOn>])[]): string {
  return links.map(([name, on], i) => (i === links.length - 1 ? name : `${name} [next on: ${[...on].join(', ') || 'nothing'}]`)).join(' -> ');
}
