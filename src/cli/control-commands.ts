import type { Logger } from 'pino';
import type { Daemon } from './daemon.js';
import { daemonSnapshot } from './daemon-status.js';
import type { ControlHandler } from '../server/control-server.js';
import { UnreachableError } from '../errors.js';

/** What `ctl reload` answers: whether the new configuration is in force, or why not. */
export interface ReloadResult {
  readonly taken: boolean;
  /** Why it was refused (taken: false). */
  readonly reason?: string;
  /** Options that changed but keep their running value until a restart. */
  readonly restartNeeded: readonly string[];
  /** The chain in force after the attempt. */
  readonly mech: string;
}

/** Penalised keys `ctl status` lists (the rest: `ctl penalty list`). */
const STATUS_PENALTIES = 20;

/** The daemon's side of every control command. `reload` is the SIGHUP path (saslauthd.ts), shared. */
export function controlHandler(daemon: Daemon, reload: () => Promise<ReloadResult>, log: Logger): ControlHandler {
  return async (req) => {
    switch (req.cmd) {
      case 'status': {
        const penalised = await daemon.authenticator.penalties();
        return { ...(await daemonSnapshot(daemon)), penalised: penalised.slice(0, STATUS_PENALTIES) };
      }
      case 'penalty.list':
        return { enabled: daemon.options.failDelayMs > 0, entries: await daemon.authenticator.penalties() };
      case 'penalty.clear': {
        const cleared = await daemon.authenticator.clearPenalty(req.target);
        log.info({ cleared }, `control: penalty cleared for ${cleared} key(s)`);
        return { enabled: daemon.options.failDelayMs > 0, cleared };
      }
      case 'cache.flush': {
        const flushed = await daemon.flushCache(req.user);
        log.info({ entries: flushed }, `control: credential cache flushed: ${flushed} entries dropped`);
        return { enabled: daemon.options.cache, flushed };
      }
      case 'reload':
        return reload();
      default: {
        const never: never = req;
        throw new UnreachableError(`unhandled control command ${String(never)}`);
      }
    }
  };
}
