import { statSync } from 'node:fs';
import type { Logger } from 'pino';
import { type ComposedAuthenticator, buildAuthenticator } from '../auth/compose.js';
import type { DaemonOptions } from '../config/daemon-options.js';
import { Crypt } from '../native/crypt.js';
import { RequestHandler } from '../server/request-handler.js';
import { Server } from '../server/server.js';
import { prepareSocketFile, removeSocketFile, secureSocketFile } from '../server/socket-file.js';

/** How long SIGTERM waits for requests in progress before cutting them (ms). */
const SHUTDOWN_GRACE_MS = 10_000;
/** How long to wait for a partly received fifth field (ms); a whole v4 request is never held. */
const FIFTH_FIELD_GRACE_MS = 20;

/** Composes backend, handler, server and socket file; owns them all and closes them in order. */
export class Daemon {
  #server: Server | null = null;
  #socket: { path: string; ino: number } | null = null;
  #closing: Promise<void> | null = null;

  private constructor(
    readonly options: DaemonOptions,
    readonly authenticator: ComposedAuthenticator,
    readonly handler: RequestHandler,
    private readonly log: Logger,
  ) {}

  /** Builds the backend; throws (naming the problem) when it cannot work. Nothing is listening yet. */
  static async create(options: DaemonOptions, log: Logger): Promise<Daemon> {
    const crypt = new Crypt(options.threads);
    if (options.mechanisms.length === 0) throw new Error('no authentication mechanism specified');
    const authenticator = await buildAuthenticator(options, { crypt, log });
    const handler = new RequestHandler(authenticator, options, log);
    return new Daemon(options, authenticator, handler, log);
  }

  /** Empties the credential cache (SIGUSR1; reload must call this or build a new authenticator). */
  flushCache(): number {
    return (this.authenticator as Partial<ComposedAuthenticator>).flushCache?.() ?? 0;
  }

  get server(): Server | null {
    return this.#server;
  }

  /** Binds `<runDir>/mux` and listens; resolves only once clients can connect. */
  async listen(): Promise<string> {
    const o = this.options;
    const path = await prepareSocketFile(o, this.log);
    const server = new Server(this.handler, { ...o, fifthFieldGraceMs: FIFTH_FIELD_GRACE_MS }, this.log);
    // saslauthd binds under umask 077 and then opens the mode up; we do the same so there is no
    // window in which the socket has looser permissions than configured.
    const oldMask = process.umask(0o077);
    try {
      await server.listen(path);
    } finally {
      process.umask(oldMask);
    }
    this.#server = server;
    this.#socket = { path, ino: statSync(path).ino };
    secureSocketFile(path, o, this.log);
    this.log.info({ path, mech: this.authenticator.mech, threads: o.threads }, `listening on socket: ${path}`);
    return path;
  }

  /** Stops accepting, answers requests in progress, removes the socket, closes the backend. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#socket) removeSocketFile(this.#socket.path, this.#socket.ino);
      await this.#server?.close(SHUTDOWN_GRACE_MS);
      await this.authenticator.close();
    })();
    return this.#closing;
  }
}
