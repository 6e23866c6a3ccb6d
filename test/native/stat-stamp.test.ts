import { mkdtempSync, renameSync, rmSync, utimesSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StatStamp } from '../../src/native/stat-stamp.js';

const dir = mkdtempSync('/tmp/sat-stamp-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('StatStamp', () => {
  it('reports every kind of change a shadow edit makes, and nothing else', () => {
    const f = join(dir, 'shadow');
    writeFileSync(f, 'alice:x:1\n');
    const s = new StatStamp();
    expect(s.changed(f)).toBe(true);
    s.accept();
    expect(s.changed(f)).toBe(false);
    expect(s.changed(f)).toBe(false);
    // Same size, mtime put back: only the change time moves (what a careful editor leaves).
    const { atime, mtime } = statSync(f);
    writeFileSync(f, 'alice:y:1\n');
    utimesSync(f, atime, mtime);
    expect(s.changed(f)).toBe(true);
    s.accept();
    expect(s.changed(f)).toBe(false);
    // An atomic replacement (vipw, passwd, chpasswd): a new inode.
    writeFileSync(join(dir, 'nshadow'), 'alice:z:1\n');
    renameSync(join(dir, 'nshadow'), f);
    expect(s.changed(f)).toBe(true);
    s.accept();
    writeFileSync(f, '');
    expect(s.changed(f)).toBe(true);
  });

  it('not taking a stat as seen keeps reporting the change', () => {
    const f = join(dir, 'passwd');
    writeFileSync(f, 'x\n');
    const s = new StatStamp();
    expect(s.changed(f)).toBe(true);
    expect(s.changed(f)).toBe(true);
  });

  it('a missing or unreadable path throws fs.statSync\'s error, naming the path', () => {
    const s = new StatStamp();
    expect(() => s.changed(join(dir, 'nope'))).toThrow(/ENOENT.*nope/);
    expect(() => s.changed(join(dir, 'shadow', 'below-a-file'))).toThrow(/ENOTDIR/);
  });
});
