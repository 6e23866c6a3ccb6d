import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { native } from '../../src/native/binding.js';
import { Crypt } from '../../src/native/crypt.js';

// `$y$` goes to the vendored yescrypt with its region kept between hashes (src/native/addon/
// yescrypt/README.md); these check it against Debian's mkpasswd, which hashes with libxcrypt.
const run = promisify(execFile);
const crypt = new Crypt(3);
const pw = (s: string): Buffer => Buffer.from(s, 'utf8');

async function mkpasswd(password: string, cost: number): Promise<string> {
  const child = run('mkpasswd', ['-m', 'yescrypt', '-R', String(cost), '--stdin']);
  child.child.stdin!.end(password);
  return (await child).stdout.trim();
}

/** Our hash of `password` under `hash`'s setting must be `hash` byte for byte; a wrong password must not verify. */
async function agrees(password: string, hash: string): Promise<void> {
  expect(await crypt.hash(pw(password), hash)).toBe(hash);
  expect(await crypt.verify(pw(password), hash)).toBe(true);
  expect(await crypt.verify(pw(`${password}x`), hash)).toBe(false);
}

describe('yescrypt with its region kept between hashes', () => {
  it('reproduces libxcrypt (mkpasswd) hashes at every cost, growing and shrinking the region', async () => {
    // Cost 5 is Debian's default (16 MiB); 7 needs 64 MiB, more than a thread keeps, so it is freed after.
    for (const cost of [5, 1, 7, 3, 5, 6, 1, 7, 5]) {
      await agrees('pässwörd with spaces ✓', await mkpasswd('pässwörd with spaces ✓', cost));
    }
  }, 120_000);

  it('agrees with libxcrypt on passwords of any content and length up to a request field', async () => {
    for (const s of ['', 'a', 'x'.repeat(256), '\u{1f511} key', ' leading and trailing ', 'tab\there']) {
      await agrees(s, await mkpasswd(s, 1));
    }
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).filter((s) => !s.includes('\n') && !s.includes('\0')), async (s) => {
        await agrees(s, await mkpasswd(s, 1));
      }),
      { numRuns: 25 },
    );
  }, 120_000);

  it('many hashes at once on several threads all come out right', async () => {
    const hashes = await Promise.all(['one', 'two', 'three'].map((p) => mkpasswd(p, 5)));
    const checks = Array.from({ length: 18 }, (_, i) => crypt.verify(pw(['one', 'two', 'three'][i % 3]!), hashes[(i + (i % 2)) % 3]!));
    expect(await Promise.all(checks)).toEqual(Array.from({ length: 18 }, (_, i) => (i + (i % 2)) % 3 === i % 3));
  }, 120_000);

  it('keeps the region: repeated hashes no longer fault in a fresh 16 MiB each (libxcrypt: ~4 100 page faults per hash)', async () => {
    const hash = await mkpasswd('faults', 5);
    await Promise.all(Array.from({ length: 8 }, () => crypt.verify(pw('faults'), hash))); // every pool thread has its region
    const before = process.resourceUsage().minorPageFault;
    const n = 24;
    for (let i = 0; i < n; i += 3) await Promise.all([0, 1, 2].map(() => crypt.verify(pw('faults'), hash)));
    const perHash = (process.resourceUsage().minorPageFault - before) / n;
    expect(perHash).toBeLessThan(1000);
  }, 120_000);

  it('keeps no more regions than hashes ran at once, and frees idle ones', async () => {
    const hash = await mkpasswd('pool', 5);
    native.yescryptTrim(0);
    // 12 requests through a pool of 3: at most 3 hashes at once, so at most 3 regions.
    expect(await Promise.all(Array.from({ length: 12 }, () => crypt.verify(pw('pool'), hash)))).toEqual(Array(12).fill(true));
    const kept = native.yescryptTrim(60_000); // none idle for a minute yet: all still kept
    expect(kept).toBeGreaterThanOrEqual(1);
    expect(kept).toBeLessThanOrEqual(3);
    expect(native.yescryptTrim(0)).toBe(0);
    expect(await crypt.verify(pw('pool'), hash)).toBe(true);
  }, 120_000);

  it('a malformed $y$ string never verifies', async () => {
    const good = await mkpasswd('secret', 1);
    const [, , params, salt, hash] = good.split('$') as [string, string, string, string, string];
    const bad = [
      `$y$${params}$${salt}$${hash}$`,
      `$y$${params}$${salt}$${hash}x`,
      `$y$${params}$${salt}$${hash.slice(0, -1)}`,
      `$y$$${salt}$${hash}`,
      `$y$${params}$$${hash}`,
      `$y$${params}$${salt}:$${hash}`,
      `$y$${params}$${salt}$${hash}\n`,
      `!${good}`,
      `$y$${params}`,
    ];
    for (const b of bad) expect(await crypt.verify(pw('secret'), b), JSON.stringify(b)).toBe(false);
    expect(await crypt.verify(pw('secret'), good)).toBe(true);
  });
});
