import { type Stats, chmodSync, lchownSync, lstatSync, mkdirSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { gidOf, groupExists, groupName, uidOf, userName } from './ids.js';
import { checkRunDir } from './run-dir.js';
import { SocketFileError } from '../errors.js';

export interface SocketFileOptions {
  /** Run directory (`-m`); the socket is `<runDir>/mux`. */
  readonly runDir: string;
  /** Socket mode, set through the umask at bind() (Default: 0o777, saslauthd's: the run directory decides who gets in). */
  readonly socketMode: number;
  readonly socketOwner: string | null;
  readonly socketGroup: string | null;
  /** Mode for a run directory we create; an existing directory is left as it is (Default: 0o710). */
  readonly runDirMode: number;
  /** Group for a run directory we create, when it exists (Default: sasl, as Debian's init script). */
  readonly runDirGroup: string | null;
}

export { SocketFileError };

/** sun_path holds 108 bytes with the terminating NUL; saslauthd silently truncates longer paths. */
export const SUN_PATH_MAX = 107;

export function socketPath(runDir: string): string {
  return join(runDir, 'mux');
}

/** uid and gid the socket should get (-1: leave as bind() made it); resolved before anything is bound. */
function socketIds(o: SocketFileOptions): { uid: number; gid: number } {
  const resolve = (flag: string, value: string | null, of: (v: string) => number): number => {
    if (value === null) return -1;
    try {
      return of(value);
    } catch (e) {
      throw new SocketFileError(`${flag}: ${(e as Error).message}`);
    }
  };
  return { uid: resolve('--socket-owner', o.socketOwner, uidOf), gid: resolve('--socket-group', o.socketGroup, gidOf) };
}

/** Creates the run directory with its mode and group, or leaves nothing behind when it cannot. */
function createRunDir(o: SocketFileOptions, log: Logger): void {
  try {
    mkdirSync(o.runDir, { mode: o.runDirMode });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return; // someone else made it: checked like any existing one
    throw new SocketFileError(`cannot create run directory ${o.runDir}: ${(e as Error).message}`, { cause: e });
  }
  const group = o.runDirGroup !== null && groupExists(o.runDirGroup) ? o.runDirGroup : null;
  try {
    // The parent is writable only by trusted users (or sticky, where others cannot move root's entry),
    // so the path still names what mkdir made. mkdir's mode went through the umask.
    chmodSync(o.runDir, o.runDirMode);
    // bind() and mkdir() give new files our group: under systemd's Group=sasl nothing needs CAP_CHOWN.
    if (group !== null && lstatSync(o.runDir).gid !== gidOf(group)) lchownSync(o.runDir, -1, gidOf(group));
  } catch (e) {
    // A directory left root:root would be used as it is by the next start, and the group locked out.
    try {
      rmdirSync(o.runDir);
    } catch {
      // the error below says what went wrong first
    }
    const mode = o.runDirMode.toString(8);
    throw new SocketFileError(group === null
      ? `cannot give the new run directory ${o.runDir} mode ${mode}: ${(e as Error).message}; removed it again`
      : `cannot give the new run directory ${o.runDir} mode ${mode} and group ${group}: ${(e as Error).message}; removed it again. ` +
        `Run the daemon with ${group} as its group (systemd: Group=${group}) or with CAP_CHOWN, or create the directory beforehand ` +
        `(install -d -o root -g ${group} -m ${mode.padStart(4, '0')} ${o.runDir})`, { cause: e });
  }
  if (o.runDirGroup !== null && group === null) {
    log.warn({ dir: o.runDir, group: o.runDirGroup }, `group ${o.runDirGroup} does not exist, so run directory ${o.runDir} was created root-only (mode ` +
      `${o.runDirMode.toString(8)}) and only root can reach the socket; create the group (addgroup --system ${o.runDirGroup}) and restart`);
  } else {
    log.info({ dir: o.runDir, mode: o.runDirMode.toString(8), group: o.runDirGroup }, 'created run directory');
  }
}

/** The run directory exists, and it and every directory above it are writable only by trusted users. */
function ensureRunDir(o: SocketFileOptions, log: Logger): void {
  if (checkRunDir(o.runDir).kind === 'exists') return;
  createRunDir(o, log);
  if (checkRunDir(o.runDir).kind === 'missing') throw new SocketFileError(`run directory ${o.runDir} vanished while it was being created`);
}

/** Connects to an existing socket file: a live daemon answers, a stale file refuses. */
export function probe(path: string): Promise<'live' | 'stale'> {
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
 * Gets `<runDir>/mux` (or `<runDir>/<name>`: the control socket) ready for listen(): the directory exists, a stale socket is removed, a live one
 * (another daemon) or a non-socket file is refused. Returns the path.
 */
export async function prepareSocketFile(o: SocketFileOptions, log: Logger, name = 'mux'): Promise<string> {
  const path = join(o.runDir, name);
  if (Buffer.byteLength(path) > SUN_PATH_MAX) {
    throw new SocketFileError(`socket path ${path} is longer than ${SUN_PATH_MAX} bytes (sun_path); choose a shorter -m`);
  }
  socketIds(o);
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

/** The umask under which bind() creates the socket file with exactly `socketMode`. */
export function bindUmask(o: Pick<SocketFileOptions, 'socketMode'>): number {
  return ~o.socketMode & 0o777;
}

/**
 * After listen() (under bindUmask, so the mode is already right): the socket's owner and group, set
 * without following a link (lchown), then checked, and a loud warning when every local user, or
 * not even the socket's group, can reach it. Returns the inode, to remove only our own file at exit.
 */
export function secureSocketFile(path: string, o: SocketFileOptions, log: Logger): { ino: number } {
  const want = socketIds(o);
  let st = lstatSync(path);
  if (!st.isSocket()) throw new SocketFileError(`${path} is not a socket any more (something replaced it after bind); refusing to touch it`);
  const uid = want.uid === -1 ? st.uid : want.uid;
  const gid = want.gid === -1 ? st.gid : want.gid;
  if (st.uid !== uid || st.gid !== gid) {
    try {
      lchownSync(path, uid, gid);
    } catch (e) {
      const eperm = (e as NodeJS.ErrnoException).code === 'EPERM';
      throw new SocketFileError(`cannot give socket ${path} to ${o.socketOwner ?? uid}:${o.socketGroup ?? gid}: ${(e as Error).message}` +
        (eperm ? `; that needs CAP_CHOWN, or (for the group) the daemon running with that group as its own (systemd: Group=${o.socketGroup ?? gid})` : ''), { cause: e });
    }
    st = lstatSync(path);
  }
  if (!st.isSocket() || (st.mode & 0o777) !== (o.socketMode & 0o777) || st.uid !== uid || st.gid !== gid) {
    throw new SocketFileError(`${path} is not the socket we bound (expected mode ${(o.socketMode & 0o777).toString(8)} ${uid}:${gid}, ` +
      `found ${st.isSocket() ? 'socket' : 'non-socket'} mode ${(st.mode & 0o777).toString(8)} ${st.uid}:${st.gid}; ` +
      `a default ACL on ${dirname(path)} overrides the umask bind() is given)`);
  }
  const open = worldReachable(path);
  if (open) {
    // The clients' group: the run directory's (Debian puts postfix in sasl).
    const hintGroup = o.runDirGroup !== null && groupExists(o.runDirGroup) ? o.runDirGroup : 'sasl';
    log.warn({ path, dir: open.dir, dirMode: open.dirMode }, `SECURITY: every local user can connect to ${path} and use it to test passwords; ` +
      `restrict the run directory (chgrp ${hintGroup} ${dirname(path)} && chmod 0710 ${dirname(path)}) or use --socket-mode 0660 --socket-group ${hintGroup}`);
  }
  const shut = groupShutOut(path, st);
  if (shut) {
    log.warn({ path, dir: shut.dir }, `members of group ${groupName(st.gid) ?? st.gid} cannot reach ${path}: ${shut.dir} is ${shut.what}; ` +
      `clients in that group (postfix, cyrus) will get "Permission denied"`);
  }
  return { ino: st.ino };
}

/** The first directory above the socket that the socket's group may not search, when that group may write the socket. */
function groupShutOut(path: string, sock: Stats): { dir: string; what: string } | null {
  if (sock.gid === 0 || (sock.mode & 0o020) === 0) return null;
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const st = statSync(dir);
    const searchable = (st.mode & 0o001) !== 0 || (st.gid === sock.gid && (st.mode & 0o010) !== 0);
    if (!searchable) return { dir, what: `${userName(st.uid) ?? st.uid}:${groupName(st.gid) ?? st.gid} ${(st.mode & 0o7777).toString(8)}` };
    if (dirname(dir) === dir) return null;
  }
}

/** True when "other" may write the socket and search every directory above it. */
export function worldReachable(path: string): { dir: string; dirMode: string } | null {
  const sock = lstatSync(path);
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

/** After a failed start: removes the socket we bound, but never what replaced it. */
export function removeOwnSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // already gone
  }
}
