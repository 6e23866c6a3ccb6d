import { describe, expect, it } from 'vitest';
import { Crypt, gensalt } from '../../src/native/crypt.js';
import { PoolFullError, WorkPool } from '../../src/native/pool.js';
import { type HashMethod, mkpasswd } from '../fixtures/users.js';

const crypt = new Crypt(2);
const pw = (s: string) => Buffer.from(s, 'utf8');

describe('crypt_rn through the addon', () => {
  it.each(['yescrypt', 'sha-512', 'sha-256', 'md5', 'bcrypt', 'descrypt'] as HashMethod[])(
    'verifies %s hashes made by Debian mkpasswd',
    async (method) => {
      const secret = method === 'descrypt' ? 'pw8chars' : 'pässwörd with spaces';
      const hash = await mkpasswd(secret, method);
      expect(await crypt.verify(pw(secret), hash)).toBe(true);
      expect(await crypt.verify(pw(`${secret}x`.slice(method === 'descrypt' ? 1 : 0)), hash)).toBe(false);
    },
  );

  it.each(['', '!', '*', '!!', '*NP*', '*0', '$6$', '$y$', 'garbage$', '$1$abc', `!${'$6$salt$hash'}`])(
    'rejects an unusable hash %j without crashing',
    async (hash) => {
      expect(await crypt.verify(pw('anything'), hash)).toBe(false);
    },
  );

  it('hashes with a fresh setting and verifies the result', async () => {
    for (const prefix of ['$y$', '$6$', '$5$', '$2b$']) {
      const setting = gensalt(prefix);
      expect(setting).not.toBeNull();
      const h = await crypt.hash(pw('x y z'), setting!);
      expect(h?.startsWith(prefix)).toBe(true);
      expect(await crypt.verify(pw('x y z'), h!)).toBe(true);
    }
    expect(gensalt('$nope$')).toBeNull();
  });

  it('rejects a non-Buffer password or a non-string hash with a TypeError', () => {
    const raw = crypt as unknown as { verify: (a: unknown, b: unknown) => Promise<boolean> };
    return expect(raw.verify('str', '$6$x')).rejects.toThrow(TypeError);
  });
});

describe('WorkPool', () => {
  it('never runs more than its size at once and runs everything', async () => {
    const pool = new WorkPool(3);
    let running = 0;
    let peak = 0;
    const jobs = Array.from({ length: 20 }, (_, i) =>
      pool.run(async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setImmediate(r));
        running--;
        return i;
      }),
    );
    expect(await Promise.all(jobs)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(peak).toBe(3);
  });

  it('fails fast when its queue is full, and honours abort while waiting', async () => {
    const pool = new WorkPool(1, 1);
    let release!: () => void;
    const blocker = pool.run(() => new Promise<void>((r) => (release = r)));
    const ctl = new AbortController();
    const queued = pool.run(async () => 'queued', ctl.signal);
    await expect(pool.run(async () => 'overflow')).rejects.toBeInstanceOf(PoolFullError);
    ctl.abort(new Error('gone'));
    await expect(queued).rejects.toThrow('gone');
    release();
    await blocker;
    expect(await pool.run(async () => 'after')).toBe('after');
  });
});
