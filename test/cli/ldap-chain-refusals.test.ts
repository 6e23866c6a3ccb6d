import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningDaemon } from '../fixtures/daemon.js';
import { personLdif, SlapdDaemons } from '../fixtures/mini-slapd.js';
import { verdict } from '../fixtures/testsaslauthd.js';
import { jsonLines, type UserFiles, userFiles } from '../fixtures/user-files.js';

// Issue 11 item 3: with `-a ldap,shadow` and a search base built from the realm, an LDAP error that
// the request's realm provokes must end the chain with NO. Before, 32/34/50 went on to shadow, which
// accepted the local password of a user whom LDAP refuses. A real slapd (suffix dc=com, so that every
// realm maps into one naming context), Debian's testsaslauthd, shadow files with the same user.
const LENA = 'sat_ld_lena'; // LDAP: ldap-pw; shadow: shadow-pw
const SAM = 'sat_ld_sam'; // only in shadow
const SUFFIX = 'dc=com';
const dc = (name: string): string => `dn: dc=${name},${SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: ${name}\ndc: ${name}\n\n`;
const ou = (parent: string): string => `dn: ou=people,${parent}\nobjectClass: organizationalUnit\nou: people\n\n`;

const ld = new SlapdDaemons();
let files: UserFiles;

beforeAll(async () => {
  await ld.begin({
    suffix: SUFFIX,
    ldif:
      `dn: ${SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: com\ndc: com\n\n` +
      dc('example') +
      ou(`dc=example,${SUFFIX}`) +
      personLdif(`uid=${LENA},ou=people,dc=example,${SUFFIX}`, LENA, ['ldap-pw']) +
      dc('restricted') +
      ou(`dc=restricted,${SUFFIX}`),
    // "disclose" without "search": slapd answers a search based here with insufficientAccess (50).
    acl: `access to dn.subtree="dc=restricted,${SUFFIX}" by * disclose\naccess to attrs=userPassword by anonymous auth by * none`,
  }, '/tmp/sat_ld-chain-');
  files = await userFiles(join(ld.tmp, 'users'), { [LENA]: 'shadow-pw', [SAM]: 'sam-pw' });
});

afterAll(() => ld.end());

function start(conf: Record<string, string>): Promise<RunningDaemon> {
  return ld.start({ ldap_servers: ld.slapd.url, ldap_timeout: '3', ...conf }, (path) =>
    ['-a', 'ldap,shadow', '-O', path, '--passwd-file', files.passwd, '--shadow-file', files.shadow, '--log-format', 'json']);
}

/** The last per-request log record, reduced to what the chain decided and why. */
function last(d: RunningDaemon): { outcome: unknown; via: unknown; reason: unknown } {
  const r = jsonLines(d.output()).filter((l) => 'outcome' in l).at(-1) ?? {};
  return { outcome: r['outcome'], via: r['via'], reason: r['reason'] };
}

interface Case {
  readonly name: string;
  readonly user: string;
  readonly password: string;
  /** testsaslauthd -r; omitted: no realm. */
  readonly realm?: string;
  readonly want: 'OK' | 'NO';
  readonly via: string;
  /** Part of the logged reason. */
  readonly reason?: string;
}

async function check(d: RunningDaemon, cases: readonly Case[]): Promise<void> {
  const got: unknown[] = [];
  const want: unknown[] = [];
  for (const c of cases) {
    const v = await verdict(d.socket, c.user, c.password, { service: 'imap', ...(c.realm !== undefined ? { realm: c.realm } : {}) });
    const l = last(d);
    got.push({ case: c.name, verdict: v, via: l.via, ...(c.reason !== undefined ? { reason: String(l.reason).includes(c.reason) ? c.reason : l.reason } : {}) });
    want.push({ case: c.name, verdict: c.want, via: c.via, ...(c.reason !== undefined ? { reason: c.reason } : {}) });
  }
  expect(got).toEqual(want);
}

describe('-a ldap,shadow: LDAP errors caused by the realm end the chain', () => {
  it('ldap_search_base ou=people,dc=%2,dc=%1 (bind): result codes 32, 34 and 50 are NO, never a shadow OK', async () => {
    const d = await start({ ldap_search_base: 'ou=people,dc=%2,dc=%1' });
    await check(d, [
      // Controls: LDAP decides its own user; a user LDAP does not have still falls through to shadow.
      { name: 'LDAP password', user: LENA, password: 'ldap-pw', realm: 'example.com', want: 'OK', via: 'ldap' },
      { name: 'local password, real realm', user: LENA, password: 'shadow-pw', realm: 'example.com', want: 'NO', via: 'ldap' },
      { name: 'user only in shadow', user: SAM, password: 'sam-pw', realm: 'example.com', want: 'OK', via: 'shadow' },
      // The attacks: each realm makes slapd answer an error, and shadow knows the local password.
      { name: '32: base under the suffix missing', user: LENA, password: 'shadow-pw', realm: 'missing.com', want: 'NO', via: 'ldap', reason: 'noSuchObject (32)' },
      { name: '32: base outside every naming context', user: LENA, password: 'shadow-pw', realm: 'example.org', want: 'NO', via: 'ldap', reason: 'noSuchObject (32)' },
      { name: '34: non-ASCII label', user: LENA, password: 'shadow-pw', realm: 'é.com', want: 'NO', via: 'ldap', reason: 'invalidDNSyntax (34)' },
      { name: '34: no realm (dc=,dc=)', user: LENA, password: 'shadow-pw', want: 'NO', via: 'ldap', reason: 'invalidDNSyntax (34)' },
      { name: '50: base the searcher may not search', user: LENA, password: 'shadow-pw', realm: 'restricted.com', want: 'NO', via: 'ldap', reason: 'insufficientAccess (50)' },
      // And the same for a user LDAP has never heard of: the realm proves nothing about them.
      { name: '32 for a shadow-only user', user: SAM, password: 'sam-pw', realm: 'missing.com', want: 'NO', via: 'ldap', reason: 'noSuchObject (32)' },
    ]);
  });

  it('fastbind uid=%U,ou=people,dc=%2,dc=%1: an invalid bind DN (34) is NO, not "unknown user"', async () => {
    const d = await start({ ldap_auth_method: 'fastbind', ldap_filter: 'uid=%U,ou=people,dc=%2,dc=%1' });
    await check(d, [
      { name: 'LDAP password', user: LENA, password: 'ldap-pw', realm: 'example.com', want: 'OK', via: 'ldap' },
      { name: 'local password, real realm', user: LENA, password: 'shadow-pw', realm: 'example.com', want: 'NO', via: 'ldap' },
      { name: '34: non-ASCII label', user: LENA, password: 'shadow-pw', realm: 'é.com', want: 'NO', via: 'ldap', reason: 'invalidDNSyntax (34)' },
      { name: '34: no realm', user: LENA, password: 'shadow-pw', want: 'NO', via: 'ldap', reason: 'invalidDNSyntax (34)' },
      { name: '49: missing base', user: LENA, password: 'shadow-pw', realm: 'missing.com', want: 'NO', via: 'ldap' },
    ]);
  });
});
