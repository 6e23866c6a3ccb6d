import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startOurs, startReal } from '../fixtures/daemon.js';
import { verdict } from '../fixtures/testsaslauthd.js';
import { jsonLines, userFiles } from '../fixtures/user-files.js';
import { ensureUser, mkpasswd, removeUser, usermod } from '../fixtures/users.js';

// Issue 11 item 7: a cached password must not outlive a lock, an expiry or the user. Real users in
// /etc/shadow with real crypt hashes, changed with usermod/userdel, asked through Debian's
// testsaslauthd, -t left at its default (8 h): every NO below is a cache entry refused at once.
const PW = 'po cache pw';
const LOCK = 'sat_po_lock';
const EXPIRE = 'sat_po_expire';
const GONE = 'sat_po_gone';
const CHAINED = 'sat_po_chained';
const REAL = 'sat_po_real';
const USERS = [LOCK, EXPIRE, GONE, CHAINED, REAL];
let tmp: string;
let ours: RunningDaemon;
let chain: RunningDaemon;
let real: RunningDaemon;

const records = (d: RunningDaemon, user: string): Record<string, unknown>[] =>
  jsonLines(d.output()).filter((r) => r['user'] === user && 'outcome' in r);
const last = (d: RunningDaemon, user: string): Record<string, unknown> | undefined => records(d, user).at(-1);

/** OK from the backend, then OK from the cache. */
async function cached(d: RunningDaemon, user: string): Promise<void> {
  expect(await verdict(d.socket, user, PW)).toBe('OK');
  expect(last(d, user)?.['cached']).toBeUndefined();
  expect(await verdict(d.socket, user, PW)).toBe('OK');
  expect(last(d, user)).toMatchObject({ outcome: 'ok', cached: true });
}

beforeAll(async () => {
  const hash = await mkpasswd(PW, 'yescrypt');
  for (const u of USERS) await ensureUser(u, hash);
  tmp = mkdtempSync('/tmp/sat_po_cache-');
  // A first link that knows nobody, so /etc/shadow (the second link) is the one that accepts.
  const empty = await userFiles(join(tmp, 'empty'), { sat_po_nobody: 'unused' });
  const json = ['--fail-delay', '0', '--log-format', 'json'];
  [ours, chain, real] = await Promise.all([
    startOurs(['-a', 'shadow', '-c', ...json]),
    startOurs(['-a', 'shadow:empty,shadow', '-c', '--link-option', `shadow:empty.passwd-file=${empty.passwd}`, '--link-option', `shadow:empty.shadow-file=${empty.shadow}`, ...json]),
    startReal(['-a', 'shadow', '-c']),
  ]);
});

afterAll(async () => {
  await Promise.all([ours?.stop(), chain?.stop(), real?.stop()]);
  for (const u of USERS) await removeUser(u);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('a cache hit is refused when the account changed (issue 11 item 7)', () => {
  it('usermod -L: NO at once, from the backend, with the cache entry dropped; -U: OK again', async () => {
    await cached(ours, LOCK);
    await usermod(LOCK, '-L');
    expect(await verdict(ours.socket, LOCK, PW)).toBe('NO');
    expect(last(ours, LOCK)).toMatchObject({ outcome: 'rejected', code: 'locked', reason: 'account is locked (!)', recheck: 'locked' });
    expect(last(ours, LOCK)?.['cached']).toBeUndefined();
    expect(await verdict(ours.socket, LOCK, PW)).toBe('NO');
    expect(last(ours, LOCK)).toMatchObject({ code: 'locked' });
    expect(last(ours, LOCK)?.['recheck']).toBeUndefined(); // the entry is gone: a plain backend refusal
    await usermod(LOCK, '-U');
    expect(await verdict(ours.socket, LOCK, PW)).toBe('OK');
    expect(last(ours, LOCK)?.['cached']).toBeUndefined();
  });

  it('usermod -e 1 (account expired): NO at once', async () => {
    await cached(ours, EXPIRE);
    await usermod(EXPIRE, '-e', '1');
    expect(await verdict(ours.socket, EXPIRE, PW)).toBe('NO');
    expect(last(ours, EXPIRE)).toMatchObject({ outcome: 'rejected', code: 'account-expired', recheck: 'account-expired' });
  });

  it('userdel: NO at once', async () => {
    await cached(ours, GONE);
    await removeUser(GONE);
    expect(await verdict(ours.socket, GONE, PW)).toBe('NO');
    expect(last(ours, GONE)).toMatchObject({ outcome: 'rejected', code: 'unknown-user', recheck: 'unknown-user' });
  });

  it('in a chain, the link that accepted is asked: usermod -L is NO at once', async () => {
    await cached(chain, CHAINED);
    expect(records(chain, CHAINED)[0]).toMatchObject({ via: 'shadow' });
    await usermod(CHAINED, '-L');
    expect(await verdict(chain.socket, CHAINED, PW)).toBe('NO');
    expect(last(chain, CHAINED)).toMatchObject({ outcome: 'rejected', code: 'locked', recheck: 'locked', via: 'shadow' });
  });

  it('Debian saslauthd -c keeps answering OK after usermod -L (what we fix)', async () => {
    expect(await verdict(real.socket, REAL, PW)).toBe('OK');
    await usermod(REAL, '-L');
    expect(await verdict(real.socket, REAL, PW)).toBe('OK');
  });
});
