/** Why a call to a server did not produce an LDAP answer; the request may be retried elsewhere. */
export class LdapTransportError extends Error {
  readonly code: 'timeout' | 'connect-failed' | 'aborted' | 'server-unavailable';
  constructor(code: LdapTransportError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

/** The service bind (ldap_bind_dn) was refused: a configuration problem, the same for every request. */
export class LdapServiceBindError extends Error {
  constructor(
    readonly dn: string,
    cause: Error,
  ) {
    super(`service bind as ${dn === '' ? '(anonymous)' : dn} refused: ${cause.message}`);
  }
}
