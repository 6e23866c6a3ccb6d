import { readFileSync } from 'node:fs';
import type { PrivilegeTarget } from '../auth/privilege.js';
import { gidOf, uidOf } from '../server/ids.js';
import { PrivilegeDropError, UsageError } from '../errors.js';

function primaryGid(uid: number): number | null {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[2] === String(uid) && f[3] !== undefined && /^\d+$/.test(f[3])) return Number(f[3]);
  }
  return null;
}

/** Resolves `--user`/`--group` to numbers; throws naming the flag when either does not exist. */
export function resolveTarget(user: string, group: string | null): PrivilegeTarget {
  let uid: number;
  try {
    uid = uidOf(user);
  } catch (e) {
    throw new UsageError(`--user: ${(e as Error).message}`);
  }
  let gid: number;
  if (group !== null) {
    try {
      gid = gidOf(group);
    } catch (e) {
      throw new UsageError(`--group: ${(e as Error).message}`);
    }
  } else {
    const g = primaryGid(uid);
    if (g === null) throw new UsageError(`--user ${user}: no primary group in /etc/passwd; give --group`);
    gid = g;
  }
  if (uid === 0) throw new UsageError(`--user ${user} is root; there is nothing to drop`);
  return { user, uid, gid, groups: [gid] };
}

/**
 * Becomes `target` for good: supplementary groups first (root's would otherwise stay), then the
 * gid, then the uid (after which nothing else may be changed). Verifies that root cannot be regained.
 */
export function dropPrivileges(t: PrivilegeTarget): void {
  if (!process.setgroups || !process.setgid || !process.setuid || !process.getuid) {
    throw new PrivilegeDropError('this platform cannot change user ids');
  }
  process.setgroups([...t.groups]);
  process.setgid(t.gid);
  process.setuid(t.uid);
  if (process.getuid() !== t.uid || process.geteuid?.() !== t.uid || process.getgid?.() !== t.gid || process.getegid?.() !== t.gid) {
    throw new PrivilegeDropError('privilege drop did not take effect');
  }
  let regained = false;
  try {
    process.setuid(0);
    regained = true;
  } catch {
    // expected: root is gone
  }
  if (regained) throw new PrivilegeDropError('privilege drop is not permanent (setuid(0) succeeded)');
}
