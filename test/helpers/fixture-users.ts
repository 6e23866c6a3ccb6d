import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type HashMethod, mkpasswd } from './users.js';

/** A user in a test-only passwd/shadow pair (no system user is created). */
export interface FixtureUser {
  readonly name: string;
  readonly password: string;
  /** Hash method for mkpasswd, or a literal hash field such as '!' or '*'. */
  readonly method: HashMethod | { readonly literal: string };
}

export interface FixtureFiles {
  readonly dir: string;
  readonly passwd: string;
  readonly shadow: string;
  /** name → the hash written into the shadow file. */
  readonly hashes: ReadonlyMap<string, string>;
  /** shadow(5) text as written, for rewriting in fault tests. */
  readonly shadowText: string;
  remove(): void;
}

/**
 * Writes `<tmpdir>/passwd` and `<tmpdir>/shadow` for `--passwd-file`/`--shadow-file`, hashed by
 * Debian's mkpasswd. Files are mode 0600 owned by `owner` (default root); the directory is 0755.
 */
export async function writeFixture(users: readonly FixtureUser[], owner: { uid: number; gid: number } = { uid: 0, gid: 0 }): Promise<FixtureFiles> {
  const dir = mkdtempSync('/tmp/sat_rel_fx-');
  try {
    return await fill(dir, users, owner);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

async function fill(dir: string, users: readonly FixtureUser[], owner: { uid: number; gid: number }): Promise<FixtureFiles> {
  chmodSync(dir, 0o755);
  const hashes = new Map<string, string>();
  let passwd = '';
  let shadow = '';
  let uid = 61000;
  const today = Math.floor(Date.now() / 86_400_000);
  for (const u of users) {
    const hash = typeof u.method === 'string' ? await mkpasswd(u.password, u.method) : u.method.literal;
    hashes.set(u.name, hash);
    passwd += `${u.name}:x:${uid}:${uid}::/nonexistent:/usr/sbin/nologin\n`;
    shadow += `${u.name}:${hash}:${today}:0:99999:7:::\n`;
    uid++;
  }
  const p = join(dir, 'passwd');
  const s = join(dir, 'shadow');
  writeFileSync(p, passwd, { mode: 0o600 });
  writeFileSync(s, shadow, { mode: 0o600 });
  for (const f of [p, s]) chownSync(f, owner.uid, owner.gid);
  return { dir, passwd: p, shadow: s, hashes, shadowText: shadow, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
