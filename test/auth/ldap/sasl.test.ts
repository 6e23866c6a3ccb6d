import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { type RunningDaemon, realSaslauthdInstalled, startOurs, startReal } from '../../fixtures/daemon.js';
import { DAEMON_BIN } from '../../fixtures/paths.js';
import { run } from '../../fixtures/run.js';
import { PEOPLE, SERVICE_DN, SERVICE_PW, SUFFIX, Slapd, USERS, writeSaslauthdConf } from '../../fixtures/slapd.js';
import { verdict } from '../../fixtures/testsaslauthd.js';

// ldap_use_sasl against a real slapd. Only the service identity may read ou=people, so a user is
// found (and then OK) only when the service bind really happened: anonymously the search sees no one.
// The tests run as root, so over ldapi:// slapd names the EXTERNAL peer uid 0 / gid 0.

const PORT = 27010;
const PORT6 = 27011;
const PEER_DN = 'gidnumber=0+uidnumber=0,cn=peercred,cn=external,cn=auth';
const READER_DN = `cn=reader,ou=services,${SUFFIX}`;
let slapd: Slapd;
let dir: string;

beforeAll(async () => {
  slapd = await Slapd.create({
    port: PORT,
    ldapi: true,
    extraUrls: [`ldap://[::1]:${PORT6}/`],
    globalConf: [
      `authz-regexp "^${PEER_DN.replace(/\+/g, '\\\\+')}$" "${SERVICE_DN}"`,
      `authz-regexp "^uid=([^,]+)(,cn=[^,]+)?,cn=plain,cn=auth$" "cn=$1,ou=services,${SUFFIX}"`,
      // ldap_authz_id: the target entry's authzFrom says who may act as it.
      'authz-policy from',
    ].join('\n'),
    extraLdif: `dn: ${READER_DN}\nobjectClass: organizationalRole\ncn: reader\nauthzFrom: dn.exact:${SERVICE_DN}\n\n`,
    aclFirst: `access to dn.subtree="${PEOPLE}" attrs=userPassword
  by anonymous auth
  by * none
access to dn.subtree="${PEOPLE}"
  by dn.exact="${SERVICE_DN}" read
  by dn.exact="${READER_DN}" read
  by anonymous auth
  by * none`,
  });
  dir = mkdtempSync('/tmp/sat_ls-');
}, 60_000);

