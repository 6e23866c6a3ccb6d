import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningDaemon } from '../../fixtures/daemon.js';
import { personLdif, SlapdDaemons } from '../../fixtures/mini-slapd.js';
import { must } from '../../fixtures/run.js';
import { ssha } from '../../fixtures/slapd.js';
import { verdict } from '../../fixtures/testsaslauthd.js';
import { jsonLines } from '../../fixtures/user-files.js';

// Issue 11 item 5: ldap_auth_method custom compares userPassword itself. A value in a scheme we
// cannot verify used to be compared as clear text, so typing the stored `{SASL}…`, `{PBKDF2-SHA512}…`
// or `{ARGON2}…` string was OK. Real slapd entries hold such values (the ARGON2 one made by
// slappasswd); Debian's testsaslauthd asks.
const SUFFIX = 'dc=sat-ld,dc=example';
const SERVICE = `cn=svc,${SUFFIX}`;
const dn = (uid: string): string => `uid=${uid},${SUFFIX}`;

/** OpenLDAP's pw-pbkdf2 format: iterations$ab64(salt)$ab64(hash), where ab64 uses . for +. */
function pbkdf2Sha512(pw: string): string {
  const salt = randomBytes(16);
  const ab64 = (b: Buffer): string => b.toString('base64').replace(/=+$/, '').replace(/\+/g, '.');
  return `{PBKDF2-SHA512}10000$${ab64(salt)}$${ab64(pbkdf2Sync(pw, salt, 10000, 64, 'sha512'))}`;
}

const V: Record<string, string> = {};
const ld = new SlapdDaemons();

beforeAll(async () => {
  V['sasl'] = '{SASL}sat_ld_sasl@EXAMPLE.COM';
  V['pbkdf2'] = pbkdf2Sha512('Pbkdf2-pw');
  V['argon2'] = (await must('slappasswd', ['-o', 'module-path=/usr/lib/ldap', '-o', 'module-load=argon2', '-h', '{ARGON2}', '-s', 'Argon2-pw'])).trim();
  V['unnamed'] = '{hunter2}rest';
  V['mixed'] = '{SASL}sat_ld_mixed@EXAMPLE.COM';
  const users: Array<[string, string[]]> = [
    ['sat_ld_sasl', [V['sasl']]],
    ['sat_ld_pbkdf2', [V['pbkdf2']]],
    ['sat_ld_argon2', [V['argon2']]],
    ['sat_ld_unnamed', [V['unnamed']]],
    ['sat_ld_cleartext', ['{CLEARTEXT}Clear-pw']],
    ['sat_ld_plain', ['{plain}Plain-pw']],
    ['sat_ld_bare', ['Bare-pw']],
    ['sat_ld_mixed', [V['mixed'], ssha('Mixed-pw')]],
  ];
  await ld.begin({
    suffix: SUFFIX,
    // argon2.so lets slapd itself verify {ARGON2} values on a bind (docs/backends/ldap.md's advice for them).
    global: 'moduleload argon2',
    ldif:
      `dn: ${SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: sat\ndc: sat-ld\n\n` +
      `dn: ${SERVICE}\nobjectClass: simpleSecurityObject\nobjectClass: organizationalRole\ncn: svc\nuserPassword: svc-pw\n\n` +
      users.map(([u, pws]) => personLdif(dn(u), u, pws)).join(''),
    acl: `access to attrs=userPassword by dn.exact="${SERVICE}" read by anonymous auth by * none`,
  }, '/tmp/sat_ld-schemes-');
});

afterAll(() => ld.end());

function start(conf: Record<string, string>): Promise<RunningDaemon> {
  const all = { ldap_servers: ld.slapd.url, ldap_search_base: SUFFIX, ldap_bind_dn: SERVICE, ldap_bind_pw: 'svc-pw', ...conf };
  return ld.start(all, (path) => ['-a', 'ldap', '-O', path, '--log-format', 'json']);
}

