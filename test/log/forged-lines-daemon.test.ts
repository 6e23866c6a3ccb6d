import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRequest } from '../../src/protocol/request-encoder.js';
import { datagramSink } from '../fixtures/datagram.js';
import { type RunningDaemon, startOurs } from '../fixtures/daemon.js';
import { FORGING_LOGIN, type SeenRequest, UNSAFE, checkLine } from '../fixtures/log-lines.js';
import { rawConnect } from '../fixtures/raw-socket.js';
import { verdict } from '../fixtures/testsaslauthd.js';
import { writeUserFiles } from '../fixtures/user-files.js';
import { mkpasswd } from '../fixtures/users.js';

const USER = 'sat_lg_u1';
const PASSWORD = 'logged pw';
/** Every kind of character that could end, hide or shape a line, in each field a client writes. */
const RAW_LOGIN = `${USER}\r\n\x0b\x0c\x1b[31m\x7f\u0085\u2028\u2029\u202e\u2066]="\\`;
const RAW_SERVICE = 'smtp\u2028[remote=203.0.113.7]';
const RAW_REALM = '] [remote=203.0.113.8';
const ADDR_A = '192.0.2.9;40000';
const ADDR_B = '192.0.2.10;1] [remote=203.0.113.9\n';

// The same values as they must appear inside [key=…] (escaped by hand, not by src/log/escape.ts).
const E_FORGING = 'x \\x5bremote\\x3d198.51.100.9;1';
const E_LOGIN = 'sat_lg_u1\\x0d\\x0a\\x0b\\x0c\\x1b\\x5b31m\\x7f\\x85\\u2028\\u2029\\u202e\\u2066\\x5d\\x3d\\x22\\\\';
const E_SERVICE = 'smtp\\u2028\\x5bremote\\x3d203.0.113.7\\x5d';
const E_REALM = '\\x5d \\x5bremote\\x3d203.0.113.8';
const E_ADDR_B = '192.0.2.10;1\\x5d \\x5bremote\\x3d203.0.113.9\\x0a';

const SEEN: readonly SeenRequest[] = [
  { login: FORGING_LOGIN, service: 'smtp', realm: '', clientAddr: null },
  { login: RAW_LOGIN, service: RAW_SERVICE, realm: RAW_REALM, clientAddr: ADDR_A },
  { login: RAW_LOGIN, service: RAW_SERVICE, realm: RAW_REALM, clientAddr: ADDR_B },
  { login: USER, service: 'imap', realm: '', clientAddr: null },
];

let dir: string;
let files: { passwd: string; shadow: string };

