import { chmodSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startOurs } from '../fixtures/daemon.js';
import { type FixtureFiles, writeFixture } from '../fixtures/fixture-users.js';
import { run } from '../fixtures/run.js';

// saslauthd's socket is mode 0777 and every local user who can reach it may test passwords.
// Here SO_PEERCRED is read for each connection and --allow-uid/--allow-gid refuse strangers before a byte is read.

const USER = 'sat_rel_acl';
const PASSWORD = 'Acl-pass 1';
let fx: FixtureFiles;

/** Debian's testsaslauthd run as another identity via setpriv (no supplementary groups unless given). */
function testAs(socket: string, who: { uid: string; gid: string; groups?: string }, password = PASSWORD) {
  return run('setpriv', [
    `--reuid=${who.uid}`, `--regid=${who.gid}`, ...(who.groups ? [`--groups=${who.groups}`] : ['--clear-groups']),
    '/usr/sbin/testsaslauthd', '-u', USER, '-p', password, '-f', socket,
  ]);
}

const NOBODY = { uid: 'nobody', gid: 'nogroup' };
const OK = { code: 0, stdout: '0: OK "Success."\n' };

async function start(extra: string[]): Promise<RunningDaemon> {
  const d = await startOurs(['-a', 'shadow', '--passwd-file', fx.passwd, '--shadow-file', fx.shadow, '-d', ...extra]);
  chmodSync(d.dir, 0o755); // the temp run dir is 0700; let nobody reach the 0777 socket
  return d;
}

beforeAll(async () => {
  fx = await writeFixture([{ name: USER, password: PASSWORD, method: 'sha-512' }]);
});
afterAll(() => fx?.remove());

describe('SO_PEERCRED access control', () => {
  it('without a list everyone is served and the peer uid/pid is logged per request', async () => {
    const d = await start([]);
    try {
      const r = await testAs(d.socket, NOBODY);
      expect({ code: r.code, stdout: r.stdout }).toEqual(OK);
      expect(d.output()).toMatch(/auth success: \[user=sat_rel_acl\].* peer_uid=65534 peer_pid=\d+/);
    } finally {
      await d.stop();
    }
  });

  it('--allow-uid root refuses nobody before reading, and still serves root', async () => {
    const d = await start(['--allow-uid', 'root']);
    try {
      const refused = await testAs(d.socket, NOBODY);
      expect([255, null]).toContain(refused.code); // null: SIGPIPE when the close wins the race with its write
      expect(refused.stdout).not.toMatch(/OK|NO/);
      const mine = await run('/usr/sbin/testsaslauthd', ['-u', USER, '-p', PASSWORD, '-f', d.socket]);
      expect({ code: mine.code, stdout: mine.stdout }).toEqual(OK);
      const log = d.output();
      expect(log).toMatch(/connection refused: uid 65534 gid 65534 is not in --allow-uid\/--allow-gid/);
      // The refused client's request was never read: exactly one auth line (root's) exists.
      expect(log.match(/auth (success|failure):/g)).toEqual(['auth success:']);
    } finally {
      await d.stop();
    }
  });

  it('--allow-gid matches the primary group', async () => {
    const d = await start(['--allow-gid', 'nogroup']);
    try {
      const r = await testAs(d.socket, NOBODY);
      expect({ code: r.code, stdout: r.stdout }).toEqual(OK);
      const other = await testAs(d.socket, { uid: 'daemon', gid: 'daemon' });
      expect([255, null]).toContain(other.code);
      expect(other.stdout).not.toMatch(/OK|NO/);
    } finally {
      await d.stop();
    }
  });

  it('--allow-gid matches a supplementary group (SO_PEERGROUPS), as for postfix in group sasl', async () => {
    const d = await start(['--allow-gid', 'mail', '--allow-uid', '0']);
    try {
      const member = await testAs(d.socket, { ...NOBODY, groups: 'mail' });
      expect({ code: member.code, stdout: member.stdout }).toEqual(OK);
      const stranger = await testAs(d.socket, NOBODY);
      expect([255, null]).toContain(stranger.code);
      expect(stranger.stdout).not.toMatch(/OK|NO/);
      expect(d.output()).toMatch(/connection refused: uid 65534/);
    } finally {
      await d.stop();
    }
  });

  it('a refused client gets no verdict even with a wrong password (no oracle)', async () => {
    const d = await start(['--allow-uid', '0']);
    try {
      // The connection is closed before anything is read: testsaslauthd either fails to read a
      // reply ("size read failed", exit 255) or dies of SIGPIPE writing (exit null), depending on
      // who is first. Either way no verdict, and nothing that depends on the password.
      for (const pw of [PASSWORD, 'wrong']) {
        const r = await testAs(d.socket, NOBODY, pw);
        expect([255, null]).toContain(r.code);
        expect(r.stdout).not.toMatch(/OK|NO/);
      }
      expect(d.output().match(/connection refused: uid 65534/g)?.length).toBe(2);
      expect(d.output()).not.toMatch(/auth (success|failure)/);
    } finally {
      await d.stop();
    }
  });

  it('an unknown name in --allow-uid is a start-up error naming the flag', async () => {
    const r = await run(process.execPath, ['bin/saslauthd-ts', '-a', 'shadow', '--allow-uid', 'sat_rel_nosuchuser', '-m', '/tmp/sat_rel_never']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("--allow-uid: user 'sat_rel_nosuchuser' does not exist");
  });
});
