import { type Stats, lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { groupName, userName } from './ids.js';
import { UnsafeRunDirError } from '../errors.js';

/**
 * Whoever may write to the run directory, or to any directory above it, can swap `mux` for a symlink
 * between our bind() and chown() (root then changes a file of the attacker's choosing), or put a socket
 * of their own in its place and collect passwords. So every directory on the path must be writable only
 * by a trusted user: root or the user the daemon runs as.
 *
 * A directory that others may write to is tolerated above the run directory only when it is sticky
 * (`/tmp`): there, others cannot rename or remove an entry they do not own, so a root-owned entry
 * stays put. The run directory itself must never be writable by others, sticky or not: they could
 * create `mux` before we do, or while we are down.
 *
 * Write access through a POSIX ACL shows in the group bits (the ACL mask), so it is refused as well.
 */

/** The directories the walk looked at end in `missing` when the last component does not exist yet. */
export type RunDirState = { readonly kind: 'exists'; readonly realPath: string } | { readonly kind: 'missing'; readonly parent: string };

export { UnsafeRunDirError };

const S_ISVTX = 0o1000;
const MAX_SYMLINKS = 40;

function owner(uid: number): string {
  const name = userName(uid);
  return name !== null ? `${name} (uid ${uid})` : `uid ${uid}`;
}

function group(gid: number): string {
  const name = groupName(gid);
  return name !== null ? `${name} (gid ${gid})` : `gid ${gid}`;
}

/** Users allowed to own the run directory and the directories above it. */
export function trustedUids(): ReadonlySet<number> {
  return new Set([0, process.geteuid?.() ?? 0]);
}

/** Why others can write to `st` (null if they cannot): an untrusted owner, group write, or write for everyone. */
function writers(st: Stats, trusted: ReadonlySet<number>): { what: string; byOwner: boolean } | null {
  if (!trusted.has(st.uid)) return { what: `is owned by ${owner(st.uid)}, not root`, byOwner: true };
  if ((st.mode & 0o002) !== 0) return { what: 'is writable by every user', byOwner: false };
  // Even group root: the group bits are also the mask of any ACL, which may name other users.
  if ((st.mode & 0o020) !== 0) return { what: `is writable by group ${group(st.gid)}`, byOwner: false };
  return null;
}

/**
 * Walks `runDir` from `/`, component by component and through symlinks, checking each directory it
 * passes and, when it exists, the run directory itself. Throws UnsafeRunDirError naming the path and
 * the problem. A missing last component is reported, not an error (the caller creates it and walks
 * again); a missing parent is.
 */
export function checkRunDir(runDir: string, trusted: ReadonlySet<number> = trustedUids()): RunDirState {
  const fail = (msg: string): never => {
    throw new UnsafeRunDirError(`run directory ${runDir} is not safe: ${msg}; use a directory that only root can write to, such as /run/saslauthd`);
  };
  const pending = runDir.split('/').filter((c) => c !== '' && c !== '.');
  // Each entry: a directory already checked, and whether others may add entries to it (sticky).
  let stack: { path: string; loose: boolean }[] = [{ path: '/', loose: false }];
  const rootProblem = writers(lstatSync('/'), trusted);
  if (rootProblem) fail(`/ ${rootProblem.what}`);
  let links = 0;
  while (pending.length > 0) {
    const name = pending.shift() as string;
    if (name === '..') {
      if (stack.length > 1) stack.pop();
      continue;
    }
    const here = stack[stack.length - 1] as { path: string; loose: boolean };
    const path = join(here.path, name);
    let st: Stats;
    try {
      st = lstatSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      if (pending.length === 0) return { kind: 'missing', parent: here.path };
      throw new UnsafeRunDirError(`cannot use run directory ${runDir}: ${path} does not exist`);
    }
    // In a sticky directory others may write to, only an entry they do not own is beyond their reach.
    if (here.loose && !trusted.has(st.uid)) {
      fail(`${path} is owned by ${owner(st.uid)} inside ${here.path}, which every user may write to (the sticky bit protects only entries root owns)`);
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) fail(`too many symbolic links at ${path}`);
      const target = readlinkSync(path);
      pending.unshift(...target.split('/').filter((c) => c !== '' && c !== '.'));
      if (target.startsWith('/')) stack = [stack[0] as { path: string; loose: boolean }];
      continue;
    }
    if (!st.isDirectory()) {
      throw new UnsafeRunDirError(pending.length === 0 ? `run directory ${runDir} exists and is not a directory` : `cannot use run directory ${runDir}: ${path} is not a directory`);
    }
    const problem = writers(st, trusted);
    if (problem) {
      const last = pending.length === 0;
      if (problem.byOwner || last || (st.mode & S_ISVTX) === 0) fail(`${path} ${problem.what}`);
    }
    stack.push({ path, loose: problem !== null });
  }
  return { kind: 'exists', realPath: (stack[stack.length - 1] as { path: string }).path };
}
