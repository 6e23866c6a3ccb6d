import { type Server as NetServer, type Socket, createServer } from 'node:net';
import type { Logger } from 'pino';
import { Connection, type ConnectionOptions } from './connection.js';
import type { PeerCredentials } from './connection-info.js';
import { LinkedSet } from './linked-set.js';
import type { RequestHandler } from './request-handler.js';

/**
 * UNIX-socket connect() fails at once with EAGAIN when the accept queue is full (it does not wait as
 * TCP does), so a burst of clients needs room; the kernel caps this at net.core.somaxconn.
 */
const LISTEN_BACKLOG = 4096;
/**
 * A connection still waiting for its request is not evicted at the cap before this age (unless
 * silent connections hold most slots): a client that has just connected is about to write, and
 * losing it to the next newcomer, a bot's as often as not, starved a real user while a bot's
 * guesses kept the other slots busy (the brute-force bench). A stalled client is far older.
 */
const EVICT_READING_AFTER_MS = 100;
/** How long SIGTERM waits for a connected client's request to arrive before closing it (ms). */
const SHUTDOWN_READ_GRACE_MS = 1000;

export interface ServerOptions extends ConnectionOptions {
  /** Connections held at once. At the cap an answered one, else the oldest one still waiting for its request, is dropped to make room (Default: 1024). */
  readonly maxConnections: number;
  /** Looks up the peer's credentials for a new socket (SO_PEERCRED); optional. */
  readonly peerCredentials?: (socket: Socket) => PeerCredentials;
  /** Refuses a peer before anything is read; returns the reason, or null to accept. */
  readonly admit?: (peer: PeerCredentials) => string | null;
}

/**
 * Owns the listening socket and every connection. A client that stalls holds only its own slot;
 * requests are decided concurrently, so one slow client never delays another.
 */
export class Server {
  readonly #net: NetServer;
  readonly #connections = new LinkedSet<Connection>();
  #nextId = 1;
  #binding = false;
  #stats = { accepted: 0, dropped: 0, refused: 0 };

  constructor(
    readonly handler: RequestHandler,
    private readonly options: ServerOptions,
    private readonly log: Logger,
  ) {
    // allowHalfOpen: a client that shuts down its write side after the request still gets the reply.
    this.#net = createServer({ allowHalfOpen: true, pauseOnConnect: false }, (s) => this.#accept(s));
    // An error while listen() is pending is listen()'s to report (start-up prints it once).
    this.#net.on('error', (err) => {
      if (!this.#binding) this.log.error({ err: err.message }, 'listener error');
    });
  }

  get net(): NetServer {
    return this.#net;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  get stats(): Readonly<{ accepted: number; dropped: number; refused: number; open: number }> {
    return { ...this.#stats, open: this.#connections.size };
  }

  readonly #forget = (c: Connection): void => void this.#connections.delete(c);

  #accept(socket: Socket): void {
    const id = this.#nextId++;
    const peer = this.options.peerCredentials?.(socket);
    const refusal = this.options.admit?.(peer) ?? null;
    if (refusal !== null) {
      this.#stats.refused++;
      this.log.warn({ conn: id, peer_uid: peer?.uid, peer_pid: peer?.pid }, `connection refused: ${refusal}`);
      socket.destroy();
      return;
    }
    if (this.#connections.size >= this.options.maxConnections && !this.#evictOldestIdle()) {
      this.#stats.refused++;
      this.log.warn({ conn: id, max: this.options.maxConnections, ...this.#states() }, 'connection limit reached and every slot is busy with a request, a reply going out or a client just connected; closing new connection');
      socket.destroy();
      return;
    }
    this.#stats.accepted++;
    const conn = new Connection(socket, { id, peer }, this.handler, this.options, this.log, this.#forget);
    this.#connections.add(conn);
    this.log.debug({ conn: id, peer_uid: peer?.uid, peer_pid: peer?.pid }, 'connection accepted');
  }

  /** Connections per state, for the log line of a refused connection. */
  #states(): Record<string, number> {
    const n: Record<string, number> = {};
    for (const c of this.#connections) n[c.state] = (n[c.state] ?? 0) + 1;
    return n;
  }

  /**
   * Makes room for a new connection. First choice: an answered connection that only waits for its
   * client to close. A bot cycling many connections through fast NOs (beyond the penalty's held cap)
   * keeps most slots in that state, and refusing newcomers then would let it lock out every other
   * user although no slot was doing anything (issue 11 item 12). An answered connection whose reply
   * is still being flushed leaves the count now and closes once the reply is out, so the open
   * sockets exceed the cap only for that moment, by at most the cap.
   *
   * Else the oldest connection that has not sent a whole request (a slow or stalled client), once it
   * is EVICT_READING_AFTER_MS old, or whatever its age while such connections hold more than half
   * the slots: a flood of silent connections must then open half the cap per write time of a real
   * client to keep one out. A request being decided is never dropped. The list is in order of
   * acceptance, so the first one found of each kind is the oldest.
   */
  #evictOldestIdle(): boolean {
    const why = `connection limit ${this.options.maxConnections} reached`;
    let oldestReading: Connection | null = null;
    let reading = 0;
    for (const c of this.#connections) {
      if (c.dropIfAnswered(why)) return this.#evicted(c);
      if (c.state === 'reading') {
        oldestReading ??= c;
        reading++;
      }
    }
    if (oldestReading === null) return false;
    const flood = reading * 2 > this.options.maxConnections;
    if (!flood && oldestReading.ageMs < EVICT_READING_AFTER_MS) return false;
    return oldestReading.dropIfReading(why) && this.#evicted(oldestReading);
  }

  #evicted(c: Connection): true {
    this.#connections.delete(c);
    this.#stats.dropped++;
    return true;
  }

  /** Listens on a path (or an inherited fd, for socket activation). Resolves once listen() has succeeded. */
  listen(target: string | { fd: number }): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#binding = true;
      const onError = (err: Error): void => {
        this.#binding = false;
        reject(err);
      };
      this.#net.once('error', onError);
      const done = (): void => {
        this.#binding = false;
        this.#net.off('error', onError);
        resolve();
      };
      if (typeof target === 'string') this.#net.listen({ path: target, backlog: LISTEN_BACKLOG }, done);
      else this.#net.listen({ fd: target.fd, backlog: LISTEN_BACKLOG }, done);
    });
  }

  /**
   * Stops accepting, gives connections that have not sent their request yet a short grace to do
   * so, lets requests in progress get their answers, and cuts whatever is left after `timeoutMs`.
   */
  async close(timeoutMs: number): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.#net.close(() => resolve()));
    // A client accepted just before the stop is usually writing its request at this moment; on a
    // restart (socket activation, a package upgrade) dropping it would lose that request while
    // every later one waits safely in the backlog for the next process.
    const grace = setTimeout(() => {
      for (const c of this.#connections) c.dropIfReading('shutting down');
    }, Math.min(SHUTDOWN_READ_GRACE_MS, timeoutMs));
    const all = Promise.all([...this.#connections].map((c) => c.closed));
    let timer: NodeJS.Timeout | undefined;
    const cut = new Promise<'cut'>((resolve) => {
      timer = setTimeout(() => resolve('cut'), timeoutMs);
    });
    const r = await Promise.race([all, cut]);
    clearTimeout(timer);
    clearTimeout(grace);
    if (r === 'cut') {
      this.log.warn({ open: this.#connections.size }, 'shutdown deadline passed; closing remaining connections');
      for (const c of this.#connections) c.destroy();
    }
    await stopped;
  }
}
