import { createHash, timingSafeEqual } from 'node:crypto';
import type { Crypt } from '../../native/crypt.js';

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

/**
 * Does `password` match one stored userPassword value? `{CRYPT}`/`{UNIX}` go to crypt(3); digest
 * schemes are recomputed; no prefix (or an unknown one, as saslauthd does) is clear text.
 */
export async function matchesStored(password: Buffer, stored: Buffer, crypt: Crypt, signal?: AbortSignal): Promise<boolean> {
  const text = stored.toString('latin1');
  const m = /^\{([A-Za-z0-9._-]+)\}/.exec(text);
  if (m) {
    const scheme = m[1]!.toUpperCase();
    const rest = text.slice(m[0].length);
    if (scheme === 'CRYPT' || scheme === 'UNIX') return crypt.verify(password, rest, signal);
    const d = DIGESTS[scheme];
    if (d) {
      if (!B64.test(rest)) return false;
      const raw = Buffer.from(rest, 'base64');
      if (d.salted ? raw.length <= d.len : raw.length !== d.len) return false;
      const want = raw.subarray(0, d.len);
      const salt = raw.subarray(d.len);
      const got = createHash(d.alg).update(password).update(salt).digest();
      return timingSafeEqual(got, want);
    }
  }
  return constantTimeEqual(password, stored);
}

/** True when any value matches; every value is checked, so the time taken does not say which one did. */
export async function matchesAny(password: Buffer, values: readonly Buffer[], crypt: Crypt, signal?: AbortSignal): Promise<boolean> {
  let any = false;
  for (const v of values) if (await matchesStored(password, v, crypt, signal)) any = true;
  return any;
}
