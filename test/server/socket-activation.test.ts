import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inheritedListeners } from '../../src/server/systemd.js';
import { datagramSink } from '../fixtures/datagram.js';
import { DAEMON_BIN } from '../fixtures/paths.js';
import { testsaslauthd, verdict } from '../fixtures/testsaslauthd.js';
import { mkpasswd } from '../fixtures/users.js';
import { writeUserFiles } from '../fixtures/user-files.js';

let dir: string;
let files: { passwd: string; shadow: string };

beforeAll(async () => {
  dir = mkdtempSync('/tmp/sat-pf-act-');
  files = writeUserFiles(dir, [{ name: 'sat_pf_s1', hash: await mkpasswd('activated pw', 'yescrypt') }]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function exitOf(p: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (p.exitCode !== null) return resolve(p.exitCode);
    p.once('exit', (code) => resolve(code));
  });
}

describe('socket activation (LISTEN_FDS)', () => {
  it('serves every listener systemd-socket-activate passes, leaves the socket files alone, and exits 0', async () => {
    const main = join(dir, 'run');
    const chroot = join(dir, 'spool', 'var', 'run', 'saslauthd');
    mkdirSync(main, { recursive: true });
    mkdirSync(chroot, { recursive: true });
    const sockA = join(main, 'mux');
    const sockB = join(chroot, 'mux');
    const ownRunDir = join(dir, 'not-used');
    const sink = datagramSink(join(dir, 'notify'));
    // systemd-socket-activate binds both, then on the first connection execs the daemon with fds 3 and 4.
    const p = spawn('systemd-socket-activate', [
      '-l', sockA, '-l', sockB, '--fdname=mux:postfix',
      '-E', `NOTIFY_SOCKET=${sink.path}`,
      process.execPath, DAEMON_BIN, '-a', 'shadow', '--passwd-file', files.passwd, '--shadow-file', files.shadow, '-m', ownRunDir,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr?.on('data', (b: Buffer) => (out += b.toString()));
    try {
      for (let i = 0; i < 400 && !(existsSync(sockA) && existsSync(sockB)); i++) await new Promise((r) => setTimeout(r, 50));
      const modeA = statSync(sockA).mode;
      const modeB = statSync(sockB).mode;
      // The first client waits in the backlog while the daemon starts.
      expect(await verdict(sockA, 'sat_pf_s1', 'activated pw')).toBe('OK');
      expect(await verdict(sockB, 'sat_pf_s1', 'activated pw')).toBe('OK');
      expect(await verdict(sockB, 'sat_pf_s1', 'wrong')).toBe('NO');
      expect(await verdict(sockA, 'sat_pf_s1', 'wrong')).toBe('NO');
      await sink.waitFor((m) => m.startsWith('READY=1\n') && m.includes('on 2 socket(s)'), 20_000, 'READY=1 for 2 sockets');
      expect(out).toContain(`listening on socket: ${sockA} (socket activation) fd=3 name=mux`);
      expect(out).toContain(`listening on socket: ${sockB} (socket activation) fd=4 name=postfix`);
      // The passed descriptors are close-on-exec now, so helper processes (PAM's) do not inherit them.
      for (const fd of [3, 4]) {
        const flags = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/${p.pid}/fdinfo/${fd}`, 'utf8'))?.[1];
        expect(Number.parseInt(flags ?? '0', 8) & 0o2000000).toBe(0o2000000);
      }
      // It did not bind a socket of its own.
      expect(existsSync(ownRunDir)).toBe(false);

      p.kill('SIGTERM');
      expect(await exitOf(p)).toBe(0);
      await sink.waitFor((m) => m.includes('STOPPING=1'), 5_000, 'STOPPING=1');
      // systemd's files: still there, mode untouched (RemoveOnStop= is systemd's business).
      expect(statSync(sockA).isSocket()).toBe(true);
      expect(statSync(sockB).isSocket()).toBe(true);
      expect(statSync(sockA).mode).toBe(modeA);
      expect(statSync(sockB).mode).toBe(modeB);
      // Nobody listens any more.
      const r = await testsaslauthd(sockA, 'sat_pf_s1', 'activated pw');
      expect(r.code).not.toBe(0);
    } finally {
      if (p.exitCode === null) p.kill('SIGKILL');
      sink.close();
    }
  });

  it('refuses a TCP listener: the protocol carries passwords in clear', async () => {
    const p = spawn('systemd-socket-activate', ['-l', '127.0.0.1:22527',
      process.execPath, DAEMON_BIN, '-a', 'shadow', '--passwd-file', files.passwd, '--shadow-file', files.shadow, '-m', join(dir, 'tcp-unused')],
    { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr?.on('data', (b: Buffer) => (out += b.toString()));
    try {
      for (let i = 0; i < 400 && !out.includes('Listening on 127.0.0.1:22527'); i++) await new Promise((r) => setTimeout(r, 50));
      const { connect } = await import('node:net');
      const c = connect({ host: '127.0.0.1', port: 22527 });
      c.on('error', () => {});
      expect(await exitOf(p)).toBe(1);
      c.destroy();
      expect(out).toContain('descriptor 3 passed by the service manager is an inet stream socket; only AF_UNIX stream sockets are served');
    } finally {
      if (p.exitCode === null) p.kill('SIGKILL');
    }
  });

  it('binds its own socket when LISTEN_PID names another process', async () => {
    const env: NodeJS.ProcessEnv = { LISTEN_PID: String(process.pid + 1), LISTEN_FDS: '1', LISTEN_FDNAMES: 'x' };
    expect(inheritedListeners(env, process.pid)).toBeNull();
    // The variables are consumed either way, so helper processes do not inherit them.
    expect(env).toEqual({});
    expect(inheritedListeners({}, process.pid)).toBeNull();
    expect(() => inheritedListeners({ LISTEN_PID: String(process.pid), LISTEN_FDS: 'two' }, process.pid)).toThrow(/LISTEN_FDS is not a number/);
    // fd 3 + 200 is not open in the test process.
    expect(() => inheritedListeners({ LISTEN_PID: String(process.pid), LISTEN_FDS: '201' }, process.pid)).toThrow(/not open|not a socket/);
  });
});
