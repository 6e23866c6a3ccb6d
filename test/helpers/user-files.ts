import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type HashMethod, mkpasswd } from './users.js';

export interface UserFiles {
  readonly passwd: string;
  readonly shadow: string;
  /** Rewrites the shadow file atomically with these users' passwords. */
  write(users: Readonly<Record<string, string>>): Promise<void>;
}

/**
 * passwd + shadow files under `dir` for `-a shadow --passwd-file … --shadow-file …`: no system users
 * needed, and two sets of files make two independent shadow backends for chain tests.
 */
export async function userFiles(dir: string, users: Readonly<Record<string, string>>, method: HashMethod = 'sha-512'): Promise<UserFiles> {
  mkdirSync(dir, { recursive: true });
  const passwd = join(dir, 'passwd');
  const shadow = join(dir, 'shadow');
  const write = async (u: Readonly<Record<string, string>>): Promise<void> => {
    const names = Object.keys(u);
    writeFileSync(passwd, names.map((n, i) => `${n}:x:${20000 + i}:${20000 + i}::/nonexistent:/usr/sbin/nologin\n`).join(''));
    const lines = await Promise.all(names.map(async (n) => `${n}:${await mkpasswd(u[n]!, method)}:19000:0:99999:7:::\n`));
    writeFileSync(`${shadow}.new`, lines.join(''));
    renameSync(`${shadow}.new`, shadow);
  };
  await write(users);
  return { passwd, shadow, write };
}

/** JSON log records (--log-format json) from a daemon's captured output. */
export function jsonLines(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Polls `f` until it returns true (bounded); for log lines that appear after a signal. */
export async function eventually(f: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!f()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Writes passwd and shadow files for --passwd-file/--shadow-file (no system users needed). */
export function writeUserFiles(dir: string, users: readonly { name: string; hash: string }[], suffix = ''): { passwd: string; shadow: string } {
  const passwd = join(dir, `passwd${suffix}`);
  const shadow = join(dir, `shadow${suffix}`);
  const today = Math.floor(Date.now() / 86_400_000);
  writeFileSync(passwd, users.map((u, i) => `${u.name}:x:${20000 + i}:${20000 + i}::/nonexistent:/usr/sbin/nologin\n`).join(''));
  writeFileSync(shadow, users.map((u) => `${u.name}:${u.hash}:${today}:0:99999:7:::\n`).join(''), { mode: 0o600 });
  return { passwd, shadow };
}
