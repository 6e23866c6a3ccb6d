import type { DestinationStream } from 'pino';
import { UnixDatagramSender } from '../io/unix-datagram.js';
import { fieldText } from './escape.js';

/** syslog(3) facility LOG_AUTH, as saslauthd opens its log. */
export const LOG_AUTH = 4;
export const DEFAULT_SYSLOG_SOCKET = '/dev/log';
export const SYSLOG_IDENT = 'saslauthd-ts';

/** pino level → syslog severity: fatal crit, error err, warn warning, info info, debug/trace debug. */
export function severityOf(level: number): number {
  if (level >= 60) return 2;
  if (level >= 50) return 3;
  if (level >= 40) return 4;
  if (level >= 30) return 6;
  return 7;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number): string => String(n).padStart(2, '0');

/** glibc's RFC 3164 timestamp, `%h %e %T` in local time: `Nov  7 09:05:01`. */
export function syslogTimestamp(d: Date): string {
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

// Fields the auth lines already carry in saslauthd's [key=value] form; repeating them adds nothing.
const IN_AUTH_LINE = new Set(['user', 'service', 'realm', 'remote', 'mech', 'reason', 'outcome']);
const SKIP = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

/** The message part of a syslog line: pino's msg, then the remaining fields as key=value. */
export function syslogMessage(record: Record<string, unknown>): string {
  const msg = String(record['msg'] ?? '');
  const authLine = msg.startsWith('auth failure: ') || msg.startsWith('auth success: ');
  const parts = [msg];
  for (const [k, v] of Object.entries(record)) {
    if (SKIP.has(k) || v === undefined || (authLine && IN_AUTH_LINE.has(k))) continue;
    parts.push(`${k}=${fieldText(v)}`);
  }
  // One record, one line: a newline in a value must not forge a second syslog entry.
  return parts.join(' ').replace(/[\r\n]+/g, ' ');
}

/** `<PRI>TIMESTAMP ident[pid]: message`, exactly what glibc's syslog() sends to /dev/log. */
export function syslogLine(record: Record<string, unknown>, now: Date = new Date(), pid: number = process.pid, facility = LOG_AUTH): string {
  const pri = facility * 8 + severityOf(Number(record['level']));
  return `<${pri}>${syslogTimestamp(now)} ${SYSLOG_IDENT}[${pid}]: ${syslogMessage(record)}`;
}

export interface SyslogStreamOptions {
  /** The syslog socket (Default: /dev/log). */
  readonly socket?: string;
  /** Where a line goes when the syslog socket cannot take it (Default: stderr). */
  readonly fallback?: (line: string) => void;
}

/**
 * A pino destination that writes each record as one datagram to /dev/log. When syslog is down or its
 * queue is full the line goes to stderr instead (journald still gets it under systemd), so nothing
 * is silently lost; a note says when syslog is back.
 */
export function syslogStream(opts: SyslogStreamOptions = {}): DestinationStream & { close(): void } {
  const sender = new UnixDatagramSender(opts.socket ?? DEFAULT_SYSLOG_SOCKET);
  const fallback = opts.fallback ?? ((line: string) => process.stderr.write(`${line}\n`));
  let failing: string | null = null;
  return {
    write(json: string): void {
      const line = syslogLine(JSON.parse(json) as Record<string, unknown>);
      const r = sender.send(Buffer.from(line));
      if (r === 'sent') {
        if (failing !== null) {
          fallback(`saslauthd-ts: syslog socket ${sender.address} works again (was: ${failing})`);
          failing = null;
        }
        return;
      }
      if (failing === null) fallback(`saslauthd-ts: cannot write to syslog socket ${sender.address} (${r}); logging to stderr`);
      failing = r;
      fallback(line);
    },
    close(): void {
      sender.close();
    },
  };
}
