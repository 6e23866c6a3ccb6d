import type { Logger } from 'pino';
import { BACKEND_NAMES } from '../auth/registry.js';
import { createLogger } from '../log/logger.js';
import { describeComposition } from '../auth/compose.js';
import { backendType } from '../auth/chain-spec.js';
import { ServiceNotifier, inheritedListeners, type InheritedListener } from '../server/systemd.js';
import { Daemon } from './daemon.js';
import { sendFlushSignal } from './flush-cache.js';
import { UsageError, parseDaemonArgs } from './daemon-args.js';
import { VERSION } from './version.js';
import { missingNativeParts } from './native-check.js';

/** Entry point of `saslauthd-ts`; returns the exit code (the process keeps running while it serves). */
export async function main(argv: readonly string[]): Promise<number> {
  let cmd;
  try {
    cmd = parseDaemonArgs(argv);
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
  let onFlush: () => void = () => {};
  const usr1 = (): void => onFlush();
  process.on('SIGUSR1', usr1);
  const o = cmd.options;
  // libuv's pool runs our hashes; give it room for -n of them plus fs and dns work. It is read once,
  // at the pool's first use, which has not happened yet. kerberos5 has its own -n calls, which block
  // on the KDC, so they get threads of their own rather than starve the hashes of a chain.
  const krb5 = [...o.chain, ...o.routes.flatMap((r) => r.chain)].some((n) => backendType(n).toLowerCase() === 'kerberos5');
  process.env['UV_THREADPOOL_SIZE'] ??= String(Math.min(1024, o.concurrency * (krb5 ? 2 : 1) + 4));
  const log = createLogger({ level: o.logLevel, format: o.logFormat, syslogSocket: o.syslogSocket });
  const notifier = ServiceNotifier.fromEnv(log);
  log.info({ version: VERSION, node: process.version }, `saslauthd-ts ${VERSION} starting (Node.js ${process.version})`);
  for (const n of cmd.notices) log.warn(n);

  let inherited: InheritedListener[] | null;
  try {
    inherited = inheritedListeners();
  } catch (e) {
    return startupFailure(log, notifier, (e as Error).message);
  }
  let daemon: Daemon;
  try {
    daemon = await Daemon.create(o, log);
    onFlush = async () => {
      const n = await daemon.flushCache();
      log.info({ signal: 'SIGUSR1', entries: n }, daemon.options.cache ? `credential cache flushed: ${n} entries dropped` : 'SIGUSR1: the credential cache is off (-c); nothing to flush');
    };
  } catch (e) {
    return startupFailure(log, notifier, `failed to initialize mechanism ${o.chain.join(',')}: ${(e as Error).message}`);
  }
  if (cmd.check) {
    for (const line of daemon.authenticator.describe()) process.stdout.write(`${line}\n`);
    process.stdout.write(`socket: ${o.runDir}/mux\nconfiguration OK\n`);
    await daemon.close();
    return 0;
  }
  try {
    await daemon.listen(inherited);
  } catch (e) {
    await daemon.authenticator.close();
    return startupFailure(log, notifier, (e as Error).message);
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
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', reloader(argv, daemon, log, notifier, status));
  });
}

/**
 * SIGHUP: parse the command line again (which re-reads --config-file) and rebuild the backend
 * (re-reading saslauthd.conf, passwd and shadow). A configuration that does not work is refused
 * and the running one stays. A SIGHUP during a reload runs one more reload after it.
 */
function reloader(argv: readonly string[], daemon: Daemon, log: Logger, notifier: ServiceNotifier, status: () => string): () => void {
  let running = false;
  let again = false;
  const once = async (): Promise<void> => {
    log.info({ signal: 'SIGHUP' }, 'reloading configuration');
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
    } catch (e) {
      log.error({ err: (e as Error).message }, `reload refused, keeping the running configuration: ${(e as Error).message}`);
    } finally {
      notifier.ready(status());
    }
  };
  return () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    void (async () => {
      do {
        again = false;
        await once();
      } while (again);
      running = false;
    })();
  };
}

function statusLine(daemon: Daemon): string {
  const s = daemon.handler.stats;
  let open = 0;
  for (const srv of daemon.servers) open += srv.connectionCount;
  return `${daemon.authenticator.name}: ${s.ok} ok, ${s.rejected} rejected, ${s.unavailable} unavailable, ${s.malformed} malformed; ` +
    `${s.inFlight} in progress, ${open} connection(s) open on ${daemon.servers.length} socket(s)`;
}

function startupFailure(log: Logger, notifier: ServiceNotifier, message: string): number {
  log.fatal(message);
  process.stderr.write(`saslauthd-ts: ${message}\n`);
  // Tells systemd why, rather than only "exited with 1".
  notifier.notify(`STATUS=failed: ${message.replace(/\n/g, ' ')}\nERRNO=22`);
  notifier.close();
  return 1;
}
