import type { Logger } from 'pino';
import type { LoginDialogue } from './login-dialogue.js';
import type { Abortable } from '../../request-signal.js';

/**
 * A few connections per server that are already connected, greeted and (when configured) upgraded
 * to TLS, so a request only pays for its credentials round trip. One is opened to replace each one
 * taken; none are opened while the daemon is idle, and a spare is closed unused after `maxAgeMs`,
 * well before servers drop idle pre-login connections.
 */
export class SparePool {
  readonly #ready: { dialogue: LoginDialogue; born: number; expiry: NodeJS.Timeout }[] = [];
  #filling = 0;
  #pausedUntil = 0;
  readonly #closing = new AbortController();

  constructor(
    /** Spares kept ready. */
    readonly size: number,
    /** Spare lifetime, ms. */
    readonly maxAgeMs: number,
    /** Opens and prepares one conversation under `signal`. */
    private readonly open: (signal: Abortable) => Promise<LoginDialogue>,
    private readonly log: Logger,
    private readonly label: string,
  ) {}

  /** A prepared conversation whose connection is still idle, or null. */
  take(): LoginDialogue | null {
    const now = Date.now();
    for (let s = this.#ready.pop(); s !== undefined; s = this.#ready.pop()) {
      clearTimeout(s.expiry);
      if (now - s.born < this.maxAgeMs && s.dialogue.conn.idle) return s.dialogue;
      s.dialogue.conn.destroy();
    }
    return null;
  }

  /** Opens spares in the background up to `size`; after a failure it waits a second before trying again. */
  refill(): void {
    if (this.#closing.signal.aborted || Date.now() < this.#pausedUntil) return;
    while (this.#ready.length + this.#filling < this.size) {
      this.#filling++;
      this.open(this.#closing.signal)
        .then((dialogue) => {
          if (this.#closing.signal.aborted) {
            dialogue.conn.destroy();
            return;
          }
          // An unused spare is closed when it ages out, so an idle daemon holds nothing on the server.
          const expiry = setTimeout(() => dialogue.conn.destroy(), this.maxAgeMs);
          expiry.unref();
          const entry = { dialogue, born: Date.now(), expiry };
          this.#ready.push(entry);
          void dialogue.conn.closed.then(() => {
            clearTimeout(expiry);
            const i = this.#ready.indexOf(entry);
            if (i >= 0) this.#ready.splice(i, 1);
          });
        })
        .catch((e: Error) => {
          this.#pausedUntil = Date.now() + 1000;
          this.log.debug({ server: this.label, err: e.message }, 'rimap: could not open a spare connection');
        })
        .finally(() => this.#filling--);
    }
  }

  close(): void {
    this.#closing.abort();
    for (const s of this.#ready.splice(0)) {
      clearTimeout(s.expiry);
      s.dialogue.conn.destroy();
    }
  }
}
