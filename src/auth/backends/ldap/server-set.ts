import type { Logger } from 'pino';
import type { LdapServer } from './config.js';
import { type ConnectionSettings, LdapConnection } from './connection.js';
import { LdapServiceBindError, LdapTransportError } from './errors.js';
import type { Abortable } from '../../request-signal.js';

/** What a pool needs to make a fresh connection ready for its role. */
type Opener = (server: LdapServer, signal: Abortable) => Promise<LdapConnection>;

/**
 * A bounded set of connections to one server for one role. At most `size` exist at once; callers
 * beyond that wait (until their signal aborts). Idle connections that the server closed are dropped.
 */
export class ConnectionPool {
  readonly #idle: LdapConnection[] = [];
  readonly #waiters: Array<(c: LdapConnection | null) => void> = [];
  #open = 0;
  #closed = false;

  constructor(
    readonly server: LdapServer,
    readonly size: number,
    private readonly opener: Opener,
  ) {}

  get openCount(): number {
    return this.#open;
  }

  /** A connection for exclusive use; `fresh` tells whether it was just opened. */
  async acquire(signal: Abortable): Promise<{ conn: LdapConnection; fresh: boolean }> {
    for (;;) {
      if (this.#closed) throw new LdapTransportError('aborted', 'backend closing');
      while (this.#idle.length > 0) {
        const c = this.#idle.pop()!;
        if (c.usable) return { conn: c, fresh: false };
        this.#forget(c);
      }
      if (this.#open < this.size) {
        this.#open++;
        try {
          return { conn: await this.opener(this.server, signal), fresh: true };
        } catch (e) {
          this.#open--;
          this.#wakeOne();
          throw e;
        }
      }
      const c = await new Promise<LdapConnection | null>((resolve, reject) => {
        const onAbort = (): void => {
          const i = this.#waiters.indexOf(wake);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(new LdapTransportError('aborted', 'request aborted while waiting for an LDAP connection'));
        };
        const wake = (conn: LdapConnection | null): void => {
          signal.removeEventListener('abort', onAbort);
          resolve(conn);
        };
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        this.#waiters.push(wake);
      });
      if (c) return { conn: c, fresh: false };
    }
  }

  /** Gives a connection back; a broken one is dropped and frees its slot. */
  release(c: LdapConnection): void {
    if (this.#closed || !c.usable) {
      this.#forget(c);
      return;
    }
    const w = this.#waiters.shift();
    if (w) w(c);
    else this.#idle.push(c);
  }

  /** Adds a connection made elsewhere (a health probe) if there is room. */
  adopt(c: LdapConnection): void {
    if (this.#closed || this.#open >= this.size || !c.usable) {
      void c.close();
      return;
    }
    this.#open++;
    this.release(c);
  }

  /** Drops idle connections (after a failure: they probably share the fate of the one that failed). */
  drainIdle(): void {
    for (const c of this.#idle.splice(0)) {
      c.destroy();
      this.#forget(c, false);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const idle = this.#idle.splice(0);
    this.#open -= idle.length;
    for (const w of this.#waiters.splice(0)) w(null);
    await Promise.all(idle.map((c) => c.close()));
  }

  #forget(c: LdapConnection, destroy = true): void {
    if (destroy) c.destroy();
    this.#open--;
    this.#wakeOne();
  }

  // A slot freed up: let one waiter retry (it will open a new connection).
  #wakeOne(): void {
    const w = this.#waiters.shift();
    if (w) w(null);
  }
}

/** One server with its two pools and its health. */
export interface ServerEntry {
  readonly server: LdapServer;
  /** Connections bound as the service (or anonymous): searches and compares only. */
  readonly search: ConnectionPool;
  /** Connections used only for user binds; never searched on, so no user's rights leak (cyrus-sasl#550). */
  readonly bind: ConnectionPool;
  healthy: boolean;
  /** When it was last marked down (ms), for logs. */
  downSince: number;
}

export interface ServerSetOptions {
  readonly servers: readonly LdapServer[];
  readonly poolSize: number;
  readonly connection: ConnectionSettings;
  /** Service identity for search connections; empty DN = anonymous. */
  readonly bindDn: string;
  readonly bindPw: Buffer;
  /** SASL service bind (ldap_use_sasl); when set, bindDn/bindPw are not used for a simple bind. */
  readonly sasl?: { readonly mech: string; readonly credentials: Buffer };
  /** How often a down server is probed so traffic fails back to it (ms, Default: 250). */
  readonly probeIntervalMs?: number;
}

/**
 * The ldap_servers list: requests go to the first healthy server; a server that fails is marked down,
 * the request is retried once (on the next server, or on a fresh connection), and a background probe
 * brings a down server back (fail-back to the first server) as soon as it answers a service bind.
 */
export class ServerSet {
  readonly entries: readonly ServerEntry[];
  #probeTimer: NodeJS.Timeout | null = null;
  #probing = false;
  readonly #probeAbort = new AbortController();

