import { type Socket, connect as netConnect } from 'node:net';
import { type ConnectionOptions as TlsOptions, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { isIP } from 'node:net';
import { RimapError } from './errors.js';
import { type Response, parseResponse } from './imap-codec.js';
import { LineReader, LineTooLongError } from './line-reader.js';
import type { RimapTarget } from './target.js';
import { InvariantError } from '../../../errors.js';
import type { Abortable } from '../../request-signal.js';

/** TLS settings shared by implicit TLS and STARTTLS. */
export interface TlsSettings {
  /** CA certificates to trust (PEM), or undefined for Node's built-in roots. */
  readonly ca: string | Buffer | readonly (string | Buffer)[] | undefined;
  /** Skip certificate and host name verification. */
  readonly insecure: boolean;
}

const CLOSED_BY_US = new RimapError('closed', 'connection closed by us');

type Waiter = { resolve: (line: Buffer) => void; reject: (e: RimapError) => void };

function tlsOptionsFor(target: RimapTarget, tls: TlsSettings): TlsOptions {
  return {
    host: target.host,
    // SNI takes names only; verification still checks IP addresses against the certificate's SANs.
    ...(isIP(target.host) === 0 ? { servername: target.host } : {}),
    ...(tls.ca !== undefined ? { ca: tls.ca as TlsOptions['ca'] } : {}),
    rejectUnauthorized: !tls.insecure,
    minVersion: 'TLSv1.2',
  };
}

/**
 * One connection to an IMAP server: connect (plain or TLS), read responses line by line under
 * deadlines, write commands, upgrade with STARTTLS. It owns its socket; `destroy()` always ends it.
 */
export class ImapConnection {
  #socket: Socket | TLSSocket;
  #reader = new LineReader();
  #lines: Buffer[] = [];
  #waiter: Waiter | null = null;
  #failure: RimapError | null = null;
  #secure: boolean;
  readonly closed: Promise<void>;
  #onData = (chunk: Buffer): void => this.#receive(chunk);
  // Built only when nothing failed before: most connections end by our own finish(), and an Error
  // with its stack trace per request is measurable.
  #onEnd = (): void => {
    if (!this.#failure) this.#fail(new RimapError('closed', 'server closed the connection'));
  };
  #onError = (err: Error): void => {
    if (!this.#failure) this.#fail(new RimapError('sync', `socket error: ${err.message}`));
  };

  private constructor(socket: Socket | TLSSocket, secure: boolean) {
    this.#socket = socket;
    this.#secure = secure;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    this.#attach(socket);
  }

  get secure(): boolean {
    return this.#secure;
  }

  /** Open, and nothing received that nobody has read: safe to start a command on. */
  get idle(): boolean {
    return this.#failure === null && this.#lines.length === 0 && this.#reader.pending === 0 && this.#waiter === null;
  }

  /** Connects within `deadline` (ms since the epoch, from Date.now()); TLS from the start for imaps://. */
  static open(target: RimapTarget, tls: TlsSettings, deadline: number, signal: Abortable): Promise<ImapConnection> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(new RimapError('aborted', 'request aborted before connecting'));
        return;
      }
      const implicit = target.tls === 'implicit';
      // The name is looked up here, at every attempt, so DNS changes and outages at start-up do not stick.
      const socket: Socket | TLSSocket = implicit
        ? tlsConnect({ ...tlsOptionsFor(target, tls), port: target.port })
        : netConnect({ host: target.host, port: target.port });
      socket.setNoDelay(true);
      const done = (err: RimapError | null): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        socket.off('error', onError);
        socket.off(implicit ? 'secureConnect' : 'connect', onConnect);
        if (err) {
          socket.destroy();
          reject(err);
        } else {
          resolve(new ImapConnection(socket, implicit));
        }
      };
      const onConnect = (): void => done(null);
      const onError = (err: NodeJS.ErrnoException): void => {
        const tlsFailure = implicit && (socket as TLSSocket).connecting === false;
        done(new RimapError(tlsFailure || isTlsError(err) ? 'tls' : 'connect', `${tlsFailure || isTlsError(err) ? 'TLS handshake' : 'connect'} failed: ${err.code ?? ''} ${err.message}`.replace('  ', ' ')));
      };
      const onAbort = (): void => done(new RimapError('aborted', 'request aborted while connecting'));
      const timer = setTimeout(() => done(new RimapError('timeout', 'connect timed out')), Math.max(0, deadline - Date.now()));
      socket.once('error', onError);
      socket.once(implicit ? 'secureConnect' : 'connect', onConnect);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The next response line, parsed; rejects with a RimapError at `deadline`, on close or abort. */
  async read(deadline: number, signal: Abortable): Promise<Response> {
    return parseResponse(await this.readLine(deadline, signal));
  }

  readLine(deadline: number, signal: Abortable): Promise<Buffer> {
    const queued = this.#lines.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#failure) return Promise.reject(this.#failure);
    if (signal.aborted) return Promise.reject(new RimapError('aborted', 'request aborted'));
    if (this.#waiter) return Promise.reject(new InvariantError('ImapConnection: concurrent reads'));
    return new Promise<Buffer>((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.#waiter = null;
      };
      const onAbort = (): void => {
        finish();
        reject(new RimapError('aborted', 'request aborted'));
      };
      const timer = setTimeout(() => {
        finish();
        reject(new RimapError('timeout', 'no response from the server in time'));
      }, Math.max(0, deadline - Date.now()));
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiter = {
        resolve: (line) => {
          finish();
          resolve(line);
        },
        reject: (e) => {
          finish();
          reject(e);
        },
      };
    });
  }

  write(bytes: Buffer | string): void {
    if (this.#failure) return;
    this.#socket.write(bytes);
  }

  /**
   * Switches to TLS after the server's tagged OK to STARTTLS. Anything the server sent after that OK
   * in plaintext is refused: it would be read as if it came over TLS (STARTTLS command injection).
   */
  startTls(target: RimapTarget, tls: TlsSettings, deadline: number, signal: Abortable): Promise<void> {
    if (this.#lines.length > 0 || this.#reader.pending > 0) {
      return Promise.reject(new RimapError('protocol', 'server sent plaintext after agreeing to STARTTLS'));
    }
    const plain = this.#socket;
    this.#detach(plain);
    const secure = tlsConnect({ ...tlsOptionsFor(target, tls), socket: plain as Socket });
    this.#socket = secure;
    return new Promise((resolve, reject) => {
      const done = (err: RimapError | null): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        secure.off('error', onError);
        secure.off('secureConnect', onSecure);
        if (err) {
          this.#failure = err;
          secure.destroy();
          plain.destroy();
          reject(err);
        } else {
          this.#secure = true;
          this.#attach(secure);
          resolve();
        }
      };
      const onSecure = (): void => done(null);
      const onError = (err: NodeJS.ErrnoException): void => done(new RimapError('tls', `STARTTLS handshake failed: ${err.code ?? ''} ${err.message}`));
      const onAbort = (): void => done(new RimapError('aborted', 'request aborted during STARTTLS'));
      const timer = setTimeout(() => done(new RimapError('timeout', 'STARTTLS handshake timed out')), Math.max(0, deadline - Date.now()));
      secure.once('error', onError);
      secure.once('secureConnect', onSecure);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Writes the last command and half-closes. What the server says back is discarded unread; the
   * connection counts as open (`closed` pending) until the server has closed its side too, so a
   * per-server cap measures what the server really holds.
   */
  finish(last: string): void {
    this.#failure ??= CLOSED_BY_US;
    const s = this.#socket;
    s.off('data', this.#onData);
    s.resume();
    s.end(last);
  }

  destroy(): void {
    this.#failure ??= CLOSED_BY_US;
    this.#socket.destroy();
  }

  #attach(s: Socket | TLSSocket): void {
    s.on('data', this.#onData);
    s.on('end', this.#onEnd);
    s.on('error', this.#onError);
    s.on('close', this.#onEnd);
  }

  #detach(s: Socket | TLSSocket): void {
    s.off('data', this.#onData);
    s.off('end', this.#onEnd);
    s.off('error', this.#onError);
    s.off('close', this.#onEnd);
  }

  #receive(chunk: Buffer): void {
    if (this.#failure) return;
    this.#reader.push(chunk);
    try {
      for (let line = this.#reader.next(); line !== null; line = this.#reader.next()) this.#lines.push(line);
    } catch (e) {
      this.#fail(new RimapError('sync', e instanceof LineTooLongError ? e.message : `cannot frame response: ${(e as Error).message}`));
      this.#socket.destroy();
      return;
    }
    const w = this.#waiter;
    const first = w ? this.#lines.shift() : undefined;
    if (w && first) w.resolve(first);
  }

  #fail(e: RimapError): void {
    if (!this.#failure) this.#failure = e;
    // Lines already framed are still delivered; the failure shows once they are read.
    if (this.#waiter && this.#lines.length === 0) this.#waiter.reject(this.#failure);
  }
}

function isTlsError(err: NodeJS.ErrnoException): boolean {
  const c = err.code ?? '';
  return c.startsWith('ERR_SSL') || c.startsWith('ERR_TLS') || /CERT|SELF_SIGNED|UNABLE_TO_|HOSTNAME|ALTNAME/.test(c);
}
