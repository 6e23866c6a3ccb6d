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

/**
 * saslauthd copies fields into C strings, so a NUL silently truncates them ("pw\0junk" checks "pw").
 * We refuse NUL instead, and refuse bytes that are not UTF-8 so two byte strings never name one user.
 */
export function validateRequest(raw: RawRequest): Validation {
  if (raw.login.length === 0) return { ok: false, reason: 'empty-login', field: 'login' };
  if (raw.password.length === 0) return { ok: false, reason: 'empty-password', field: 'password' };
  const text: Array<[string, Buffer | null]> = [
    ['login', raw.login],
    ['service', raw.service],
    ['realm', raw.realm],
    ['client address', raw.clientAddr],
  ];
  if (raw.password.includes(0)) return { ok: false, reason: 'nul-byte', field: 'password' };
  const out: Record<string, string | null> = {};
  for (const [name, bytes] of text) {
    if (bytes === null) {
      out[name] = null;
      continue;
    }
    if (bytes.includes(0)) return { ok: false, reason: 'nul-byte', field: name };
    try {
      out[name] = utf8.decode(bytes);
    } catch {
      return { ok: false, reason: 'bad-utf8', field: name };
    }
  }
  return {
    ok: true,
    request: {
      login: out['login'] ?? '',
      password: raw.password,
      service: out['service'] ?? '',
      realm: out['realm'] ?? '',
      clientAddr: out['client address'] ?? null,
    },
  };
}
