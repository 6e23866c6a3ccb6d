import { ResultCodeError } from 'ldapts';
import { type Outcome, type RejectCode, rejected, unavailable } from '../../authenticator.js';
import { LdapServiceBindError, LdapTransportError } from './errors.js';
import { UnreachableError } from '../../../errors.js';

/**
 * What an LDAP result code (RFC 4511 4.1.9) received while deciding a request means.
 *
 * `down` and `unavailable` are the only answers that let a chain (`-a ldap,shadow`) ask its next
 * backend, so they are kept to the server saying it cannot serve anyone right now. Every other code
 * is a refusal: it was caused by something this request put into a DN, a base or a filter (its login,
 * realm or service), or by the directory's own rules about this account, and an attacker must not be
 * able to turn it into a second chance with a weaker backend. A code missing here is a refusal too.
 */
export type ResultVerdict =
  /** The server cannot serve now: mark it down and retry once elsewhere, then unavailable. */
  | { readonly name: string; readonly kind: 'down' }
  /** The server could not decide in time (its own time limit, like our ldap_timeout): unavailable. */
  | { readonly name: string; readonly kind: 'unavailable' }
  | { readonly name: string; readonly kind: 'rejected'; readonly code: RejectCode };

const down = (name: string): ResultVerdict => ({ name, kind: 'down' });
const refused = (name: string, code: RejectCode): ResultVerdict => ({ name, kind: 'rejected', code });

export const RESULT_CODES: ReadonlyMap<number, ResultVerdict> = new Map<number, ResultVerdict>([
  [1, refused('operationsError', 'not-authorized')],
  [2, refused('protocolError', 'invalid-input')],
  [3, { name: 'timeLimitExceeded', kind: 'unavailable' }],
  // More entries match than the user search asked for: the login does not name one user.
  [4, refused('sizeLimitExceeded', 'not-authorized')],
  [7, refused('authMethodNotSupported', 'not-authorized')],
  [8, refused('strongerAuthRequired', 'not-authorized')],
  // The base built from the request lies outside this server; referrals are never followed.
  [10, refused('referral', 'invalid-input')],
  [11, refused('adminLimitExceeded', 'not-authorized')],
  [12, refused('unavailableCriticalExtension', 'not-authorized')],
  [13, refused('confidentialityRequired', 'not-authorized')],
  [16, refused('noSuchAttribute', 'invalid-input')],
  [17, refused('undefinedAttributeType', 'invalid-input')],
  [18, refused('inappropriateMatching', 'invalid-input')],
  [21, refused('invalidAttributeSyntax', 'invalid-input')],
  // A base or DN built from the realm or login does not exist. That proves nothing about the user
  // (who may live under the right base), so it is not "unknown user" and the chain stops.
  [32, refused('noSuchObject', 'invalid-input')],
  [33, refused('aliasProblem', 'invalid-input')],
  [34, refused('invalidDNSyntax', 'invalid-input')],
  [36, refused('aliasDereferencingProblem', 'invalid-input')],
  [48, refused('inappropriateAuthentication', 'not-authorized')],
  [49, refused('invalidCredentials', 'bad-password')],
  [50, refused('insufficientAccess', 'not-authorized')],
  [51, down('busy')],
  [52, down('unavailable')],
  // Servers answer 53 about this request or this account, not about themselves: slapd refuses an
  // unauthenticated bind with it, 389-DS a deactivated account (nsAccountLock). A server that cannot
  // serve at all says 51/52 or drops the connection. As "unavailable" it would let an account that
  // LDAP disabled log in with its local password.
  [53, refused('unwillingToPerform', 'not-authorized')],
  [54, refused('loopDetect', 'invalid-input')],
  // "other" is whatever the server could not name; it may well come from this request: fail closed.
  [80, refused('other', 'not-authorized')],
]);

/** The table's entry for a result code; unknown codes are refusals. */
export function verdictOf(resultCode: number): ResultVerdict {
  return RESULT_CODES.get(resultCode) ?? refused(`result code ${resultCode}`, 'not-authorized');
}

/** A result code that means the server cannot serve now (mark down, retry elsewhere). */
export function isServerDown(e: unknown): e is ResultCodeError {
  return e instanceof ResultCodeError && verdictOf(e.code).kind === 'down';
}

/**
 * The one place where an error thrown while deciding a request becomes an outcome. `op` names the
 * step for the log (`user search`, `user bind`, `group check`).
 */
export function outcomeOfError(err: unknown, op: string, compat: string): Outcome {
  if (err instanceof LdapTransportError) {
    const code = err.reason === 'timeout' ? 'timeout' : 'connect-failed';
    return unavailable(code, `LDAP server unavailable: ${err.message}`, compat);
  }
  // The service bind uses no request data; when it fails every request fails alike.
  if (err instanceof LdapServiceBindError) return unavailable('config', err.message, compat);
  if (err instanceof ResultCodeError) {
    const v = verdictOf(err.code);
    const what = `LDAP ${op}: ${v.name} (${err.code})`;
    switch (v.kind) {
      case 'down':
      case 'unavailable':
        return unavailable('backend-error', what, compat);
      case 'rejected':
        return rejected(v.code, what, compat);
      default: {
        const never: never = v;
        throw new UnreachableError(`unhandled verdict ${String(never)}`);
      }
    }
  }
  // Anything else failed before a request reached the server (e.g. a value ldapts would not encode):
  // nothing says the server is down, so it is a refusal.
  return rejected('invalid-input', `LDAP ${op}: not sent: ${(err as Error)?.message ?? String(err)}`, compat);
}