afterAll(async () => {
  await slapd?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function conf(extra: Record<string, string | number>): string {
  return writeSaslauthdConf({ ldap_search_base: SUFFIX, ldap_timeout: 5, ...extra });
}

async function verdicts(path: string, real = false): Promise<{ right: string; wrong: string; log: string }> {
  const d: RunningDaemon = await (real ? startReal : startOurs)(['-a', 'ldap', '-O', path]);
  try {
    const right = await verdict(d.socket, 'alice', USERS.alice);
    const wrong = await verdict(d.socket, 'alice', 'wrong-password');
    return { right, wrong, log: d.output() };
  } finally {
    await d.stop();
  }
}

describe('SASL EXTERNAL service bind over ldapi://', () => {
  const external = { ldap_servers: '', ldap_use_sasl: 'yes', ldap_mech: 'EXTERNAL' };

  it('control: anonymously the search finds no one, so even the right password is NO', async () => {
    const r = await verdicts(conf({ ldap_servers: slapd.ldapiUrl }));
    expect(r).toMatchObject({ right: 'NO', wrong: 'NO' });
  });

  it('right password OK, wrong password NO through the daemon (testsaslauthd)', async () => {
    const r = await verdicts(conf({ ...external, ldap_servers: slapd.ldapiUrl }));
    expect(r).toMatchObject({ right: 'OK', wrong: 'NO' });
  });

  it('ldap_authz_id: acting as an entry that allows it (authzFrom) works', async () => {
    const r = await verdicts(conf({ ...external, ldap_servers: slapd.ldapiUrl, ldap_authz_id: `dn:${READER_DN}` }));
    expect(r).toMatchObject({ right: 'OK', wrong: 'NO' });
  });

  it('ldap_authz_id: acting as an entry that does not allow it fails the service bind (NO, logged)', async () => {
    const r = await verdicts(conf({ ...external, ldap_servers: slapd.ldapiUrl, ldap_authz_id: `dn:cn=admin,${SUFFIX}` }));
    expect(r).toMatchObject({ right: 'NO', wrong: 'NO' });
    expect(r.log).toContain('service bind as SASL EXTERNAL refused');
    expect(r.log).toContain('outcome=unavailable');
  });

  it('the mechanism name is case-insensitive and --check shows the SASL service bind', async () => {
    const p = conf({ ...external, ldap_servers: slapd.ldapiUrl, ldap_mech: 'external', ldap_bind_dn: 'cn=unused' });
    const r = await run(process.execPath, [DAEMON_BIN, '-a', 'ldap', '-O', p, '--check', '-m', dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ldap: service bind=SASL EXTERNAL authz_id=(none) timeout=5s');
    expect(r.stdout).toContain('ldap: note: SASL is used for the service bind only; users are checked by bind with a simple bind\n');
    expect(r.stdout).toContain('ldap: note: ldap_bind_dn is ignored with ldap_use_sasl\n');
  });
});

describe('SASL PLAIN service bind', () => {
  const plain = { ldap_use_sasl: 'yes', ldap_mech: 'PLAIN', ldap_id: 'saslauthd' };

  it('over ldapi:// (slapd counts the socket as protected): right OK, wrong NO', async () => {
    const r = await verdicts(conf({ ...plain, ldap_servers: slapd.ldapiUrl, ldap_bind_pw: SERVICE_PW }));
    expect(r).toMatchObject({ right: 'OK', wrong: 'NO' });
  });

  it('a wrong service password is a service-bind failure (unavailable), never OK', async () => {
    const r = await verdicts(conf({ ...plain, ldap_servers: slapd.ldapiUrl, ldap_bind_pw: 'not-the-password' }));
    expect(r).toMatchObject({ right: 'NO', wrong: 'NO' });
    expect(r.log).toContain('service bind as SASL PLAIN refused');
  });

  it("over clear-text ldap://[::1] slapd's default noplain refuses it, and the log says why", async () => {
    const r = await verdicts(conf({ ...plain, ldap_servers: `ldap://[::1]:${PORT6}/`, ldap_bind_pw: SERVICE_PW }));
    expect(r).toMatchObject({ right: 'NO', wrong: 'NO' });
    expect(r.log).toContain('service bind as SASL PLAIN refused: SASL(-16): encryption needed to use mechanism');
  });
});

describe('IPv6 LDAP URI with a simple service bind', () => {
  it('ldap://[::1]:port/ reaches slapd on ::1', async () => {
    const r = await verdicts(conf({ ldap_servers: `ldap://[::1]:${PORT6}/`, ldap_bind_dn: SERVICE_DN, ldap_bind_pw: SERVICE_PW }));
    expect(r).toMatchObject({ right: 'OK', wrong: 'NO' });
  });
});

describe('unsupported SASL set-ups stop the daemon at start-up', () => {
  it('ldap_mech DIGEST-MD5 is refused naming the file, line, key and what is supported', async () => {
    const p = writeSaslauthdConf({ ldap_servers: slapd.ldapiUrl, ldap_use_sasl: 'yes', ldap_mech: 'DIGEST-MD5' });
    for (const extra of [['--check'], []]) {
      const r = await run(process.execPath, [DAEMON_BIN, '-a', 'ldap', '-O', p, '-m', dir, ...extra]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`FATAL failed to initialize mechanism ldap: ldap configuration ${p}:3: ldap_mech: "DIGEST-MD5" is not supported (supported: EXTERNAL, PLAIN)\n`);
    }
  });

  it('ldap_use_sasl without ldap_mech is refused too', async () => {
    const p = writeSaslauthdConf({ ldap_servers: slapd.ldapiUrl, ldap_use_sasl: 'yes' });
    const r = await run(process.execPath, [DAEMON_BIN, '-a', 'ldap', '-O', p, '-m', dir, '--check']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${p}:2: ldap_use_sasl: ldap_use_sasl needs ldap_mech (supported: EXTERNAL, PLAIN)`);
  });
});

describe('the real saslauthd with ldap_mech EXTERNAL', () => {
  // saslauthd turns bind into fastbind and binds each user with the same SASL mechanism; EXTERNAL
  // ignores the password, so the peer identity (root) is bound whatever was typed.
  it('says OK to a wrong password (ours says NO, above)', async () => {
    if (!realSaslauthdInstalled()) return;
    const r = await verdicts(conf({ ldap_servers: slapd.ldapiUrl, ldap_use_sasl: 'yes', ldap_mech: 'EXTERNAL' }), true);
    expect(r).toMatchObject({ right: 'OK', wrong: 'OK' });
  });
});
