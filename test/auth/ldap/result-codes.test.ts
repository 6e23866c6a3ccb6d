import { describe, expect, it } from 'vitest';
import { BusyError, InsufficientAccessError, InvalidDNSyntaxError, NoSuchObjectError, ResultCodeError, TimeLimitExceededError, UnavailableError, UnwillingToPerformError } from 'ldapts';
import { LdapServiceBindError, LdapTransportError } from '../../../src/auth/backends/ldap/errors.js';
import { RESULT_CODES, isServerDown, outcomeOfError, verdictOf } from '../../../src/auth/backends/ldap/result-codes.js';
import { toTransport } from '../../../src/auth/backends/ldap/connection.js';

// The one table of LDAP result codes (issue 11 item 3). Only "the server cannot serve now" may let
// a chain ask its next backend; the slapd-backed proof is test/cli/ldap-chain-refusals.test.ts.
describe('LDAP result code table', () => {
  it('only busy (51), unavailable (52) and timeLimitExceeded (3) are not refusals', () => {
    const notRefused = [...RESULT_CODES].filter(([, v]) => v.kind !== 'rejected').map(([c]) => c);
    expect(notRefused).toEqual([3, 51, 52]);
    for (const code of [0x7f, 99, 4096]) expect(verdictOf(code)).toMatchObject({ kind: 'rejected', code: 'not-authorized' });
  });

  it('51 and 52 mark the server down (retried elsewhere); nothing else does', () => {
    expect(isServerDown(new BusyError())).toBe(true);
    expect(isServerDown(new UnavailableError())).toBe(true);
    expect(toTransport(new BusyError())).toMatchObject({ code: 'SASLD_ERR_LDAP_TRANSPORT', reason: 'server-unavailable' });
    for (const e of [new TimeLimitExceededError(), new UnwillingToPerformError(), new NoSuchObjectError(), new (class extends ResultCodeError {
      constructor() {
        super(80, 'other');
      }
    })()]) {
      expect([e.code, isServerDown(e), toTransport(e)]).toEqual([e.code, false, null]);
    }
  });

  it('maps errors to outcomes in one place', () => {
    const o = (e: unknown) => outcomeOfError(e, 'user search', 'NO');
    expect(o(new NoSuchObjectError())).toEqual({ kind: 'rejected', code: 'invalid-input', reason: 'LDAP user search: noSuchObject (32)', compat: 'NO' });
    expect(o(new InvalidDNSyntaxError())).toMatchObject({ kind: 'rejected', code: 'invalid-input', reason: 'LDAP user search: invalidDNSyntax (34)' });
    expect(o(new InsufficientAccessError())).toMatchObject({ kind: 'rejected', code: 'not-authorized', reason: 'LDAP user search: insufficientAccess (50)' });
    expect(o(new UnwillingToPerformError())).toMatchObject({ kind: 'rejected', code: 'not-authorized' });
    expect(o(new TimeLimitExceededError())).toMatchObject({ kind: 'unavailable', code: 'backend-error' });
    expect(o(new LdapTransportError('timeout', 'slow'))).toMatchObject({ kind: 'unavailable', code: 'timeout' });
    expect(o(new LdapTransportError('connect-failed', 'refused'))).toMatchObject({ kind: 'unavailable', code: 'connect-failed' });
    expect(o(new LdapServiceBindError('cn=svc', new Error('Invalid credentials')))).toMatchObject({ kind: 'unavailable', code: 'config', reason: 'service bind as cn=svc refused: Invalid credentials' });
    // Failed before reaching the server: no sign the server is down, so a refusal.
    expect(o(new Error('Invalid escaped hex character'))).toMatchObject({ kind: 'rejected', code: 'invalid-input' });
  });
});
