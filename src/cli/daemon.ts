import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import { type ComposedAuthenticator, buildAuthenticator as compose } from '../auth/compose.js';
import type { DaemonOptions } from './daemon-options.js';
import type { PrivilegeTarget } from '../auth/privilege.js';
import { Crypt } from '../native/crypt.js';
import { peerCredentialsOf } from '../native/peercred.js';
import { type AccessPolicy, admitter } from '../server/access.js';
import { gidOf, uidOf } from '../server/ids.js';
import { type HandlerOptions, RequestHandler } from '../server/request-handler.js';
import { Server } from '../server/server.js';
import { dropPrivileges, resolveTarget } from './privileges.js';
import { bindUmask, prepareSocketFile, removeOwnSocket, removeSocketFile, secureSocketFile } from '../server/socket-file.js';
import type { InheritedListener } from '../server/systemd.js';
import { type PidFile, removePidFile, writePidFile } from '../server/pid-file.js';
import { PrivilegeDropError, ShuttingDownError, UsageError } from '../errors.js';
import { type ControlHandler, ControlServer } from '../server/control-server.js';
import { MetricsServer, metricsListenLabel, metricsRegistry } from '../server/metrics-server.js';
import type { PoolUse } from '../stats/backend-status.js';
import { RequestStats } from '../stats/request-stats.js';
import { daemonSnapshot } from './daemon-status.js';

/** How long to wait for a partly received fifth field (ms); a whole v4 request is never held. */
const FIFTH_FIELD_GRACE_MS = 20;

/** Options a reload cannot change: they shaped the listening socket or the process at start. */
const RESTART_ONLY: readonly (keyof DaemonOptions)[] = [
  'runDir', 'socketMode', 'socketOwner', 'socketGroup', 'runDirMode', 'runDirGroup',
  'maxConnections', 'requestTimeoutMs', 'drainTimeoutMs', 'concurrency', 'logLevel', 'logFormat', 'syslogSocket', 'syslogIdent', 'pidFile',
  'allowUids', 'allowGids', 'user', 'group', 'metricsListen',
];

const handlerOptions = (o: DaemonOptions): HandlerOptions => ({
  compatReplies: o.compatReplies,
  authTimeoutMs: o.authTimeoutMs,
});

/**
 * Builds the authenticator for a set of options: the one place start-up and reload compose the
 * backends, chains, routes, credential cache and failure penalty (src/auth/compose.ts). A SIGHUP
 * thus gets a new, empty cache around the new backends, which is the flush a reload needs
 * (passwords may have changed), and the old one is closed once its requests are done.
 */
async function buildAuthenticator(options: DaemonOptions, crypt: Crypt, log: Logger, stats: RequestStats, inForce: ComposedAuthenticator | null = null): Promise<ComposedAuthenticator> {
  if (options.chain.length === 0) throw new UsageError('no authentication mechanism specified');
  return compose(options, { crypt, log, stats, fleetKey: inForce?.fleetKey ?? null });
}

/** The control socket's name in the run directory. */
export const CONTROL_SOCKET = 'ctl';

function resolveIds(values: readonly string[], flag: string, resolve: (v: string) => number): number[] {
  return values.map((v) => {
    try {
      return resolve(v);
    } catch (e) {
      throw new UsageError(`${flag}: ${(e as Error).message}`);
    }
  });
}

/** Composes backend, handler, servers and socket files; owns them all and closes them in order. */
export class Daemon {
  #servers: Server[] = [];
  #sockets: { path: string; ino: number }[] = [];
  #activated = false;
  #pidFile: PidFile | null = null;
  #options: DaemonOptions;
  readonly #retiring = new Set<Promise<void>>();
  #closing: Promise<void> | null = null;
  #control: ControlServer | null = null;
  #metrics: MetricsServer | null = null;
  /** Start-up time (ms since the epoch), for `ctl status` and the metrics. */
  readonly startedAt = Date.now();
  #configuredAt = this.startedAt;

  private constructor(
    options: DaemonOptions,
    readonly handler: RequestHandler,
    private readonly crypt: Crypt,
    private readonly log: Logger,
    private readonly access: AccessPolicy,
    private readonly dropTo: PrivilegeTarget | null,
    /** Request counts and latencies since start-up; a reload keeps them. */
    readonly stats: RequestStats,
  ) {
    this.#options = options;
  }

