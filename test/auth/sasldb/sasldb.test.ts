import { chmodSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SasldbAuthenticator, createSasldbAuthenticator } from '../../../src/auth/backends/sasldb/sasldb.js';
import type { SasldbRead } from '../../../src/native/binding.js';
import { WorkPool } from '../../../src/native/pool.js';
import { req } from '../../fixtures/fake-authenticator.js';
import { saslpasswd } from '../../fixtures/sasldb.js';

const log = pino({ level: 'silent' });
const signal = (): AbortSignal => new AbortController().signal;
let dir: string;
let db: string;

beforeAll(async () => {
  dir = mkdtempSync('/tmp/sat_sd-unit-');
  db = join(dir, 'sasldb2');
  await saslpasswd(db, 'sat_sd_a', 'right pw', 'host.test');
  await saslpasswd(db, 'sat_sd_b', 'realm pw', 'example.org');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const real = (file = db): SasldbAuthenticator => new SasldbAuthenticator({ file, pool: new WorkPool(2), hostname: () => 'host.test' }, log);

describe('SasldbAuthenticator against a file made by saslpasswd2', () => {
  it('decides right, wrong and unknown with the reasons logs need', async () => {
    const a = real();
    expect((await a.authenticate(req('sat_sd_a', 'right pw'), signal())).kind).toBe('ok');
    expect(await a.authenticate(req('sat_sd_a', 'wrong'), signal())).toMatchObject({ kind: 'rejected', code: 'bad-password', compat: 'NO' });
    expect(await a.authenticate(req('sat_sd_x', 'right pw'), signal())).toMatchObject({ kind: 'rejected', code: 'unknown-user', compat: 'NO' });
    expect((await a.authenticate(req('sat_sd_b', 'realm pw', 'imap', 'example.org'), signal())).kind).toBe('ok');
  });

  it('a file deleted after start-up is unavailable, not "unknown user"', async () => {
    const f = join(dir, 'gone');
    await saslpasswd(f, 'sat_sd_a', 'right pw', 'host.test');
    const a = await createSasldbAuthenticator(f, new WorkPool(1), log);
    unlinkSync(f);
    expect(await a.authenticate(req('sat_sd_a', 'right pw'), signal())).toMatchObject({ kind: 'unavailable', code: 'config' });
  });

  it('--user: refused when the unprivileged user could not read the file, allowed when it can', () => {
    const nobody = { user: 'nobody', uid: 65534, gid: 65534, groups: [] };
    chmodSync(dir, 0o755);
    chmodSync(db, 0o640); // like Debian's root:sasl 0640/0660 /etc/sasldb2
    expect(real().unprivilegedProblem(nobody)).toMatch(new RegExp(`^-a sasldb opens ${db} for every request and could not after dropping to nobody: .*not readable by nobody`));
    chmodSync(db, 0o644);
    expect(real().unprivilegedProblem(nobody)).toBeNull();
    chmodSync(db, 0o640);
  });

  it('start-up refuses a missing file, a file that is not a sasldb, and a relative path, naming the file', async () => {
    await expect(createSasldbAuthenticator(join(dir, 'missing'), new WorkPool(1), log)).rejects.toThrow(`${join(dir, 'missing')} does not exist`);
    const junk = join(dir, 'junk');
    writeFileSync(junk, 'not a database\n'.repeat(400));
    await expect(createSasldbAuthenticator(junk, new WorkPool(1), log)).rejects.toThrow(`cannot read ${junk} as a sasldb2 (Berkeley DB hash) file`);
    await expect(createSasldbAuthenticator('etc/sasldb2', new WorkPool(1), log)).rejects.toThrow('absolute path');
  });
});

/** A scripted sequence of reads, to replay what a reader sees while saslpasswd2 rewrites the file. */
function scripted(reads: SasldbRead[]): { a: SasldbAuthenticator; calls: Array<[string, string]> } {
  const calls: Array<[string, string]> = [];
  const a = new SasldbAuthenticator(
    {
      file: '/x/sasldb2',
      pool: new WorkPool(1),
      hostname: () => 'host.test',
      maxReads: 4,
      read: async (_f, login, realm) => {
        calls.push([login, realm]);
        return reads[Math.min(calls.length - 1, reads.length - 1)]!;
      },
    },
    log,
  );
  return { a, calls };
}
const read = (status: SasldbRead['status'], stable = true, quietMs = 1000): SasldbRead => ({ status, stable, quietMs });

describe('SasldbAuthenticator while the file is being rewritten', () => {
  it('realm: an empty one becomes the host name; a login with @ is passed whole', async () => {
    const { a, calls } = scripted([read('match')]);
    await a.authenticate(req('joe@example.org', 'pw'), signal());
    await a.authenticate(req('joe', 'pw', 'imap', 'example.org'), signal());
    expect(calls).toEqual([
      ['joe@example.org', 'host.test'],
      ['joe', 'example.org'],
    ]);
  });

  it('a read during which the file changed is not believed, even a "no"', async () => {
    const { a, calls } = scripted([read('notfound', false), read('match')]);
    expect((await a.authenticate(req('u', 'pw'), signal())).kind).toBe('ok');
    expect(calls).toHaveLength(2);
  });

  it('a "no" from a file that changed just before is confirmed by a second read', async () => {
    const hidden = scripted([read('notfound', true, 0), read('match', true, 0)]);
    expect((await hidden.a.authenticate(req('u', 'pw'), signal())).kind).toBe('ok');
    const confirmed = scripted([read('mismatch', true, 0), read('mismatch', true, 12)]);
    expect(await confirmed.a.authenticate(req('u', 'pw'), signal())).toMatchObject({ kind: 'rejected', code: 'bad-password' });
    expect(confirmed.calls).toHaveLength(2);
  });

  it('a "no" from a quiet file is believed at once', async () => {
    const { a, calls } = scripted([read('notfound', true, 50)]);
    expect(await a.authenticate(req('u', 'pw'), signal())).toMatchObject({ kind: 'rejected', code: 'unknown-user' });
    expect(calls).toHaveLength(1);
  });

  it('a file that never holds still is unavailable after maxReads, never a verdict', async () => {
    const { a, calls } = scripted([read('mismatch', false), read('notfound', true, 0), read('error', false)]);
    expect(await a.authenticate(req('u', 'pw'), signal())).toMatchObject({ kind: 'unavailable', code: 'backend-error' });
    expect(calls).toHaveLength(4);
  });

  it('a damaged quiet file is unavailable with libdb\'s reason', async () => {
    const { a } = scripted([{ status: 'error', stable: true, quietMs: 5000, error: 'BDB0210 checksum error' }]);
    expect(await a.authenticate(req('u', 'pw'), signal())).toMatchObject({ kind: 'unavailable', code: 'backend-error', reason: 'cannot read /x/sasldb2: BDB0210 checksum error' });
  });

  it('reads at most pool-size (-n) files at once', async () => {
    let inFlight = 0;
    let most = 0;
    const a = new SasldbAuthenticator(
      {
        file: '/x/sasldb2',
        pool: new WorkPool(2),
        read: async () => {
          most = Math.max(most, ++inFlight);
          await new Promise((r) => setTimeout(r, 10));
          inFlight--;
          return read('match');
        },
      },
      log,
    );
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => a.authenticate(req('u', 'pw'), signal())));
    expect(outcomes.map((o) => o.kind)).toEqual(Array(10).fill('ok'));
    expect(most).toBe(2);
  });

  it('stops when the request deadline aborts', async () => {
    const { a } = scripted([read('notfound', false)]);
    const ac = new AbortController();
    const p = a.authenticate(req('u', 'pw'), ac.signal);
    ac.abort(new Error('deadline'));
    await expect(p).rejects.toThrow('deadline');
  });
});
