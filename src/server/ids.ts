import { readFileSync } from 'node:fs';
import { UnknownIdError } from '../errors.js';

/** Resolves a user or group given by name or number, from /etc/passwd or /etc/group (no NSS needed for these). */
function lookup(file: string, nameOrId: string, what: string): number {
  if (/^\d+$/.test(nameOrId)) return Number(nameOrId);
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === nameOrId && f[2] !== undefined && /^\d+$/.test(f[2])) return Number(f[2]);
  }
  throw new UnknownIdError(`${what} '${nameOrId}' does not exist (looked in ${file})`);
}

export const uidOf = (user: string): number => lookup('/etc/passwd', user, 'user');
export const gidOf = (group: string): number => lookup('/etc/group', group, 'group');

export function groupExists(group: string): boolean {
  try {
    gidOf(group);
    return true;
  } catch {
    return false;
  }
}

/** The name for a uid or gid, for messages; null when the file has none. */
function nameOf(file: string, id: number): string | null {
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[2] === String(id) && f[0]) return f[0];
    }
  } catch {
    // a message without the name is still a message
  }
  return null;
}

export const userName = (uid: number): string | null => nameOf('/etc/passwd', uid);
export const groupName = (gid: number): string | null => nameOf('/etc/group', gid);