  /** Builds the backend; throws (naming the problem) when it cannot work. Nothing is listening yet. */
  static async create(options: DaemonOptions, log: Logger): Promise<Daemon> {
    const crypt = new Crypt(options.concurrency);
    const access: AccessPolicy = {
      allowUids: resolveIds(options.allowUids, '--allow-uid', uidOf),
      allowGids: resolveIds(options.allowGids, '--allow-gid', gidOf),
    };
    const dropTo = options.user !== null ? resolveTarget(options.user, options.group) : null;
    if (dropTo && process.getuid?.() !== 0) throw new PrivilegeDropError(`--user ${dropTo.user} needs the daemon to start as root`);
    const stats = new RequestStats();
    const authenticator = await buildAuthenticator(options, crypt, log, stats);
    if (dropTo) {
      const problem = authenticator.unprivilegedProblem
        ? authenticator.unprivilegedProblem(dropTo)
        : `-a ${authenticator.name} needs root to work, so --user cannot be used with it`;
      if (problem !== null) {
        await authenticator.close();
        throw new PrivilegeDropError(`cannot drop privileges to ${dropTo.user}: ${problem}`);
      }
    }
    const handler = new RequestHandler(authenticator, handlerOptions(options), log, stats);
    return new Daemon(options, handler, crypt, log, access, dropTo, stats);
  }

  get options(): DaemonOptions {
    return this.#options;
  }

  /** The backend answering new requests (a reload replaces it). */
  get authenticator(): ComposedAuthenticator {
    return this.handler.current as ComposedAuthenticator;
  }

  /** Empties the credential cache of the authenticator in force (SIGUSR1, `ctl cache flush [USER]`); returns the entries dropped. */
  flushCache(user?: string): Promise<number> {
    return this.authenticator.flushCache(user);
  }

  /** When the configuration in force was taken (start-up or the last reload), ms since the epoch. */
  get configuredAt(): number {
    return this.#configuredAt;
  }

  /** The crypt pool (hashes and sasldb lookups, bounded by -n). */
  get cryptPool(): PoolUse {
    const p = this.crypt.pool;
    return { name: 'crypt', size: p.size, busy: p.running, queued: p.queued };
  }

  get server(): Server | null {
    return this.#servers[0] ?? null;
  }

  get servers(): readonly Server[] {
    return this.#servers;
  }

  /** True when the sockets came from the service manager (socket activation). */
  get activated(): boolean {
    return this.#activated;
  }