  constructor(
    private readonly o: ServerSetOptions,
    private readonly log: Logger,
  ) {
    this.entries = o.servers.map((server) => ({
      server,
      search: new ConnectionPool(server, o.poolSize, (s, sig) => this.#openSearch(s, sig)),
      bind: new ConnectionPool(server, o.poolSize, (s, sig) => LdapConnection.open(s, o.connection, sig)),
      healthy: true,
      downSince: 0,
    }));
  }

  async #openSearch(server: LdapServer, signal: Abortable): Promise<LdapConnection> {
    const c = await LdapConnection.open(server, this.o.connection, signal);
    try {
      if (this.o.sasl) await c.saslBind(this.o.sasl.mech, this.o.sasl.credentials, signal);
      else if (this.o.bindDn !== '' || this.o.bindPw.length > 0) await c.bind(this.o.bindDn, this.o.bindPw, signal);
    } catch (e) {
      c.destroy();
      const who = this.o.sasl ? `SASL ${this.o.sasl.mech}` : this.o.bindDn;
      throw e instanceof LdapTransportError ? e : new LdapServiceBindError(who, e as Error);
    }
    c.boundAs = 'service';
    return c;
  }

  /** Healthy servers in configured order, then the others (when all are down, still try). */
  #candidates(): ServerEntry[] {
    return [...this.entries.filter((e) => e.healthy), ...this.entries.filter((e) => !e.healthy)];
  }

  /**
   * Runs `op` against a server, retrying once after a transport failure. Throws LdapTransportError
   * when both attempts failed; LDAP answers (including errors such as invalid credentials) pass through.
   */
  async run<T>(op: (e: ServerEntry) => Promise<T>, signal: Abortable): Promise<T> {
    let last: LdapTransportError | null = null;
    let tried: ServerEntry | null = null;
    for (let attempt = 0; attempt < 2; attempt++) {
      const cands = this.#candidates();
      // A retry prefers another server; with one server it reconnects to the same one.
      const e = (attempt === 1 && cands.find((c) => c !== tried && c.healthy)) || cands[0]!;
      tried = e;
      try {
        return await op(e);
      } catch (err) {
        if (!(err instanceof LdapTransportError)) throw err;
        last = err;
        if (err.reason === 'aborted' || signal.aborted) throw err;
        e.search.drainIdle();
        e.bind.drainIdle();
        this.#markDown(e, err);
      }
    }
    throw last ?? new LdapTransportError('connect-failed', 'no LDAP server');
  }

  #markDown(e: ServerEntry, err: LdapTransportError): void {
    if (e.healthy) {
      e.healthy = false;
      e.downSince = Date.now();
      this.log.warn({ server: e.server.uri, err: err.message }, 'LDAP server marked down');
    }
    this.#startProbe();
  }

  #startProbe(): void {
    if (this.#probeTimer) return;
    this.#probeTimer = setInterval(() => void this.#probe(), this.o.probeIntervalMs ?? 250);
    this.#probeTimer.unref();
  }

  async #probe(): Promise<void> {
    if (this.#probing) return;
    this.#probing = true;
    try {
      const down = this.entries.filter((e) => !e.healthy);
      if (down.length === 0) {
        if (this.#probeTimer) clearInterval(this.#probeTimer);
        this.#probeTimer = null;
        return;
      }
      await Promise.all(
        down.map(async (e) => {
          try {
            const c = await this.#openSearch(e.server, this.#probeAbort.signal);
            e.healthy = true;
            this.log.info({ server: e.server.uri, downMs: Date.now() - e.downSince }, 'LDAP server is back');
            e.search.adopt(c);
          } catch {
            /* still down */
          }
        }),
      );
    } finally {
      this.#probing = false;
    }
  }

  /**
   * `--check`: opens one connection to every server as a request would (connect, StartTLS, service
   * bind) and, with no service identity, reads the root DSE, so "anonymous" is proved to be answered
   * too. Each step runs under the connection's deadline. The connections are closed again.
   */
  async checkEach(signal: Abortable): Promise<{ uri: string; problem: string | null; steps: string }[]> {
    const tls = this.o.connection.startTls ? ', StartTLS' : '';
    const who = this.o.sasl ? `SASL ${this.o.sasl.mech} service bind` : this.o.bindDn !== '' ? `service bind as ${this.o.bindDn}` : 'anonymous root DSE read';
    return Promise.all(
      this.entries.map(async (e) => {
        const steps = `connect${e.server.kind === 'ldaps' ? ' (TLS)' : e.server.kind === 'ldap' ? tls : ''}, ${who}`;
        let c: LdapConnection | null = null;
        try {
          c = await this.#openSearch(e.server, signal);
          if (!this.o.sasl && this.o.bindDn === '') {
            await c.search('', { scope: 'base', filter: '(objectClass=*)', attributes: ['supportedLDAPVersion'] }, signal);
          }
          return { uri: e.server.uri, problem: null, steps };
        } catch (err) {
          return { uri: e.server.uri, problem: (err as Error).message, steps };
        } finally {
          if (c !== null) await c.close().catch(() => c?.destroy());
        }
      }),
    );
  }

  async close(): Promise<void> {
    if (this.#probeTimer) clearInterval(this.#probeTimer);
    this.#probeTimer = null;
    this.#probeAbort.abort();
    await Promise.all(this.entries.flatMap((e) => [e.search.close(), e.bind.close()]));
  }
}
