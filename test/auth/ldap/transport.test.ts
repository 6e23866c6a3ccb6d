import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type RunningDaemon, startOurs, startReal } from '../../fixtures/daemon.js';
import { run } from '../../fixtures/run.js';
import { DAEMON_BIN } from '../../fixtures/paths.js';
import { SUFFIX, Slapd, USERS, writeSaslauthdConf } from '../../fixtures/slapd.js';
import { verdict } from '../../fixtures/testsaslauthd.js';

// ldaps://, StartTLS and ldapi:// against the same slapd, with the throwaway CA.

const PORT = 23920;
const TLS_PORT = 23921;
let slapd: Slapd;
let caDir: string;

beforeAll(async () => {
  slapd = await Slapd.create({ port: PORT, tlsPort: TLS_PORT, ldapi: true, extraUrls: [`ldaps://127.0.0.2:${TLS_PORT}/`] });
  caDir = mkdtempSync('/tmp/sat-ldapca-');
  copyFileSync(slapd.ca.certFile, join(caDir, 'ca.pem'));
});

afterAll(async () => {
  await slapd?.destroy();
  if (caDir) rmSync(caDir, { recursive: true, force: true });
});

async function check(conf: Record<string, string | number>, expectAlice: 'OK' | 'NO', real = false): Promise<string> {
  const path = writeSaslauthdConf({ ldap_search_base: SUFFIX, ldap_timeout: 5, ...conf });
  const d: RunningDaemon = await (real ? startReal : startOurs)(['-a', 'ldap', '-O', path]);
  try {
    expect(await verdict(d.socket, 'alice', USERS.alice)).toBe(expectAlice);
    if (expectAlice === 'OK') expect(await verdict(d.socket, 'alice', 'wrong')).toBe('NO');
    return d.output();
  } finally {
    await d.stop();
  }
}

describe('ldaps://', () => {
  it('verifies the server against ldap_tls_cacert_file', async () => {
    await check({ ldap_servers: slapd.ldapsUrl, ldap_tls_cacert_file: slapd.ca.certFile }, 'OK');
  });

  it('the real saslauthd agrees with the same file', async () => {
    if (!existsSync('/usr/sbin/saslauthd')) return;
    await check({ ldap_servers: slapd.ldapsUrl, ldap_tls_cacert_file: slapd.ca.certFile }, 'OK', true);
  });

  it('and against ldap_tls_cacert_dir', async () => {
    await check({ ldap_servers: slapd.ldapsUrl, ldap_tls_cacert_dir: caDir }, 'OK');
  });

  it('an untrusted certificate is refused by default (tls_check_peer is on) and logged as unavailable', async () => {
    const log = await check({ ldap_servers: slapd.ldapsUrl }, 'NO');
    expect(log).toMatch(/LDAP server unavailable/);
  });

  it('ldap_tls_check_peer: no accepts it', async () => {
    await check({ ldap_servers: slapd.ldapsUrl, ldap_tls_check_peer: 'No' }, 'OK');
  });

  it('the name is checked: the certificate names 127.0.0.1 and localhost, not 127.0.0.2', async () => {
    await check({ ldap_servers: `ldaps://localhost:${TLS_PORT}/`, ldap_tls_cacert_file: slapd.ca.certFile }, 'OK');
    const log = await check({ ldap_servers: `ldaps://127.0.0.2:${TLS_PORT}/`, ldap_tls_cacert_file: slapd.ca.certFile }, 'NO');
    expect(log).toMatch(/does not match certificate's altnames/);
    await check({ ldap_servers: `ldaps://127.0.0.2:${TLS_PORT}/`, ldap_tls_cacert_file: slapd.ca.certFile, ldap_tls_check_peer: 'off' }, 'OK');
  });

  it('a client certificate and a cipher list are used', async () => {
    await check(
      {
        ldap_servers: slapd.ldapsUrl,
        ldap_tls_cacert_file: slapd.ca.certFile,
        ldap_tls_cert: join(slapd.dir, 'server.pem'),
        ldap_tls_key: join(slapd.dir, 'server.key'),
        ldap_tls_ciphers: 'HIGH:!aNULL',
      },
      'OK',
    );
  });

  it('a cipher list OpenSSL rejects stops the daemon at start-up', async () => {
    const path = writeSaslauthdConf({ ldap_servers: slapd.ldapsUrl, ldap_tls_ciphers: 'NOT-A-CIPHER' });
    const r = await run(process.execPath, [DAEMON_BIN, '-a', 'ldap', '-O', path, '--check', '-m', caDir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${path}: ldap_tls_ciphers: TLS settings rejected`);
  });
});

describe('StartTLS', () => {
  it('upgrades ldap:// and verifies the server', async () => {
    await check({ ldap_servers: slapd.url, ldap_start_tls: 'yes', ldap_tls_cacert_file: slapd.ca.certFile }, 'OK');
  });

  it('without the CA the upgrade fails, so the answer is NO (proof that TLS is negotiated)', async () => {
    await check({ ldap_servers: slapd.url, ldap_start_tls: 'yes' }, 'NO');
  });

  it('the real saslauthd agrees', async () => {
    if (!existsSync('/usr/sbin/saslauthd')) return;
    await check({ ldap_servers: slapd.url, ldap_start_tls: 'yes', ldap_tls_cacert_file: slapd.ca.certFile }, 'OK', true);
  });
});

describe('ldapi://', () => {
  it('talks to slapd over its UNIX socket', async () => {
    await check({ ldap_servers: slapd.ldapiUrl }, 'OK');
  });
});
