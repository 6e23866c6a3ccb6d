/**
 * A login's local part and domain, split at the first `@`: `a@b@example.org` is local `a`, domain
 * `b@example.org`. LDAP's `%U`/`%d`/`%1`… (ldap/tokens.ts) and `--allow-realm` (request-policy.ts)
 * both use this one split, so the domain a check approves is the domain a backend is given.
 */
export function splitLogin(login: string): { readonly local: string; readonly domain: string | null } {
  const at = login.indexOf('@');
  return at < 0 ? { local: login, domain: null } : { local: login.slice(0, at), domain: login.slice(at + 1) };
}
