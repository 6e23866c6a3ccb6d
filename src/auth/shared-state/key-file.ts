import { constants, closeSync, fstatSync, lstatSync, openSync, readSync } from 'node:fs';
import { createHmac, hkdfSync } from 'node:crypto';
import { KeyFileError } from '../../errors.js';

const refused = (path: string, problem: string): KeyFileError => new KeyFileError(`--cache-key-file ${path}: ${problem}`);

/** Shorter than this is not a key (256 bits: an HMAC-SHA-256 key gains nothing beyond it, and loses below it). */
export const MIN_KEY_BYTES = 32;
/** A key file is a few dozen bytes; anything big is the wrong file. */
const MAX_KEY_BYTES = 4096;

/**
 * `--cache-key-file`: the secret every host of a fleet reads from the same file, so the HMACs it keys
 * mean the same on every host and nothing in Redis can be tested offline without it. Each use
 * derives its own key (HKDF-SHA-256, info `saslauthd-ts fleet <purpose>`), so the cache's entry
 * names, the cache's password digests and the penalty's password HMACs never share one.
 * Like Secret, it has no toString/toJSON: printing it shows nothing.
 */
export class FleetKey {
  readonly #bytes: Buffer;
  readonly #derived = new Map<string, Buffer>();

  constructor(
    /** The file it came from, for messages. */
    readonly file: string,
    bytes: Buffer,
  ) {
    this.#bytes = Buffer.from(bytes);
  }

  /** 32 bytes for one purpose (`cache-entry`, `cache-password`, `penalty-password`…); the same on every host with the same file. */
  derive(purpose: string): Buffer {
    let k = this.#derived.get(purpose);
    if (k === undefined) {
      k = Buffer.from(hkdfSync('sha256', this.#bytes, Buffer.alloc(0), `saslauthd-ts fleet ${purpose}`, 32));
      this.#derived.set(purpose, k);
    }
    return k;
  }

  /**
   * HMAC-SHA-256 under derive(purpose) of the parts, each prefixed by its length so that no two
   * different lists of parts hash the same (`a`,`bc` ≠ `ab`,`c`).
   */
  mac(purpose: string, parts: readonly (string | Buffer)[]): Buffer {
    const h = createHmac('sha256', this.derive(purpose));
    for (const p of parts) {
      const b = typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
      const len = Buffer.alloc(4);
      len.writeUInt32BE(b.length);
      h.update(len).update(b);
    }
    return h.digest();
  }

  /** True when both were read with the same bytes (a reload that changed nothing). */
  sameAs(other: FleetKey): boolean {
    return this.#bytes.equals(other.#bytes);
  }

  toString(): string {
    return `[fleet key from ${this.file}]`;
  }

  toJSON(): string {
    return this.toString();
  }
}

/**
 * Reads the fleet key from `path` at start and on reload. Refuses (KeyFileError naming the file) a
 * symlink, anything not a regular file, a file not owned by root, one any group or other user may
 * read or write, and one shorter than MIN_KEY_BYTES. One trailing newline is not part of the key,
 * so `openssl rand -base64 48 > FILE` and an editor that adds a newline give the same key.
 */
export function readFleetKey(path: string, expectOwner = 0): FleetKey {
  return new FleetKey(path, readKeyFile(path, expectOwner));
}

/**
 * The key file's bytes, with readFleetKey's checks (`expectOwner`: the uid that must own it, root
 * but in tests). The penalty keys its password HMACs with these.
 */
export function readKeyFile(path: string, expectOwner = 0): Buffer {
  if (!path.startsWith('/')) throw refused(path, 'must be an absolute path');
  let fd: number;
  try {
    if (lstatSync(path).isSymbolicLink()) throw refused(path, 'is a symbolic link; name the file itself (a link can be re-pointed by whoever owns it)');
    // O_NOFOLLOW: a symlink put in its place after the lstat fails the open instead of being followed.
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    if (e instanceof KeyFileError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw refused(path, err.code === 'ELOOP' ? 'is a symbolic link' : `cannot open: ${err.code ?? err.message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw refused(path, 'is not a regular file');
    if (st.uid !== expectOwner) throw refused(path, `is owned by uid ${st.uid}; it must be owned by ${expectOwner === 0 ? 'root' : `uid ${expectOwner}`} (chown root: ${path})`);
    if ((st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      throw refused(path, `has mode ${mode}: group or other users may read or change it; it must be 0600 or 0400 (chmod 0600 ${path})`);
    }
    if (st.size > MAX_KEY_BYTES) throw refused(path, `is ${st.size} bytes; a key file holds at most ${MAX_KEY_BYTES}`);
    const buf = Buffer.alloc(MAX_KEY_BYTES + 1);
    let n = 0;
    for (let r = readSync(fd, buf, 0, buf.length, null); r > 0 && n < buf.length; r = readSync(fd, buf, n, buf.length - n, null)) n += r;
    if (n > MAX_KEY_BYTES) throw refused(path, `holds more than ${MAX_KEY_BYTES} bytes; that is not a key file`);
    let end = n;
    if (end > 0 && buf[end - 1] === 0x0a) end--;
    if (end > 0 && buf[end - 1] === 0x0d) end--;
    if (end < MIN_KEY_BYTES) {
      buf.fill(0);
      throw refused(path, `holds ${end} bytes; a fleet key needs at least ${MIN_KEY_BYTES} (make one with: openssl rand -base64 48 > ${path})`);
    }
    const key = Buffer.from(buf.subarray(0, end));
    buf.fill(0);
    return key;
  } finally {
    closeSync(fd);
  }
}

/**
 * The fleet key for a new composition (start, reload). A daemon that dropped root (`--user`) cannot
 * read a root-only key file again, and must not make it readable to do so: on a reload it keeps the
 * key it read as root when the file is the same and the read was refused for permission (logged).
 * Any other problem, or another file, fails the reload like any bad flag.
 */
export function fleetKeyFor(path: string, inForce: FleetKey | null, warn: (message: string) => void): FleetKey {
  try {
    return readFleetKey(path);
  } catch (e) {
    if (inForce === null || inForce.file !== path || !/cannot open: EACCES$/.test((e as Error).message)) throw e;
    warn(`--cache-key-file ${path}: cannot be read again after dropping root; keeping the key read at start (restart to change it)`);
    return inForce;
  }
}
