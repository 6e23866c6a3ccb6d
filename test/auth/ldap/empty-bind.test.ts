import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LdapConnection } from '../../../src/auth/backends/ldap/connection.js';
import { parseServerUri, type LdapServer } from '../../../src/auth/backends/ldap/config.js';
import { sendRequest } from '../../../src/client/saslauthd-client.js';
import type { RunningDaemon } from '../../fixtures/daemon.js';
import { personLdif, SlapdDaemons } from '../../fixtures/mini-slapd.js';
import { run } from '../../fixtures/run.js';
import { verdict } from '../../fixtures/testsaslauthd.js';
import { jsonLines } from '../../fixtures/user-files.js';

// Issue 11 item 6: a bind with an empty DN is anonymous, one with an empty password unauthenticated
// (RFC 4513 5.1). This slapd allows both (`allow bind_anon_cred bind_anon_dn`), so such a bind
// "succeeds" whatever the password: a fastbind template that expands to '' (`%U` for the login `@x`)
// made every password OK.
const SUFFIX = 'dc=sat-ld-anon,dc=example';
const BOB = 'sat_ld_bob';

const ld = new SlapdDaemons();

beforeAll(async () => {
  await ld.begin({
    suffix: SUFFIX,
    global: 'allow bind_anon_cred bind_anon_dn',
    ldif: `dn: ${SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: sat\ndc: sat-ld-anon\n\n` + personLdif(`uid=${BOB},${SUFFIX}`, BOB, ['Bob-pw']),
    acl: 'access to attrs=userPassword by anonymous auth by * none',
  }, '/tmp/sat_ld-anon-');
});

afterAll(() => ld.end());

function start(conf: Record<string, string>): Promise<RunningDaemon> {
  return ld.start({ ldap_servers: ld.slapd.url, ldap_search_base: SUFFIX, ...conf }, (path) => ['-a', 'ldap', '-O', path, '--log-format', 'json']);
}

describe('never bind with an empty DN or an empty password', () => {
  it('this slapd really accepts both kinds of bind (so the tests below can fail)', async () => {
    const server = parseServerUri(ld.slapd.url) as LdapServer;
    const settings = { timeoutMs: 3000, tls: {}, startTls: false };
    const signal = new AbortController().signal;
    const conn = await LdapConnection.open(server, settings, signal);
    try {
      // Our own connection refuses to send them at all…
      await expect(conn.bind('', Buffer.from('any-password'), signal)).rejects.toThrow('refusing a simple bind with an empty DN');
      await expect(conn.bind(`uid=${BOB},${SUFFIX}`, Buffer.alloc(0), signal)).rejects.toThrow('refusing a simple bind with an empty password');
    } finally {
      await conn.close();
    }
    // …and the Debian client shows that slapd says yes to them.
    const anon = await run('ldapwhoami', ['-x', '-H', ld.slapd.url, '-D', '', '-w', 'any-password']);
    expect([anon.code, anon.stdout]).toEqual([0, 'anonymous\n']);
    const unauth = await run('ldapwhoami', ['-x', '-H', ld.slapd.url, '-D', `uid=${BOB},${SUFFIX}`, '-w', '']);
    expect([unauth.code, unauth.stdout]).toEqual([0, 'anonymous\n']);
  });

  it('fastbind: templates that expand to an empty DN are NO for any password', async () => {
    const cases: Array<[string, string]> = [
      ['%U', '@x'],
      ['%U', '@'],
      ['%U%R', '@example.com'],
      ['%d', `${BOB}@`],
    ];
    for (const [template, login] of cases) {
      const d = await start({ ldap_auth_method: 'fastbind', ldap_filter: template });
      expect([template, login, await verdict(d.socket, login, 'any-password')]).toEqual([template, login, 'NO']);
      const rec = jsonLines(d.output()).filter((l) => 'outcome' in l).at(-1);
      expect([template, rec?.['reason']]).toEqual([template, 'the user DN is empty']);
      await d.stop();
    }
  });

  it('the DN template still works for a real DN; an empty password is NO before any bind', async () => {
    const d = await start({ ldap_auth_method: 'fastbind', ldap_filter: `uid=%U,${SUFFIX}` });
    expect(await verdict(d.socket, BOB, 'Bob-pw')).toBe('OK');
    expect(await verdict(d.socket, BOB, 'wrong')).toBe('NO');
    expect(await sendRequest(d.socket, { login: BOB, password: '', service: 'imap', realm: '' })).toBe('NO authentication failed');
    const b = await start({});
    expect(await verdict(b.socket, BOB, 'Bob-pw')).toBe('OK');
    expect(await sendRequest(b.socket, { login: BOB, password: '', service: 'imap', realm: '' })).toBe('NO authentication failed');
  });
});
