import type { Logger } from 'pino';
import { BACKEND_NAMES } from '../auth/registry.js';
import { createLogger } from '../log/logger.js';
import { describeComposition } from '../auth/compose.js';
import { ServiceNotifier, inheritedListeners, type InheritedListener } from '../server/systemd.js';
import { Daemon } from './daemon.js';
import { sendFlushSignal } from './flush-cache.js';
import { UsageError, daemonProgram, parseDaemonArgs } from './daemon-args.js';
import { runCheck } from './check.js';
import { VERSION } from './version.js';
import { missingNativeParts } from './native-check.js';
import { stderrIsJournal } from '../log/journal.js';
import { startError, withRootHint } from './start-errors.js';
import { type ReloadResult, controlHandler } from './control-commands.js';
import { ctlMain } from './ctl.js';
import { runAuthTest } from './auth-test.js';

/** Entry point of `saslauthd-ts`; returns the exit code (the process keeps running while it serves). */
export async function main(argv: readonly string[]): Promise<number> {
  // `pidof saslauthd-ts`, ps and top name the daemon, not `node`.
  process.title = 'saslauthd-ts';
  // `saslauthd-ts ctl …` talks to a running daemon; saslauthd's own flags never start with a word.
  if (argv[0] === 'ctl') return ctlMain(argv.slice(1));
  if (argv.includes('--test')) return runAuthTest(argv);
  let cmd;
  const program = daemonProgram();
  try {
    cmd = parseDaemonArgs(argv, program);
  } catch (e) {
    if ((e as { code?: string }).code === 'commander.helpDisplayed') return 0;
    process.stderr.write(`saslauthd-ts: ${(e as Error).message}\nTry 'saslauthd-ts --help'.\n`);
    return e instanceof UsageError ? 1 : 1;
  }
  if (cmd.kind === 'version') {
    process.stderr.write(`saslauthd-ts ${VERSION}\nauthentication mechanisms: ${BACKEND_NAMES.join(' ')}\n\n`);
    if (cmd.options) for (const line of describeComposition(cmd.options)) process.stdout.write(`${line}\n`);
    return 0;
  }
  if (cmd.kind === 'flush-cache') return sendFlushSignal(cmd.runDir);
  const missing = missingNativeParts();
  if (missing !== null) {
    process.stderr.write(`saslauthd-ts: ${missing}\n`);
    return 1;
  }
  // Node starts its inspector on SIGUSR1 unless a listener exists; ours flushes the cache instead.
  let onFlush: () => Promise<void> = async () => {};
  const usr1 = (): void => void onFlush();
  process.on('SIGUSR1', usr1);
  const o = cmd.options;
  // libuv's thread pool (our hashes, sasldb, kerberos5, file and DNS work) is sized by bin/saslauthd-ts
  // from -n before any module loads: from here it would be too late (bin/thread-pool.cjs).
  const log = createLogger({ level: o.logLevel, format: o.logFormat, syslogSocket: o.syslogSocket, syslogIdent: o.syslogIdent, journal: stderrIsJournal() });
  const notifier = ServiceNotifier.fromEnv(log);
  // A fatal error is written once: the log line is enough when the log is stderr.
  const fatalToStderr = o.syslogSocket !== null || o.logLevel === 'silent';
  const startupFailure = (message: string): number => failed(log, notifier, message, fatalToStderr);
  log.info({ version: VERSION, node: process.version }, 'saslauthd-ts starting');
  for (const n of cmd.notices) log.warn(n);

  let inherited: InheritedListener[] | null;
  try {
    inherited = inheritedListeners();
  } catch (e) {
    return startupFailure((e as Error).message);
  }
  let daemon: Daemon;
  try {
    daemon = await Daemon.create(o, log);
    onFlush = async () => {
      const n = await daemon.flushCache();
      log.info({ signal: 'SIGUSR1', entries: n }, daemon.options.cache ? `credential cache flushed: ${n} entries dropped` : 'SIGUSR1: the credential cache is off (-c); nothing to flush');
    };
  } catch (e) {
    return startupFailure(startError(e, o));
  }
  if (cmd.check) return runCheck(daemon, program, cmd.notices);
  const reload = reloader(argv, daemon, log, notifier, () => statusLine(daemon));
  // listen() makes the socket files and the pid file: from then on a SIGTERM must clean them up, so
  // it is caught before listen() starts, and one that comes meanwhile stops the daemon once it listens.
  let stopAsked: string | null = null;
  let onStop = (signal: string): void => {
    stopAsked ??= signal;
  };
  process.on('SIGTERM', () => onStop('SIGTERM'));
  process.on('SIGINT', () => onStop('SIGINT'));
  try {
    await daemon.listen(inherited, controlHandler(daemon, reload, log));
  } catch (e) {
    await daemon.close();
    return startupFailure(withRootHint(e));
  }
  const status = (): string => statusLine(daemon);
  // READY=1 only now: every listener accepts connections.
  notifier.ready(status());
  notifier.start(status);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      // A second SIGTERM (an impatient admin, a supervisor retrying) must not kill the drain midway.
      if (stopping) {
        log.info({ signal }, 'already shutting down');
        return;
      }
      stopping = true;
      log.info({ signal }, 'shutting down: finishing requests in progress');
      notifier.stopping(`shutting down: ${daemon.handler.stats.inFlight} request(s) in progress`);
      void daemon.close().then(() => {
        log.info(`master exited: ${process.pid}`);
        notifier.close();
        resolve(0);
      });
    };
    onStop = stop;
    process.on('SIGHUP', () => void reload());
    if (stopAsked !== null) stop(stopAsked);
  });
}

