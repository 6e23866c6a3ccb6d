import { KRB5_ERR, type Krb5Result, principalLabel } from '../../../native/krb5.js';
import { type Outcome, ok, rejected, unavailable } from '../../authenticator.js';

/** saslauthd's kerberos5 reply texts (auth_krb5.c, 2.1.28), sent with --compat-replies. */
export const KRB5_COMPAT = {
  initCreds: 'NO krb5_get_init_creds_password failed',
  verify: 'NO krb5_verify_init_creds failed',
  internal: 'NO saslauthd internal error',
  principal: 'NO saslauthd principal name error',
} as const;

const E = KRB5_ERR;

/** libkrb5's text, made safe for one log line (it may quote the attacker-written principal). */
export function krb5Text(r: Pick<Krb5Result, 'code' | 'message'>): string {
  // eslint-disable-next-line no-control-regex
  const text = r.message.replace(/[\u0000-\u001f\u007f]/g, '?').slice(0, 300);
  return `${text} (${r.code})`;
}

/** What getting the TGT with the password said: the user's fault, or no decision. */
function initCredsOutcome(r: Krb5Result): Outcome {
  const c = r.code;
  const msg = krb5Text(r);
  const no = (code: Parameters<typeof rejected>[0], reason: string): Outcome => rejected(code, `${reason}: ${msg}`, KRB5_COMPAT.initCreds);
  const down = (code: Parameters<typeof unavailable>[0], reason: string): Outcome => unavailable(code, `${reason}: ${msg}`, KRB5_COMPAT.initCreds);
  switch (c) {
    case E['KRB5KDC_ERR_PREAUTH_FAILED']:
    case E['KRB5KRB_AP_ERR_BAD_INTEGRITY']:
      return no('bad-password', 'wrong password');
    case E['KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN']:
      return no('unknown-user', 'principal unknown to the KDC');
    case E['KRB5KDC_ERR_NAME_EXP']:
      return no('account-expired', 'principal expired');
    case E['KRB5KDC_ERR_KEY_EXP']:
      return no('password-expired', 'password expired');
    case E['KRB5KDC_ERR_CLIENT_REVOKED']:
      return no('locked', 'principal locked or disabled');
    case E['KRB5KDC_ERR_POLICY']:
      return no('not-authorized', 'KDC policy refuses the principal');
    case E['KRB5KDC_ERR_CLIENT_NOTYET']:
      return no('account-inactive', 'principal not yet valid');
    case E['KRB5_LIBOS_CANTREADPWD']:
      return no('no-password', 'empty password');
    case E['KRB5_KDC_UNREACH']:
      return down('connect-failed', 'KDC unreachable');
    case E['KRB5_REALM_CANT_RESOLVE']:
    case E['KRB5_REALM_UNKNOWN']:
      return down('connect-failed', 'no KDC found for the realm');
    // The KDC's complaint (preauth timestamp) or ours (its reply's times); only seen with kdc_timesync off.
    case E['KRB5KRB_AP_ERR_SKEW']:
    case E['KRB5_KDCREP_SKEW']:
      return down('backend-error', 'clock skew between this host and the KDC too great');
    case E['KRB5_CONFIG_NODEFREALM']:
      return down('config', 'no default realm in krb5.conf and none in the request');
    default:
      return down('backend-error', 'krb5_get_init_creds_password failed');
  }
}

/**
 * What verifying the TGT against the keytab said. The password worked at *a* KDC; unless that
 * KDC also knows our key, it may be an impostor, so anything but a plain outage is a NO.
 */
function verifyOutcome(r: Krb5Result): Outcome {
  const c = r.code;
  const msg = krb5Text(r);
  switch (c) {
    case E['KRB5_KDC_UNREACH']:
    case E['KRB5_REALM_CANT_RESOLVE']:
      return unavailable('connect-failed', `KDC unreachable while verifying the TGT: ${msg}`, KRB5_COMPAT.verify);
    case E['KRB5KRB_AP_ERR_SKEW']:
    case E['KRB5_KDCREP_SKEW']:
      return unavailable('backend-error', `clock skew between this host and the KDC too great (verifying the TGT): ${msg}`, KRB5_COMPAT.verify);
    case E['KRB5_KT_NOTFOUND']:
      return unavailable('config', `the keytab holds no key for ${principalLabel(r.serverPrincipal)}: ${msg}`, KRB5_COMPAT.verify);
    default:
      return rejected(
        'not-authorized',
        `TGT failed verification against the keytab (${principalLabel(r.serverPrincipal)}): the KDC that answered does not hold our key (spoofed KDC, or a stale keytab): ${msg}`,
        KRB5_COMPAT.verify,
      );
  }
}

/** The one place a libkrb5 result becomes an outcome. */
export function outcomeOf(r: Krb5Result): Outcome {
  switch (r.stage) {
    case 'ok':
      return ok();
    case 'init-creds':
      return initCredsOutcome(r);
    case 'verify':
      return verifyOutcome(r);
    case 'parse':
      return rejected('invalid-input', `not a valid principal name: ${krb5Text(r)}`, KRB5_COMPAT.internal);
    case 'context':
    case 'internal':
      return unavailable('backend-error', `libkrb5 failed: ${krb5Text(r)}`, KRB5_COMPAT.internal);
    case 'keytab':
    case 'keytab-entry':
    case 'server-name':
    case 'kdc':
      return unavailable('config', `keytab ${r.keytabName || '(default)'} / verify principal ${principalLabel(r.serverPrincipal) || '?'}: ${krb5Text(r)}`, KRB5_COMPAT.internal);
    default: {
      const never: never = r.stage;
      return unavailable('backend-error', `unexpected libkrb5 stage ${String(never)}`, KRB5_COMPAT.internal);
    }
  }
}
