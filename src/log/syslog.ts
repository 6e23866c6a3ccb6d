import type { DestinationStream } from 'pino';
import { UnixDatagramSender } from '../io/unix-datagram.js';
import { severityOf, trailingFields } from './fields.js';

/** syslog(3) facility LOG_AUTH, as saslauthd opens its log. */
export const LOG_AUTH = 4;
export const DEFAULT_SYSLOG_SOCKET = '/dev/log';
/**
 * saslauthd's own ident: rsyslog rules (`:programname, isequal, "saslauthd"`), logwatch and fail2ban
 * filters written for saslauthd keep matching a drop-in replacement. `--syslog-ident` changes it.
 */
export const DEFAULT_SYSLOG_IDENT = 'saslauthd';
/** What an ident may be: RFC 3164's TAG (alphanumerics, at most 32), plus `.`, `_` and `-`. */
export const SYSLOG_IDENT_PATTERN = /^[A-Za-z0-9._-]{1,32}$/;

export { severityOf };

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number): string => String(n).padStart(2, '0');

/** glibc's RFC 3164 timestamp, `%h %e %T` in local time: `Nov  7 09:05:01`. */
export function syslogTimestamp(d: Date): string {
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** The message part of a syslog line: pino's msg, then the fields it does not show as key=value. */
export function syslogMessage(record: Record<string, unknown>): string {
  // One record, one line: a newline in a value must not forge a second syslog entry.
  return `${String(record['msg'] ?? '')}${trailingFields(record)}`.replace(/[\r\n]+/g, ' ');
}

/** `<PRI>TIMESTAMP ident[pid]: message`, exactly what glibc's syslog() sends to /dev/log. */
export function syslogLine(record: Record<string, unknown>, now: Date = new Date(), pid: number = process.pid, facility = LOG_AUTH, ident = DEFAULT_SYSLOG_IDENT): string {
  const pri = facility * 8 + severityOf(Number(record['level']));
  return `<${pri}>${syslogTimestamp(now)} ${ident}[${pid}]: ${syslogMessage(record)}`;
}

export interface SyslogStreamOptions {
  /** The syslog socket (Default: /dev/log). */
  readonly socket?: string;
  /** The program name before `[pid]:` (Default: saslauthd). */
  readonly ident?: string;
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
      const line = syslogLine(JSON.parse(json) as Record<string, unknown>, new Date(), process.pid, LOG_AUTH, opts.ident);
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
