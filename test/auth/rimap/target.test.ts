import { describe, expect, test } from 'vitest';
import { parseTargets } from '../../../src/auth/backends/rimap/target.js';

const one = (o: string) => {
  const [t, ...rest] = parseTargets(o);
  expect(rest).toHaveLength(0);
  return { host: t!.host, port: t!.port, tls: t!.tls, label: t!.label };
};

describe('-O forms', () => {
  test.each([
    ['imap.example.org', { host: 'imap.example.org', port: 143, tls: 'none', label: 'imap.example.org:143' }],
    ['imap.example.org/1143', { host: 'imap.example.org', port: 1143, tls: 'none', label: 'imap.example.org:1143' }],
    ['imap.example.org/imaps', { host: 'imap.example.org', port: 993, tls: 'none', label: 'imap.example.org:993' }],
    ['10.0.0.1:144', { host: '10.0.0.1', port: 144, tls: 'none', label: '10.0.0.1:144' }],
    ['[2001:db8::1]:145', { host: '2001:db8::1', port: 145, tls: 'none', label: '[2001:db8::1]:145' }],
    ['[::1]', { host: '::1', port: 143, tls: 'none', label: '[::1]:143' }],
    ['::1', { host: '::1', port: 143, tls: 'none', label: '[::1]:143' }],
    ['::1/146', { host: '::1', port: 146, tls: 'none', label: '[::1]:146' }],
    ['imaps://mail.example.org', { host: 'mail.example.org', port: 993, tls: 'implicit', label: 'imaps://mail.example.org:993' }],
    ['IMAPS://mail.example.org:1993/', { host: 'mail.example.org', port: 1993, tls: 'implicit', label: 'imaps://mail.example.org:1993' }],
    ['imaps://[::1]:994', { host: '::1', port: 994, tls: 'implicit', label: 'imaps://[::1]:994' }],
    ['imap://mail.example.org', { host: 'mail.example.org', port: 143, tls: 'none', label: 'mail.example.org:143' }],
    ['imap://mail.example.org:2143', { host: 'mail.example.org', port: 2143, tls: 'none', label: 'mail.example.org:2143' }],
  ])('%s', (option, expected) => {
    expect(one(option)).toEqual(expected);
  });

  test('lists: spaces and commas, in order', () => {
    expect(parseTargets(' a.example , imaps://b.example  c.example/10,,').map((t) => t.label)).toEqual([
      'a.example:143',
      'imaps://b.example:993',
      'c.example:10',
    ]);
  });

  test.each([
    [null, /-O is required/],
    ['', /-O is required/],
    ['  ', /-O is required/],
    ['host:0', /port '0'/],
    ['host:65536', /port '65536'/],
    ['host/abc', /port 'abc'/],
    ['ldap://host', /unknown scheme/],
    ['imap://user@host', /only imap\[s\]:\/\/host\[:port\]/],
    ['imaps://host/path', /only imap\[s\]:\/\/host\[:port\]/],
    ['[2001:db8::1', /missing '\]'/],
    ['[nothost]:143', /not an IPv6 address/],
    ['[::1]x', /unexpected 'x'/],
    ['bad host!', /not a host name/],
    [':143', /no host name/],
    ['-oProxyCommand', /not a host name/],
  ])('%s is refused', (option, message) => {
    expect(() => parseTargets(option)).toThrow(message);
  });
});
