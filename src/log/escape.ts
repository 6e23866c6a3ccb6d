/**
 * Client-written text (login, realm, service, 5th field, and any reason or message that repeats it)
 * must not be able to shape a log line: log watchers such as fail2ban find `[remote=…]` or
 * `key=value` anywhere in a line and ban the address they read there. So in a value we escape the
 * characters that make our structure (`[`, `]`, `=`, and `"`, which quotes a field value),
 * everything that starts a new line or moves the cursor (C0, DEL, C1 incl. NEL, U+2028/2029),
 * invisible format characters (bidi overrides and isolates, zero widths, BOM) and spaces other than
 * U+0020, which Python's `\s` and `splitlines()` treat as breaks. The backslash is escaped too, so
 * the encoding is unambiguous and can be reversed: `\\`, `\xNN`, `\uNNNN`, `\u{NNNNN}`.
 */
// Line breaks, controls, lone surrogates, invisible format characters, and spaces other than U+0020.
const INVISIBLE = String.raw`\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000`;
const UNSAFE_IN_VALUE = new RegExp(String.raw`[\\\[\]="${INVISIBLE}]`, 'u');
const UNSAFE_IN_VALUE_ALL = new RegExp(UNSAFE_IN_VALUE.source, 'gu');
/** What must not appear anywhere in a line, even in our own text. */
const UNSAFE_IN_LINE = new RegExp(`[${INVISIBLE}]`, 'u');
const UNSAFE_IN_LINE_ALL = new RegExp(UNSAFE_IN_LINE.source, 'gu');
// Inside a JSON string (where JSON.stringify has already escaped `\`, `"`, C0 and lone surrogates).
const UNSAFE_IN_JSON = new RegExp(String.raw`[\[\]=${INVISIBLE}]`, 'u');
const UNSAFE_IN_JSON_ALL = new RegExp(UNSAFE_IN_JSON.source, 'gu');

function escapeChar(c: string): string {
  if (c === '\\') return '\\\\';
  const n = c.codePointAt(0) ?? 0;
  if (n < 0x100) return `\\x${n.toString(16).padStart(2, '0')}`;
  if (n < 0x10000) return `\\u${n.toString(16).padStart(4, '0')}`;
  return `\\u{${n.toString(16)}}`;
}

/**
 * Printable ASCII without `\`, `[`, `]`, `=` and `"`: what nearly every value is. A plain character
 * class tests faster than the Unicode property classes above, on every field of every request line.
 */
const SAFE_ASCII = /^[\x20\x21\x23-\x3c\x3e-\x5a\x5e-\x7e]*$/;

/** A value as it may appear in any log line: no `[`, `]`, `=`, `"`, line break, control or invisible character. */
export function escapeLogValue(value: string): string {
  if (SAFE_ASCII.test(value)) return value;
  return UNSAFE_IN_VALUE.test(value) ? value.replace(UNSAFE_IN_VALUE_ALL, escapeChar) : value;
}

/**
 * The second net, for whole messages: escapes line breaks, controls and invisible characters (same
 * encoding) but keeps our own brackets. Values must already have gone through escapeLogValue.
 */
export function escapeLogLine(line: string): string {
  return UNSAFE_IN_LINE.test(line) ? line.replace(UNSAFE_IN_LINE_ALL, escapeChar) : line;
}

/**
 * saslauthd's `[key=value] [key=value]…` text, each value escaped; null/undefined values are left
 * out. The auth success/failure and penalty lines all come from here, so they cannot drift apart.
 */
export function bracketed(fields: Readonly<Record<string, string | number | null | undefined>>): string {
  // A loop over own keys rather than entries() and join(): no arrays per request line (issue 15).
  let out = '';
  for (const k in fields) {
    if (!Object.prototype.hasOwnProperty.call(fields, k)) continue;
    const v = fields[k];
    if (v === null || v === undefined) continue;
    out += `${out === '' ? '' : ' '}[${k}=${escapeLogValue(String(v))}]`;
  }
  return out;
}

/**
 * A field value in the `key=value` part of text and syslog lines: a string is escaped as above and
 * put in double quotes when it is empty or holds a space; anything else is JSON (its strings
 * escaped), quoted JSON-style when it holds a space or a quote.
 */
export function fieldText(v: unknown): string {
  if (typeof v === 'string') {
    const s = escapeLogValue(v);
    return s === '' || s.includes(' ') ? `"${s}"` : s;
  }
  // What JSON.stringify gives for these, without its replacer: every request line has several.
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  if (typeof v === 'boolean' || v === null) return String(v);
  const s = JSON.stringify(v, (_k, x: unknown) => (typeof x === 'string' ? escapeLogValue(x) : x));
  return /[\s"=]/.test(s) ? JSON.stringify(s) : s;
}

/**
 * A JSON string literal for a field of a JSON log record: the structure characters and invisible
 * characters become `\uNNNN`, so a JSON reader gets the value back unchanged while the raw line holds
 * no `[`, `]`, `=` or line break of the client's for a line-based watcher to trip on.
 */
export function jsonLogString(s: string): string {
  const json = JSON.stringify(s);
  return UNSAFE_IN_JSON.test(json) ? json.replace(UNSAFE_IN_JSON_ALL, jsonUnits) : json;
}

/** Whether raw JSON text holds a character jsonLogString would escape (a structural `[`/`]` counts too). */
export function jsonNeedsEscaping(json: string): boolean {
  return UNSAFE_IN_JSON.test(json);
}

function jsonUnits(c: string): string {
  let out = '';
  for (let i = 0; i < c.length; i++) out += `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return out;
}
