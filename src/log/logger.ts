import { pino, type Logger, type DestinationStream, type LogFn } from 'pino';
import { escapeLogLine, fieldText, jsonLogString, jsonNeedsEscaping } from './escape.js';
import { RESERVED_KEYS, severityOf, trailingFields } from './fields.js';
import { FdDestination } from './fd-destination.js';
import { DEFAULT_SYSLOG_IDENT, syslogStream } from './syslog.js';

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
  /** `--syslog-ident`: the program name in syslog lines (Default: saslauthd). */
  readonly syslogIdent?: string;
  /**
   * journald reads the text lines (stderr is its JOURNAL_STREAM): each starts with sd-daemon's `<N>`
   * priority and carries no timestamp, which journald adds (Default: false: an ISO 8601 timestamp).
   */
  readonly journal?: boolean;
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

let isoSecond = Number.NaN;
let isoPrefix = '';

/**
 * `new Date().toISOString()`, from a prefix made once per second: V8 formats the date with
 * snprintf, a measurable part of each request line (issue 15). Same text for years 0-9999.
 */
export function isoTimestamp(ms: number = Date.now()): string {
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    const full = new Date(second * 1000).toISOString();
    if (full.length !== 24) return new Date(ms).toISOString(); // a year outside 0-9999: V8 writes ±YYYYYY
    isoSecond = second;
    isoPrefix = full.slice(0, 20);
  }
  const frac = ms - second * 1000;
  return `${isoPrefix}${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}Z`;
}

/**
 * Renders a pino record as `TIME LEVEL message key=value…`, or for journald `<N>LEVEL message
 * key=value…` (journald takes the priority from `<N>` and adds time and pid itself).
 */
export function formatText(record: Record<string, unknown>, journal = false): string {
  const level = Number(record['level']);
  const head = journal ? `<${severityOf(level)}>` : `${String(record['time'] ?? new Date().toISOString())} `;
  return `${head}${LEVEL_NAMES[level] ?? String(record['level'])} ${String(record['msg'] ?? '')}${trailingFields(record)}\n`;
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
function directText(logger: Logger, level: number, fields: Record<string, unknown>, msg: string, journal: boolean): string | null {
  if ((logger as unknown as Record<symbol, unknown>)[CHINDINGS] !== '' || Object.getPrototypeOf(fields) !== Object.prototype) return null;
  const text = escapeLogLine(msg);
  const head = journal ? `<${severityOf(level)}>` : `${isoTimestamp()} `;
  let line = `${head}${LEVEL_NAMES[level] ?? String(level)} ${text}`;
  for (const k in fields) {
    if (!Object.prototype.hasOwnProperty.call(fields, k)) return null;
    const v = fields[k];
    if (v === undefined) continue;
    if (RESERVED_KEYS.has(k) || REDACTED_KEYS.has(k)) return null;
    const t = typeof v;
    // fieldText renders these as their JSON round trip does (NaN and ±Infinity as null).
    if (!(t === 'string' || t === 'number' || t === 'boolean' || v === null)) return null;
    // As trailingFields: a field the message shows as saslauthd's [key=value] is written once.
    if (text.includes(bracketNeedle(k))) continue;
    line += ` ${k}=${fieldText(v)}`;
  }
  return `${line}\n`;
}

const NEEDLES = new Map<string, string>();

/** `[key=` for a field key, made once per key rather than once per field of every line (issue 15). */
function bracketNeedle(k: string): string {
  let n = NEEDLES.get(k);
  if (n === undefined) {
    n = `[${k}=`;
    // Keys are our code's, but the bound keeps a stray source of keys from growing this.
    if (NEEDLES.size < 256) NEEDLES.set(k, n);
  }
  return n;
}

/** pino's logMethod hook for the text format: flat records skip the JSON round trip (directText). */
function textShortcut(out: DestinationStream, journal: boolean) {
  return function logMethod(this: Logger, args: Parameters<LogFn>, method: LogFn, level: number): void {
    if (args.length === 2 && typeof args[1] === 'string' && typeof args[0] === 'object' && args[0] !== null) {
      const line = directText(this, level, args[0] as Record<string, unknown>, args[1], journal);
      if (line !== null) {
        out.write(line);
        return;
      }
    }
    method.apply(this, args);
  };
}

function textStream(out: DestinationStream, journal: boolean): DestinationStream {
  return {
    write(line: string): void {
      out.write(formatText(JSON.parse(line) as Record<string, unknown>, journal));
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
      syslogStream({ socket: opts.syslogSocket, ident: opts.syslogIdent ?? DEFAULT_SYSLOG_IDENT }),
    );
  }
  // Synchronous: a request's log line is written before its reply is sent, and nothing is lost on exit.
  const dest = opts.destination ?? new FdDestination(2);
  const json = opts.format === 'json';
  return pino(
    {
      level: opts.level,
      ...(json ? {} : { hooks: { logMethod: textShortcut(dest, opts.journal ?? false) } }),
      base: json ? { pid: process.pid } : null,
      timestamp: json || !opts.journal ? pino.stdTimeFunctions.isoTime : false,
      // JSON readers filter on "level":"warn"; pino's numbers (40) mean nothing outside pino.
      ...(json ? { formatters: { level: (label: string) => ({ level: label }) } } : {}),
      redact: { paths: REDACT_PATHS, censor: '[secret]' },
      serializers: SERIALIZERS,
    },
    json ? jsonStream(dest) : textStream(dest, opts.journal ?? false),
  );
}
