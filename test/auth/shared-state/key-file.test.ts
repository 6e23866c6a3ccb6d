import { chmodSync, chownSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readKeyFile } from '../../../src/auth/shared-state/key-file.js';
import { KeyFileError } from '../../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'sat-f1-key-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function keyFile(name: string, content: Buffer | string, mode = 0o600): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  chmodSync(p, mode);
  return p;
}

const KEY = Buffer.alloc(32, 7);

describe('--cache-key-file (the fleet key)', () => {
  it('a root-owned 0600 file of 32 bytes is the key; a trailing newline is not part of it', () => {
    expect(readKeyFile(keyFile('ok', KEY))).toEqual(KEY);
    expect(readKeyFile(keyFile('nl', `${'k'.repeat(40)}\n`))).toEqual(Buffer.from('k'.repeat(40)));
    expect(readKeyFile(keyFile('ro', KEY, 0o400))).toEqual(KEY);
  });

  it.each([
    [0o640, 'mode 0640 lets group or others at the fleet key'],
    [0o604, 'mode 0604'],
    [0o620, 'mode 0620'],
  ])('mode %o is refused', (mode, why) => {
    const p = keyFile(`m${mode}`, KEY, mode);
    expect(() => readKeyFile(p)).toThrow(KeyFileError);
    expect(() => readKeyFile(p)).toThrow(`--cache-key-file ${p}: ${why}`);
  });

  it('a file not owned by root is refused', () => {
    const p = keyFile('nobody', KEY);
    chownSync(p, 65534, 65534);
    expect(() => readKeyFile(p)).toThrow(`--cache-key-file ${p}: owned by uid 65534, must be owned by root`);
  });

  it('short keys, symlinks, directories and missing files are refused, naming the file', () => {
    expect(() => readKeyFile(keyFile('short', 'abc'))).toThrow('3 bytes of key, need at least 32');
    const link = join(dir, 'link');
    symlinkSync(keyFile('target', KEY), link);
    expect(() => readKeyFile(link)).toThrow(`--cache-key-file ${link}: cannot open: ELOOP`);
    expect(() => readKeyFile(dir)).toThrow(`--cache-key-file ${dir}: not a regular file`);
    expect(() => readKeyFile(join(dir, 'none'))).toThrow('cannot open: ENOENT');
  });
});
