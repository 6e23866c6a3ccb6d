import { randomUUID } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { BindRequest, Client, ResultCodeError, type SearchOptions, type SearchResult } from 'ldapts';
import type { LdapServer } from './config.js';
import { LdapTransportError } from './errors.js';
import { isServerDown } from './result-codes.js';
import { RefusedOperationError } from '../../../errors.js';
import type { Abortable } from '../../request-signal.js';

/** A result code or network failure that means "this server cannot answer now", not "no". */
export function toTransport(e: unknown): LdapTransportError | null {
  if (e instanceof LdapTransportError) return e;
  if (isServerDown(e)) return new LdapTransportError('server-unavailable', (e as Error).message);
  if (e instanceof ResultCodeError) return null;
  const msg = (e as Error)?.message ?? String(e);
  if (/timed? ?out/i.test(msg)) return new LdapTransportError('timeout', msg);
  return new LdapTransportError('connect-failed', msg);
}

// ldapts takes the simple-bind password as a JS string; ours is bytes that need not be UTF-8, and
// must not be re-encoded or truncated. This request writes the bytes as they are.
class BytesBindRequest extends BindRequest {
  readonly #password: Buffer;
  constructor(messageId: number, dn: string, password: Buffer) {
    super({ messageId, dn });
    this.#password = password;
  }
  override writeMessage(writer: Parameters<BindRequest['writeMessage']>[0]): void {
    writer.writeInt(this.version);
    writer.writeString(this.dn);
    (writer as unknown as { writeBuffer(b: Buffer, tag: number): void }).writeBuffer(this.#password, 0x80);
  }
}

// ldapts' SASL bind also takes a JS string; PLAIN credentials carry the password bytes, so they are
// written as they are. One round trip only: a mechanism needing more (DIGEST-MD5…) is refused at start-up.
class SaslBytesBindRequest extends BindRequest {
  readonly #credentials: Buffer;
  constructor(messageId: number, mechanism: string, credentials: Buffer) {
    super({ messageId, mechanism });
    this.#credentials = credentials;
  }
  override writeMessage(writer: Parameters<BindRequest['writeMessage']>[0]): void {
    const w = writer as unknown as { startSequence(tag: number): void; endSequence(): void; writeBuffer(b: Buffer, tag: number): void };
    writer.writeInt(this.version);
    writer.writeString('');
    w.startSequence(0xa3);
    writer.writeString(this.mechanism ?? '');
    // The BER writer refuses a zero-length buffer; EXTERNAL without an authz id is an empty string.
    if (this.#credentials.length === 0) writer.writeString('', 0x04);
    else w.writeBuffer(this.#credentials, 0x04);
    w.endSequence();
  }
}

/** ldapts 8 internals we reach into; pinned to 8.0.17 by package.json. */
interface ClientInternals {
  socket?: import('node:net').Socket & { id?: string };
  isConnected: boolean;
  _connect(): Promise<void> | void;
  _onConnect(next: () => void): void;
  _destroySocket(s: unknown): void;
  _nextMessageId(): number;
  _sendBind(req: BindRequest): Promise<void>;
}

export interface ConnectionSettings {
  /** Milliseconds for connect, TLS and each operation (ldap_timeout). */
  readonly timeoutMs: number;
  /** TLS options for ldaps:// and StartTLS (CA, client cert, ciphers, peer check). */
  readonly tls: ConnectionOptions;
  /** StartTLS on ldap:// servers (ldap_start_tls). */
  readonly startTls: boolean;
}

/**
 * One LDAP connection to one server. Every call has a deadline and honours an AbortSignal: when
 * either fires, the socket is destroyed, so nothing late can be mistaken for an answer.
 */
export class LdapConnection {
  readonly #client: Client;
  readonly #internals: ClientInternals;
  #broken = false;
  /** Who the connection is bound as; a user-bound connection is never used for a search. */
  boundAs: 'none' | 'service' | 'user' = 'none';

  private constructor(
    readonly server: LdapServer,
    private readonly settings: ConnectionSettings,
  ) {
    const isTls = server.kind === 'ldaps';
    const url = server.kind === 'ldapi' ? 'ldap://localhost' : `${server.kind}://${server.host.includes(':') ? `[${server.host}]` : server.host}:${server.port}`;
    this.#client = new Client({
      url,
      // #guard puts one deadline on every call; a second per-message timer in ldapts would only cost.
      timeout: 0,
      connectTimeout: settings.timeoutMs,
      strictDN: false,
      ...(isTls ? { tlsOptions: { ...settings.tls, host: server.host, servername: sniName(server.host) } } : {}),
    });
    this.#internals = this.#client as unknown as ClientInternals;
    if (server.kind === 'ldapi') this.#useUnixSocket(server.path);
  }

