// The LDAP errors live with all the others (src/errors.ts), so they carry a stable SASLD_ERR_* code.
export { LdapServiceBindError, LdapTransportError, type LdapTransportReason } from '../../../errors.js';
