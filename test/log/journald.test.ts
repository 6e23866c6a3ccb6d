import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VERSION } from '../../src/cli/version.js';
import { CLIENT_BIN, DAEMON_BIN, ROOT } from '../fixtures/paths.js';
import { run } from '../fixtures/run.js';
import { writeUserFiles } from '../fixtures/user-files.js';
import { mkpasswd } from '../fixtures/users.js';

// Issue 14 items 5 and 6 against a real journald: Debian's systemd-journald runs in a private mount
// namespace (its sockets and journal on tmpfs, so the machine's /run and /var/log are untouched),
// systemd-cat connects the daemon's stdout/stderr to it as systemd does for a service, and
// JOURNAL_STREAM is set to that stream's dev:ino as systemd's exec sets it (systemd-cat does not).
// journalctl then shows the priority journald took from each line's <N>, and Debian's
// fail2ban-regex reads the journal with the shipped filter (fail2ban's systemd backend).

const USER = 'sat_lg_jd';
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync('/tmp/sat_lg-journald-');
  writeUserFiles(dir, [{ name: USER, hash: await mkpasswd('jd pw', 'sha-512') }]);
  mkdirSync(join(dir, 'filter.d'));
  copyFileSync(join(ROOT, 'contrib/fail2ban/filter.d/saslauthd-ts.conf'), join(dir, 'filter.d', 'saslauthd-ts.conf'));
  symlinkSync('/etc/fail2ban/filter.d/common.conf', join(dir, 'filter.d', 'common.conf'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const q = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`;

describe('under a real journald', () => {
  it('each line carries its priority, no timestamp; the fail2ban filter reads the journal', async () => {
    const node = q(process.execPath);
    const sock = join(dir, 'run', 'mux');
    const client = (login: string, addr: string): string => `${node} ${q(CLIENT_BIN)} -u ${q(login)} -p bad -a ${q(addr)} -f ${q(sock)} || true`;
    const daemon = `JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec ${node} ${q(DAEMON_BIN)} --fail-delay 0 -T -a shadow ` +
      `--passwd-file ${q(join(dir, 'passwd'))} --shadow-file ${q(join(dir, 'shadow'))} -m ${q(join(dir, 'run'))}`;
    writeFileSync(join(dir, 'run.sh'), [
      'set -e',
      'mkdir -p /run/systemd /run/log /var/log/journal',
      'mount -t tmpfs tmpfs /run/systemd; mount -t tmpfs tmpfs /run/log; mount -t tmpfs tmpfs /var/log/journal',
      '/lib/systemd/systemd-journald & J=$!',
      'trap "kill $J" EXIT',
      'for i in $(seq 200); do [ -S /run/systemd/journal/stdout ] && break; sleep 0.05; done',
      `systemd-cat -t saslauthd-ts sh -c ${q(daemon)} & D=$!`,
      `for i in $(seq 300); do [ -S ${q(sock)} ] && break; sleep 0.05; done`,
      client('x] [remote=198.51.100.1', '192.0.2.7;4100'),
      client(`${USER}\n<3>ERROR auth failure: [user=a] [service=b] [realm=] [remote=198.51.100.2;1]`, '192.0.2.8;4100'),
      'kill $D; wait $D || true',
      'journalctl --sync 2>/dev/null || sleep 0.5',
      `journalctl -o json --no-pager -t saslauthd-ts > ${q(join(dir, 'journal.json'))}`,
      `fail2ban-regex -o ip -m SYSLOG_IDENTIFIER=saslauthd-ts systemd-journal ${q(join(dir, 'filter.d', 'saslauthd-ts.conf'))} > ${q(join(dir, 'f2b.out'))}`,
    ].join('\n'));
    const r = await run('unshare', ['--mount', '--propagation', 'private', 'sh', join(dir, 'run.sh')], { timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    const entries = readFileSync(join(dir, 'journal.json'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { PRIORITY: string; MESSAGE: string });
    const at = (start: string): { PRIORITY: string; MESSAGE: string } | undefined => entries.find((e) => e.MESSAGE.startsWith(start));
    expect(at('INFO saslauthd-ts starting')).toEqual(expect.objectContaining({ PRIORITY: '6', MESSAGE: `INFO saslauthd-ts starting version=${VERSION} node=${process.version}` }));
    expect(at('WARN -T: time-of-day')?.PRIORITY).toBe('4');
    expect(at('INFO auth failure: [user=x\\x5d \\x5bremote\\x3d198.51.100.1] [service=imap] [realm=] [remote=192.0.2.7;4100]')?.PRIORITY).toBe('6');
    // The login's newline and <3> stay inside its [user=…]: no second entry, no priority of the client's.
    expect(at(`INFO auth failure: [user=${USER}\\x0a<3>ERROR auth failure: \\x5buser\\x3da\\x5d`)?.PRIORITY).toBe('6');
    expect(entries.filter((e) => e.PRIORITY !== '6').map((e) => e.MESSAGE)).toEqual([expect.stringMatching(/^WARN -T: /)]);
    for (const e of entries) expect(e.MESSAGE).toMatch(/^(INFO|WARN) /);
    expect(readFileSync(join(dir, 'f2b.out'), 'utf8')).toBe('192.0.2.7\n192.0.2.8\n');
  }, 120_000);
});
