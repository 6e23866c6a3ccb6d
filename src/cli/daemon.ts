import { statSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Authenticator } from '../auth/authenticator.js';
import { createAuthenticator } from '../auth/registry.js';
import type { DaemonOptions } from '../config/daemon-options.js';
import type { PrivilegeTarget } from '../auth/privilege.js';
import { Crypt } from '../native/crypt.js';
import { peerCredentialsOf } from '../native/peercred.js';
import { type AccessPolicy, admitter } from '../server/access.js';
import { gidOf, uidOf } from '../server/ids.js';
import { RequestHandler } from '../server/request-handler.js';
import { Server } from '../server/server.js';
import { dropPrivileges, resolveTarget } from './privileges.js';
import { prepareSocketFile, removeSocketFile, secureSocketFile } from '../server/socket-file.js';

/** How long SIGTERM waits for requests in progress before cutting them (ms). */
const SHUTDOWN_GRACE_MS = 10_000;
/** How long to wait for a partly received fifth field (ms); a whole v4 request is never held. */
const FIFTH_FIELD_GRACE_MS = 20;

function resolveIds(values: readonly string[], flag: string, resolve: (v: string) => number): number[] {
  return values.map((v) => {
    try {
      return resolve(v);
    } catch (e) {
      throw new Error(`${flag}: ${(e as Error).message}`);
    }
  });
}

/** Composes backend, handler, server and socket file; owns them all and closes them in order. */
export class Daemon {
  #server: Server | null = null;
  #socket: { path: string; ino: number } | null = null;
  #closing: Promise<void> | null = null;

  private constructor(
    readonly options: DaemonOptions,
    readonly authenticator: Authenticator,
    readonly handler: RequestHandler,
    private readonly log: Logger,
    private readonly access: AccessPolicy,
    private readonly dropTo: PrivilegeTarget | null,
  ) {}

  /** Builds the backend; throws (naming the problem) when it cannot work. Nothing is listening yet. */
  static async create(options: DaemonOptions, log: Logger): Promise<Daemon> {
    const crypt = new Crypt(options.threads);
    const [mech] = options.mechanisms;
    if (mech === undefined) throw new Error('no authentication mechanism specified');
    const access: AccessPolicy = {
      allowUids: resolveIds(options.allowUids, '--allow-uid', uidOf),
      allowGids: resolveIds(options.allowGids, '--allow-gid', gidOf),
    };
    const dropTo = options.user !== null ? resolveTarget(options.user, options.group) : null;
    if (dropTo && process.getuid?.() !== 0) throw new Error(`--user ${dropTo.user} needs the daemon to start as root`);
    const authenticator = await createAuthenticator(mech, { options, crypt, log });
    if (dropTo) {
      const problem = authenticator.unprivilegedProblem
        ? authenticator.unprivilegedProblem(dropTo)
        : `-a ${authenticator.mech} needs root to work, so --user cannot be used with it`;
      if (problem !== null) {
        await authenticator.close();
        throw new Error(`cannot drop privileges to ${dropTo.user}: ${problem}`);
      }
    }
    const handler = new RequestHandler(authenticator, options, log);
    return new Daemon(options, authenticator, handler, log, access, dropTo);
  }

  get server(): Server | null {
    return this.#server;
  }

  /** Binds `<runDir>/mux` and listens; resolves only once clients can connect. */
  async listen(): Promise<string> {
    const o = this.options;
    const path = await prepareSocketFile(o, this.log);
    const admit = admitter(this.access);
    const server = new Server(
      this.handler,
      { ...o, fifthFieldGraceMs: FIFTH_FIELD_GRACE_MS, peerCredentials: peerCredentialsOf, ...(admit ? { admit } : {}) },
      this.log,
    );
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
    if (this.access.allowUids.length + this.access.allowGids.length > 0) {
      this.log.info({ uids: this.access.allowUids, gids: this.access.allowGids }, 'serving only peers in --allow-uid/--allow-gid');
    }
    // Bound and secured: root is no longer needed (the socket file stays root's, so a later
    // unprivileged unlink may fail; the next start removes the stale socket).
    if (this.dropTo) {
      dropPrivileges(this.dropTo);
      this.log.info({ uid: this.dropTo.uid, gid: this.dropTo.gid }, `dropped privileges to ${this.dropTo.user}`);
    }
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
