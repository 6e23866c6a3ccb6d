/**
 * What the request path asks of an abort signal. A real AbortSignal is one, and so is RequestSignal.
 */
export type Abortable = Pick<AbortSignal, 'aborted' | 'reason' | 'throwIfAborted' | 'addEventListener' | 'removeEventListener'>;

type Listener = Parameters<AbortSignal['addEventListener']>[1];

/**
 * The abort signal of one request: aborted when its client goes away or its deadline passes.
 *
 * Node's AbortSignal is an EventTarget made by changing a fresh object's prototype: 3.3 µs to make
 * and 1.7 µs per listener added and removed, in a hot loop. A request makes one and its backend adds
 * and removes a listener per network step (rimap: five), almost always for nothing. This one is a
 * flag and a list, and makes a real AbortSignal only for a Node API that needs one (`native`).
 * Listeners are called as EventTarget calls them: once, in order, an exception reported as uncaught.
 */
export class RequestSignal implements Abortable {
  #aborted = false;
  #reason: unknown = undefined;
  #listeners: NonNullable<Listener>[] | null = null;
  #native: AbortController | null = null;

  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): unknown {
    return this.#reason;
  }

  /** The signal itself: a RequestSignal stands where an AbortController (signal and abort) is expected. */
  get signal(): this {
    return this;
  }

  throwIfAborted(): void {
    if (this.#aborted) throw this.#reason;
  }

  /** `once` needs no handling: a signal aborts once, and its listeners are dropped then. */
  addEventListener(type: string, listener: Listener, _options?: Parameters<AbortSignal['addEventListener']>[2]): void {
    if (type !== 'abort' || listener === null || this.#aborted) return;
    const list = (this.#listeners ??= []);
    // EventTarget ignores a listener added twice.
    if (!list.includes(listener)) list.push(listener);
  }

  removeEventListener(type: string, listener: Listener): void {
    const list = this.#listeners;
    if (type !== 'abort' || list === null || listener === null) return;
    const i = list.indexOf(listener);
    if (i >= 0) list.splice(i, 1);
  }

  abort(reason: unknown = new DOMException('This operation was aborted', 'AbortError')): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    const list = this.#listeners;
    if (list !== null) {
      const event = new Event('abort');
      // As EventTarget: a listener that an earlier one removes is not called.
      for (const l of list.slice()) {
        if (!list.includes(l)) continue;
        try {
          if (typeof l === 'function') l.call(this as unknown as AbortSignal, event);
          else l.handleEvent(event);
        } catch (e) {
          process.nextTick(() => {
            throw e;
          });
        }
      }
      this.#listeners = null;
    }
    this.#native?.abort(reason);
  }

  /** A real AbortSignal that follows this one, for Node APIs that take nothing else (made on first use). */
  get native(): AbortSignal {
    if (this.#native === null) {
      this.#native = new AbortController();
      if (this.#aborted) this.#native.abort(this.#reason);
    }
    return this.#native.signal;
  }
}

/** `s` as a real AbortSignal, for a Node API. */
export function nativeSignal(s: Abortable): AbortSignal {
  return s instanceof RequestSignal ? s.native : (s as AbortSignal);
}
