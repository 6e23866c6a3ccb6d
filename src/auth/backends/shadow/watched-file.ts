import { readFileSync } from 'node:fs';
import { StatStamp } from '../../../native/stat-stamp.js';

/**
 * A small text file (passwd, shadow) parsed once and parsed again when it changes on disk. The check
 * is a stat per use: a few microseconds, and it sees edits, atomic renames and truncations at once.
 */
export class WatchedFile<T> {
  readonly #stamp = new StatStamp();
  #value: T | null = null;

  constructor(
    readonly path: string,
    private readonly parse: (text: string) => T,
    private readonly onReload: (value: T) => void = () => {},
  ) {}

  /** The parsed content as of now; throws the fs error (ENOENT, EACCES…) when the file cannot be read. */
  current(): T {
    if (this.#stamp.changed(this.path) || this.#value === null) {
      const value = this.parse(readFileSync(this.path, 'utf8'));
      this.#value = value;
      this.#stamp.accept();
      this.onReload(value);
    }
    return this.#value;
  }
}