const reasonFor = (d: RunningDaemon, user: string): string => String(jsonLines(d.output()).filter((l) => l['user'] === user && 'outcome' in l).at(-1)?.['reason']);

describe('ldap_auth_method custom: schemes we cannot verify', () => {
  it('the stored value typed as the password is NO for {SASL}, {PBKDF2-SHA512}, {ARGON2} and any other {…}', async () => {
    const d = await start({ ldap_auth_method: 'custom' });
    const got: string[] = [];
    for (const [user, typed] of [
      ['sat_ld_sasl', V['sasl']],
      ['sat_ld_pbkdf2', V['pbkdf2']],
      ['sat_ld_argon2', V['argon2']],
      ['sat_ld_unnamed', V['unnamed']],
      ['sat_ld_mixed', V['mixed']],
      // The real passwords cannot be checked here either (that is what `bind` is for).
      ['sat_ld_pbkdf2', 'Pbkdf2-pw'],
      ['sat_ld_argon2', 'Argon2-pw'],
    ] as const) {
      got.push(`${user} ${typed!.slice(0, 16)}: ${await verdict(d.socket, user, typed!)}`);
    }
    expect(got).toEqual([
      `sat_ld_sasl ${V['sasl']!.slice(0, 16)}: NO`,
      `sat_ld_pbkdf2 ${V['pbkdf2']!.slice(0, 16)}: NO`,
      `sat_ld_argon2 ${V['argon2']!.slice(0, 16)}: NO`,
      `sat_ld_unnamed ${V['unnamed']!.slice(0, 16)}: NO`,
      `sat_ld_mixed ${V['mixed']!.slice(0, 16)}: NO`,
      'sat_ld_pbkdf2 Pbkdf2-pw: NO',
      'sat_ld_argon2 Argon2-pw: NO',
    ]);
    // The log says why, naming known schemes, and never the text of an unrecognised prefix.
    expect(reasonFor(d, 'sat_ld_sasl')).toBe('no userPassword value in a supported scheme; userPassword in {SASL} not checked (unsupported scheme; use ldap_auth_method bind)');
    expect(reasonFor(d, 'sat_ld_pbkdf2')).toContain('{PBKDF2-SHA512} not checked');
    expect(reasonFor(d, 'sat_ld_argon2')).toContain('{ARGON2} not checked');
    expect(reasonFor(d, 'sat_ld_unnamed')).toContain('an unrecognised {…} prefix not checked');
    expect(d.output()).not.toContain('hunter2');
    expect(reasonFor(d, 'sat_ld_mixed')).toBe('password mismatch; userPassword in {SASL} not checked (unsupported scheme; use ldap_auth_method bind)');
  });

  it('clear text only without a prefix or with {CLEARTEXT}/{PLAIN} (any case); other values of the entry still count', async () => {
    const d = await start({ ldap_auth_method: 'custom' });
    const cases: Array<[string, string, 'OK' | 'NO']> = [
      ['sat_ld_bare', 'Bare-pw', 'OK'],
      ['sat_ld_cleartext', 'Clear-pw', 'OK'],
      ['sat_ld_cleartext', '{CLEARTEXT}Clear-pw', 'NO'],
      ['sat_ld_plain', 'Plain-pw', 'OK'],
      ['sat_ld_plain', '{plain}Plain-pw', 'NO'],
      ['sat_ld_mixed', 'Mixed-pw', 'OK'],
    ];
    const got: string[] = [];
    for (const [u, p] of cases) got.push(`${u} ${p}: ${await verdict(d.socket, u, p)}`);
    expect(got).toEqual(cases.map(([u, p, w]) => `${u} ${p}: ${w}`));
  });

  it('ldap_auth_method bind lets slapd verify {ARGON2} (its argon2 module)', async () => {
    const d = await start({ ldap_auth_method: 'bind' });
    expect(await verdict(d.socket, 'sat_ld_argon2', 'Argon2-pw')).toBe('OK');
    expect(await verdict(d.socket, 'sat_ld_argon2', V['argon2']!)).toBe('NO');
  });
});
