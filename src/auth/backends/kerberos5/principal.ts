/** saslauthd's buffer for the principal name (auth_krb5.c); a longer name is refused. */
const MAX_PRINCIPAL_BYTES = 2047;

export interface PrincipalRules {
  readonly convKrb4Instance: boolean;
  readonly serviceInstances: ReadonlyMap<string, string>;
}

export type PrincipalName = { readonly ok: true; readonly name: string } | { readonly ok: false; readonly reason: string };

/**
 * `login[/instance][@realm]` exactly as saslauthd's form_principal_name builds it: krb4-style
 * `user.inst` becomes `user/inst` when asked; a service with a forced instance gets it appended,
 * and a login naming another instance is refused (a user may not override the admin); the request
 * realm is appended when non-empty, even when `-r` already folded it into the login (then the name
 * has two realms and libkrb5 refuses it, as with saslauthd).
 */
export function formPrincipalName(login: string, service: string, realm: string, rules: PrincipalRules): PrincipalName {
  let user = login;
  if (rules.convKrb4Instance) user = user.replace('.', '/');
  let forced = rules.serviceInstances.get(service) ?? null;
  if (forced !== null) {
    const slash = user.indexOf('/');
    if (slash >= 0) {
      // saslauthd compares everything after the first '/', a realm included.
      if (user.slice(slash + 1) !== forced) return { ok: false, reason: `login names instance ${JSON.stringify(user.slice(slash + 1))} but service ${service} is bound to instance ${JSON.stringify(forced)}` };
      forced = null;
    }
  }
  const name = `${user}${forced !== null ? `/${forced}` : ''}${realm !== '' ? `@${realm}` : ''}`;
  if (Buffer.byteLength(name) > MAX_PRINCIPAL_BYTES) return { ok: false, reason: `principal name longer than ${MAX_PRINCIPAL_BYTES} bytes` };
  return { ok: true, name };
}
