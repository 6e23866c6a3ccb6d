import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { type RunningDaemon, startOurs, startReal } from '../../fixtures/daemon.js';
import { CAROL_OLD_PW, GROUPS, PEOPLE, SERVICE_DN, SERVICE_PW, SUFFIX, Slapd, USERS, writeSaslauthdConf } from '../../fixtures/slapd.js';
import { verdict } from '../../fixtures/testsaslauthd.js';
import { sendRequest } from '../../../src/client/saslauthd-client.js';

// Debian testsaslauthd against saslauthd-ts -a ldap and the real saslauthd -a ldap, same slapd,
// same saslauthd.conf: every case must get the expected verdict from ours, and the same from theirs
// unless the case is marked as one where we deliberately differ.

const PORT = 23900;
const HAVE_REAL = existsSync('/usr/sbin/saslauthd');

interface Case {
  readonly name: string;
  readonly user: string;
  readonly password: string;
  readonly realm?: string;
  readonly expect: 'OK' | 'NO';
  /** What the real saslauthd answers when it differs (a bug we fix); omitted = same as ours. */
  readonly real?: 'OK' | 'NO';
}

let slapd: Slapd;

beforeAll(async () => {
  slapd = await Slapd.create({ port: PORT });
});

afterAll(async () => {
  await slapd?.destroy();
});

const base = (): Record<string, string | number> => ({ ldap_servers: slapd.url, ldap_search_base: SUFFIX, ldap_timeout: 5 });

async function both(conf: Record<string, string | number>, cases: readonly Case[]): Promise<void> {
  const path = writeSaslauthdConf(conf);
  const ours = await startOurs(['-a', 'ldap', '-O', path]);
  let real: RunningDaemon | null = null;
  try {
    if (HAVE_REAL) real = await startReal(['-a', 'ldap', '-O', path]);
    const got: string[] = [];
    const want: string[] = [];
    for (const c of cases) {
      const o = { ...(c.realm !== undefined ? { realm: c.realm } : {}), service: 'imap' };
      got.push(`${c.name}: ours=${await verdict(ours.socket, c.user, c.password, o)}${real ? ` real=${await verdict(real.socket, c.user, c.password, o)}` : ''}`);
      want.push(`${c.name}: ours=${c.expect}${real ? ` real=${c.real ?? c.expect}` : ''}`);
    }
    expect(got).toEqual(want);
  } finally {
    await ours.stop();
    await real?.stop();
  }
}

const common: Case[] = [
  { name: 'right password', user: 'alice', password: USERS.alice, expect: 'OK' },
  { name: 'wrong password', user: 'alice', password: 'wrong', expect: 'NO' },
  { name: 'unknown user', user: 'nobody', password: USERS.alice, expect: 'NO' },
  { name: 'password of another user', user: 'alice', password: USERS.bob, expect: 'NO' },
  { name: 'hashed (SSHA) userPassword', user: 'bob', password: USERS.bob, expect: 'OK' },
  { name: 'case of the password matters', user: 'alice', password: USERS.alice.toUpperCase(), expect: 'NO' },
];

describe('ldap_auth_method bind', () => {
  it('searches as the service DN, binds as the user', async () => {
    await both({ ...base(), ldap_bind_dn: SERVICE_DN, ldap_bind_pw: SERVICE_PW }, [
      ...common,
      // Two entries match (uid=dup in ou=people and ou=other).
      { name: 'duplicate entries', user: 'dup', password: USERS.dup, expect: 'NO' },
      { name: 'password longer than 127 bytes', user: 'u_long', password: USERS.u_long, expect: 'OK', real: 'NO' },
      { name: 'password cut at 127 bytes', user: 'u_long', password: USERS.u_long.slice(0, 127), expect: 'NO' },
    ]);
  });

  it('searches anonymously, and the ldap_password alias works', async () => {
    await both({ ...base(), ldap_search_base: PEOPLE }, common);
    await both({ ...base(), ldap_bind_dn: SERVICE_DN, ldap_password: SERVICE_PW, ldap_search_base: PEOPLE, ldap_scope: 'one' }, common);
  });

  it('a wrong service password fails every request (logged as unavailable)', async () => {
    await both({ ...base(), ldap_bind_dn: SERVICE_DN, ldap_bind_pw: 'not-it' }, [{ name: 'right password', user: 'alice', password: USERS.alice, expect: 'NO' }]);
  });
});

