import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FdDestination } from '../../src/log/fd-destination.js';

describe('FdDestination', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const tmp = (): string => {
    const d = mkdtempSync('/tmp/sat-fddest-');
    dirs.push(d);
    return d;
  };

  it('writes each line whole and in order, multi-byte text included', () => {
    const file = join(tmp(), 'log');
    const fd = openSync(file, 'w');
    const dest = new FdDestination(fd);
    dest.write('first line\n');
    dest.write('zweite Zeile: ü, 日本\n');
    closeSync(fd);
    expect(readFileSync(file, 'utf8')).toBe('first line\nzweite Zeile: ü, 日本\n');
  });

  it('waits out a full non-blocking pipe and finishes a partial write, losing nothing', async () => {
    const file = join(tmp(), 'out');
    // The reader starts late, so the pipe (64 KiB) fills: writes see EAGAIN and partial writes.
    const reader = spawn('sh', ['-c', `sleep 0.3; exec cat > ${file}`], { stdio: ['pipe', 'ignore', 'inherit'] });
    const fd = (reader.stdin as unknown as { _handle: { fd: number } })._handle.fd;
    const dest = new FdDestination(fd);
    const lines = Array.from({ length: 400 }, (_, i) => `${String(i).padStart(4, '0')} ${'x'.repeat(1000)} é\n`);
    const big = `${'y'.repeat(200_000)}\n`;
    for (const l of lines) dest.write(l);
    dest.write(big);
    reader.stdin.end();
    await new Promise((resolve) => reader.once('exit', resolve));
    expect(readFileSync(file, 'utf8')).toBe(lines.join('') + big);
  });

  it('throws what the descriptor refuses other than EAGAIN', () => {
    const dest = new FdDestination(987654);
    expect(() => dest.write('x\n')).toThrow(/EBADF/);
  });
});
