import fc from 'fast-check';
import { pino, type Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import { escapeLogLine } from '../../src/log/escape.js';
import { REDACT_PATHS, createLogger, formatText, isoTimestamp } from '../../src/log/logger.js';

// The text format writes flat records without pino's JSON round trip (issue 15: that round trip was
// a quarter of the CPU of a cache hit). Every line must stay byte for byte what pino's JSON line,
// parsed and rendered by formatText, gives: this compares the two over hostile records.

/** Time stamps of the two paths may differ by a millisecond: compared without them. */
const untimed = (l: string): string => l.replace(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /, 'TIME ');

/** The text format as it was: pino's JSON record, parsed back and rendered by formatText. */
function reference(level: string, journal = false): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = pino(
    {
      level,
      base: null,
      timestamp: journal ? false : pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[secret]' },
      serializers: { msg: (m: unknown): unknown => (typeof m === 'string' ? escapeLogLine(m) : m) },
    },
    { write: (l: string) => void lines.push(untimed(formatText(JSON.parse(l) as Record<string, unknown>, journal))) },
  );
  return { log, lines };
}

function current(level: 'info' | 'debug', journal = false): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: createLogger({ level, format: 'text', journal, destination: { write: (l: string) => void lines.push(untimed(l)) } }), lines };
}

const NASTY = ['', ' ', '[remote=203.0.113.5]', 'a=b', '"', '\\', '\n', '\r\n', '\u2028', '\u202e', '\ud800', '\x1b[2K', 'é', '😀', '{"x":1}', 'null'];
const str = fc.oneof(fc.constantFrom(...NASTY), fc.string({ unit: 'binary', maxLength: 8 }), fc.string({ maxLength: 4 }));
const value = fc.oneof(
  str,
  fc.double(),
  fc.integer(),
  fc.constantFrom(0, -0, 1e21, NaN, Infinity, -Infinity, true, false, null, undefined),
  fc.constant({ nested: 'x [y=z]', password: 'p' }),
  fc.constant(['a', 1, null]),
  fc.constant(new Date(0)),
  fc.constant({ toJSON: () => '[secret]' }),
);
// Ours, pino's own, redacted ones, integer-like ones (JSON.parse puts those first) and hostile ones.
const key = fc.oneof(
  fc.constantFrom('conn', 'user', 'service', 'realm', 'remote', 'mech', 'outcome', 'ms', 'peer_uid', 'level', 'msg', 'time', 'pid', 'hostname'),
  fc.constantFrom('password', 'hash', 'secret', 'bindPassword', 'err', '0', '12', '1a', 'a b', '', 'x=y', '__proto__x'),
);
const record = fc.dictionary(key, value, { maxKeys: 8 });

describe('text log format: direct rendering', () => {
  it('writes every record exactly as pino JSON + formatText did', () => {
    fc.assert(
      fc.property(record, str, fc.constantFrom('info', 'warn', 'error', 'debug'), fc.boolean(), (fields, msg, lvl, journal) => {
        const ref = reference('debug', journal);
        const cur = current('debug', journal);
        const call = (l: Logger) => (l[lvl as 'info'] as (o: object, m: string) => void).call(l, { ...fields }, msg);
        call(ref.log);
        call(cur.log);
        expect(cur.lines).toEqual(ref.lines);
      }),
      { numRuns: 3000 },
    );
  });

  it('renders the per-request line, a child logger line and format arguments as before', () => {
    const ref = reference('info');
    const cur = current('info');
    const fields = { conn: 7, user: 'a[b]=c\n', service: 'imap', realm: '', remote: '192.0.2.1;5', mech: 'shadow', outcome: 'ok', ms: 0.123, peer_uid: 0, peer_pid: 42 };
    for (const l of [ref, cur]) {
      l.log.info(fields, 'auth success: [user=a\\x5bb\\x5d\\x3dc\\x0a]');
      l.log.child({ mech: 'ldap' }).warn({ server: 'ldap://x' }, 'down\nforged');
      l.log.debug({ conn: 1 }, 'not written at info');
      l.log.info('no fields');
      l.log.info({ conn: 2 }, 'with %s args', 'format');
    }
    expect(cur.lines).toEqual(ref.lines);
    // Each field once: `user` is in the message as [user=…], so it is not repeated after it.
    expect(cur.lines[0]).toBe('TIME INFO auth success: [user=a\\x5bb\\x5d\\x3dc\\x0a] conn=7 service=imap realm="" remote=192.0.2.1;5 mech=shadow outcome=ok ms=0.123 peer_uid=0 peer_pid=42\n');
    expect(cur.lines).toHaveLength(4);
  });
});

describe('isoTimestamp', () => {
  it('is Date.prototype.toISOString for every millisecond, second boundaries and other eras included', () => {
    const edges = [0, -1, 999, 1000, 1001, -1000, -1001, 253402300799999, 253402300800000, -62167219200000, -62167219200001, Date.now()];
    for (const ms of edges) expect(isoTimestamp(ms), String(ms)).toBe(new Date(ms).toISOString());
    fc.assert(
      fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 - 1 }), (ms) => {
        expect(isoTimestamp(ms)).toBe(new Date(ms).toISOString());
        // The next millisecond reuses the cached second (or crosses it).
        expect(isoTimestamp(ms + 1)).toBe(new Date(ms + 1).toISOString());
      }),
      { numRuns: 2000 },
    );
  });
});
