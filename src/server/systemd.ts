import { fstatSync } from 'node:fs';
import type { Logger } from 'pino';
import { UnixDatagramSender } from '../io/unix-datagram.js';
import { native } from '../native/binding.js';
import { ActivationError } from '../errors.js';

/** A listening socket handed over by the service manager (socket activation). */
export interface InheritedListener {
  readonly fd: number;
  /** From LISTEN_FDNAMES (`FileDescriptorName=`); `unknown` when none was given. */
  readonly name: string;
  /** The socket's path (`@name` if abstract), or null for an unnamed one. */
  readonly path: string | null;
}

export { ActivationError };

/** sd_listen_fds(3): passed descriptors start at 3. */
const SD_LISTEN_FDS_START = 3;

/**
 * The listeners systemd (or systemd-socket-activate) passed us, or null when we were not socket
 * activated. Like sd_listen_fds(unset_environment=1) the variables are removed, and the descriptors
 * get FD_CLOEXEC, so helper processes neither mistake them for their own nor inherit them.
 */
export function inheritedListeners(env: NodeJS.ProcessEnv = process.env, pid: number = process.pid): InheritedListener[] | null {
  const pidText = env['LISTEN_PID'];
  const countText = env['LISTEN_FDS'];
  const namesText = env['LISTEN_FDNAMES'];
  delete env['LISTEN_PID'];
  delete env['LISTEN_FDS'];
  delete env['LISTEN_FDNAMES'];
  if (pidText === undefined || countText === undefined) return null;
  if (!/^\d+$/.test(pidText) || Number(pidText) !== pid) return null; // meant for another process
  if (!/^\d+$/.test(countText)) throw new ActivationError(`LISTEN_FDS is not a number: '${countText}'`);
  const count = Number(countText);
  if (count === 0) return null;
  const names = namesText !== undefined ? namesText.split(':') : [];
  const out: InheritedListener[] = [];
  for (let i = 0; i < count; i++) {
    const fd = SD_LISTEN_FDS_START + i;
    let isSocket: boolean;
    try {
      isSocket = fstatSync(fd).isSocket();
    } catch (e) {
      throw new ActivationError(`LISTEN_FDS=${count} but descriptor ${fd} is not open: ${(e as Error).message}`);
    }
    if (!isSocket) throw new ActivationError(`descriptor ${fd} passed by the service manager is not a socket`);
    const s = native.inspectListener(fd);
    // The protocol carries passwords in clear: a TCP listener would offer them to the network.
    if (s.family !== 'unix' || s.type !== 'stream') {
      throw new ActivationError(`descriptor ${fd} passed by the service manager is an ${s.family} ${s.type} socket; only AF_UNIX stream sockets are served`);
    }
    out.push({ fd, name: names[i] || 'unknown', path: s.path });
  }
  return out;
}

/** How often to send WATCHDOG=1 (half the manager's timeout, as sd_watchdog_enabled(3) advises), or null. */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv = process.env, pid: number = process.pid): number | null {
  const usec = env['WATCHDOG_USEC'];
  const wpid = env['WATCHDOG_PID'];
  if (usec === undefined || !/^\d+$/.test(usec) || Number(usec) === 0) return null;
  if (wpid !== undefined && Number(wpid) !== pid) return null;
  return Math.max(1, Math.floor(Number(usec) / 2000));
}

/**
 * sd_notify(3) for Type=notify: READY=1 once the socket accepts, RELOADING=1/READY=1 around a
 * reload, STOPPING=1 on shutdown, STATUS= with counts, WATCHDOG=1 keep-alives. Without
 * NOTIFY_SOCKET (not run by systemd) every call does nothing.
 */
export class ServiceNotifier {
  #timer: NodeJS.Timeout | undefined;
  #lastStatus = '';
  #warned = false;

  private constructor(
    private readonly sender: UnixDatagramSender | null,
    private readonly log: Logger,
    readonly watchdogMs: number | null,
  ) {}

  static fromEnv(log: Logger, env: NodeJS.ProcessEnv = process.env): ServiceNotifier {
    const address = env['NOTIFY_SOCKET'];
    // The variables are for us alone; a helper process must not talk to systemd in our name.
    delete env['NOTIFY_SOCKET'];
    const watchdog = watchdogIntervalMs(env);
    delete env['WATCHDOG_USEC'];
    delete env['WATCHDOG_PID'];
    const usable = address !== undefined && (address.startsWith('/') || address.startsWith('@')) && address.length > 1;
    if (address !== undefined && !usable) log.warn({ NOTIFY_SOCKET: address }, 'ignoring NOTIFY_SOCKET: not a path or @abstract name');
    return new ServiceNotifier(usable ? new UnixDatagramSender(address) : null, log, usable ? watchdog : null);
  }

  get enabled(): boolean {
    return this.sender !== null;
  }

  /** Sends `KEY=value` lines in one datagram. Returns false when it could not be delivered. */
  notify(state: string): boolean {
    if (!this.sender) return false;
    const r = this.sender.send(Buffer.from(state));
    if (r !== 'sent') {
      if (!this.#warned) this.log.warn({ NOTIFY_SOCKET: this.sender.address, error: r }, 'cannot notify the service manager');
      this.#warned = true;
      return false;
    }
    this.#warned = false;
    return true;
  }

  ready(status: string): void {
    this.#lastStatus = status;
    this.notify(`READY=1\nSTATUS=${status}\nMAINPID=${process.pid}`);
  }

  reloading(): void {
    const monotonicUsec = process.hrtime.bigint() / 1000n;
    this.notify(`RELOADING=1\nMONOTONIC_USEC=${monotonicUsec}\nSTATUS=reloading configuration`);
  }

  stopping(status: string): void {
    this.stop();
    this.notify(`STOPPING=1\nSTATUS=${status}`);
  }

  /**
   * Every `periodMs` (or half the watchdog timeout, when that is shorter): WATCHDOG=1 if the manager
   * asked for it, and STATUS= when the text changed. The timer does not keep the process alive.
   */
  start(status: () => string, periodMs = 10_000): void {
    if (!this.sender) return;
    const every = this.watchdogMs !== null ? Math.min(this.watchdogMs, periodMs) : periodMs;
    this.#timer = setInterval(() => {
      const s = status();
      const lines: string[] = [];
      if (this.watchdogMs !== null) lines.push('WATCHDOG=1');
      if (s !== this.#lastStatus) lines.push(`STATUS=${s}`);
      this.#lastStatus = s;
      if (lines.length > 0) this.notify(lines.join('\n'));
    }, every);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  close(): void {
    this.stop();
    this.sender?.close();
  }
}
