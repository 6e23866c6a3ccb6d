import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest } from '../../src/client/saslauthd-client.js';
import { datagramSink } from '../fixtures/datagram.js';
import { type RunningDaemon, startOurs } from '../fixtures/daemon.js';
import { ROOT } from '../fixtures/paths.js';
import { run } from '../fixtures/run.js';
import { verdict } from '../fixtures/testsaslauthd.js';
import { writeUserFiles } from '../fixtures/user-files.js';
import { mkpasswd } from '../fixtures/users.js';

// Issue 14 item 6: the shipped filter, read by Debian's fail2ban-regex, against lines the daemon
// wrote for real requests, in each log form. Forged addresses (198.51.100.x, 203.0.113.x) sit in
// every client-written field; the real 5th fields are 192.0.2.x.

const USER = 'sat_lg_f2b';
const PASSWORD = 'f2b pw';
/** Nothing listens here (our port range): a rimap route to it is a backend outage. */
const DEAD_IMAP_PORT = 27399;

let dir: string;
let files: { passwd: string; shadow: string };
let filter: string;

beforeAll(async () => {
  dir = mkdtempSync('/tmp/sat_lg-f2b-');
  files = writeUserFiles(dir, [{ name: USER, hash: await mkpasswd(PASSWORD, 'sha-512') }]);
  // fail2ban resolves `before = common.conf` beside the filter: the installed one, as in /etc/fail2ban.
  mkdirSync(join(dir, 'filter.d'));
  filter = join(dir, 'filter.d', 'saslauthd-ts.conf');
  copyFileSync(join(ROOT, 'contrib/fail2ban/filter.d/saslauthd-ts.conf'), filter);
  symlinkSync('/etc/fail2ban/filter.d/common.conf', join(dir, 'filter.d', 'common.conf'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ARGS = (): string[] => [
  '-a', 'shadow', '--passwd-file', files.passwd, '--shadow-file', files.shadow,
  '--route', 'outage=rimap', '--link-option', `rimap.o=127.0.0.1/${DEAD_IMAP_PORT}`, '--rimap-spare-connections', '0',
];

/** Real failures, forgeries and non-failures; returns the addresses a correct filter must ban, in order. */
async function traffic(d: RunningDaemon): Promise<string[]> {
  const ask = (login: string, password: string, service: string, realm: string, clientAddr?: string) =>
    sendRequest(d.socket, { login, password, service, realm, clientAddr });
  // 1. A wrong password with a real address, the login forging another.
  expect(await ask('x] [remote=198.51.100.1', 'bad', 'imap', '', '192.0.2.1;4100')).toBe('NO authentication failed');
  // 2. A login carrying a whole forged failure line after a newline.
  const forgedLine = '2026-01-01T00:00:00.000Z INFO auth failure: [user=a] [service=imap] [realm=] [remote=198.51.100.2;1] [mech=shadow] [reason=password mismatch] conn=1 outcome=rejected';
  expect(await ask(`x\n${forgedLine}`, 'bad', 'imap', '', '192.0.2.2;4100')).toBe('NO authentication failed');
  // 3. Bidi override, zero width space and line separator around forged groups in service and realm.
  expect(await ask(`\u202e]1;3.001.15.891=etomer[\u202c${USER}`, 'bad', 'smtp\u2028[remote=198.51.100.3]', '] [remote=198.51.100.4;1', '192.0.2.3;4100')).toBe('NO authentication failed');
  // 4. A real user, wrong password, realm in JSON-ish quotes.
  expect(await ask(USER, 'bad', 'imap', '","remote":"198.51.100.5', '192.0.2.4;993')).toBe('NO authentication failed');
  // 5. A forged 5th field itself: escaped, so it matches nothing rather than the address inside.
  expect(await ask(USER, 'bad', 'imap', '', '192.0.2.99;1] [remote=198.51.100.6')).toBe('NO authentication failed');
  // 6. Postfix-style (4 fields, no address), with a forging login: nothing to ban.
  expect(await verdict(d.socket, 'x [remote=198.51.100.7;1', 'bad', { service: 'smtp' })).toBe('NO');
  // 7. A success and a backend outage with an address: never banned.
  expect(await ask(USER, PASSWORD, 'imap', '', '192.0.2.98;4100')).toBe('OK');
  expect(await ask(USER, PASSWORD, 'outage', '', '192.0.2.97;4100')).toBe('NO authentication failed');
  // 8. An IPv6 client.
  expect(await ask(USER, 'bad', 'imap', '', '2001:db8::5;4100')).toBe('NO authentication failed');
  return ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4', '2001:db8::5'];
}

/** The addresses fail2ban-regex finds in `log` with the shipped filter, one per matched line. */
async function banned(log: string, name: string): Promise<string[]> {
  const file = join(dir, name);
  writeFileSync(file, log);
  const r = await run('fail2ban-regex', ['-o', 'ip', file, filter]);
  expect(r.code, r.stderr).toBe(0);
  // A jail skips a matched line whose time it cannot find: every line must have one.
  const stats = await run('fail2ban-regex', [file, filter]);
  const hits = [...stats.stdout.matchAll(/^\|\s+\[(\d+)\] /gm)].reduce((n, m) => n + Number(m[1]), 0);
  expect(hits, stats.stdout).toBe(log.trimEnd().split('\n').length);
  return r.stdout.split('\n').filter((l) => l !== '');
}

async function served(args: string[], body: (d: RunningDaemon) => Promise<string[]>): Promise<{ d: RunningDaemon; expected: string[] }> {
  const d = await startOurs([...ARGS(), ...args]);
  let expected: string[];
  try {
    expected = await body(d);
  } finally {
    expect(await d.stop()).toBe(0);
  }
  return { d, expected };
}

describe('contrib/fail2ban/filter.d/saslauthd-ts.conf with Debian fail2ban-regex', () => {
  it('text (stderr to a file): bans the real 5th-field addresses and no forged one', async () => {
    const { d, expected } = await served([], traffic);
    const out = d.output();
    // The outage is an auth failure line too, but outcome=unavailable: no ban for a backend down.
    expect(out).toMatch(/auth failure: \[user=sat_lg_f2b\] \[service=outage\] \[realm=\] \[remote=192\.0\.2\.97;4100\] \[mech=shadow\] \[reason=[^\]]*\] conn=\d+ outcome=unavailable .*via=rimap/);
    expect(await banned(out, 'text.log')).toEqual(expected);
  }, 90_000);

  it('JSON (--log-format json): the same addresses', async () => {
    const { d, expected } = await served(['--log-format', 'json'], traffic);
    expect(await banned(d.output(), 'json.log')).toEqual(expected);
  }, 90_000);

  it('syslog (--syslog-socket, written to a file as rsyslog does): the same addresses', async () => {
    const sink = datagramSink(join(dir, 'dev-log'));
    let expected: string[] = [];
    try {
      ({ expected } = await served(['--syslog-socket', sink.path], traffic));
      await sink.waitFor((m) => m.includes('master exited'), 10_000, 'last syslog line');
    } finally {
      sink.close();
    }
    // rsyslog's traditional file format: the datagram without <PRI>, with the host after the date.
    const file = sink.messages.map((m) => {
      const p = /^<\d+>([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) (saslauthd\[\d+\]: .*)$/.exec(m);
      expect(p, m).not.toBeNull();
      return `${p![1]} mailhost ${p![2]}\n`;
    }).join('');
    expect(file).toContain(' mailhost saslauthd[');
    expect(await banned(file, 'syslog.log')).toEqual(expected);
  }, 90_000);
});

describe('contrib/fail2ban/jail.d/saslauthd-ts.local', () => {
  it('loads into Debian fail2ban beside the stock configuration: both jails, with their filters', async () => {
    const conf = join(dir, 'etc-fail2ban');
    await run('cp', ['-r', '/etc/fail2ban', conf]);
    copyFileSync(join(ROOT, 'contrib/fail2ban/filter.d/saslauthd-ts.conf'), join(conf, 'filter.d', 'saslauthd-ts.conf'));
    copyFileSync(join(ROOT, 'contrib/fail2ban/jail.d/saslauthd-ts.local'), join(conf, 'jail.d', 'saslauthd-ts.local'));
    const r = await run('fail2ban-client', ['-c', conf, '-d']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines).toContain("['add', 'saslauthd-ts', 'auto']");
    expect(lines).toContain("['add', 'postfix-sasl', 'auto']");
    // The stock postfix filter in auth mode: Postfix's own "SASL … authentication failed" warning.
    expect(lines.some((l) => l.startsWith("['set', 'postfix-sasl', 'addfailregex', '^[^[]*\\\\[<HOST>\\\\]") && l.includes('SASL ((?i)LOGIN|PLAIN'))).toBe(true);
    expect(lines.some((l) => l.startsWith("['multi-set', 'saslauthd-ts', 'addfailregex'") && l.includes('outcome=rejected'))).toBe(true);
  });
});
