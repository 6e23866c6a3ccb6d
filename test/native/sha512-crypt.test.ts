import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Crypt } from '../../src/native/crypt.js';

// `$6$` in the form libxcrypt writes goes to our sha512-crypt on Node's OpenSSL
// (src/native/addon/sha512-crypt.cc); these check it byte for byte against Debian's mkpasswd,
// which hashes with libxcrypt.
const run = promisify(execFile);
const crypt = new Crypt(3);
const pw = (s: string): Buffer => Buffer.from(s, 'utf8');

async function mkpasswd(password: string, opts: { rounds?: number; salt?: string } = {}): Promise<string> {
  const args = ['-m', 'sha-512', ...(opts.rounds ? ['-R', String(opts.rounds)] : []), ...(opts.salt ? ['-S', opts.salt] : []), '--stdin'];
  const child = run('mkpasswd', args);
  child.child.stdin!.end(password);
  return (await child).stdout.trim();
}

/** crypt(3) of libxcrypt itself, through Python's crypt module; `*0`/`*1` (refused) come back as null. */
async function libxcrypt(password: string, setting: string): Promise<string | null> {
  const child = run('python3', ['-W', 'ignore', '-c', 'import crypt, sys; print(crypt.crypt(sys.stdin.read(), sys.argv[1]))', setting]);
  child.child.stdin!.end(password);
  const out = (await child).stdout.trim();
  return out.startsWith('*') ? null : out;
}

/** libxcrypt's hash for a setting it accepts. */
async function reference(password: string, setting: string): Promise<string> {
  const h = await libxcrypt(password, setting);
  if (h === null) throw new Error(`libxcrypt refused ${setting}`);
  return h;
}

async function agrees(password: string, hash: string): Promise<void> {
  expect(await crypt.hash(pw(password), hash)).toBe(hash);
  expect(await crypt.verify(pw(password), hash)).toBe(true);
  expect(await crypt.verify(pw(`${password}x`), hash)).toBe(false);
  if (password.length > 0) expect(await crypt.verify(pw(password.slice(0, -1)), hash)).toBe(false);
}

describe('sha512-crypt on OpenSSL', () => {
  it('reproduces libxcrypt for keys of every length around the 64-byte block, up to a request field', async () => {
    for (const n of [0, 1, 7, 63, 64, 65, 127, 128, 129, 200, 255, 256]) {
      const s = 'k'.repeat(Math.max(0, n - 1)) + (n > 0 ? 'Z' : '');
      await agrees(s, await mkpasswd(s));
    }
  }, 120_000);

  it('reproduces libxcrypt for rounds= and every salt length', async () => {
    for (const rounds of [1000, 1001, 5000, 12345]) await agrees('rounds ✓', await mkpasswd('rounds ✓', { rounds }));
    // mkpasswd takes salts of 8 to 16 characters; Python's crypt module (libxcrypt too) takes any.
    const salt = 'abcdefghIJKLMN./';
    for (let n = 1; n <= 16; n++) await agrees('salt length', await reference('salt length', `$6$${salt.slice(0, n)}$`));
    await agrees('both', await reference('both', '$6$rounds=2000$ab$'));
  }, 120_000);

  it('agrees with libxcrypt on arbitrary passwords', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme', maxLength: 60 }).filter((s) => !s.includes('\n') && !s.includes('\0')), async (s) => {
        await agrees(s, await mkpasswd(s));
      }),
      { numRuns: 40 },
    );
  }, 120_000);

  it('forms libxcrypt refuses or rewrites stay with it; malformed strings never verify', async () => {
    // libxcrypt refuses rounds outside 1000..999999999 or with a leading zero, and cuts a salt to 16.
    for (const bad of ['$6$rounds=10$saltsalt$', '$6$rounds=05000$saltsalt$', '$6$rounds=1000000000$saltsalt$']) {
      expect(await crypt.hash(pw('x'), bad), bad).toBeNull();
    }
    const cut = await crypt.hash(pw('long salt'), '$6$abcdefghijklmnopqrstu$');
    expect(cut).toBe(await libxcrypt('long salt', '$6$abcdefghijklmnopqrstu$'));
    expect(cut).toMatch(/^\$6\$abcdefghijklmnop\$/);
    const good = await mkpasswd('secret', { salt: 'saltsalt' });
    const hash = good.split('$')[3]!;
    for (const b of [`${good}$`, `${good}x`, good.slice(0, -1), `$6$$${hash}`, `$6$salt:salt$${hash}`, `$6$rounds=05000$saltsalt$${hash}`, `${good}\n`, `!${good}`]) {
      expect(await crypt.verify(pw('secret'), b), JSON.stringify(b)).toBe(false);
    }
    expect(await crypt.verify(pw('secret'), good)).toBe(true);
  });
});
