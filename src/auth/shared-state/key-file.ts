import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { constants } from 'node:fs';
import { KeyFileError } from '../../errors.js';

/** Bytes a fleet key must have at least (256 bits: `head -c 32 /dev/urandom`). */
export const MIN_KEY_BYTES = 32;
const MAX_KEY_BYTES = 4096;

/**
 * Reads `--cache-key-file`: the secret every host of a fleet shares, under which everything about a
 * password that goes to Redis is an HMAC. Whoever can read it can test guesses against what Redis
 * holds, so it must be a regular file owned by root (uid `expectOwner`) that neither group nor others
 * may read or write; anything else is refused with a message naming the file. The whole file
 * (binary, or text with a trailing newline stripped) is the key.
 */
export function readKeyFile(path: string, expectOwner = 0): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    throw new KeyFileError(`--cache-key-file ${path}: cannot open: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new KeyFileError(`--cache-key-file ${path}: not a regular file`);
    if (st.uid !== expectOwner) throw new KeyFileError(`--cache-key-file ${path}: owned by uid ${st.uid}, must be owned by root (chown root ${path})`);
    if ((st.mode & 0o077) !== 0) throw new KeyFileError(`--cache-key-file ${path}: mode ${(st.mode & 0o777).toString(8).padStart(4, '0')} lets group or others at the fleet key (chmod 600 ${path})`);
    if (st.size > MAX_KEY_BYTES) throw new KeyFileError(`--cache-key-file ${path}: ${st.size} bytes, more than ${MAX_KEY_BYTES}: not a key file`);
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    let key = buf.subarray(0, got);
    while (key.length > 0 && (key[key.length - 1] === 0x0a || key[key.length - 1] === 0x0d)) key = key.subarray(0, key.length - 1);
    if (key.length < MIN_KEY_BYTES) throw new KeyFileError(`--cache-key-file ${path}: ${key.length} bytes of key, need at least ${MIN_KEY_BYTES} (head -c 32 /dev/urandom > ${path})`);
    return Buffer.from(key);
  } finally {
    closeSync(fd);
  }
}
