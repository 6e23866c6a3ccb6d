import { type HashMethod, ensureUser, mkpasswd, removeUser } from './users.js';

/** The shadow-backend fixture: one user per hash scheme plus locked and expired accounts. */
export interface ShadowFixture {
  readonly password: string;
  /** Users whose right password must give OK, by hash scheme. */
  readonly good: Readonly<Record<HashMethod, string>>;
  readonly locked: string;
  readonly accountExpired: string;
  readonly passwordExpired: string;
  readonly all: readonly string[];
}

const METHODS: readonly HashMethod[] = ['yescrypt', 'sha-512', 'sha-256', 'md5', 'bcrypt', 'descrypt'];

/** Creates sat_<prefix>_* system users (idempotent); `password` must be ≤ 8 bytes to suit DES. */
export async function createShadowFixture(prefix: string, password = 'Pw8 \\"x!'): Promise<ShadowFixture> {
  const today = Math.floor(Date.now() / 86_400_000);
  const good = {} as Record<HashMethod, string>;
  for (const m of METHODS) {
    const name = `sat_${prefix}_${m.replace(/[^a-z0-9]/g, '')}`;
    await ensureUser(name, await mkpasswd(password, m));
    good[m] = name;
  }
  const sha = await mkpasswd(password, 'sha-512');
  const locked = `sat_${prefix}_locked`;
  await ensureUser(locked, `!${sha}`);
  const accountExpired = `sat_${prefix}_acctexp`;
  await ensureUser(accountExpired, sha, { expireDay: today - 5 });
  const passwordExpired = `sat_${prefix}_pwexp`;
  await ensureUser(passwordExpired, sha, { lastChange: today - 100, maxDays: 30 });
  return { password, good, locked, accountExpired, passwordExpired, all: [...Object.values(good), locked, accountExpired, passwordExpired] };
}

export async function removeShadowFixture(f: ShadowFixture | undefined): Promise<void> {
  if (!f) return;
  for (const u of f.all) await removeUser(u);
}