  /** Connects (and StartTLS when configured) within the deadline. */
  static async open(server: LdapServer, settings: ConnectionSettings, signal: Abortable): Promise<LdapConnection> {
    const c = new LdapConnection(server, settings);
    await c.#guard(async () => {
      if (server.kind === 'ldap' && settings.startTls) {
        await c.#client.startTLS({ ...settings.tls, host: server.host, servername: sniName(server.host) });
      } else {
        await c.#internals._connect();
      }
    }, signal);
    return c;
  }

  get usable(): boolean {
    return !this.#broken && this.#internals.isConnected;
  }

  /**
   * Simple bind with raw password bytes. An empty DN or an empty password is refused before anything
   * is sent: the server would take it as an anonymous or unauthenticated bind (RFC 4513 5.1), which
   * some servers answer with success whatever the password. Anonymous means not calling bind at all.
   */
  async bind(dn: string, password: Buffer, signal: Abortable): Promise<void> {
    if (dn.trim() === '' || password.length === 0) throw new RefusedOperationError(`refusing a simple bind with an empty ${dn.trim() === '' ? 'DN' : 'password'}`);
    this.boundAs = 'none';
    await this.#guard(() => this.#internals._sendBind(new BytesBindRequest(this.#internals._nextMessageId(), dn, password)), signal);
  }

  /**
   * SASL bind in one step (EXTERNAL: credentials = the authz id, may be empty; PLAIN: authzid NUL
   * authcid NUL password). A server asking for another step is an error, never taken as success.
   */
  async saslBind(mechanism: string, credentials: Buffer, signal: Abortable): Promise<void> {
    this.boundAs = 'none';
    await this.#guard(() => this.#internals._sendBind(new SaslBytesBindRequest(this.#internals._nextMessageId(), mechanism, credentials)), signal);
  }

  async search(base: string, options: SearchOptions, signal: Abortable): Promise<SearchResult> {
    if (this.boundAs === 'user') throw new RefusedOperationError('refusing to search on a user-bound connection');
    return this.#guard(() => this.#client.search(base, options), signal);
  }

  async compare(dn: string, attribute: string, value: string, signal: Abortable): Promise<boolean> {
    if (this.boundAs === 'user') throw new RefusedOperationError('refusing to compare on a user-bound connection');
    return this.#guard(() => this.#client.compare(dn, attribute, value), signal);
  }

  /** Drops the connection at once (no unbind round trip). */
  destroy(): void {
    this.#broken = true;
    this.boundAs = 'none';
    this.#internals._destroySocket(this.#internals.socket);
  }

  /** Polite close: unbind, bounded by a short deadline. */
  async close(): Promise<void> {
    if (!this.usable) return this.destroy();
    const t = setTimeout(() => this.destroy(), 1000);
    try {
      await this.#client.unbind();
    } catch {
      /* closing anyway */
    } finally {
      clearTimeout(t);
      this.destroy();
    }
  }

  /** Runs one call under the deadline and the signal; any transport failure breaks the connection. */
  async #guard<T>(fn: () => Promise<T>, signal: Abortable): Promise<T> {
    if (signal.aborted) throw new LdapTransportError('aborted', 'request aborted');
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const stop = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.destroy();
        reject(new LdapTransportError('timeout', `no answer from ${this.server.uri} within ${this.settings.timeoutMs} ms`));
      }, this.settings.timeoutMs + 50);
      onAbort = () => {
        this.destroy();
        reject(new LdapTransportError('aborted', 'request aborted'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([fn(), stop]);
    } catch (e) {
      const t = toTransport(e);
      if (t) {
        this.destroy();
        throw t;
      }
      throw e;
    } finally {
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  // ldapts 8 speaks only TCP; for ldapi:// its connect step is replaced by one to the UNIX socket.
  #useUnixSocket(path: string): void {
    const c = this.#internals;
    const timeoutMs = this.settings.timeoutMs;
    c._connect = function (this: ClientInternals): Promise<void> | void {
      if (this.isConnected) return;
      return new Promise<void>((resolve, reject) => {
        const s = netConnect({ path }) as NonNullable<ClientInternals['socket']>;
        s.id = randomUUID();
        this.socket = s;
        const timer = setTimeout(() => {
          this._destroySocket(s);
          reject(new LdapTransportError('timeout', `ldapi connect to ${path} timed out`));
        }, timeoutMs);
        s.once('connect', () => {
          clearTimeout(timer);
          this._onConnect(resolve);
        });
        s.once('error', (err) => {
          clearTimeout(timer);
          this._destroySocket(s);
          reject(err);
        });
      });
    }.bind(c);
  }
}

/** SNI must be a host name, never an IP literal. */
function sniName(host: string): string | undefined {
  return /^[\d.]+$/.test(host) || host.includes(':') ? undefined : host;
}
