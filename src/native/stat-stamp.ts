import { statSync } from 'node:fs';
import { native } from './binding.js';

/** What says a file changed: inode, size, modification and change time. */
export class StatStamp {
  readonly #now = new Float64Array(6);
  readonly #seen = new Float64Array(6);
  #valid = false;

  /**
   * Stats `path` and reports whether it differs from the last call that returned true (true the
   * first time), recording it as seen. A file that cannot be stat'ed throws fs.statSync's own error
   * (ENOENT, EACCES…, naming the path). Why not fs.statSync every time: it builds a Stats object with
   * four Dates, on every request of the shadow backend (issue 15).
   */
  changed(path: string): boolean {
    if (native.statStamp(path, this.#now) !== 0) {
      statSync(path); // throws the error a reader expects (ENOENT, EACCES…, naming the path)
      // It exists after all (it appeared meanwhile): read it, and never take this stamp as seen.
      this.#now.fill(Number.NaN);
      return true;
    }
    const a = this.#now;
    const b = this.#seen;
    if (this.#valid && a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3] && a[4] === b[4] && a[5] === b[5]) return false;
    return true;
  }

  /** Records the last stat as the one the caller acted on (after a successful re-read). */
  accept(): void {
    this.#seen.set(this.#now);
    this.#valid = true;
  }
}
