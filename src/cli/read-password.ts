import { UsageError } from '../errors.js';

/** Longest password read from stdin; more is a usage error rather than unbounded memory. */
const MAX_PASSWORD_BYTES = 64 * 1024;

/**
 * The password for `--test` without `-p` (which would put it in `ps` and the shell history): from
 * the terminal with echo off, or the first line of stdin when stdin is not a terminal.
 */
export async function readPassword(prompt: string): Promise<Buffer> {
  const stdin = process.stdin;
  if (stdin.isTTY) return readFromTerminal(prompt);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const b = chunk as Buffer;
    chunks.push(b);
    size += b.length;
    const nl = b.indexOf(0x0a);
    if (nl >= 0 || size > MAX_PASSWORD_BYTES) break;
  }
  stdin.pause();
  const all = Buffer.concat(chunks);
  if (all.length > MAX_PASSWORD_BYTES) throw new UsageError(`--test: the password on stdin is longer than ${MAX_PASSWORD_BYTES} bytes`);
  const nl = all.indexOf(0x0a);
  let line = nl >= 0 ? all.subarray(0, nl) : all;
  if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
  const out = Buffer.from(line);
  all.fill(0);
  return out;
}

function readFromTerminal(prompt: string): Promise<Buffer> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    const bytes: number[] = [];
    const done = (err: Error | null): void => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(Buffer.from(bytes));
      bytes.fill(0);
    };
    const onData = (chunk: Buffer): void => {
      for (const c of chunk) {
        if (c === 0x0d || c === 0x0a) return done(null);
        if (c === 0x03 || c === 0x04) return done(new UsageError('--test: no password given'));
        if (c === 0x7f || c === 0x08) bytes.pop();
        else bytes.push(c);
      }
    };
    stdin.on('data', onData);
  });
}
