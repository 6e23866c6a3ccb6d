import { readFileSync, statSync } from 'node:fs';

/**
 * A small text file (passwd, shadow) parsed once and parsed again when it changes on disk. The check
 * is a stat per use: a few microseconds, and it sees edits, atomic renames and truncations at once.
 */
export class WatchedFile<T> {
  #stamp = '';
  #value: T | null = null;

  constructor(
    readonly path: string,
    private readonly parse: (text: string) => T,
    private readonly onReload: (value: T) => void = () => {},
  ) {}

  /** The parsed content as of now; throws the fs error (ENOENT, EACCES…) when the file cannot be read. */
  current(): T {
    const st = statSync(this.path);
    const stamp = `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    if (stamp !== this.#stamp || this.#value === null) {
      const value = this.parse(readFileSync(this.path, 'utf8'));
      this.#value = value;
      this.#stamp = stamp;
      this.onReload(value);
    }
    return this.#value;
  }
}
