import { createHash, timingSafeEqual } from 'node:crypto';
import type { Crypt } from '../../../native/crypt.js';
import type { Abortable } from '../../request-signal.js';

/** Digest schemes of RFC 2307 / OpenLDAP: `{SCHEME}base64(digest[+salt])`. */
const DIGESTS: Readonly<Record<string, { alg: string; len: number; salted: boolean }>> = {
  SHA: { alg: 'sha1', len: 20, salted: false },
  SSHA: { alg: 'sha1', len: 20, salted: true },
  MD5: { alg: 'md5', len: 16, salted: false },
  SMD5: { alg: 'md5', len: 16, salted: true },
  SHA256: { alg: 'sha256', len: 32, salted: false },
  SSHA256: { alg: 'sha256', len: 32, salted: true },
  SHA512: { alg: 'sha512', len: 64, salted: false },
  SSHA512: { alg: 'sha512', len: 64, salted: true },
};

/** Equal-length-independent constant-time comparison: both sides are hashed to 32 bytes first. */
export function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Clear-text markers (RFC 2307 usage, Dovecot's `{PLAIN}`); any case. */
const CLEARTEXT = new Set(['CLEARTEXT', 'PLAIN']);

/**
 * Schemes we know of but cannot check (slapd modules, SASL pass-through): their name may be logged.
 * Any other `{…}` prefix is logged without its text, since a clear-text password stored without a
 * marker could itself start with braces.
 */
const NAMED_UNSUPPORTED = /^(?:PBKDF2[-_A-Z0-9]*|ARGON2[A-Z0-9]*|SASL|K5KEY|KERBEROS|LANMAN|NS-MTA-MD5|MD4|SHA384|SSHA384|BCRYPT|CLEAR|TOTP[-_A-Z0-9]*)$/;

/** What one stored value says about a password. */
export type StoredCheck = { readonly kind: 'match' } | { readonly kind: 'mismatch' } | { readonly kind: 'unsupported'; readonly scheme: string };

const MATCH: StoredCheck = { kind: 'match' };
const MISMATCH: StoredCheck = { kind: 'mismatch' };

/**
 * Checks `password` against one stored userPassword value. `{CRYPT}`/`{UNIX}` go to crypt(3); digest
 * schemes are recomputed; a value with no `{…}` prefix, or `{CLEARTEXT}`/`{PLAIN}`, is clear text.
 * Any other prefix is a scheme we cannot verify: never compared as clear text (saslauthd does, so the
 * stored `{SASL}user@REALM` or hash string typed as the password would pass).
 */
export async function checkStored(password: Buffer, stored: Buffer, crypt: Crypt, signal?: Abortable): Promise<StoredCheck> {
  const text = stored.toString('latin1');
  const m = /^\{([^{}]*)\}/.exec(text);
  if (!m) return constantTimeEqual(password, stored) ? MATCH : MISMATCH;
  const scheme = m[1]!.toUpperCase();
  const rest = stored.subarray(m[0].length);
  if (CLEARTEXT.has(scheme)) return constantTimeEqual(password, rest) ? MATCH : MISMATCH;
  if (scheme === 'CRYPT' || scheme === 'UNIX') return (await crypt.verify(password, rest.toString('latin1'), signal)) ? MATCH : MISMATCH;
  const d = DIGESTS[scheme];
  if (d) {
    const b64 = rest.toString('latin1');
    if (!B64.test(b64)) return MISMATCH;
    const raw = Buffer.from(b64, 'base64');
    if (d.salted ? raw.length <= d.len : raw.length !== d.len) return MISMATCH;
    const want = raw.subarray(0, d.len);
    const salt = raw.subarray(d.len);
    const got = createHash(d.alg).update(password).update(salt).digest();
    return timingSafeEqual(got, want) ? MATCH : MISMATCH;
  }
  return { kind: 'unsupported', scheme: NAMED_UNSUPPORTED.test(scheme) ? `{${scheme}}` : 'an unrecognised {…} prefix' };
}

/** Does `password` match one stored value (an unsupported scheme never matches)? */
export async function matchesStored(password: Buffer, stored: Buffer, crypt: Crypt, signal?: Abortable): Promise<boolean> {
  return (await checkStored(password, stored, crypt, signal)).kind === 'match';
}

/**
 * Checks every value (so the time taken does not say which one matched); `unsupported` lists the
 * schemes of values that could not be checked, for the log.
 */
export async function matchesAny(
  password: Buffer,
  values: readonly Buffer[],
  crypt: Crypt,
  signal?: Abortable,
): Promise<{ readonly match: boolean; readonly unsupported: readonly string[] }> {
  let match = false;
  const unsupported: string[] = [];
  for (const v of values) {
    const r = await checkStored(password, v, crypt, signal);
    if (r.kind === 'match') match = true;
    else if (r.kind === 'unsupported' && !unsupported.includes(r.scheme)) unsupported.push(r.scheme);
  }
  return { match, unsupported };
}
