import { type AuthRequest, type Authenticator, type Outcome, rejected, withLog } from './authenticator.js';
import { splitLogin } from './login-parts.js';
import type { Abortable } from './request-signal.js';

export interface RequestPolicyOptions {
  /** `-r`: the login becomes `login@realm` when the realm is not empty (Default in flags: off). */
  readonly realmConcat: boolean;
  /**
   * `--allow-realm`, lower case: the realms a request may carry and the domains its login may have.
   * Empty: every realm and domain passes, as in saslauthd.
   */
  readonly allowedRealms: readonly string[];
}

/**
 * The request policy, outermost in the composition (compose.ts): folds the realm into the login
 * (`-r`) and refuses a realm or login domain not in `--allow-realm`, before the brute-force defence,
 * the cache or any backend sees the request. A refusal is no password check: nothing is asked,
 * nothing is counted against the user.
 */
export class RequestPolicyAuthenticator implements Authenticator {
  readonly name: string;
  readonly #allowed: ReadonlySet<string>;

  constructor(
    private readonly inner: Authenticator,
    private readonly options: RequestPolicyOptions,
  ) {
    this.name = inner.name;
    this.#allowed = new Set(options.allowedRealms.map((r) => r.toLowerCase()));
  }

  loginFor(req: AuthRequest): string {
    return this.options.realmConcat && req.realm !== '' ? `${req.login}@${req.realm}` : req.login;
  }

  authenticate(req: AuthRequest, signal: Abortable): Promise<Outcome> {
    const login = this.loginFor(req);
    req.trace?.('request', `login '${req.login}', realm '${req.realm}', service '${req.service}': backends receive login '${login}' ${this.#howFolded(req)}`);
    const refusal = this.#refusal(req.realm, login);
    if (refusal !== null) {
      req.trace?.('request', `refused by --allow-realm: ${refusal}`);
      return Promise.resolve(withLog(rejected('not-authorized', refusal, 'NO authentication failed'), { policy: 'allow-realm' }));
    }
    return this.inner.authenticate(login === req.login ? req : { ...req, login }, signal);
  }

  /** For the trace: why the login the backends get is what it is (the #1 realm question). */
  #howFolded(req: AuthRequest): string {
    if (req.realm === '') return '(no realm sent)';
    if (this.options.realmConcat) return '(-r: realm appended as login@realm)';
    return '(realm not appended: -r is off)';
  }

  /**
   * Why `--allow-realm` refuses this realm and login, or null. Without the realm check shadow, pam,
   * getpwent and rimap drop the realm and `joe@anything.example` is local `joe`; without the domain
   * check `carl@example.org` with no realm reaches LDAP as `%d = example.org`. The domain is split
   * where LDAP splits it (the first `@`), and an allowed realm has no `@`, so a login with two `@`
   * (`a@b@example.com`, or `carl@example.org` after `-r` with a realm) never passes.
   */
  #refusal(realm: string, login: string): string | null {
    if (this.#allowed.size === 0) return null;
    if (realm !== '' && !this.#allowed.has(realm.toLowerCase())) return `realm ${realm} is not in --allow-realm`;
    const { domain } = splitLogin(login);
    if (domain !== null && !this.#allowed.has(domain.toLowerCase())) return `login domain ${domain} is not in --allow-realm`;
    return null;
  }

  describe(): string[] {
    const active = this.options.realmConcat || this.options.allowedRealms.length > 0;
    return [...this.inner.describe(), ...(active ? [describeRequestPolicy(this.options)] : [])];
  }

  async close(): Promise<void> {
    await this.inner.close();
  }
}

/** One line for `-v`/`--check`. */
export function describeRequestPolicy(o: RequestPolicyOptions): string {
  const concat = o.realmConcat ? 'login@realm (-r)' : 'login as sent (realm not folded in)';
  const allow = o.allowedRealms.length === 0 ? 'any realm or login domain' : `realm and login domain in ${o.allowedRealms.join(', ')} (or none)`;
  return `request policy: ${concat}; ${allow}`;
}
