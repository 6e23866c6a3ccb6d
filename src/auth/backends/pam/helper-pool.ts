import type { Logger } from 'pino';
import { type HelperResult, PamHelper } from './helper-process.js';
import type { HelperRequest } from './protocol.js';
import type { Abortable } from '../../request-signal.js';

export interface PamPoolOptions {
  /** Path of the saslauthd_pam_helper executable. */
  readonly helperPath: string;
  /** Helper processes kept running (follows `-n`; Default: 5). */
  readonly size: number;
  /** Requests allowed to wait for a helper; beyond this the answer is at once "overloaded" (Default: 1024). */
  readonly maxQueue: number;
  /** Milliseconds one PAM conversation may take in a helper before it is killed (Default: 10000). */
  readonly timeoutMs: number;
}

export type PoolResult = HelperResult | { readonly kind: 'overloaded' } | { readonly kind: 'closed' };

interface Waiter {
  readonly req: HelperRequest;
  readonly signal: Abortable;
  readonly resolve: (r: PoolResult) => void;
  readonly onAbort: () => void;
}

/** A helper that dies before serving anything is replaced only after this pause, so a broken install can't spin. */
const RESPAWN_BACKOFF_MS = 1000;

/**
 * A supervised pool of PAM helper processes. Each runs one request at a time; a helper that crashes
 * or passes its deadline is killed and replaced, and only the request it held is affected. Requests
 * wait in a bounded FIFO queue; a full queue answers at once.
 */
export class PamHelperPool {
  readonly #helpers = new Set<PamHelper>();
  readonly #idle: PamHelper[] = [];
  readonly #queue: Waiter[] = [];
  /** close() waits on these: one per helper still alive. */
  readonly #onGone = new Map<PamHelper, () => void>();
  #respawnTimer: NodeJS.Timeout | null = null;
  #closed = false;
  #replaced = 0;

  constructor(
    readonly options: PamPoolOptions,
    private readonly log: Logger,
  ) {}

  /** Starts the helpers now, so the first requests don't pay for exec. */
  start(): void {
    this.#fill();
  }

  get stats(): { helpers: number; idle: number; queued: number; replaced: number; pids: number[] } {
    return {
      helpers: this.#helpers.size,
      idle: this.#idle.length,
      queued: this.#queue.length,
      replaced: this.#replaced,
      pids: [...this.#helpers].map((h) => h.pid ?? -1),
    };
  }

  /** Runs one PAM conversation in a helper. Never rejects. */
  run(req: HelperRequest, signal: Abortable): Promise<PoolResult> {
    if (this.#closed) return Promise.resolve({ kind: 'closed' });
    if (signal.aborted) return Promise.resolve({ kind: 'aborted' });
    const helper = this.#idle.pop();
    if (helper) return this.#runOn(helper, req, signal);
    if (this.#queue.length >= this.options.maxQueue) return Promise.resolve({ kind: 'overloaded' });
    return new Promise<PoolResult>((resolve) => {
      const waiter: Waiter = {
        req,
        signal,
        resolve,
        onAbort: () => {
          const i = this.#queue.indexOf(waiter);
          if (i >= 0) this.#queue.splice(i, 1);
          resolve({ kind: 'aborted' });
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.#queue.push(waiter);
    });
  }

  /** Kills every helper and answers every waiting request "closed". */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#respawnTimer) clearTimeout(this.#respawnTimer);
    for (const w of this.#queue.splice(0)) {
      w.signal.removeEventListener('abort', w.onAbort);
      w.resolve({ kind: 'closed' });
    }
    const gone = [...this.#helpers].map((h) => new Promise<void>((resolve) => (h.alive ? this.#onGone.set(h, resolve) : resolve())));
    for (const h of this.#helpers) h.close();
    await Promise.all(gone);
  }

  async #runOn(helper: PamHelper, req: HelperRequest, signal: Abortable): Promise<PoolResult> {
    const result = await helper.run(req, this.options.timeoutMs, signal);
    if (result.kind === 'reply' && helper.alive && !this.#closed) this.#release(helper);
    return result;
  }

  /** A helper is free: give it the oldest waiting request, or park it. */
  #release(helper: PamHelper): void {
    const next = this.#queue.shift();
    if (!next) {
      this.#idle.push(helper);
      return;
    }
    next.signal.removeEventListener('abort', next.onAbort);
    void this.#runOn(helper, next.req, next.signal).then(next.resolve);
  }

  #spawn(): void {
    const helper = new PamHelper(this.options.helperPath, this.log, (h) => this.#exited(h));
    this.#helpers.add(helper);
    this.log.debug({ helper: helper.pid }, 'PAM helper started');
    this.#release(helper);
  }

  #fill(): void {
    while (!this.#closed && this.#helpers.size < this.options.size) this.#spawn();
  }

  #exited(h: PamHelper): void {
    this.#helpers.delete(h);
    const i = this.#idle.indexOf(h);
    if (i >= 0) this.#idle.splice(i, 1);
    this.#onGone.get(h)?.();
    this.#onGone.delete(h);
    if (this.#closed) return;
    this.#replaced++;
    this.log.warn({ helper: h.pid, served: h.served }, 'PAM helper gone; starting a replacement');
    if (h.given === 0 && performance.now() - h.spawnedAt < RESPAWN_BACKOFF_MS) {
      // Died on its own right after start: probably a broken install, not a bad module. Don't spin.
      this.#respawnTimer ??= setTimeout(() => {
        this.#respawnTimer = null;
        this.#fill();
      }, RESPAWN_BACKOFF_MS);
      return;
    }
    this.#fill();
  }
}
