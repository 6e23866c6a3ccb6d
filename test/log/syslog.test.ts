import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { severityOf, syslogLine, syslogTimestamp } from '../../src/log/syslog.js';
import { sendRequest } from '../../src/client/saslauthd-client.js';
import { datagramSink } from '../fixtures/datagram.js';
import { type RunningDaemon, startOurs } from '../fixtures/daemon.js';
import { verdict } from '../fixtures/testsaslauthd.js';
import { mkpasswd } from '../fixtures/users.js';
import { writeUserFiles } from '../fixtures/user-files.js';

let dir: string;
let files: { passwd: string; shadow: string };

beforeAll(async () => {
  dir = mkdtempSync('/tmp/sat-pf-syslog-');
  files = writeUserFiles(dir, [{ name: 'sat_pf_l1', hash: await mkpasswd('logged pw', 'sha-512') }]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('syslog line format', () => {
  it('writes <PRI>TIMESTAMP ident[pid]: msg as glibc syslog() does, facility auth, ident saslauthd unless told', () => {
    const at = new Date(2026, 10, 7, 9, 5, 1);
    expect(syslogTimestamp(at)).toBe('Nov  7 09:05:01');
    expect(syslogLine({ level: 30, msg: 'listening on socket: /run/saslauthd/mux', path: '/run/saslauthd/mux' }, at, 42))
      .toBe('<38>Nov  7 09:05:01 saslauthd[42]: listening on socket: /run/saslauthd/mux path=/run/saslauthd/mux');
    expect(syslogLine({ level: 50, msg: 'a\nforged line' }, at, 1)).toBe('<35>Nov  7 09:05:01 saslauthd[1]: a forged line');
    expect(syslogLine({ level: 30, msg: 'x' }, at, 7, 4, 'saslauthd-ts')).toBe('<38>Nov  7 09:05:01 saslauthd-ts[7]: x');
    expect([60, 50, 40, 30, 20, 10].map(severityOf)).toEqual([2, 3, 4, 6, 7, 7]);
  });
});

describe('--syslog', () => {
  it('sends the saslauthd auth failure line to the syslog socket with facility auth', async () => {
    const lines: string[] = [];
    const sink = datagramSink(join(dir, 'log'), (m) => lines.push(m));
    let d: RunningDaemon | undefined;
    try {
      d = await startOurs(['-a', 'shadow', '--passwd-file', files.passwd, '--shadow-file', files.shadow, '-V', '--syslog-socket', sink.path]);
      const pid = d.proc.pid as number;
      expect(await verdict(d.socket, 'sat_pf_l1', 'wrong pw', { service: 'smtp', realm: 'example.org' })).toBe('NO');
      expect(await verdict(d.socket, 'sat_pf_l1', 'logged pw', { service: 'smtp' })).toBe('OK');
      const head = `^<(\\d+)>[A-Z][a-z]{2} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d saslauthd\\[${pid}\\]: `;
      const failure = await sink.waitFor((m) => m.includes('auth failure:'), 20_000, 'auth failure line');
      const f = new RegExp(`${head}(auth failure: .*)$`).exec(failure);
      expect(f?.[1]).toBe('38'); // auth(4) * 8 + info(6), as saslauthd logs failures
      // testsaslauthd speaks v4: no client address, so no [remote=].
      expect(f?.[2]).toMatch(/^auth failure: \[user=sat_pf_l1\] \[service=smtp\] \[realm=example\.org\] \[mech=shadow\] \[reason=password mismatch\] conn=\d+ outcome=rejected code=bad-password ms=[\d.]+ peer_uid=0 peer_pid=\d+$/);
      const success = await sink.waitFor((m) => m.includes('auth success:'), 20_000, 'auth success line');
      expect(success).toMatch(new RegExp(`${head}auth success: \\[user=sat_pf_l1\\] \\[service=smtp\\] \\[realm=\\] \\[mech=shadow\\] conn=\\d+ outcome=ok ms=`));
      // A v5 client sends its address: saslauthd's master puts [remote=] after the realm.
      expect(await sendRequest(d.socket, { login: 'sat_pf_l1', password: 'bad', service: 'imap', realm: '', clientAddr: '192.0.2.7;41000' })).toBe('NO authentication failed');
      const remote = await sink.waitFor((m) => m.includes('[remote='), 20_000, 'auth failure with remote');
      expect(remote).toMatch(new RegExp(`${head}auth failure: \\[user=sat_pf_l1\\] \\[service=imap\\] \\[realm=\\] \\[remote=192\\.0\\.2\\.7;41000\\] \\[mech=shadow\\] \\[reason=password mismatch\\] conn=`));
      const debug = lines.find((m) => m.includes('connection accepted'));
      expect(debug).toMatch(new RegExp(`${head}connection accepted conn=\\d+`));
      expect(/^<(\d+)>/.exec(debug ?? '')?.[1]).toBe('39'); // auth + debug
      expect(lines.some((m) => /logged pw|wrong pw/.test(m))).toBe(false);
      expect(await d.stop()).toBe(0);
      await sink.waitFor((m) => m.includes(`master exited: ${pid}`), 5_000, 'master exited');
      // Everything went to syslog; nothing to stderr.
      expect(d.output()).toBe('');
    } finally {
      await d?.stop('SIGKILL');
      sink.close();
    }
  });

  it('falls back to stderr, saying so, when the syslog socket is missing', async () => {
    const d = await startOurs(['-a', 'shadow', '--passwd-file', files.passwd, '--shadow-file', files.shadow, '--syslog-socket', join(dir, 'no-log')]);
    try {
      expect(await verdict(d.socket, 'sat_pf_l1', 'wrong pw')).toBe('NO');
    } finally {
      expect(await d.stop()).toBe(0);
    }
    expect(d.output()).toContain(`saslauthd-ts: cannot write to syslog socket ${join(dir, 'no-log')} (ENOENT); logging to stderr`);
    expect(d.output()).toMatch(/<38>.* saslauthd\[\d+\]: auth failure: \[user=sat_pf_l1\] \[service=imap\] \[realm=\]/);
  });
});
