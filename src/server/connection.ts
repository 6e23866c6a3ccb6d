import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { type DecodeResult, type RawRequest, RequestDecoder, encodeReply } from '../protocol/index.js';
import type { ConnectionInfo } from './connection-info.js';
import type { Linkable } from './linked-set.js';
import type { RequestHandler } from './request-handler.js';
import { AbortedError, UnreachableError } from '../errors.js';
import { RequestSignal } from '../auth/request-signal.js';

export interface ConnectionOptions {
  /** Milliseconds from accept to a whole request; then the connection is closed without a reply (Default: 5000). */
  readonly requestTimeoutMs: number;
  /** Milliseconds to wait for the client to close after our reply and half-close (Default: 2000). */
  readonly drainTimeoutMs: number;
  /** Milliseconds to wait for the rest of a partly received fifth field (Default: 20). */
  readonly fifthFieldGraceMs: number;
}

/** Bytes after a request we read and discard before deciding the client is flooding us. */
const MAX_DISCARD_BYTES = 16 * 1024;

export type ConnectionState = 'reading' | 'authenticating' | 'draining' | 'closed';

/**
 * One client, one request: read → authenticate → reply, half-close, drain until the client closes
 * (bounded), close. saslauthd has no timeouts at all; here every state has a deadline.
 */
export class Connection implements Linkable<Connection> {
  state: ConnectionState = 'reading';
  /** The server's list of open connections (LinkedSet) writes these. */
  linkPrev: Connection | null = null;
  linkNext: Connection | null = null;
  linked = false;
  readonly #acceptedAt = performance.now();
  readonly #decoder = new RequestDecoder();
  readonly #abort = new RequestSignal();
  #timer: NodeJS.Timeout | undefined;
  #extraBytes = 0;
  #graceTimer: NodeJS.Timeout | undefined;
  /** Set once an answered connection is to close as soon as its reply is out. */
  #dropping = false;
  /** Made only when someone waits for the close (shutdown): a promise per connection is not free (issue 15). */
  #closed: Promise<void> | null = null;
  #resolveClosed: (() => void) | null = null;

