import { accessSync, constants, statSync } from 'node:fs';
import { dirname } from 'node:path';

/** The identity the daemon will run as after `--user`/`--group` dropped root. */
export interface PrivilegeTarget {
  readonly user: string;
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups after the drop (only `gid`: root's groups are cleared). */
  readonly groups: readonly number[];
}

function may(mode: number, owner: number, group: number, t: PrivilegeTarget, bits: { u: number; g: number; o: number }): boolean {
  if (t.uid === owner) return (mode & bits.u) !== 0;
  if (t.gid === group || t.groups.includes(group)) return (mode & bits.g) !== 0;
  return (mode & bits.o) !== 0;
}

/**
 * Why `target` could not read `path` (null when it can): the file's read bit and the search bit of
 * every directory above it, judged by owner/group/other as the kernel would (ACLs aside). Backends
 * use it to refuse a privilege drop that would make them fail at the first request instead.
 */
export function unreadableBy(path: string, t: PrivilegeTarget): string | null {
  try {
    accessSync(path, constants.R_OK);
  } catch (e) {
    return `${path}: ${(e as Error).message}`;
  }
  const st = statSync(path);
  if (!may(st.mode, st.uid, st.gid, t, { u: 0o400, g: 0o040, o: 0o004 })) {
    return `${path} (owner ${st.uid}, group ${st.gid}, mode ${(st.mode & 0o7777).toString(8)}) is not readable by ${t.user} (uid ${t.uid}, gid ${t.gid})`;
  }
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const d = statSync(dir);
    if (!may(d.mode, d.uid, d.gid, t, { u: 0o100, g: 0o010, o: 0o001 })) {
      return `directory ${dir} (mode ${(d.mode & 0o7777).toString(8)}) cannot be searched by ${t.user}`;
    }
    if (dirname(dir) === dir) return null;
  }
}
