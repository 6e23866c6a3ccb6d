import { RimapError } from './errors.js';
import type { Abortable } from '../../request-signal.js';

/**
 * Caps connections open at once to one server. Requests beyond the cap wait in a bounded FIFO
 * under their own signal; when the queue is full they fail at once rather than pile up.
 */
export class ConnectionLimiter {
  #active = 0;
  readonly #queue: { grant: () => void; fail: (e: RimapError) => void }[] = [];

  constructor(
    /** Connections open at once. */
    readonly max: number,
    /** Requests allowed to wait for a slot. */
    readonly maxQueue: number,
  ) {}

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#queue.length;
  }

  /** Resolves with a release function once a slot is free; call it exactly once. */
  acquire(signal: Abortable): Promise<() => void> {
    if (signal.aborted) return Promise.reject(new RimapError('aborted', 'request aborted while waiting for a connection slot'));
    if (this.#active < this.max) {
      this.#active++;
      return Promise.resolve(this.#releaser());
    }
    if (this.#queue.length >= this.maxQueue) {
      return Promise.reject(new RimapError('overloaded', `${this.max} connections open and ${this.maxQueue} requests already waiting`));
    }
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          resolve(this.#releaser());
        },
        fail: (e: RimapError) => reject(e),
      };
      const onAbort = (): void => {
        const i = this.#queue.indexOf(entry);
        if (i >= 0) this.#queue.splice(i, 1);
        reject(new RimapError('aborted', 'request aborted while waiting for a connection slot'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(entry);
    });
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#queue.shift();
      // The slot passes straight to the next waiter, so the count never dips and a newcomer cannot jump the queue.
      if (next) next.grant();
      else this.#active--;
    };
  }
}
