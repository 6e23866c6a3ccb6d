import type { RawRequest } from './request-decoder.js';

/** A request whose text fields are valid UTF-8 without NUL; the password stays bytes. */
export interface Request {
  readonly login: string;
  readonly password: Buffer;
  readonly service: string;
  readonly realm: string;
  readonly clientAddr: string | null;
}

export type InvalidReason = 'empty-login' | 'empty-password' | 'nul-byte' | 'bad-utf8';

export type Validation =
  | { readonly ok: true; readonly request: Request }
  | { readonly ok: false; readonly reason: InvalidReason; readonly field: string };

// ignoreBOM keeps a leading U+FEFF: stripping it would make "\uFEFFroot" name root.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Why a text field is refused; objects, so that no field's text can be mistaken for one. */
interface Refused {
  readonly reason: 'nul-byte' | 'bad-utf8';
}
const NUL_BYTE: Refused = { reason: 'nul-byte' };
const BAD_UTF8: Refused = { reason: 'bad-utf8' };

/** The field as text, or why it is refused: ASCII, the usual case, without the decoder (issue 15). */
function textOf(bytes: Buffer): string | Refused {
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0) return NUL_BYTE;
    if (b > 0x7f) ascii = false;
  }
  if (ascii) return bytes.toString('latin1');
  try {
    return utf8.decode(bytes);
  } catch {
    return BAD_UTF8;
  }
}

/**
 * saslauthd copies fields into C strings, so a NUL silently truncates them ("pw\0junk" checks "pw").
 * We refuse NUL instead, and refuse bytes that are not UTF-8 so two byte strings never name one user.
 */
export function validateRequest(raw: RawRequest): Validation {
  if (raw.login.length === 0) return { ok: false, reason: 'empty-login', field: 'login' };
  if (raw.password.length === 0) return { ok: false, reason: 'empty-password', field: 'password' };
  if (raw.password.includes(0)) return { ok: false, reason: 'nul-byte', field: 'password' };
  const login = textOf(raw.login);
  if (typeof login !== 'string') return { ok: false, reason: login.reason, field: 'login' };
  const service = textOf(raw.service);
  if (typeof service !== 'string') return { ok: false, reason: service.reason, field: 'service' };
  const realm = textOf(raw.realm);
  if (typeof realm !== 'string') return { ok: false, reason: realm.reason, field: 'realm' };
  const clientAddr = raw.clientAddr === null ? null : textOf(raw.clientAddr);
  if (clientAddr !== null && typeof clientAddr !== 'string') return { ok: false, reason: clientAddr.reason, field: 'client address' };
  return { ok: true, request: { login, password: raw.password, service, realm, clientAddr } };
}