/**
 * SIGHUP and `ctl reload`: parse the command line again (which re-reads --config-file) and rebuild
 * the backend (re-reading saslauthd.conf, passwd and shadow). A configuration that does not work is
 * refused and the running one stays. A reload asked for during a reload runs once more after it
 * (however many were asked for); each caller gets the result of a reload that started after it asked.
 */
function reloader(argv: readonly string[], daemon: Daemon, log: Logger, notifier: ServiceNotifier, status: () => string): () => Promise<ReloadResult> {
  let running: Promise<ReloadResult> | null = null;
  let pending: Promise<ReloadResult> | null = null;
  const once = async (): Promise<ReloadResult> => {
    log.info('reloading configuration');
    notifier.reloading();
    try {
      let cmd;
      try {
        cmd = parseDaemonArgs(argv);
      } catch (e) {
        throw new UsageError(`bad configuration: ${(e as Error).message}`);
      }
      if (cmd.kind !== 'run') throw new UsageError('bad configuration: not a daemon command line');
      const restartNeeded = await daemon.reload(cmd.options);
      if (restartNeeded.length > 0) {
        log.warn({ options: restartNeeded }, `reload: ${restartNeeded.join(', ')} changed; socket and process settings take effect only after a restart`);
      }
      log.info({ mech: daemon.authenticator.name }, 'configuration reloaded');
      return { taken: true, restartNeeded, mech: daemon.authenticator.name };
    } catch (e) {
      log.error({ err: (e as Error).message }, `reload refused, keeping the running configuration: ${(e as Error).message}`);
      return { taken: false, reason: (e as Error).message, restartNeeded: [], mech: daemon.authenticator.name };
    } finally {
      notifier.ready(status());
    }
  };
  const start = (): Promise<ReloadResult> => {
    const p = once().finally(() => {
      if (running === p) running = null;
    });
    running = p;
    return p;
  };
  return () => {
    if (running === null) return start();
    pending ??= running.then(() => {
      pending = null;
      return start();
    });
    return pending;
  };
}

function statusLine(daemon: Daemon): string {
  const s = daemon.handler.stats;
  let open = 0;
  for (const srv of daemon.servers) open += srv.connectionCount;
  return `${daemon.authenticator.name}: ${s.ok} ok, ${s.rejected} rejected, ${s.unavailable} unavailable, ${s.malformed} malformed; ` +
    `${s.inFlight} in progress, ${open} connection(s) open on ${daemon.servers.length} socket(s)`;
}

function failed(log: Logger, notifier: ServiceNotifier, message: string, toStderr: boolean): number {
  log.fatal(message);
  if (toStderr) process.stderr.write(`saslauthd-ts: ${message}\n`);
  // Tells systemd why, rather than only "exited with 1".
  notifier.notify(`STATUS=failed: ${message.replace(/\n/g, ' ')}\nERRNO=22`);
  notifier.close();
  return 1;
}
