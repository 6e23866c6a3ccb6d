import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startOurs } from '../fixtures/daemon.js';
import { type RunningDovecot, startDovecot } from '../fixtures/dovecot.js';
import { SUFFIX, SERVICE_DN, SERVICE_PW, Slapd, USERS, writeSaslauthdConf } from '../fixtures/slapd.js';
import { verdict } from '../fixtures/testsaslauthd.js';

// Issue 5, privilege: the network backends need no root, so --user/--group must drop to it after
// the socket is bound, and the daemon must keep answering right through real slapd and Dovecot.
// (test/cli/privilege-drop.test.ts does the same for -a shadow with a fixture owned by nobody.)

// Ports 25600-25699 belong to the rel2 work: Dovecot on 25640-25642, slapd on 25650.
const DOVECOT_BASE = 25640;
const SLAPD_PORT = 25650;
const IMAP_USER = { name: 'sat_rel2_priv_imap', password: 'Priv-imap pw3' };

let slapd: Slapd | undefined;
let dovecot: RunningDovecot | undefined;

beforeAll(async () => {
  [slapd, dovecot] = await Promise.all([Slapd.create({ port: SLAPD_PORT }), startDovecot({ basePort: DOVECOT_BASE, users: [IMAP_USER] })]);
});
afterAll(async () => {
  await slapd?.destroy();
  await dovecot?.stop();
});

/** The drop happens right after listen(), so a connect can succeed a moment before it: wait for the log line. */
async function dropped(d: RunningDaemon): Promise<void> {
  for (let i = 0; i < 400 && !d.output().includes('dropped privileges to nobody'); i++) await new Promise((r) => setTimeout(r, 25));
  expect(d.output()).toContain('dropped privileges to nobody');
}

function ids(pid: number): { uid: string; gid: string; groups: string } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const line = (k: string): string => (status.match(new RegExp(`^${k}:[ \\t]*(.*)$`, 'm'))?.[1] ?? '').trim().replace(/\s+/g, ' ');
  return { uid: line('Uid'), gid: line('Gid'), groups: line('Groups') };
}

const NOBODY = { uid: '65534 65534 65534 65534', gid: '65534 65534 65534 65534', groups: '65534' };

async function asNobody(args: string[], body: (d: RunningDaemon) => Promise<void>): Promise<void> {
  const d = await startOurs([...args, '--user', 'nobody', '--group', 'nogroup']);
  try {
    await dropped(d);
    expect(ids(d.proc.pid!)).toEqual(NOBODY);
    await body(d);
  } finally {
    await d.stop();
  }
}

describe('--user nobody --group nogroup with a network backend', () => {
  it('-a ldap (service bind) runs as nobody and answers right through slapd', async () => {
    const conf = writeSaslauthdConf({ ldap_servers: slapd!.url, ldap_search_base: SUFFIX, ldap_bind_dn: SERVICE_DN, ldap_bind_pw: SERVICE_PW, ldap_timeout: 10 });
    await asNobody(['-a', 'ldap', '-O', conf], async (d) => {
      expect(await verdict(d.socket, 'alice', USERS.alice)).toBe('OK');
      expect(await verdict(d.socket, 'alice', 'wrong')).toBe('NO');
      expect(await verdict(d.socket, 'bob', USERS.bob)).toBe('OK');
      expect(await verdict(d.socket, 'nobody_here', USERS.bob)).toBe('NO');
    });
  });

  it('-a rimap (plaintext and imaps://) runs as nobody and answers right through Dovecot', async () => {
    for (const o of [['-O', `127.0.0.1/${DOVECOT_BASE}`], ['-O', `imaps://127.0.0.1:${dovecot!.imapsPort}`, '--rimap-ca', dovecot!.certFile]]) {
      await asNobody(['-a', 'rimap', ...o], async (d) => {
        expect(await verdict(d.socket, IMAP_USER.name, IMAP_USER.password)).toBe('OK');
        expect(await verdict(d.socket, IMAP_USER.name, 'wrong')).toBe('NO');
        expect(await verdict(d.socket, 'sat_rel2_priv_none', IMAP_USER.password)).toBe('NO');
      });
    }
  });
});
