import { InvalidArgumentError, PoolFullError } from '../errors.js';

/**
 * Bounds how many native jobs run at once. libuv's pool runs them; this queue makes sure at most
 * `size` of ours are in it, so fs and dns work still get threads and a burst queues here, in order,
 * with a cap on how many may wait.
 */
export class WorkPool {
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(
    /** Jobs allowed to run at once (follows `-n`). */
    readonly size: number,
    /** Jobs allowed to wait for a slot; beyond this `run` fails with PoolFullError. */
    readonly maxQueue: number = 4096,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new InvalidArgumentError(`pool size must be >= 1, got ${size}`);
  }

  get running(): number {
    return this.#running;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  async run<T>(job: () => Promise<T>, signal?: PoolSignal): Promise<T> {
    if (this.#running >= this.size) await this.#wait(signal);
    this.#running++;
    try {
      return await job();
    } finally {
      this.#running--;
      this.#waiting.shift()?.();
    }
  }

  #wait(signal?: PoolSignal): Promise<void> {
    if (this.#waiting.length >= this.maxQueue) return Promise.reject(new PoolFullError(this.maxQueue));
    signal?.throwIfAborted();
    return new Promise<void>((resolve, reject) => {
      const wake = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        const i = this.#waiting.indexOf(wake);
        if (i >= 0) this.#waiting.splice(i, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(wake);
    });
  }
}

export { PoolFullError };

/** What the pool asks of an abort signal: an AbortSignal, or the request path's lighter one. */
export type PoolSignal = Pick<AbortSignal, 'aborted' | 'reason' | 'throwIfAborted' | 'addEventListener' | 'removeEventListener'>;
