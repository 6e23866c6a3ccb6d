import { pino, type Logger, type DestinationStream } from 'pino';
import { syslogStream } from './syslog.js';

export type LogFormat = 'text' | 'json';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface LoggerOptions {
  /** Minimum level (Default: info; -V and -d make it debug). */
  readonly level: LogLevel;
  /** `text`: one readable line per record, for journald and terminals (Default). `json`: pino's JSON. */
  readonly format: LogFormat;
  /** Where lines go (Default: stderr). */
  readonly destination?: DestinationStream;
  /** `--syslog`: send every record to this syslog socket (facility auth) instead (Default: none). */
  readonly syslogSocket?: string | null;
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const SKIP = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

function formatValue(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return /[\s"=]/.test(s) || s === '' ? JSON.stringify(s) : s;
}

/** Renders a pino JSON record as `LEVEL message key=value…` (journald adds time and pid). */
export function formatText(record: Record<string, unknown>): string {
  const parts = [LEVEL_NAMES[record['level'] as number] ?? String(record['level']), String(record['msg'] ?? '')];
  for (const [k, v] of Object.entries(record)) {
    if (SKIP.has(k) || v === undefined) continue;
    parts.push(`${k}=${formatValue(v)}`);
  }
  return `${parts.join(' ')}\n`;
}

function textStream(out: DestinationStream): DestinationStream {
  return {
    write(line: string): void {
      out.write(formatText(JSON.parse(line) as Record<string, unknown>));
    },
  };
}

/**
 * Passwords never reach a log call (they are `Secret`s that print as "[secret]"); the redact list
 * is the second net for a field someone adds by mistake.
 */
export const REDACT_PATHS = ['password', '*.password', 'hash', '*.hash', 'secret', '*.secret', 'bindPassword', '*.bindPassword'];

export function createLogger(opts: LoggerOptions): Logger {
  if (opts.syslogSocket) {
    return pino(
      { level: opts.level, base: null, timestamp: false, redact: { paths: REDACT_PATHS, censor: '[secret]' } },
      syslogStream({ socket: opts.syslogSocket }),
    );
  }
  // Synchronous: a request's log line is written before its reply is sent, and nothing is lost on exit.
  const dest = opts.destination ?? pino.destination({ fd: 2, sync: true });
  return pino(
    {
      level: opts.level,
      base: opts.format === 'json' ? { pid: process.pid } : null,
      timestamp: opts.format === 'json' ? pino.stdTimeFunctions.isoTime : false,
      redact: { paths: REDACT_PATHS, censor: '[secret]' },
    },
    opts.format === 'json' ? dest : textStream(dest),
  );
}
