import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startOurs } from '../../fixtures/daemon.js';
import { PEOPLE, SERVICE_DN, SERVICE_PW, SUFFIX, Slapd, USERS, writeSaslauthdConf } from '../../fixtures/slapd.js';
import { verdict } from '../../fixtures/testsaslauthd.js';
import { sendRequest } from '../../../src/client/saslauthd-client.js';

// Logins and realms built to change the filter or the DN. Each comes with the password of the
// account it aims at, so a NO means the injection failed, not that the password was wrong.

const PORT = 23910;
let slapd: Slapd;
const daemons: RunningDaemon[] = [];

async function ours(conf: Record<string, string | number>): Promise<RunningDaemon> {
  const d = await startOurs(['-a', 'ldap', '-O', writeSaslauthdConf({ ldap_servers: slapd.url, ...conf })]);
  daemons.push(d);
  return d;
}

beforeAll(async () => {
  slapd = await Slapd.create({ port: PORT });
});

afterAll(async () => {
  for (const d of daemons) await d.stop();
  await slapd?.destroy();
});

const LOGINS = ['*', 'al*', '*ice', 'alice)(uid=*', '*)(uid=*))(|(uid=*', 'alice)(|(uid=*)', 'a\\6cice', 'alice\\', 'alice,ou=people', 'alice+cn=alice', 'uid=alice,ou=people,dc=example,dc=com'];

describe('injection through the login', () => {
  it('bind (search filter): every attempt is NO, the plain login is OK', async () => {
    const d = await ours({ ldap_search_base: SUFFIX, ldap_bind_dn: SERVICE_DN, ldap_bind_pw: SERVICE_PW });
    expect(await verdict(d.socket, 'alice', USERS.alice)).toBe('OK');
    for (const login of LOGINS) expect([login, await verdict(d.socket, login, USERS.alice)]).toEqual([login, 'NO']);
  });

  it('custom (search filter): every attempt is NO', async () => {
    const d = await ours({ ldap_search_base: PEOPLE, ldap_bind_dn: SERVICE_DN, ldap_bind_pw: SERVICE_PW, ldap_auth_method: 'custom' });
    expect(await verdict(d.socket, 'alice', USERS.alice)).toBe('OK');
    for (const login of LOGINS) expect([login, await verdict(d.socket, login, USERS.alice)]).toEqual([login, 'NO']);
  });

  it('fastbind (DN template): every attempt is NO', async () => {
    const d = await ours({ ldap_auth_method: 'fastbind', ldap_filter: `uid=%u,${PEOPLE}` });
    expect(await verdict(d.socket, 'alice', USERS.alice)).toBe('OK');
    for (const login of LOGINS) expect([login, await verdict(d.socket, login, USERS.alice)]).toEqual([login, 'NO']);
  });

  it('a NUL in the login or realm never reaches LDAP', async () => {
    const d = await ours({ ldap_search_base: SUFFIX, ldap_filter: '(uid=%U%R)' });
    for (const [login, realm] of [['alice\0', ''], ['alice\0*', ''], ['eve', 'example.org\0'], ['eve\0@example.org', '']]) {
      const reply = await sendRequest(d.socket, { login: login!, password: USERS['eve@example.org'], service: 'imap', realm: realm! });
      expect([login, realm, reply]).toEqual([login, realm, 'NO authentication failed']);
    }
  });
});

describe('injection through the realm', () => {
  it('(uid=%U%R): every attempt is NO, the real realm is OK', async () => {
    const d = await ours({ ldap_search_base: SUFFIX, ldap_filter: '(uid=%U%R)' });
    expect(await verdict(d.socket, 'eve', USERS['eve@example.org'], { realm: 'example.org' })).toBe('OK');
    for (const realm of ['*', 'example.*', 'example.org)(uid=*', '*)(|(uid=*', ',', '+', '\\', 'ex\\61mple.org', 'example.org,ou=people']) {
      expect([realm, await verdict(d.socket, 'eve', USERS['eve@example.org'], { realm })]).toEqual([realm, 'NO']);
    }
  });

  it('a realm in a DN (search base ou=%r) is one RDN value', async () => {
    const d = await ours({ ldap_search_base: 'ou=%r,dc=example,dc=com', ldap_filter: '(uid=%U)' });
    expect(await verdict(d.socket, 'alice', USERS.alice, { realm: 'people' })).toBe('OK');
    for (const realm of ['people,dc=example', 'people+ou=x', 'peopl\\65', 'people\\']) {
      expect([realm, await verdict(d.socket, 'alice', USERS.alice, { realm })]).toEqual([realm, 'NO']);
    }
  });
});
