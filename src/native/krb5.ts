import { type Krb5AuthArgs, type Krb5Result, type Krb5ServerArgs, native } from './binding.js';
import { WorkPool } from './pool.js';
import { AbortedError, Krb5TimeoutError } from '../errors.js';

export type { Krb5AuthArgs, Krb5Result, Krb5ServerArgs };

/** libkrb5's com_err codes by name (from krb5.h, through the addon). */
export const KRB5_ERR: Readonly<Record<string, number>> = native.krb5ErrorCodes;

/** A principal for humans: libkrb5 shows a realm still to be found from krb5.conf as a bare trailing `@`. */
export const principalLabel = (p: string): string => (p.endsWith('@') ? `${p.slice(0, -1)} (realm from krb5.conf [domain_realm])` : p);

export { Krb5TimeoutError };

/**
 * MIT libkrb5 calls on a bounded pool. libkrb5 blocks (KDC round trips) and cannot be interrupted,
 * so a deadline answers the caller while the call runs on and keeps its slot until libkrb5 gives
 * up: the pool size stays the true number of threads busy with Kerberos.
 */
export class Krb5 {
  readonly pool: WorkPool;

  constructor(
    /** Calls allowed to run at once; follows `-n` (Default: 5). */
    concurrency = 5,
    /** Calls allowed to wait for a slot; more fail at once with PoolFullError (Default: WorkPool's 4096). */
    maxQueue?: number,
  ) {
    this.pool = new WorkPool(concurrency, maxQueue);
  }

  authenticate(args: Krb5AuthArgs, timeoutMs: number, signal?: AbortSignal): Promise<Krb5Result> {
    return this.#withDeadline((s) => this.pool.run(() => native.krb5Authenticate(args), s), timeoutMs, signal);
  }

  /** Start-up checks run beside the pool: a KDC probe left hanging must not hold a request's slot. */
  checkKeytab(args: Krb5ServerArgs, probeKdc: boolean, timeoutMs: number): Promise<Krb5Result> {
    return this.#withDeadline(() => native.krb5CheckKeytab({ ...args, probeKdc }), timeoutMs);
  }

  #withDeadline(start: (signal: AbortSignal) => Promise<Krb5Result>, ms: number, signal?: AbortSignal): Promise<Krb5Result> {
    const deadline = new AbortController();
    const both = signal ? AbortSignal.any([signal, deadline.signal]) : deadline.signal;
    return new Promise<Krb5Result>((resolve, reject) => {
      const timer = setTimeout(() => {
        const e = new Krb5TimeoutError(ms);
        deadline.abort(e);
        reject(e);
      }, ms);
      const onAbort = (): void => reject(signal?.reason ?? new AbortedError('aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      start(both)
        .then(resolve, reject)
        .finally(() => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        });
    });
  }
}
