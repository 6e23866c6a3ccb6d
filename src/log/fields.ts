import { fieldText } from './escape.js';

/** pino's own keys, and the ones each format writes in its own place (time, level) or not at all. */
export const RESERVED_KEYS: ReadonlySet<string> = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

/**
 * The ` key=value` fields after a text or syslog message, minus those the message already shows as
 * saslauthd's `[key=value]` (the auth lines): each field is written one way only. The bracketed
 * values went through escapeLogValue, so a client cannot put a `[key=` into the message to hide a
 * field.
 */
export function trailingFields(record: Record<string, unknown>): string {
  const msg = String(record['msg'] ?? '');
  let out = '';
  for (const [k, v] of Object.entries(record)) {
    if (RESERVED_KEYS.has(k) || v === undefined || msg.includes(`[${k}=`)) continue;
    out += ` ${k}=${fieldText(v)}`;
  }
  return out;
}

/** pino level → syslog severity (also sd-daemon's `<N>`): fatal crit, error err, warn warning, info info, debug/trace debug. */
export function severityOf(level: number): number {
  if (level >= 60) return 2;
  if (level >= 50) return 3;
  if (level >= 40) return 4;
  if (level >= 30) return 6;
  return 7;
}
