import { run, must } from './run.js';

/** Throwaway system users for tests against the real /etc/shadow; names must start with sat_. */
export interface TestUser {
  readonly name: string;
  readonly password: string;
}

export type HashMethod = 'yescrypt' | 'sha-512' | 'sha-256' | 'md5' | 'bcrypt' | 'descrypt';

/** Hashes with Debian's mkpasswd (package whois): an implementation independent of ours. */
export async function mkpasswd(password: string, method: HashMethod): Promise<string> {
  return (await must('mkpasswd', ['-m', method, '--stdin'], { input: password })).trim();
}

// useradd/usermod take /etc/passwd.lock; parallel test files serialise on this flock instead of failing.
const LOCK = '/tmp/sat-users.lock';

async function locked(cmd: string, args: string[]): Promise<string> {
  return must('flock', ['-w', '60', LOCK, cmd, ...args]);
}

export interface ShadowAgeing {
  /** Days since epoch of the last change; 0 = must change. */
  lastChange?: number;
  maxDays?: number;
  inactiveDays?: number;
  /** Days since epoch; -1 = never. */
  expireDay?: number;
}

/** Creates (or resets) a system user with this exact hash and ageing. Idempotent. */
export async function ensureUser(name: string, hash: string, ageing: ShadowAgeing = {}): Promise<void> {
  if (!name.startsWith('sat_')) throw new Error(`test users must be named sat_*: ${name}`);
  const exists = (await run('id', ['-u', name])).code === 0;
  if (!exists) await locked('useradd', ['-M', '-N', '-s', '/usr/sbin/nologin', name]);
  await locked('usermod', ['-p', hash, name]);
  const today = Math.floor(Date.now() / 86_400_000);
  await locked('chage', [
    '-d', String(ageing.lastChange ?? today),
    '-M', String(ageing.maxDays ?? -1),
    '-I', String(ageing.inactiveDays ?? -1),
    '-E', String(ageing.expireDay ?? -1),
    name,
  ]);
}

export async function removeUser(name: string): Promise<void> {
  if (!name.startsWith('sat_')) throw new Error(`refusing to remove non-test user ${name}`);
  if ((await run('id', ['-u', name])).code !== 0) return;
  await locked('userdel', [name]);
}

/** `usermod ARGS… name` on a test user (-L to lock, -e 1 to expire…), serialised like the others. */
export async function usermod(name: string, ...args: string[]): Promise<void> {
  if (!name.startsWith('sat_')) throw new Error(`refusing to change non-test user ${name}`);
  await locked('usermod', [...args, name]);
}