beforeAll(async () => {
  dir = mkdtempSync('/tmp/sat_lg-daemon-');
  files = writeUserFiles(dir, [{ name: USER, hash: await mkpasswd(PASSWORD, 'sha-512') }]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function rawRequest(socket: string, password: string, clientAddr: string): Promise<string> {
  const c = await rawConnect(socket);
  c.write(encodeRequest([RAW_LOGIN, password, RAW_SERVICE, RAW_REALM, clientAddr]));
  const reply = await c.closed;
  return reply.subarray(2).toString();
}

/**
 * What Postfix (no 5th field) and a hostile local client send: the issue's login twice through
 * Debian's testsaslauthd, the raw request twice (two addresses), then a right password. Each login's
 * two wrong passwords differ: the same wrong password retried does not escalate the penalty (issue 11
 * item 13a), and the second failure's `auth penalty:` line is one of the lines under test.
 */
async function attack(d: RunningDaemon): Promise<void> {
  expect(await verdict(d.socket, FORGING_LOGIN, 'wrong pw', { service: 'smtp' })).toBe('NO');
  expect(await verdict(d.socket, FORGING_LOGIN, 'wrong pw 2', { service: 'smtp' })).toBe('NO');
  expect(await rawRequest(d.socket, 'wrong pw', ADDR_A)).toBe('NO authentication failed');
  expect(await rawRequest(d.socket, 'wrong pw 2', ADDR_B)).toBe('NO authentication failed');
  expect(await verdict(d.socket, USER, PASSWORD)).toBe('OK');
}

const ARGS = (): string[] => ['-a', 'shadow', '--passwd-file', files.passwd, '--shadow-file', files.shadow, '-V', '--fail-delay', '20', '--penalty-max', '80'];

/** The message parts every format must carry, byte for byte. */
function expectMessages(msgs: readonly string[]): void {
  const failure = (user: string, service: string, realm: string, remote: string | null): string =>
    `auth failure: [user=${user}] [service=${service}] [realm=${realm}]${remote === null ? '' : ` [remote=${remote}]`} [mech=shadow] [reason=no such user in passwd]`;
  expect(msgs.filter((m) => m === failure(E_FORGING, 'smtp', '', null)).length).toBe(2);
  expect(msgs.filter((m) => /^auth penalty: /.test(m) && m.includes(E_FORGING))).toEqual([
    expect.stringMatching(new RegExp(`^auth penalty: \\[user=${E_FORGING.replace(/[\\[\]().]/g, '\\$&')}\\] \\[service=smtp\\] \\[failures=2\\] \\[delay=\\d+ms\\]$`)),
  ]);
  expect(msgs).toContain(failure(E_LOGIN, E_SERVICE, E_REALM, ADDR_A));
  expect(msgs).toContain(failure(E_LOGIN, E_SERVICE, E_REALM, E_ADDR_B));
  expect(msgs.filter((m) => m.startsWith(`auth penalty: [user=${E_LOGIN}] [service=${E_SERVICE}] [remote=${E_ADDR_B}] [failures=2] [delay=`)).length).toBe(1);
  expect(msgs).toContain('auth success: [user=sat_lg_u1] [service=imap] [realm=] [mech=shadow]');
  // The only [remote=] anywhere: the two real 5th fields (B's failure and its penalty line).
  const remotes = msgs.flatMap((m) => [...m.matchAll(/\[remote=([^\]]*)\]/g)].map((x) => x[1]));
  expect(remotes.sort()).toEqual([ADDR_A, E_ADDR_B, E_ADDR_B].sort());
}

describe('forged log lines against the real daemon (shadow backend, Debian testsaslauthd, raw requests)', () => {
  it('text on stderr', async () => {
    const d = await startOurs(ARGS());
    try {
      await attack(d);
    } finally {
      expect(await d.stop()).toBe(0);
    }
    const out = d.output();
    expect(out.endsWith('\n')).toBe(true);
    const lines = out.slice(0, -1).split('\n');
    expect(UNSAFE.test(lines.join(''))).toBe(false);
    for (const l of lines) checkLine('text', l, SEEN);
    const msgs = lines.map((l) => l.replace(/^\S+Z [A-Z]+ /, '').replace(/^(auth [a-z]+: .*\]) [a-z_]+=.*$/, '$1'));
    expectMessages(msgs);
    expect(out).toContain(`DEBUG authenticating conn=`);
    expect(out).not.toMatch(/[[ ]remote=(198\.51|203\.0)/);
  }, 60_000);

  it('JSON (--log-format json): msg escaped, fields exact for a JSON reader, raw line clean', async () => {
    const d = await startOurs([...ARGS(), '--log-format', 'json']);
    try {
      await attack(d);
    } finally {
      expect(await d.stop()).toBe(0);
    }
    const lines = d.output().slice(0, -1).split('\n');
    for (const l of lines) checkLine('json', l, SEEN);
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expectMessages(records.map((r) => String(r['msg'])));
    const raw = records.find((r) => r['remote'] === ADDR_B && String(r['msg']).startsWith('auth failure:'));
    expect(raw).toMatchObject({ user: RAW_LOGIN, service: RAW_SERVICE, realm: RAW_REALM, remote: ADDR_B });
    expect(d.output()).not.toMatch(/[[ ]remote=(198\.51|203\.0)/);
  }, 60_000);

  it('a reason that repeats the client realm (--allow-realm refusal) is escaped too', async () => {
    const realm = 'evil] [remote=198.51.100.10;1';
    const d = await startOurs([...ARGS(), '--allow-realm', 'example.com']);
    try {
      expect(await verdict(d.socket, USER, 'wrong pw', { realm })).toBe('NO');
    } finally {
      expect(await d.stop()).toBe(0);
    }
    const lines = d.output().slice(0, -1).split('\n');
    for (const l of lines) checkLine('text', l, { login: USER, service: 'imap', realm, clientAddr: null });
    const failure = lines.find((l) => l.includes(' INFO auth failure:'));
    expect(failure).toContain('[realm=evil\\x5d \\x5bremote\\x3d198.51.100.10;1]');
    expect(failure).toMatch(/\[reason=[^\]]*evil\\x5d \\x5bremote\\x3d198\.51\.100\.10;1[^\]]*\]/);
    expect(d.output()).not.toContain('remote=');
  }, 60_000);

  it('syslog (--syslog-socket)', async () => {
    const sink = datagramSink(join(dir, 'log'));
    let d: RunningDaemon | undefined;
    try {
      d = await startOurs([...ARGS(), '--syslog-socket', sink.path]);
      await attack(d);
      expect(await d.stop()).toBe(0);
      await sink.waitFor((m) => m.includes('master exited'), 5_000, 'master exited');
      expect(d.output()).toBe('');
      for (const m of sink.messages) checkLine('syslog', m, SEEN);
      const msgs = sink.messages.map((m) => m.replace(/^<\d+>.{15} saslauthd\[\d+\]: /, '').replace(/^(auth [a-z]+: .*\]) [a-z_]+=.*$/, '$1'));
      expectMessages(msgs);
      expect(sink.messages.join('\n')).not.toMatch(/[[ ]remote=(198\.51|203\.0)/);
    } finally {
      await d?.stop('SIGKILL');
      sink.close();
    }
  }, 60_000);
});
