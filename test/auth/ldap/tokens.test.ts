import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { escapeDnValue, escapeFilterValue, expandTokens } from '../../../src/auth/backends/ldap/tokens.js';
import { checkStored, constantTimeEqual, matchesAny, matchesStored } from '../../../src/auth/backends/ldap/password-schemes.js';
import { Crypt } from '../../../src/native/crypt.js';
import { createHash } from 'node:crypto';
import { FilterParser } from 'ldapts';

describe('token expansion', () => {
  const ctx = { login: 'jane@mail.example.com', realm: 'corp.example.org', service: 'smtp', userDn: 'uid=jane,dc=x' };

  it('expands every token', () => {
    expect(expandTokens('%u|%U|%d|%r|%R|%s|%D|%%|%1|%2|%3|%4', ctx, 'filter')).toBe(
      'jane@mail.example.com|jane|mail.example.com|corp.example.org|@corp.example.org|smtp|uid=jane,dc=x|%|com|example|mail|',
    );
  });

  it('%1-%9 come from the realm when the login has no @; %d falls back to the realm as documented', () => {
    const c = { ...ctx, login: 'jane' };
    expect(expandTokens('%U/%d/%1/%2/%3/%R', c, 'filter')).toBe('jane/corp.example.org/org/example/corp/@corp.example.org');
    expect(expandTokens('%R', { ...c, realm: '' }, 'filter')).toBe('');
  });

  it('escapes values for filters (RFC 4515)', () => {
    expect(expandTokens('(uid=%u)', { ...ctx, login: '*)(uid=*))(|(uid=*\\\0' }, 'filter')).toBe('(uid=\\2a\\29\\28uid=\\2a\\29\\29\\28|\\28uid=\\2a\\5c\\00)');
  });

  it('escapes values for DNs (RFC 4514), but leaves %D as the DN it is', () => {
    expect(expandTokens('uid=%u,ou=people', { ...ctx, login: 'a,b+c=d"e\\f<g>h;i' }, 'dn')).toBe('uid=a\\,b\\+c\\=d\\"e\\\\f\\<g\\>h\\;i,ou=people');
    expect(escapeDnValue(' #lead trail ')).toBe('\\ #lead trail\\ ');
    expect(escapeDnValue('#x')).toBe('\\#x');
    expect(escapeDnValue('a\0b\nc')).toBe('a\\00b\\0ac');
    expect(expandTokens('%D', ctx, 'dn')).toBe('uid=jane,dc=x');
  });

  it('any login is one filter assertion value and one RDN value (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (login) => {
        const f = FilterParser.parseString(`(uid=${escapeFilterValue(login)})`);
        expect((f as unknown as { value: string }).value).toBe(login);
        const dn = expandTokens('uid=%u,ou=people,dc=example,dc=com', { login, realm: '', service: '' }, 'dn');
        // Escaping never adds an RDN separator: exactly three unescaped commas remain.
        expect(dn.replace(/\\./g, '').split(',').length).toBe(4);
        expect(dn.replace(/\\./g, '').split('+').length).toBe(1);
      }),
      { numRuns: 500 },
    );
  });
});

describe('password schemes', () => {
  const crypt = new Crypt(1);
  const b64 = (alg: string, pw: string, salt = Buffer.alloc(0)) => Buffer.concat([createHash(alg).update(pw).update(salt).digest(), salt]).toString('base64');
  const m = (pw: string, stored: string) => matchesStored(Buffer.from(pw), Buffer.from(stored), crypt);

  it('recomputes salted and unsalted digests, prefixes in any case', async () => {
    const salt = Buffer.from('s4lt');
    expect(await m('pw', `{SSHA}${b64('sha1', 'pw', salt)}`)).toBe(true);
    expect(await m('pw', `{ssha}${b64('sha1', 'pw', salt)}`)).toBe(true);
    expect(await m('px', `{SSHA}${b64('sha1', 'pw', salt)}`)).toBe(false);
    expect(await m('pw', `{SHA}${b64('sha1', 'pw')}`)).toBe(true);
    expect(await m('pw', `{MD5}${b64('md5', 'pw')}`)).toBe(true);
    expect(await m('pw', `{SMD5}${b64('md5', 'pw', salt)}`)).toBe(true);
    expect(await m('pw', `{SSHA256}${b64('sha256', 'pw', salt)}`)).toBe(true);
    expect(await m('pw', `{SSHA512}${b64('sha512', 'pw', salt)}`)).toBe(true);
    expect(await m('pw', `{SSHA512}${b64('sha512', 'px', salt)}`)).toBe(false);
  });

  it('rejects malformed digests instead of matching them', async () => {
    expect(await m('pw', '{SSHA}')).toBe(false);
    expect(await m('pw', `{SHA}${b64('md5', 'pw')}`)).toBe(false);
    expect(await m('pw', '{SSHA}!!!notbase64')).toBe(false);
  });

  it('crypt via libxcrypt and clear text', async () => {
    expect(await m('pw', '{CRYPT}$1$abcdefgh$G//4keteveJp0qb8z2DxG/')).toBe(false);
    const h = (await crypt.hash(Buffer.from('pw'), '$5$abcdefgh'))!;
    expect(await m('pw', `{CRYPT}${h}`)).toBe(true);
    expect(await m('pw', `{crypt}${h}`)).toBe(true);
    expect(await m('px', `{UNIX}${h}`)).toBe(false);
    expect(await m('secret', 'secret')).toBe(true);
    expect(await m('secret', 'secret2')).toBe(false);
    expect(constantTimeEqual(Buffer.from('a'), Buffer.from('a'))).toBe(true);
    expect(constantTimeEqual(Buffer.from('a'), Buffer.from('ab'))).toBe(false);
  });

  it('{CLEARTEXT} and {PLAIN} in any case are clear text; the marker itself is not part of the password', async () => {
    for (const p of ['{CLEARTEXT}', '{cleartext}', '{Plain}', '{PLAIN}']) {
      expect([p, await m('secret', `${p}secret`)]).toEqual([p, true]);
      expect([p, await m(`${p}secret`, `${p}secret`)]).toEqual([p, false]);
      expect([p, await m('secreT', `${p}secret`)]).toEqual([p, false]);
    }
  });

  it('an unknown {SCHEME} is never compared as clear text (saslauthd does)', async () => {
    for (const v of ['{X}y', '{SASL}alice@EXAMPLE.COM', '{PBKDF2-SHA512}10000$c2FsdA$aGFzaA', '{ARGON2}$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA', '{}x', '{K5KEY}']) {
      expect([v, await m(v, v)]).toEqual([v, false]);
      expect([v, await checkStored(Buffer.from(v), Buffer.from(v), crypt)]).toMatchObject([v, { kind: 'unsupported' }]);
    }
    // Named schemes are logged by name; other brace text could be part of a clear-text password.
    expect(await checkStored(Buffer.from('x'), Buffer.from('{sasl}a@B'), crypt)).toEqual({ kind: 'unsupported', scheme: '{SASL}' });
    expect(await checkStored(Buffer.from('x'), Buffer.from('{hunter2}x'), crypt)).toEqual({ kind: 'unsupported', scheme: 'an unrecognised {…} prefix' });
    expect(await matchesAny(Buffer.from('pw'), [Buffer.from('{SASL}pw'), Buffer.from('pw')], crypt)).toEqual({ match: true, unsupported: ['{SASL}'] });
  });
});