  constructor(
    private readonly socket: Socket,
    readonly info: ConnectionInfo,
    private readonly handler: RequestHandler,
    private readonly options: ConnectionOptions,
    private readonly log: Logger,
    /** Called once when the socket has closed (the server forgets the connection). */
    private readonly onClosed: (c: Connection) => void = () => {},
  ) {
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => this.#onEnd());
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.log.debug({ conn: info.id, err: err.code ?? err.message }, 'socket error');
    });
    socket.on('close', () => this.#onClose());
    this.#timer = setTimeout(() => this.#timeout(), options.requestTimeoutMs);
  }

  /** Resolves when the socket is fully closed. */
  get closed(): Promise<void> {
    if (this.#closed === null) {
      this.#closed = this.state === 'closed' ? Promise.resolve() : new Promise((resolve) => (this.#resolveClosed = resolve));
    }
    return this.#closed;
  }

  /** Milliseconds since the connection was accepted. */
  get ageMs(): number {
    return performance.now() - this.#acceptedAt;
  }

  /** Drops a connection that has not sent a whole request (shutdown, or eviction at the cap). */
  dropIfReading(why: string): boolean {
    if (this.state !== 'reading') return false;
    this.log.warn({ conn: this.info.id }, `closing connection without a request: ${why}`);
    this.#destroy();
    return true;
  }

  /**
   * Drops a connection that has its reply and only waits for the client to close: the client has its
   * answer, so this costs nobody anything. A reply not yet flushed is let out first (a few ms at
   * most: it only waits for its write callback), then the connection closes.
   */
  dropIfAnswered(why: string): boolean {
    if (this.state !== 'draining' || this.#dropping) return false;
    this.#dropping = true;
    this.log.debug({ conn: this.info.id }, `closing answered connection: ${why}`);
    if (this.socket.writableFinished) this.#destroy();
    else this.socket.once('finish', () => this.#destroy());
    return true;
  }

  /** Ends the connection now (shutdown deadline passed). */
  destroy(): void {
    this.#destroy();
  }

  #onData(chunk: Buffer): void {
    if (this.state === 'reading') {
      this.#act(this.#decoder.push(chunk));
      return;
    }
    // Bytes after the request are discarded, but a client that keeps sending is not a client we
    // owe a drain to: stop reading once it is plainly junk, and close as soon as the reply is out.
    this.#extraBytes += chunk.length;
    if (this.#extraBytes <= MAX_DISCARD_BYTES) return;
    if (this.state === 'authenticating') {
      this.socket.pause();
    } else if (this.state === 'draining') {
      this.log.debug({ conn: this.info.id, bytes: this.#extraBytes }, 'client kept sending after its request; closing');
      // Stop reading now: libuv may otherwise keep reading this socket while the reply flushes.
      this.socket.pause();
      if (this.socket.writableFinished) this.#destroy();
      else this.socket.once('finish', () => this.#destroy());
    }
  }

  #onEnd(): void {
    if (this.state === 'reading') {
      const r = this.#decoder.settle();
      if (r.kind === 'request' || r.kind === 'too-long') {
        this.#act(r);
        return;
      }
      // saslauthd sends no reply to a short read either: there is nothing to answer.
      this.log.warn({ conn: this.info.id }, 'client closed before sending a whole request');
      this.#destroy();
    } else if (this.state === 'draining') {
      this.#destroy();
    }
  }

  #act(r: DecodeResult): void {
    switch (r.kind) {
      case 'need-more':
        return;
      case 'maybe-fifth':
        this.#graceTimer ??= setTimeout(() => this.#act(this.#decoder.settle()), this.options.fifthFieldGraceMs);
        return;
      case 'too-long':
        this.#startAuth();
        this.#reply(this.handler.refuseTooLong(this.info, r.field, r.length));
        return;
      case 'request': {
        this.#startAuth();
        const raw = r.request;
        // One then() with both handlers rather than then().finally(): a promise and two closures
        // fewer per request (issue 15). handle() never rejects; should it, the error stays unhandled.
        this.handler.handle(raw, this.info, this.#abort).then(
          (text) => {
            this.#wipe(raw);
            this.#reply(text);
          },
          (e: unknown) => {
            this.#wipe(raw);
            throw e;
          },
        );
        return;
      }
      default: {
        const never: never = r;
        throw new UnreachableError(`unhandled decode result ${String(never)}`);
      }
    }
  }

  /** The request's bytes hold the password: zeroed once it is answered. */
  #wipe(raw: RawRequest): void {
    raw.password.fill(0);
    this.#decoder.wipe();
  }

  #startAuth(): void {
    this.state = 'authenticating';
    clearTimeout(this.#timer);
    clearTimeout(this.#graceTimer);
  }

  #reply(text: string): void {
    if (this.state !== 'authenticating') return; // client went away meanwhile
    this.state = 'draining';
    // Half-close after the reply, then read until the client closes: the reply is never cut off.
    this.socket.end(encodeReply(text));
    this.socket.resume();
    this.#timer = setTimeout(() => this.#destroy(), this.options.drainTimeoutMs);
  }

  #timeout(): void {
    if (this.state !== 'reading') return;
    this.log.warn({ conn: this.info.id, ms: this.options.requestTimeoutMs }, 'no whole request in time; closing');
    this.#destroy();
  }

  #destroy(): void {
    this.socket.destroy();
  }

  #onClose(): void {
    if (this.state === 'authenticating') {
      this.log.debug({ conn: this.info.id }, 'client closed while its request was being decided');
      this.#abort.abort(new AbortedError('client closed'));
    }
    this.state = 'closed';
    clearTimeout(this.#timer);
    clearTimeout(this.#graceTimer);
    this.onClosed(this);
    this.#resolveClosed?.();
  }
}
