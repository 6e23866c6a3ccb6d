import { spawn } from 'node:child_process';
import { chmodSync, closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { type Server, type Socket, connect, createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { native } from '../../src/native/binding.js';
import { peerCredentialsOf } from '../../src/native/peercred.js';

// SO_PEERCRED as the daemon reads it on every accept: the fast path (pid, uid, gid into a shared
// array) and the full one (with SO_PEERGROUPS) must name the same peer, here a process that runs
// as nobody:nogroup with the supplementary group users (100) and connects to us.

const NOBODY = 65534;
const USERS = 100;
let dir: string;
let server: Server;
/** Every socket of ours, either end, for the clean-up. */
const sockets: Socket[] = [];
let onAccept: ((s: Socket) => void) | null = null;

beforeAll(async () => {
  dir = mkdtempSync('/tmp/sat_peercred-');
  chmodSync(dir, 0o755);
  server = createServer((s) => {
    sockets.push(s);
    onAccept?.(s);
  });
  await new Promise<void>((r) => server.listen(join(dir, 's'), () => r()));
  chmodSync(join(dir, 's'), 0o777);
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

/** A peer that connects as nobody:nogroup (+users) and waits for us to close; resolves with it and our end. */
async function peerAsNobody(): Promise<{ pid: number; socket: Socket; stop: () => void }> {
  const accept = new Promise<Socket>((r) => (onAccept = r));
  const code = `require('net').connect(${JSON.stringify(join(dir, 's'))}).on('close', () => process.exit(0)).on('error', () => process.exit(1))`;
  const child = spawn('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--groups', String(USERS), process.execPath, '-e', code], { stdio: 'ignore' });
  const socket = await accept;
  return { pid: child.pid!, socket, stop: () => socket.destroy() };
}

describe('peerCredentialsOf', () => {
  it('names the connecting process, with and without its groups', async () => {
    const peer = await peerAsNobody();
    try {
      const fast = peerCredentialsOf(peer.socket, false);
      const full = peerCredentialsOf(peer.socket, true);
      expect(fast).toEqual({ pid: peer.pid, uid: NOBODY, gid: NOBODY, groups: [] });
      expect(full).toEqual({ pid: peer.pid, uid: NOBODY, gid: NOBODY, groups: [USERS] });
      // The shared array behind the fast path is copied out: a later call does not change this one.
      const mine = await new Promise<Socket>((resolve) => {
        onAccept = resolve;
        sockets.push(connect(join(dir, 's')));
      });
      expect(peerCredentialsOf(mine, false)).toEqual({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!(), groups: [] });
      expect(fast).toEqual({ pid: peer.pid, uid: NOBODY, gid: NOBODY, groups: [] });
    } finally {
      peer.stop();
    }
  });

  it('returns -errno for a descriptor that is not a socket, and refuses a wrong output array', () => {
    const fd = openSync('/dev/null', 'r');
    try {
      expect(native.peerCredentialsInto(fd, new Uint32Array(3))).toBe(-88); // ENOTSOCK
      expect(() => native.peerCredentialsInto(fd, new Uint32Array(2))).toThrow(/Uint32Array of at least 3/);
      expect(() => native.peerCredentialsInto(fd, new Int32Array(3) as unknown as Uint32Array)).toThrow(/Uint32Array/);
    } finally {
      closeSync(fd);
    }
  });
});
