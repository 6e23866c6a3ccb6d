import { type AuthRequest, type Authenticator, type Outcome, unavailable } from './authenticator.js';
import { InvariantError, UnreachableError } from '../errors.js';
import type { Abortable } from './request-signal.js';

/**
 * When a backend in a chain hands the request to the next one (Dovecot's result_failure / result_internalfail):
 * `unknown` — the backend does not know the user; `unavailable` — it could not decide;
 * `rejected` — any rejection, including a wrong password.
 */
export type ContinueOn = 'unknown' | 'unavailable' | 'rejected';

export const CONTINUE_ON: readonly ContinueOn[] = ['unknown', 'unavailable', 'rejected'];

/** What a backend in a chain does when no `--chain-continue-on` says otherwise. */
export const DEFAULT_CONTINUE_ON: readonly ContinueOn[] = ['unknown', 'unavailable'];

/** One backend in a chain. */
export interface ChainMember {
  /** As written in `-a`/`--route`: `ldap`, `shadow:alt`. */
  readonly name: string;
  readonly authenticator: Authenticator;
  /** Outcomes after which the next backend is asked (ignored on the last one). */
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
      throw new UnreachableError(`unhandled outcome ${String(never)}`);
    }
  }
}

/**
 * `-a ldap,shadow`: asks each backend in order. A success ends the chain; a rejection ends it unless the
 * backend continues on it; "unknown user" and "unavailable" go on by default. When a backend was unavailable
 * and a later one does not know the user, the answer is "unavailable", not "unknown user": the first
 * backend might have known them (Dovecot answers internal failure here too).
 */
export class ChainAuthenticator implements Authenticator {
  readonly name: string;

  constructor(readonly members: readonly ChainMember[]) {
    if (members.length === 0) throw new InvariantError('a chain needs at least one backend');
    this.name = members.map((m) => m.name).join(',');
  }

  async authenticate(req: AuthRequest, signal: Abortable): Promise<Outcome> {
    const notes: string[] = [];
    let down: Outcome | null = null;
    let last: Outcome | null = null;
    let via = '';
    for (const [i, member] of this.members.entries()) {
      if (i > 0 && signal.aborted) {
        // The rest of the chain was not asked, so what it would say is unknown: no verdict. A NO
        // here would count a failure against the user and drop their cache entries.
        return { ...unavailable('timeout', `request ended before ${member.name} was asked (${notes.join('; ')})`, 'NO internal mechanism failure'), log: { via, ...last?.log } };
      }
      const o = await member.authenticator.authenticate(req, signal);
      last = o;
      via = member.name;
      // Which backend accepted is known only here: the cache re-checks that backend's account on a hit.
      if (o.kind === 'ok') {
        const check = member.authenticator.accountCheck;
        return { ...o, log: { via, ...o.log }, ...(check ? { recheck: check } : {}) };
      }
      notes.push(`${member.name}: ${o.reason}`);
      if (o.kind === 'unavailable') down ??= o;
      const more = i < this.members.length - 1;
      if (!continues(o, member.continueOn)) {
        if (more) req.trace?.('chain', `${member.name} ${verdictWord(o)}: the chain stops here (next on: ${[...member.continueOn].join(', ') || 'nothing'})`);
        break;
      }
      if (more) req.trace?.('chain', `${member.name} ${verdictWord(o)}: asking the next backend`);
    }
    if (last === null) throw new InvariantError('chain ran no backend');
    const reason = notes.join('; ');
    if (last.kind === 'rejected' && last.code === 'unknown-user' && down !== null && down.kind === 'unavailable') {
      return { ...down, reason, log: { via, ...down.log } };
    }
    return last.kind === 'ok' ? last : { ...last, reason, log: { via, ...last.log } };
  }

  /** The chain in one line, then what each backend says of itself (their first lines, their names, are in it). */
  describe(): string[] {
    return [describeChain(this.members.map((m) => [m.name, m.continueOn])), ...this.members.flatMap((l) => l.authenticator.describe().slice(1))];
  }

  async close(): Promise<void> {
    await Promise.all(this.members.map((m) => m.authenticator.close()));
  }
}

/** `rejected (unknown-user)` or `unavailable`, for the trace. */
const verdictWord = (o: Outcome): string => (o.kind === 'rejected' ? `rejected (${o.code})` : o.kind);

/** `ldap [next on: unknown, unavailable] -> shadow`: for `-v` (nothing built) and describe(). */
export function describeChain(members: readonly (readonly [string, ReadonlySet<ContinueOn>])[]): string {
  return members.map(([name, on], i) => (i === members.length - 1 ? name : `${name} [next on: ${[...on].join(', ') || 'nothing'}]`)).join(' -> ');
}
