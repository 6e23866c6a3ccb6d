import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LDAP_DEFAULTS, buildLdapConfig, loadLdapConfig, parseBool, parseServerUri } from '../../../src/auth/backends/ldap/config.js';
import { ConfigError, parseSaslauthdConf } from '../../../src/auth/backends/saslauthd-conf.js';
import { DAEMON_BIN } from '../../fixtures/paths.js';
import { run } from '../../fixtures/run.js';

const F = '/etc/test.conf';
const build = (text: string) => buildLdapConfig(parseSaslauthdConf(text, F), F);

function problem(text: string): string {
  try {
    build(text);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('no error');
}

describe('saslauthd.conf syntax', () => {
  it('skips comments and blank lines, lower-cases keys, keeps the value after the first colon', () => {
    const e = parseSaslauthdConf('# c\n\n   # indented comment\nLDAP_Filter: (uid=%u)\nldap_bind_dn:cn=a:b,dc=x  \r\n', F);
    expect(e).toEqual([
      { key: 'ldap_filter', value: '(uid=%u)', line: 4 },
      { key: 'ldap_bind_dn', value: 'cn=a:b,dc=x', line: 5 },
    ]);
  });

  it('names file and line for a line without a key, an empty value, an over-long line', () => {
    expect(() => parseSaslauthdConf('ldap_servers ldap://x/\n', F)).toThrow(`${F}:1: expected 'key: value'`);
    expect(() => parseSaslauthdConf('\nldap_filter:   \n', F)).toThrow(`${F}:2: ldap_filter: empty value`);
    expect(() => parseSaslauthdConf('ldap_filter : x\n', F)).toThrow(`${F}:1:`);
    expect(() => parseSaslauthdConf(`ldap_filter: ${'x'.repeat(5000)}\n`, F)).toThrow(`${F}:1: line longer`);
  });

  it('an unreadable file is an error naming it', () => {
    expect(() => loadLdapConfig('/nonexistent/saslauthd.conf')).toThrow('/nonexistent/saslauthd.conf: cannot read: ENOENT');
  });
});

describe('ldap keys', () => {
  it('defaults match saslauthd, except tls_check_peer on', () => {
    const c = build('');
    expect(c).toMatchObject({ ...LDAP_DEFAULTS, groupSearchBase: '' });
    expect(c.filter).toBe('(uid=%u)');
    expect(c.tlsCheckPeer).toBe(true);
    expect(c.servers).toEqual([{ kind: 'ldap', uri: 'ldap://localhost/', host: 'localhost', port: 389 }]);
  });

  it('reads every alias', () => {
    const c = build('ldap_password: a\nldap_default_domain: d.org\nldap_sasl_authc_id: i\nldap_sasl_authz_id: z\nldap_sasl_mech: PLAIN\nldap_sasl_realm: r\n');
    expect([c.bindPw, c.defaultRealm, c.saslId, c.saslAuthzId, c.saslMech, c.saslRealm]).toEqual(['a', 'd.org', 'i', 'z', 'PLAIN', 'r']);
  });

  it('booleans accept Yes/No/True/False/On/Off/1/0 in any case', () => {
    for (const [v, b] of [['Yes', true], ['YES', true], ['true', true], ['On', true], ['1', true], ['No', false], ['FALSE', false], ['off', false], ['0', false]] as const) {
      expect(parseBool(v)).toBe(b);
      expect(build(`ldap_start_tls: ${v}\n`).startTls).toBe(b);
    }
    expect(problem('\n\nldap_referrals: maybe\n')).toBe(`${F}:3: ldap_referrals: "maybe" is not a boolean (yes/no, true/false, on/off, 1/0)`);
  });

  it('each bad key or value names file:line and the key', () => {
    expect(problem('ldap_servers: ldap://a/\nldap_serverz: x\n')).toMatch(new RegExp(`^${F}:2: ldap_serverz: unknown key`));
    expect(problem('ldap_scope: subtree\n')).toBe(`${F}:1: ldap_scope: "subtree" is not one of sub, one, base`);
    expect(problem('ldap_group_scope: all\n')).toMatch(`${F}:1: ldap_group_scope:`);
    expect(problem('ldap_deref: sometimes\n')).toMatch(`${F}:1: ldap_deref:`);
    expect(problem('ldap_auth_method: sasl\n')).toMatch(`${F}:1: ldap_auth_method:`);
    expect(problem('ldap_group_match_method: both\n')).toMatch(`${F}:1: ldap_group_match_method:`);
    expect(problem('ldap_timeout: 5s\n')).toMatch(`${F}:1: ldap_timeout: "5s" is not a positive number of seconds`);
    expect(problem('ldap_timeout: 0\n')).toMatch(`${F}:1: ldap_timeout:`);
    expect(problem('ldap_size_limit: -1\n')).toMatch(`${F}:1: ldap_size_limit: "-1" is not a non-negative integer`);
    expect(problem('ldap_time_limit: ten\n')).toMatch(`${F}:1: ldap_time_limit:`);
    expect(problem('ldap_version: 4\n')).toMatch(`${F}:1: ldap_version:`);
    expect(problem('ldap_servers: ldap://a/ http://b/\n')).toMatch(`${F}:1: ldap_servers: "http://b/"`);
    expect(problem('ldap_servers: ldap://a:99999/\n')).toMatch(`${F}:1: ldap_servers:`);
    expect(problem('ldap_filter: (uid=%u\n')).toMatch(`${F}:1: ldap_filter: not a valid LDAP filter`);
    expect(problem('ldap_filter: (uid=%x)\n')).toMatch(`${F}:1: ldap_filter: unknown or misplaced token %x`);
    expect(problem('ldap_filter: (uid=%D)\n')).toMatch(`${F}:1: ldap_filter: unknown or misplaced token %D`);
    expect(problem('ldap_search_base: ou=%q\n')).toMatch(`${F}:1: ldap_search_base: unknown or misplaced token %q`);
    expect(problem('ldap_group_filter: (member=%D\nldap_group_match_method: filter\n')).toMatch(`${F}:1: ldap_group_filter: not a valid LDAP filter`);
    expect(problem('ldap_group_match_method: filter\nldap_group_dn: cn=g\n')).toMatch(`${F}:1: ldap_group_match_method: ldap_group_match_method filter needs ldap_group_filter`);
    expect(problem('ldap_group_filter: (member=%D)\n')).toMatch(`${F}:1: ldap_group_filter:`);
    expect(problem('ldap_tls_cacert_file: /nonexistent/ca.pem\n')).toBe(`${F}:1: ldap_tls_cacert_file: cannot read "/nonexistent/ca.pem": ENOENT`);
    expect(problem('ldap_tls_cacert_dir: /nonexistent\n')).toMatch(`${F}:1: ldap_tls_cacert_dir:`);
    expect(problem('ldap_tls_cert: /etc/hostname\n')).toMatch(`${F}:1: ldap_tls_cert: ldap_tls_cert and ldap_tls_key go together`);
    expect(problem('ldap_use_sasl: yes\n')).toBe(`${F}:1: ldap_use_sasl: ldap_use_sasl needs ldap_mech (supported: EXTERNAL, PLAIN); saslauthd would let libsasl pick one`);
    expect(problem('ldap_use_sasl: yes\nldap_mech: DIGEST-MD5\n')).toBe(`${F}:2: ldap_mech: "DIGEST-MD5" is not supported (supported: EXTERNAL, PLAIN)`);
    expect(problem('ldap_use_sasl: yes\nldap_sasl_mech: GSSAPI\n')).toBe(`${F}:2: ldap_mech: "GSSAPI" is not supported (supported: EXTERNAL, PLAIN)`);
    expect(problem('ldap_use_sasl: yes\nldap_mech: EXTERNAL\nldap_sasl_secprops: minssf=56\n')).toMatch(`${F}:3: ldap_sasl_secprops: security properties are not supported`);
    expect(problem('ldap_use_sasl: yes\nldap_mech: PLAIN\nldap_bind_pw: x\n')).toBe(`${F}: ldap_id: ldap_mech PLAIN needs ldap_id (the authentication id) and ldap_bind_pw`);
    expect(problem('ldap_use_sasl: yes\nldap_mech: PLAIN\nldap_id: svc\n')).toBe(`${F}: ldap_bind_pw: ldap_mech PLAIN needs ldap_id (the authentication id) and ldap_bind_pw`);
    expect(problem('ldap_pool_size: 0\n')).toMatch(`${F}:1: ldap_pool_size:`);
  });

  it('ldap_use_sasl with EXTERNAL or PLAIN is accepted; the mechanism is upper-cased', () => {
    expect(build('ldap_use_sasl: yes\nldap_mech: external\n')).toMatchObject({ useSasl: true, saslMech: 'EXTERNAL' });
    expect(build('ldap_use_sasl: yes\nldap_sasl_mech: plain\nldap_sasl_authc_id: svc\nldap_password: pw\n')).toMatchObject({ saslMech: 'PLAIN', saslId: 'svc', bindPw: 'pw' });
  });

  it('fastbind takes ldap_filter as a DN template, not a filter', () => {
    expect(build('ldap_auth_method: fastbind\nldap_filter: uid=%u,ou=people,dc=example,dc=com\n').filter).toBe('uid=%u,ou=people,dc=example,dc=com');
  });

  it('ldap_group_search_base defaults to ldap_search_base', () => {
    expect(build('ldap_search_base: dc=x\n').groupSearchBase).toBe('dc=x');
    expect(build('ldap_search_base: dc=x\nldap_group_search_base: ou=g,dc=x\n').groupSearchBase).toBe('ou=g,dc=x');
  });

  it('parses ldap, ldaps and ldapi URIs', () => {
    expect(parseServerUri('ldaps://[::1]:6360/')).toEqual({ kind: 'ldaps', uri: 'ldaps://[::1]:6360/', host: '::1', port: 6360 });
    expect(parseServerUri('LDAP://h')).toEqual({ kind: 'ldap', uri: 'LDAP://h', host: 'h', port: 389 });
    expect(parseServerUri('ldapi://%2Ftmp%2Fs/')).toEqual({ kind: 'ldapi', uri: 'ldapi://%2Ftmp%2Fs/', path: '/tmp/s' });
    expect(parseServerUri('ldapi:///')).toEqual({ kind: 'ldapi', uri: 'ldapi:///', path: '/var/run/slapd/ldapi' });
    expect(build('ldap_servers: ldap://a/   ldaps://b:1636/\n').servers.map((s) => s.uri)).toEqual(['ldap://a/', 'ldaps://b:1636/']);
  });
});

describe('saslauthd-ts -a ldap start-up', () => {
  const dir = mkdtempSync('/tmp/sat-ldapconf-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it('--check prints the effective setup, probes the server, and exits 1 when nothing answers there', async () => {
    const p = write('good.conf', 'ldap_servers: ldap://127.0.0.1:23999/\nldap_search_base: dc=example,dc=com\nldap_group_dn: cn=mail,dc=example,dc=com\n');
    const r = await run(process.execPath, [DAEMON_BIN, '-a', 'ldap', '-O', p, '--check', '-m', dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/\nerror: ldap: ldap:\/\/127\.0\.0\.1:23999\/: connect, anonymous root DSE read: failed: .*ECONNREFUSED/);
    expect(r.stdout).toContain(`ldap: config=${p}\n`);
    expect(r.stdout).toContain('ldap: servers=ldap://127.0.0.1:23999/ start_tls=no tls_check_peer=yes\n');
    expect(r.stdout).toContain('ldap: group check: compare cn=mail,dc=example,dc=com uniqueMember=<user DN>\n');
    expect(r.stdout).toContain('configuration NOT OK: 1 error(s)\n');
  });

  it('a bad value stops the daemon before it listens, naming file:line and key', async () => {
    const p = write('bad.conf', '# saslauthd.conf\nldap_servers: ldap://127.0.0.1:23999/\nldap_scope: everything\n');
    for (const extra of [['--check'], []]) {
      const r = await run(process.execPath, [DAEMON_BIN, '-a', 'ldap', '-O', p, '-m', dir, ...extra]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`FATAL failed to initialize mechanism ldap: ldap configuration ${p}:3: ldap_scope: "everything" is not one of sub, one, base\n`);
    }
  });

  it('an unknown key and an unreadable file stop it too', async () => {
    const p = write('unknown.conf', 'ldap_servers: ldap://127.0.0.1:23999/\nldap_filtr: (uid=%u)\n');
    let r = await run(process.execPath, [DAEMON_BIN, '-a', 'ldap', '-O', p, '--check', '-m', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${p}:2: ldap_filtr: unknown key`);
    r = await run(process.execPath, [DAEMON_BIN, '-a', 'ldap', '-O', join(dir, 'missing.conf'), '--check', '-m', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${join(dir, 'missing.conf')}: cannot read: ENOENT`);
  });
});
