import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { capabilitiesIn, encodeArgument, hasLineBreakOrNul, parseResponse, saslPlain } from '../../../src/auth/backends/rimap/imap-codec.js';

const r = (s: string) => parseResponse(Buffer.from(s, 'utf8'));

describe('parseResponse', () => {
  test('status, tagged, continuation, data and garbage', () => {
    expect(r('* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready')).toEqual({ kind: 'untagged', status: 'OK', code: 'CAPABILITY IMAP4rev1 AUTH=PLAIN', text: 'ready' });
    expect(r('* bye going away')).toEqual({ kind: 'untagged', status: 'BYE', code: null, text: 'going away' });
    expect(r('* PREAUTH hi')).toMatchObject({ kind: 'untagged', status: 'PREAUTH' });
    expect(r('* 3 EXISTS')).toEqual({ kind: 'untagged', status: null, code: null, text: '3 EXISTS' });
    expect(r('A1 NO [AUTHENTICATIONFAILED] Authentication failed.')).toEqual({ kind: 'tagged', tag: 'A1', status: 'NO', code: 'AUTHENTICATIONFAILED', text: 'Authentication failed.' });
    expect(r('A2 ok')).toEqual({ kind: 'tagged', tag: 'A2', status: 'OK', code: null, text: '' });
    expect(r('+ ')).toEqual({ kind: 'continuation', text: '' });
    expect(r('+')).toEqual({ kind: 'continuation', text: '' });
    expect(r('HTTP/1.1 400 Bad')).toEqual({ kind: 'garbage', text: 'HTTP/1.1 400 Bad' });
    expect(r('A1 MAYBE')).toMatchObject({ kind: 'garbage' });
    expect(r('')).toMatchObject({ kind: 'garbage' });
    expect(r('*')).toMatchObject({ kind: 'garbage' });
    expect(r('A"1 OK')).toMatchObject({ kind: 'garbage' });
  });

  test('never throws on arbitrary bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
      parseResponse(Buffer.from(b));
    }));
  });

  test('capabilities from a code or an untagged CAPABILITY line', () => {
    expect([...capabilitiesIn(r('* CAPABILITY IMAP4rev1 literal+ LOGINDISABLED'))!]).toEqual(['IMAP4REV1', 'LITERAL+', 'LOGINDISABLED']);
    expect(capabilitiesIn(r('A1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in'))!.has('IDLE')).toBe(true);
    expect(capabilitiesIn(r('* OK ready'))).toBeNull();
    expect(capabilitiesIn(r('* CAPABILITYX a'))).toBeNull();
  });
});

describe('encodeArgument', () => {
  test('7-bit text is quoted with " and \\ escaped', () => {
    const a = encodeArgument(Buffer.from('a b"c\\d{5}'), true);
    expect(a).toEqual({ kind: 'quoted', bytes: Buffer.from('"a b\\"c\\\\d{5}"') });
  });

  test('8-bit text is a literal, non-synchronizing with LITERAL+', () => {
    const pw = Buffer.from('pä', 'utf8');
    expect(encodeArgument(pw, true)).toEqual({ kind: 'literal', header: Buffer.from('{3+}\r\n'), bytes: pw, nonSync: true });
    expect(encodeArgument(pw, false)).toMatchObject({ header: Buffer.from('{3}\r\n'), nonSync: false });
  });

  test('CR, LF and NUL are refused', () => {
    for (const bad of ['a\rb', 'a\nb', 'a\0b']) {
      expect(hasLineBreakOrNul(Buffer.from(bad))).toBe(true);
      expect(() => encodeArgument(Buffer.from(bad), true)).toThrow(/CR, LF and NUL/);
    }
  });

  test('a quoted string always decodes back to the same bytes and never contains CR/LF', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 64 }).filter((b) => !hasLineBreakOrNul(b) && b.every((x) => x < 0x80)), (b) => {
        const a = encodeArgument(b, true);
        if (a.kind !== 'quoted') throw new Error('expected quoted');
        const s = a.bytes.toString('latin1');
        expect(s.startsWith('"') && s.endsWith('"')).toBe(true);
        const unquoted = s.slice(1, -1).replace(/\\(.)/g, '$1');
        expect(Buffer.from(unquoted, 'latin1').equals(Buffer.from(b))).toBe(true);
        expect(hasLineBreakOrNul(a.bytes)).toBe(false);
      }),
    );
  });
});

test('saslPlain is NUL login NUL password, base64', () => {
  expect(Buffer.from(saslPlain(Buffer.from('bob'), Buffer.from('pw é')), 'base64').toString('utf8')).toBe('\0bob\0pw é');
});
