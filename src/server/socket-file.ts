import { chmodSync, chownSync, lstatSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { gidOf, groupExists, uidOf } from './ids.js';

export interface SocketFileOptions {
  /** Run directory (`-m`); the socket is `<runDir>/mux`. */
  readonly runDir: string;
  /** Socket mode (Default: 0o777, saslauthd's: the run directory decides who gets in). */
  readonly socketMode: number;
  readonly socketOwner: string | null;
  readonly socketGroup: string | null;
  /** Mode for a run directory we create; an existing directory is left as it is (Default: 0o710). */
  readonly runDirMode: number;
  /** Group for a run directory we create, when it exists (Default: sasl, as Debian's init script). */
  readonly runDirGroup: string | null;
}

export class SocketFileError extends Error {
  readonly code = 'SOCKET_FILE';
}

/** sun_path holds 108 bytes with the terminating NUL; saslauthd silently truncates longer paths. */
const SUN_PATH_MAX = 107;

export function socketPath(runDir: string): string {
  return join(runDir, 'mux');
}

function ensureRunDir(o: SocketFileOptions, log: Logger): void {
  let st;
  try {
    st = statSync(o.runDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    try {
      mkdirSync(o.runDir, { mode: o.runDirMode });
    } catch (e2) {
      throw new SocketFileError(`cannot create run directory ${o.runDir}: ${(e2 as Error).message}` +
        ((e2 as NodeJS.ErrnoException).code === 'ENOENT' ? ` (parent ${dirname(o.runDir)} does not exist)` : ''));
    }
    chmodSync(o.runDir, o.runDirMode); // mkdir's mode is filtered by the umask
    if (o.runDirGroup !== null && groupExists(o.runDirGroup)) chownSync(o.runDir, 0, gidOf(o.runDirGroup));
    log.info({ dir: o.runDir, mode: o.runDirMode.toString(8), group: o.runDirGroup }, 'created run directory');
    return;
  }
  if (!st.isDirectory()) throw new SocketFileError(`run directory ${o.runDir} exists and is not a directory`);
}

/** Connects to an existing socket file: a live daemon answers, a stale file refuses. */
function probe(path: string): Promise<'live' | 'stale'> {
  return new Promise((resolve) => {
    const s = connect({ path });
    const done = (r: 'live' | 'stale'): void => {
      s.destroy();
      resolve(r);
    };
    s.once('connect', () => done('live'));
    s.once('error', () => done('stale'));
    s.setTimeout(1000, () => done('live'));
  });
}

/**
 * Gets `<runDir>/mux` ready for listen(): the directory exists, a stale socket is removed, a live one
 * (another daemon) or a non-socket file is refused. Returns the path.
 */
export async function prepareSocketFile(o: SocketFileOptions, log: Logger): Promise<string> {
  const path = socketPath(o.runDir);
  if (Buffer.byteLength(path) > SUN_PATH_MAX) {
    throw new SocketFileError(`socket path ${path} is longer than ${SUN_PATH_MAX} bytes (sun_path); choose a shorter -m`);
  }
  ensureRunDir(o, log);
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return path;
  }
  if (!st.isSocket()) throw new SocketFileError(`${path} exists and is not a socket; refusing to replace it`);
  if ((await probe(path)) === 'live') {
    throw new SocketFileError(`another daemon is already listening on ${path}`);
  }
  log.info({ path }, 'removing stale socket file');
  unlinkSync(path);
  return path;
}

/** After listen(): the socket's mode and owner, and a loud warning when every local user can reach it. */
export function secureSocketFile(path: string, o: SocketFileOptions, log: Logger): void {
  chmodSync(path, o.socketMode);
  if (o.socketOwner !== null || o.socketGroup !== null) {
    chownSync(path, o.socketOwner !== null ? uidOf(o.socketOwner) : -1, o.socketGroup !== null ? gidOf(o.socketGroup) : -1);
  }
  const open = worldReachable(path);
  if (open) {
    log.warn({ path, dir: open.dir, dirMode: open.dirMode }, `SECURITY: every local user can connect to ${path} and use it to test passwords; ` +
      `restrict the run directory (e.g. chgrp sasl ${dirname(path)} && chmod 0710 ${dirname(path)}) or use --socket-mode 0660 --socket-group`);
  }
}

/** True when "other" may write the socket and search every directory above it. */
export function worldReachable(path: string): { dir: string; dirMode: string } | null {
  const sock = statSync(path);
  if ((sock.mode & 0o002) === 0) return null;
  let dir = dirname(path);
  const first = { dir, dirMode: (statSync(dir).mode & 0o7777).toString(8) };
  for (;;) {
    if ((statSync(dir).mode & 0o001) === 0) return null;
    const up = dirname(dir);
    if (up === dir) return first;
    dir = up;
  }
}

/** Removes the socket file if it is still the one we created. */
export function removeSocketFile(path: string, ino: number | null): void {
  try {
    if (ino !== null && lstatSync(path).ino !== ino) return;
    unlinkSync(path);
  } catch {
    // already gone
  }
}
