import { chmodSync, chownSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MIN_KEY_BYTES, fleetKeyFor, readFleetKey, readKeyFile } from '../../../src/auth/shared-state/key-file.js';
import { KeyFileError } from '../../../src/errors.js';

// issue 16 item 3: the fleet key is read from a root-only file; anything else is refused with the file named.
const dir = mkdtempSync(join(tmpdir(), 'sat-f2-key-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const KEY = 'k'.repeat(MIN_KEY_BYTES + 16);
function keyFile(name: string, content: string | Buffer = KEY, mode = 0o600): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  chmodSync(p, mode);
  return p;
}

function refusal(path: string): string {
  try {
    readFleetKey(path);
  } catch (e) {
    expect(e).toBeInstanceOf(KeyFileError);
    expect((e as KeyFileError).code).toBe('SASLD_ERR_KEY_FILE');
    return (e as Error).message;
  }
  throw new Error(`${path} was accepted`);
}

describe('readFleetKey (--cache-key-file)', () => {
  it('reads a root-owned 0600 file; 0400 too; one trailing newline is not part of the key', () => {
    const a = readFleetKey(keyFile('a', KEY));
    const b = readFleetKey(keyFile('b', `${KEY}\n`, 0o400));
    const c = readFleetKey(keyFile('c', `${KEY}\r\n`));
    expect(a.sameAs(b)).toBe(true);
    expect(a.sameAs(c)).toBe(true);
    expect(a.derive('cache-entry')).toEqual(b.derive('cache-entry'));
    expect(a.derive('cache-entry')).toHaveLength(32);
  });

  it('derives a different key per purpose, and a different one for another file', () => {
    const a = readFleetKey(keyFile('p1'));
    const other = readFleetKey(keyFile('p2', 'x'.repeat(48)));
    expect(a.derive('cache-entry')).not.toEqual(a.derive('cache-password'));
    expect(a.derive('cache-entry')).not.toEqual(other.derive('cache-entry'));
    expect(a.sameAs(other)).toBe(false);
  });

  it('mac() separates its parts: (a, bc) and (ab, c) differ', () => {
    const k = readFleetKey(keyFile('m'));
    expect(k.mac('x', ['a', 'bc'])).not.toEqual(k.mac('x', ['ab', 'c']));
    expect(k.mac('x', ['a', 'bc'])).toEqual(k.mac('x', ['a', Buffer.from('bc')]));
  });

  it('never prints the key', () => {
    const k = readFleetKey(keyFile('print'));
    expect(String(k)).not.toContain('kkkk');
    expect(JSON.stringify({ k })).not.toContain('kkkk');
    expect(String(k)).toContain(join(dir, 'print'));
  });

  it('refuses a group- or world-readable (or -writable) file, naming it and its mode', () => {
    for (const mode of [0o640, 0o604, 0o620, 0o602, 0o644, 0o660]) {
      const p = keyFile(`mode${mode.toString(8)}`, KEY, mode);
      expect(refusal(p)).toBe(
        `--cache-key-file ${p}: has mode 0${mode.toString(8)}: group or other users may read or change it; it must be 0600 or 0400 (chmod 0600 ${p})`,
      );
    }
  });

  it('refuses a file not owned by root', () => {
    const p = keyFile('nobody');
    chownSync(p, 65534, 65534);
    expect(refusal(p)).toBe(`--cache-key-file ${p}: is owned by uid 65534; it must be owned by root (chown root: ${p})`);
  });

  it('refuses a symlink, even to a good key file', () => {
    const target = keyFile('target');
    const link = join(dir, 'link');
    symlinkSync(target, link);
    expect(refusal(link)).toMatch(new RegExp(`^--cache-key-file ${link}: is a symbolic link`));
  });

  it('refuses a short key (31 bytes, or 32 counting the newline), a missing file, a directory, a relative path', () => {
    const short = keyFile('short', 'k'.repeat(MIN_KEY_BYTES - 1));
    expect(refusal(short)).toBe(`--cache-key-file ${short}: holds 31 bytes; a fleet key needs at least 32 (make one with: openssl rand -base64 48 > ${short})`);
    expect(refusal(keyFile('short-nl', `${'k'.repeat(MIN_KEY_BYTES - 1)}\n`))).toContain('holds 31 bytes');
    expect(refusal(keyFile('empty', ''))).toContain('holds 0 bytes');
    expect(() => readFleetKey(keyFile('exact', 'k'.repeat(MIN_KEY_BYTES)))).not.toThrow();
    expect(refusal(join(dir, 'missing'))).toBe(`--cache-key-file ${join(dir, 'missing')}: cannot open: ENOENT`);
    const sub = join(dir, 'sub');
    mkdirSync(sub, { mode: 0o700 });
    expect(refusal(sub)).toBe(`--cache-key-file ${sub}: is not a regular file`);
    expect(refusal('relative/key')).toBe('--cache-key-file relative/key: must be an absolute path');
  });

  it('refuses a file too big to be a key', () => {
    expect(refusal(keyFile('big', Buffer.alloc(5000, 0x41)))).toContain('is 5000 bytes; a key file holds at most 4096');
  });

  it('the derived key is not the file bytes nor a plain hash of them', () => {
    const k = readFleetKey(keyFile('plain'));
    const d = k.derive('cache-entry');
    expect(d.equals(Buffer.from(KEY).subarray(0, 32))).toBe(false);
    expect(d.equals(createHash('sha256').update(KEY).digest())).toBe(false);
  });
});

// E1's cases for the bytes the penalty keys with (fleetpen), with this file's messages.
describe('readKeyFile (the bytes, for the penalty)', () => {
  const BIN = Buffer.alloc(32, 7);
  it('a root-owned 0600 file of 32 bytes is the key; a trailing newline is not part of it', () => {
    expect(readKeyFile(keyFile('bin', BIN))).toEqual(BIN);
    expect(readKeyFile(keyFile('nl40', `${'k'.repeat(40)}\n`))).toEqual(Buffer.from('k'.repeat(40)));
    expect(readKeyFile(keyFile('ro-bin', BIN, 0o400))).toEqual(BIN);
  });

  it('refuses what readFleetKey refuses, with the same messages', () => {
    const p = keyFile('bin-640', BIN, 0o640);
    expect(() => readKeyFile(p)).toThrow(KeyFileError);
    expect(() => readKeyFile(p)).toThrow(`--cache-key-file ${p}: has mode 0640`);
    expect(() => readKeyFile(keyFile('abc', 'abc'))).toThrow('holds 3 bytes; a fleet key needs at least 32');
    const link = join(dir, 'bin-link');
    symlinkSync(keyFile('bin-target', BIN), link);
    expect(() => readKeyFile(link)).toThrow(`--cache-key-file ${link}: is a symbolic link`);
  });
});

describe('fleetKeyFor (start and reload)', () => {
  /** As a daemon after --user: effective uid nobody, for the length of `f`. */
  function asNobody<T>(f: () => T): T {
    process.seteuid!(65534);
    try {
      return f();
    } finally {
      process.seteuid!(0);
    }
  }

  it('reads the file; after dropping root keeps the key in force for the same file, and says so', () => {
    const p = keyFile('reload');
    const warnings: string[] = [];
    const first = fleetKeyFor(p, null, (m) => warnings.push(m));
    expect(asNobody(() => fleetKeyFor(p, first, (m) => warnings.push(m)))).toBe(first);
    expect(warnings).toEqual([`--cache-key-file ${p}: cannot be read again after dropping root; keeping the key read at start (restart to change it)`]);
  });

  it('without a key in force, for another file, or for any other problem, the reload fails', () => {
    const p = keyFile('reload2');
    const first = fleetKeyFor(p, null, () => {});
    expect(() => asNobody(() => fleetKeyFor(p, null, () => {}))).toThrow(`--cache-key-file ${p}: cannot open: EACCES`);
    const other = keyFile('reload3');
    expect(() => asNobody(() => fleetKeyFor(other, first, () => {}))).toThrow('cannot open: EACCES');
    chmodSync(p, 0o640);
    expect(() => fleetKeyFor(p, first, () => {})).toThrow('has mode 0640');
  });
});
