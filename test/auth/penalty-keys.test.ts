import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addressKey, userKey } from '../../src/auth/penalty-keys.js';

// Issue 11 item 10: every spelling a backend takes for one account gives one penalty key.
const name = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,15}$/);
const space = fc.constantFrom(' ', '\t', '\u00a0', '\u2003', '\u200b', '\u00ad', '\ufeff', '');
const recase = (s: string, flips: boolean[]): string => [...s].map((c, i) => (flips[i % flips.length] ? c.toUpperCase() : c)).join('');

describe('userKey', () => {
  it('ignores case, padding, ignorable characters and the @domain part', () => {
    fc.assert(
      fc.property(name, fc.array(fc.boolean(), { minLength: 1 }), space, space, fc.option(fc.domain(), { nil: undefined }), (n, flips, pre, post, domain) => {
        const spelled = `${pre}${recase(n, flips)}${post}${domain === undefined ? '' : `@${recase(domain, flips)}`}`;
        expect(userKey(spelled)).toBe(n);
      }),
    );
  });

  it('folds full-width letters and ß like LDAP string preparation and a full case fold', () => {
    expect(userKey('\uff21\uff2c\uff29\uff23\uff25')).toBe('alice');
    expect(userKey('STRASSE')).toBe(userKey('straße'));
    expect(userKey('a  \t b')).toBe('a b');
  });

  it('printable ASCII takes a shortcut that gives the same key as the Unicode path', () => {
    // A soft hyphen is ignorable (dropped before anything else) but sends the login down the Unicode path.
    const ascii = fc.string({ unit: 'grapheme-ascii', maxLength: 40 });
    fc.assert(fc.property(ascii, (s) => {
      expect(userKey(s)).toBe(userKey(`${s}\u00ad`));
    }), { numRuns: 5_000 });
    for (const s of ['  Alice  @x', 'a    b', 'BOB@Example.org', '', ' ', '@', 'x y@z@w']) expect(userKey(s)).toBe(userKey(`${s}\u00ad`));
  });

  it('never returns a key with an @, a control character or outer white space', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const k = userKey(s);
        expect(k).not.toMatch(/[@\p{Cc}\p{Cf}]|^\s|\s$/u);
      }),
    );
  });
});

describe('addressKey', () => {
  it('IPv4 as is, mapped IPv4 as IPv4, IPv6 by /64, text folded', () => {
    expect(addressKey('192.0.2.1')).toEqual({ key: '192.0.2.1', ip: '192.0.2.1', family: 'ipv4' });
    expect(addressKey('::ffff:192.0.2.1').key).toBe('192.0.2.1');
    expect(addressKey('::FFFF:c000:0201').key).toBe('192.0.2.1');
    expect(addressKey('2001:db8:1:2::1').key).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0DB8:0001:0002:ffff:0:0:9').key).toBe('2001:db8:1:2::/64');
    expect(addressKey('[2001:db8:1:2::1]').key).toBe('2001:db8:1:2::/64');
    expect(addressKey('fe80::1%eth0').key).toBe('fe80:0:0:0::/64');
    expect(addressKey('Mail.Example').key).toBe('mail.example');
  });
});