describe('ldap_auth_method fastbind', () => {
  it('binds to the DN built from the template', async () => {
    await both({ ...base(), ldap_auth_method: 'fastbind', ldap_filter: `uid=%u,${PEOPLE}` }, [
      ...common,
      // RFC 4514 escaping makes a login with a comma name its own entry; saslauthd builds a broken DN.
      { name: 'login with a comma', user: 'comma,user', password: USERS['comma,user'], expect: 'OK', real: 'NO' },
    ]);
  });
});

describe('ldap_auth_method custom', () => {
  it('compares userPassword locally in every scheme', async () => {
    await both({ ...base(), ldap_bind_dn: SERVICE_DN, ldap_bind_pw: SERVICE_PW, ldap_auth_method: 'custom', ldap_search_base: PEOPLE }, [
      ...common,
      { name: '{SHA}', user: 'u_sha', password: USERS.u_sha, expect: 'OK' },
      { name: '{SMD5}', user: 'u_smd5', password: USERS.u_smd5, expect: 'OK' },
      { name: '{MD5}', user: 'u_md5', password: USERS.u_md5, expect: 'OK' },
      { name: '{MD5} wrong', user: 'u_md5', password: USERS.u_sha, expect: 'NO' },
      { name: '{CRYPT} sha-512', user: 'u_crypt', password: USERS.u_crypt, expect: 'OK' },
      { name: '{CRYPT} wrong', user: 'u_crypt', password: 'Crypt-px', expect: 'NO' },
      { name: '{unix} yescrypt', user: 'u_unix', password: USERS.u_unix, expect: 'OK' },
      { name: '{SSHA256}', user: 'u_ssha256', password: USERS.u_ssha256, expect: 'OK', real: 'NO' },
      { name: '{SSHA512}', user: 'u_ssha512', password: USERS.u_ssha512, expect: 'OK', real: 'NO' },
      { name: '{SSHA512} wrong', user: 'u_ssha512', password: USERS.u_ssha256, expect: 'NO' },
      // Carol's userPassword has two values; saslauthd checks only one of them.
      { name: 'multi-valued: the {CRYPT} value', user: 'carol', password: USERS.carol, expect: 'OK' },
      { name: 'multi-valued: the {SSHA} value', user: 'carol', password: CAROL_OLD_PW, expect: 'OK', real: 'NO' },
      { name: 'multi-valued: neither', user: 'carol', password: 'Carol-none', expect: 'NO' },
    ]);
  });

  it('duplicate entries and group membership', async () => {
    await both(
      { ...base(), ldap_bind_dn: SERVICE_DN, ldap_bind_pw: SERVICE_PW, ldap_auth_method: 'custom', ldap_group_dn: `cn=mail,${GROUPS}` },
      [
        { name: 'member, right password', user: 'bob', password: USERS.bob, expect: 'OK' },
        { name: 'member, wrong password', user: 'bob', password: USERS.alice, expect: 'NO' },
        { name: 'unknown user', user: 'nobody', password: USERS.bob, expect: 'NO' },
        { name: 'duplicate entries', user: 'dup', password: USERS.dup, expect: 'NO' },
        { name: 'not in group', user: 'dave', password: USERS.dave, expect: 'NO' },
      ],
    );
  });

  it('an anonymous search cannot read userPassword: NO for everyone', async () => {
    await both({ ...base(), ldap_auth_method: 'custom' }, [{ name: 'right password', user: 'alice', password: USERS.alice, expect: 'NO' }]);
  });
});

