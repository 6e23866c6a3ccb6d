import { readFileSync, statSync } from 'node:fs';

/**
 * A small text file (passwd, shadow) parsed once and parsed again when it changes on disk. The check
 * is a stat per use: a few microseconds, and it sees edits, atomic renames and truncations at once.
 */
export class WatchedFile<T> {
  #ino = -1;
  #size = -1;
  #mtimeMs = -1;
  #ctimeMs = -1;
  #value: T | null = null;

  constructor(
    readonly path: string,
    private readonly parse: (text: string) => T,
    private readonly onReload: (value: T) => void = () => {},
  ) {}

  /** The parsed content as of now; throws the fs error (ENOENT, EACCES…) when the file cannot be read. */
  current(): T {
    const st = statSync(this.path);
    // Compared as numbers: this runs on every request, cache hits included (issue 15).
    if (this.#value === null || st.ino !== this.#ino || st.size !== this.#size || st.mtimeMs !== this.#mtimeMs || st.ctimeMs !== this.#ctimeMs) {
      const value = this.parse(readFileSync(this.path, 'utf8'));
      this.#value = value;
      [this.#ino, this.#size, this.#mtimeMs, this.#ctimeMs] = [st.ino, st.size, st.mtimeMs, st.ctimeMs];
      this.onReload(value);
    }
    return this.#value;
  }
}