  #newServer(): Server {
    const admit = admitter(this.access);
    return new Server(
      this.handler,
      {
        // The server gets its own settings, not the daemon's whole option bag.
        maxConnections: this.#options.maxConnections,
        requestTimeoutMs: this.#options.requestTimeoutMs,
        drainTimeoutMs: this.#options.drainTimeoutMs,
        fifthFieldGraceMs: FIFTH_FIELD_GRACE_MS,
        // Supplementary groups are only needed to check --allow-gid.
        peerCredentials: (s) => peerCredentialsOf(s, this.access.allowGids.length > 0),
        ...(admit ? { admit } : {}),
      },
      this.log,
    );
  }

  /**
   * Listens on the sockets the service manager passed (socket activation), or else binds
   * `<runDir>/mux` itself. Resolves only once clients can connect; returns the first socket
   * (a path, or `fd N` for an inherited one).
   */
  async listen(inherited: readonly InheritedListener[] | null = null, control: ControlHandler | null = null): Promise<string> {
    const where = inherited && inherited.length > 0 ? (await this.#listenInherited(inherited))[0] as string : await this.#bind();
    // Both before the privilege drop: the control socket is root's, and a metrics port may be < 1024.
    if (control !== null) await this.#bindControl(control);
    if (this.#options.metricsListen !== null) {
      const metrics = new MetricsServer(metricsRegistry(() => daemonSnapshot(this)), this.log);
      await metrics.listen(this.#options.metricsListen);
      this.#metrics = metrics;
      const where = this.#options.metricsListen;
      this.log.info({ listen: metricsListenLabel(where) }, 'path' in where ? `metrics: GET /metrics on UNIX socket ${where.path}` : `metrics: http://${metricsListenLabel(where)}/metrics`);
    }
    if (this.access.allowUids.length + this.access.allowGids.length > 0) {
      this.log.info({ uids: this.access.allowUids, gids: this.access.allowGids }, 'serving only peers in --allow-uid/--allow-gid');
    }
    // Once listening (so a second daemon, refused at bind, never replaces a live one's file), and
    // while still root when the run directory is root's.
    if (this.#options.pidFile !== null) {
      this.#pidFile = writePidFile(this.#options.pidFile);
      this.log.info(`wrote pid file ${this.#pidFile.path}`);
    }
    // Bound and secured: root is no longer needed (the socket file stays root's, so a later
    // unprivileged unlink may fail; the next start removes the stale socket).
    if (this.dropTo) {
      dropPrivileges(this.dropTo);
      this.log.info({ uid: this.dropTo.uid, gid: this.dropTo.gid }, `dropped privileges to ${this.dropTo.user}`);
    }
    return where;
  }

  async #bind(): Promise<string> {
    const o = this.#options;
    const server = this.#newServer();
    const path = await this.#bindSecured(o, undefined, (p) => server.listen(p), () => server.close(0));
    this.#servers.push(server);
    this.log.info({ path, mech: this.authenticator.name, concurrency: o.concurrency }, `listening on socket: ${path}`);
    return path;
  }

  /**
   * Binds a socket file in the run directory safely, for the mux and the control socket alike: the
   * run directory checked and a stale file removed (prepareSocketFile), the mode set through the
   * umask, the owner and group set and checked after (secureSocketFile). On failure the server is
   * closed and our file removed. Returns the path; the file is removed again on close.
   */
  async #bindSecured(o: DaemonOptions, name: string | undefined, listen: (path: string) => Promise<void>, close: () => Promise<void>): Promise<string> {
    const path = await prepareSocketFile(o, this.log, name);
    // bind() creates the file with 0777 & ~umask: setting the umask gives the socket its mode with no
    // chmod afterwards, which would follow a symlink put in its place. bind() happens inside listen()'s
    // synchronous part, so the process umask is changed only for that call.
    const oldMask = process.umask(bindUmask(o));
    let listening: Promise<void>;
    try {
      listening = listen(path);
    } finally {
      process.umask(oldMask);
    }
    await listening;
    let ino: number;
    try {
      ino = secureSocketFile(path, o, this.log).ino;
    } catch (e) {
      await close();
      removeOwnSocket(path);
      throw e;
    }
    this.#sockets.push({ path, ino });
    return path;
  }

  /**
   * `<runDir>/ctl`: root only, made like the mux socket (safe run directory, stale file removed, mode
   * set through the umask at bind, owner checked after). A daemon not running as root cannot make a
   * socket root owns, and root-only is what the control socket promises, so it has none.
   */
  async #bindControl(handler: ControlHandler): Promise<void> {
    if (process.geteuid?.() !== 0) {
      this.log.info('no control socket: it is root-only and the daemon does not run as root');
      return;
    }
    // Under socket activation the run directory is the service manager's (RuntimeDirectory=): use it
    // when it is there, but never create it.
    if (this.#activated && !existsSync(this.#options.runDir)) {
      this.log.info({ dir: this.#options.runDir }, `no control socket: run directory ${this.#options.runDir} does not exist (socket activation: the unit's RuntimeDirectory= makes it)`);
      return;
    }
    const o = { ...this.#options, socketMode: 0o600, socketOwner: 'root', socketGroup: null };
    const server = new ControlServer(handler, this.log);
    const path = await this.#bindSecured(o, CONTROL_SOCKET, (p) => server.listen(p), () => server.close());
    this.#control = server;
    this.log.info({ path }, `control socket: ${path} (root only)`);
  }

  /** The socket files belong to systemd: their path, mode and owner come from the .socket unit, and they stay on exit. */
  async #listenInherited(inherited: readonly InheritedListener[]): Promise<string[]> {
    this.#activated = true;
    const where: string[] = [];
    for (const l of inherited) {
      const server = this.#newServer();
      await server.listen({ fd: l.fd });
      this.#servers.push(server);
      const label = l.path ?? `fd ${l.fd}`;
      where.push(label);
      this.log.info({ fd: l.fd, name: l.name, mech: this.authenticator.name, concurrency: this.#options.concurrency }, `listening on socket: ${label} (socket activation)`);
    }
    return where;
  }

  /**
   * Applies new options without dropping a connection: builds a new backend first and, only if that
   * works, swaps it in; requests already running finish on the old one, which is closed after them.
   * Throws (and changes nothing) when the new configuration does not work. Returns the options
   * that changed but need a restart.
   */
  async reload(next: DaemonOptions): Promise<string[]> {
    if (this.#closing) throw new ShuttingDownError('shutting down');
    const cur = this.#options;
    const restartNeeded = RESTART_ONLY.filter((k) => JSON.stringify(cur[k]) !== JSON.stringify(next[k]));
    // Those keep their running values, so what #options says stays what is in force.
    const effective = { ...next } as Record<string, unknown>;
    for (const k of restartNeeded) effective[k] = cur[k];
    const options = effective as unknown as DaemonOptions;
    const fresh = await buildAuthenticator(options, this.crypt, this.log, this.stats, this.authenticator);
    const old = this.handler.setAuthenticator(fresh);
    this.handler.setOptions(handlerOptions(options));
    this.#options = options;
    this.#configuredAt = Date.now();
    const retired: Promise<void> = this.handler
      .idle(old)
      .then(() => old.close())
      .catch((e: unknown) => this.log.warn({ err: (e as Error).message }, 'closing the replaced backend failed'))
      .finally(() => this.#retiring.delete(retired));
    this.#retiring.add(retired);
    return restartNeeded;
  }

  /** Stops accepting, answers requests in progress, removes our socket files, closes the backend. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const s of this.#sockets) removeSocketFile(s.path, s.ino);
      await Promise.all([this.#control?.close(), this.#metrics?.close()]);
      if (this.#pidFile !== null) removePidFile(this.#pidFile);
      await Promise.all(this.#servers.map((s) => s.close(this.#options.shutdownTimeoutMs)));
      await Promise.all([...this.#retiring]);
      await this.authenticator.close();
    })();
    return this.#closing;
  }
}