describe('group checks', () => {
  it('ldap_group_dn + ldap_group_attr: an LDAP compare of the user DN', async () => {
    const groupDn = `cn=mail,${GROUPS}`;
    await both({ ...base(), ldap_bind_dn: SERVICE_DN, ldap_bind_pw: SERVICE_PW, ldap_group_dn: groupDn, ldap_group_attr: 'uniqueMember' }, [
      { name: 'member, right password', user: 'alice', password: USERS.alice, expect: 'OK' },
      { name: 'member, wrong password', user: 'alice', password: 'x', expect: 'NO' },
      { name: 'not in group', user: 'dave', password: USERS.dave, expect: 'NO' },
    ]);
    await both({ ...base(), ldap_auth_method: 'fastbind', ldap_filter: `uid=%u,${PEOPLE}`, ldap_group_dn: groupDn }, [
      { name: 'fastbind member', user: 'bob', password: USERS.bob, expect: 'OK' },
      { name: 'fastbind not in group', user: 'dave', password: USERS.dave, expect: 'NO' },
    ]);
  });

  it('ldap_group_match_method filter with %D and %s', async () => {
    await both(
      {
        ...base(),
        ldap_bind_dn: SERVICE_DN,
        ldap_bind_pw: SERVICE_PW,
        ldap_group_match_method: 'filter',
        ldap_group_filter: '(&(cn=%s)(member=%D))',
        ldap_group_search_base: GROUPS,
        ldap_group_scope: 'one',
      },
      [
        { name: 'member of imap', user: 'alice', password: USERS.alice, expect: 'OK' },
        { name: 'not a member of imap', user: 'carol', password: USERS.carol, expect: 'NO' },
        { name: 'member, wrong password', user: 'bob', password: 'nope', expect: 'NO' },
      ],
    );
  });
});

describe('tokens and realms', () => {
  it('%U and %R with the request realm; ldap_default_realm when it is empty', async () => {
    await both({ ...base(), ldap_filter: '(uid=%U%R)', ldap_default_realm: 'example.org' }, [
      { name: 'realm from the request', user: 'eve', password: USERS['eve@example.org'], realm: 'example.org', expect: 'OK' },
      { name: 'default realm', user: 'eve', password: USERS['eve@example.org'], expect: 'OK' },
      { name: 'other realm', user: 'eve', password: USERS['eve@example.org'], realm: 'example.net', expect: 'NO' },
    ]);
  });
});

describe('reply bytes', () => {
  it('with --compat-replies ours sends the bare OK / NO that saslauthd -a ldap sends', async () => {
    const path = writeSaslauthdConf({ ...base(), ldap_bind_dn: SERVICE_DN, ldap_bind_pw: SERVICE_PW, ldap_group_dn: `cn=mail,${GROUPS}` });
    const ours = await startOurs(['-a', 'ldap', '-O', path, '--compat-replies']);
    const plain = await startOurs(['-a', 'ldap', '-O', path]);
    const real = HAVE_REAL ? await startReal(['-a', 'ldap', '-O', path]) : null;
    try {
      const cases: Array<[string, string, string]> = [
        ['alice', USERS.alice, 'OK'],
        ['alice', 'wrong', 'NO'],
        ['nobody', 'x', 'NO'],
        ['dave', USERS.dave, 'NO'],
      ];
      for (const [login, password, want] of cases) {
        const r = { login, password, service: 'imap', realm: '' };
        expect(await sendRequest(ours.socket, r)).toBe(want);
        expect(await sendRequest(plain.socket, r)).toBe(want === 'OK' ? 'OK' : 'NO authentication failed');
        if (real) expect(await sendRequest(real.socket, r)).toBe(want);
      }
    } finally {
      await ours.stop();
      await plain.stop();
      await real?.stop();
    }
  });
});
