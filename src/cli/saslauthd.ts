import type { Logger } from 'pino';
import { MECHANISMS } from '../auth/registry.js';
import { createLogger } from '../log/logger.js';
import { describeComposition } from '../auth/compose.js';
import { Daemon } from './daemon.js';
import { sendFlushSignal } from './flush-cache.js';
import { UsageError, parseDaemonArgs } from './daemon-args.js';
import { VERSION } from './version.js';

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
    process.stderr.write(`saslauthd-ts ${VERSION}\nauthentication mechanisms: ${MECHANISMS.join(' ')}\n\n`);
    if (cmd.options) for (const line of describeComposition(cmd.options)) process.stdout.write(`${line}\n`);
    return 0;
  }
  if (cmd.kind === 'flush-cache') return sendFlushSignal(cmd.runDir);
  // Node starts its inspector on SIGUSR1 unless a listener exists; ours flushes the cache instead.
  let onFlush: () => void = () => {};
  const usr1 = (): void => onFlush();
  process.on('SIGUSR1', usr1);
  const o = cmd.options;
  // libuv's pool runs our hashes; give it room for -n of them plus fs and dns work. It is read once,
  // at the pool's first use, which has not happened yet.
  process.env['UV_THREADPOOL_SIZE'] ??= String(Math.min(1024, o.threads + 4));
  const log = createLogger({ level: o.logLevel, format: o.logFormat });

  let daemon: Daemon;
  try {
    daemon = await Daemon.create(o, log);
    onFlush = () => {
      const n = daemon.flushCache();
      log.info({ signal: 'SIGUSR1', entries: n }, o.cache ? `credential cache flushed: ${n} entries dropped` : 'SIGUSR1: the credential cache is off (-c); nothing to flush');
    };
  } catch (e) {
    return startupFailure(log, `failed to initialize mechanism ${o.mechanisms.join(',')}: ${(e as Error).message}`);
  }
  if (cmd.check) {
    for (const line of daemon.authenticator.describe()) process.stdout.write(`${line}\n`);
    process.stdout.write(`socket: ${o.runDir}/mux\nconfiguration OK\n`);
    await daemon.close();
    return 0;
  }
  try {
    await daemon.listen();
  } catch (e) {
    await daemon.authenticator.close();
    return startupFailure(log, (e as Error).message);
  }
  return new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      log.info({ signal }, 'shutting down: finishing requests in progress');
      void daemon.close().then(() => {
        log.info(`master exited: ${process.pid}`);
        resolve(0);
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    // saslauthd ignores SIGHUP; so do we until reload exists, rather than dying on it.
    process.on('SIGHUP', () => log.info('SIGHUP received; reload is not supported yet, ignoring'));
  });
}

function startupFailure(log: Logger, message: string): number {
  log.fatal(message);
  process.stderr.write(`saslauthd-ts: ${message}\n`);
  return 1;
}
