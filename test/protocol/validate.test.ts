import { describe, expect, it } from 'vitest';
import { type RawRequest, validateRequest } from '../../src/protocol/index.js';

const raw = (login: string | Buffer, password: string | Buffer, service = 'imap', realm = '', addr: Buffer | null = null): RawRequest => ({
  login: Buffer.from(login),
  password: Buffer.from(password),
  service: Buffer.from(service),
  realm: Buffer.from(realm),
  clientAddr: addr,
});

describe('validateRequest', () => {
  it('accepts a normal request and keeps the password as bytes', () => {
    const v = validateRequest(raw('jörg', 'pässword', 'smtp', 'example.org', Buffer.from('192.0.2.1;25')));
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(v.request.login).toBe('jörg');
    expect(v.request.password.equals(Buffer.from('pässword'))).toBe(true);
    expect(v.request.clientAddr).toBe('192.0.2.1;25');
  });

  it('keeps a leading byte order mark, so EF BB BF + "root" never names root', () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    for (const field of ['login', 'service', 'realm'] as const) {
      const parts = { login: Buffer.from('root'), service: Buffer.from('smtp'), realm: Buffer.from('example.org') };
      parts[field] = Buffer.concat([bom, parts[field]]);
      const v = validateRequest({ ...parts, password: Buffer.from('pw'), clientAddr: Buffer.concat([bom, Buffer.from('192.0.2.1;25')]) });
      expect(v.ok).toBe(true);
      if (!v.ok) return;
      expect(v.request[field]).toBe(`\ufeff${parts[field].subarray(3).toString()}`);
      expect(v.request.clientAddr).toBe('\ufeff192.0.2.1;25');
    }
  });

  it('rejects empty login before empty password, as saslauthd checks them', () => {
    expect(validateRequest(raw('', ''))).toEqual({ ok: false, reason: 'empty-login', field: 'login' });
    expect(validateRequest(raw('joe', ''))).toEqual({ ok: false, reason: 'empty-password', field: 'password' });
  });

  it('rejects a NUL anywhere instead of truncating at it (saslauthd would check "Secr3t!")', () => {
    expect(validateRequest(raw('joe', Buffer.from('Secr3t!\0garbage')))).toEqual({ ok: false, reason: 'nul-byte', field: 'password' });
    expect(validateRequest(raw(Buffer.from('saslt\0junk'), 'pw'))).toEqual({ ok: false, reason: 'nul-byte', field: 'login' });
    expect(validateRequest(raw('joe', 'pw', 'im\0ap'))).toEqual({ ok: false, reason: 'nul-byte', field: 'service' });
    expect(validateRequest(raw('joe', 'pw', 'imap', 'r\0'))).toEqual({ ok: false, reason: 'nul-byte', field: 'realm' });
    expect(validateRequest(raw('joe', 'pw', 'imap', '', Buffer.from('1\0')))).toEqual({ ok: false, reason: 'nul-byte', field: 'client address' });
  });

  it('rejects logins that are not UTF-8, so two byte strings never name one user', () => {
    expect(validateRequest(raw(Buffer.from([0x6a, 0xff]), 'pw'))).toEqual({ ok: false, reason: 'bad-utf8', field: 'login' });
    // Passwords are bytes: any non-NUL byte is fine.
    expect(validateRequest(raw('joe', Buffer.from([0xff, 0xfe]))).ok).toBe(true);
  });

  it('checks NUL before UTF-8 in each field, and fields in order, on the ASCII path and the decoder path alike', () => {
    // A NUL after a byte that is not UTF-8: the NUL is what is reported, as before the ASCII path.
    expect(validateRequest(raw(Buffer.from([0xff, 0x00]), 'pw'))).toEqual({ ok: false, reason: 'nul-byte', field: 'login' });
    expect(validateRequest({ ...raw('joe', 'pw', 'imap', 'r\0'), service: Buffer.from([0xc3]) })).toEqual({ ok: false, reason: 'bad-utf8', field: 'service' });
    expect(validateRequest({ ...raw('joe', 'pw'), realm: Buffer.from([0xe2, 0x82]) })).toEqual({ ok: false, reason: 'bad-utf8', field: 'realm' });
    expect(validateRequest(raw('joe', 'pw', 'imap', '', Buffer.from([0x31, 0xc0, 0xaf])))).toEqual({ ok: false, reason: 'bad-utf8', field: 'client address' });
    // 0x7f is ASCII (DEL), 0x80 alone is not UTF-8.
    const del = validateRequest(raw(Buffer.from([0x6a, 0x7f]), 'pw'));
    expect(del.ok && del.request.login).toBe('j\x7f');
    expect(validateRequest(raw(Buffer.from([0x80]), 'pw'))).toEqual({ ok: false, reason: 'bad-utf8', field: 'login' });
  });

  it('takes a field whose text happens to read like a refusal as text', () => {
    const v = validateRequest(raw('nul-byte', 'pw', 'bad-utf8', 'nul-byte', Buffer.from('bad-utf8')));
    expect(v).toEqual({ ok: true, request: { login: 'nul-byte', password: Buffer.from('pw'), service: 'bad-utf8', realm: 'nul-byte', clientAddr: 'bad-utf8' } });
  });
});
