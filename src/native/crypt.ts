import { native } from './binding.js';
import { type PoolSignal, WorkPool } from './pool.js';

/**
 * A `$y$` hash keeps its 16 MiB working region for the next one (src/native/addon/crypt.cc). Under
 * steady load the regions are reused at once; one idle this long is freed, so a burst of logins
 * leaves no memory behind once the cache answers.
 */
export const YESCRYPT_IDLE_MS = 1000;
let trimming: NodeJS.Timeout | null = null;

/** Schedules the trim after a hash; it re-arms while idle regions are left, and never holds the process. */
function trimIdleRegions(): void {
  if (trimming !== null) return;
  trimming = setTimeout(() => {
    trimming = null;
    if (native.yescryptTrim(YESCRYPT_IDLE_MS) > 0) trimIdleRegions();
  }, YESCRYPT_IDLE_MS).unref();
}

/** crypt(3) verification on a bounded pool. All hashes libxcrypt knows work ($y$ $6$ $5$ $1$ $2b$ DES…). */
export class Crypt {
  readonly pool: WorkPool;

  constructor(
    /** Hashes allowed to run at once; follows `-n` (Default: 5). */
    concurrency = 5,
    /** Hashes allowed to wait for a slot; more fail at once with PoolFullError (Default: WorkPool's 4096). */
    maxQueue?: number,
  ) {
    this.pool = new WorkPool(concurrency, maxQueue);
  }

  /**
   * True only when crypt(password, hash) reproduces `hash` exactly. A locked, empty or unknown hash
   * fails (libxcrypt's failure token or NULL); the comparison is constant-time inside the addon.
   */
  verify(password: Buffer, hash: string, signal?: PoolSignal): Promise<boolean> {
    trimIdleRegions();
    return this.pool.run(() => native.verify(password, hash), signal);
  }

  /** crypt(password, setting); null when the setting is not usable. */
  hash(password: Buffer, setting: string): Promise<string | null> {
    trimIdleRegions();
    return this.pool.run(() => native.hash(password, setting));
  }
}

/** A random setting for `prefix` ("$y$", "$6$", "$2b$", "" for DES…), or null if unsupported. */
export function gensalt(prefix: string, rounds = 0): string | null {
  return native.gensalt(prefix, rounds);
}
