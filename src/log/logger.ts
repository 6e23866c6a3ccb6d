import { pino, type Logger, type DestinationStream, type LogFn } from 'pino';
import { escapeLogLine, fieldText, jsonLogString, jsonNeedsEscaping } from './escape.js';
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

/** Renders a pino JSON record as `LEVEL message key=value…` (journald adds time and pid). */
export function formatText(record: Record<string, unknown>): string {
  const parts = [LEVEL_NAMES[record['level'] as number] ?? String(record['level']), String(record['msg'] ?? '')];
  for (const [k, v] of Object.entries(record)) {
    if (SKIP.has(k) || v === undefined) continue;
    parts.push(`${k}=${fieldText(v)}`);
  }
  return `${parts.join(' ')}\n`;
}

/**
 * Passwords never reach a log call (they are `Secret`s that print as "[secret]"); the redact list
 * is the second net for a field someone adds by mistake.
 */
export const REDACT_PATHS = ['password', '*.password', 'hash', '*.hash', 'secret', '*.secret', 'bindPassword', '*.bindPassword'];

/** Top-level keys the redact list censors: a record holding one takes pino's own path. */
const REDACTED_KEYS = new Set(REDACT_PATHS.filter((p) => !p.includes('.')));
const CHINDINGS = pino.symbols.chindingsSym;

/**
 * The text line of `log.info(fields, msg)` written straight from `fields`, or null when the record
 * is not one this shortcut renders exactly as pino + formatText would: a child logger's (its
 * bindings come first), a key pino or the redact list treats specially, or a value that is not a
 * string, number, boolean or null (objects go through pino's serialisers and redaction).
 * Why: pino serialises every record to JSON and textStream parses it back, about a quarter of the
 * daemon's CPU per cache hit (issue 15); the per-request lines are all flat records like this.
 */
function directText(logger: Logger, level: number, fields: Record<string, unknown>, msg: string): string | null {
  if ((logger as unknown as Record<symbol, unknown>)[CHINDINGS] !== '' || Object.getPrototypeOf(fields) !== Object.prototype) return null;
  let line = `${LEVEL_NAMES[level] ?? String(level)} ${escapeLogLine(msg)}`;
  for (const k in fields) {
    if (!Object.prototype.hasOwnProperty.call(fields, k)) return null;
    const v = fields[k];
    if (v === undefined) continue;
    if (SKIP.has(k) || REDACTED_KEYS.has(k)) return null;
    const t = typeof v;
    // fieldText renders these as their JSON round trip does (NaN and ±Infinity as null).
    if (!(t === 'string' || t === 'number' || t === 'boolean' || v === null)) return null;
    line += ` ${k}=${fieldText(v)}`;
  }
  return `${line}\n`;
}

/** pino's logMethod hook for the text format: flat records skip the JSON round trip (directText). */
function textShortcut(out: DestinationStream) {
  return function logMethod(this: Logger, args: Parameters<LogFn>, method: LogFn, level: number): void {
    if (args.length === 2 && typeof args[1] === 'string' && typeof args[0] === 'object' && args[0] !== null) {
      const line = directText(this, level, args[0] as Record<string, unknown>, args[1]);
      if (line !== null) {
        out.write(line);
        return;
      }
    }
    method.apply(this, args);
  };
}

function textStream(out: DestinationStream): DestinationStream {
  return {
    write(line: string): void {
      out.write(formatText(JSON.parse(line) as Record<string, unknown>));
    },
  };
}

function jsonValue(v: unknown): string {
  if (typeof v === 'string') return jsonLogString(v);
  if (Array.isArray(v)) return `[${v.map((x) => jsonValue(x ?? null)).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => `${jsonLogString(k)}:${jsonValue(x)}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/**
 * Re-encodes a pino JSON record so that the strings of every field go through jsonLogString; `msg`
 * is ours and already escaped (escapeLogLine), so its brackets stay readable.
 */
export function formatJson(record: Record<string, unknown>): string {
  const parts = Object.entries(record).map(([k, v]) => `${jsonLogString(k)}:${k === 'msg' ? JSON.stringify(v) : jsonValue(v)}`);
  return `{${parts.join(',')}}\n`;
}

function jsonStream(out: DestinationStream): DestinationStream {
  return {
    write(line: string): void {
      // Most records have nothing to re-encode before their msg (always pino's last key): pass them as they are.
      const msgAt = line.lastIndexOf(',"msg":');
      out.write(msgAt > 0 && !jsonNeedsEscaping(line.slice(0, msgAt)) ? line : formatJson(JSON.parse(line) as Record<string, unknown>));
    },
  };
}

// Every message passes escapeLogLine: a line break or control character that reached a message
// (an error text, a backend's reason) cannot start a forged line in any format.
const SERIALIZERS = { msg: (m: unknown): unknown => (typeof m === 'string' ? escapeLogLine(m) : m) };

export function createLogger(opts: LoggerOptions): Logger {
  if (opts.syslogSocket) {
    return pino(
      { level: opts.level, base: null, timestamp: false, redact: { paths: REDACT_PATHS, censor: '[secret]' }, serializers: SERIALIZERS },
      syslogStream({ socket: opts.syslogSocket }),
    );
  }
  // Synchronous: a request's log line is written before its reply is sent, and nothing is lost on exit.
  const dest = opts.destination ?? pino.destination({ fd: 2, sync: true });
  return pino(
    {
      level: opts.level,
      ...(opts.format === 'text' ? { hooks: { logMethod: textShortcut(dest) } } : {}),
      base: opts.format === 'json' ? { pid: process.pid } : null,
      timestamp: opts.format === 'json' ? pino.stdTimeFunctions.isoTime : false,
      redact: { paths: REDACT_PATHS, censor: '[secret]' },
      serializers: SERIALIZERS,
    },
    opts.format === 'json' ? jsonStream(dest) : textStream(dest),
  );
}
