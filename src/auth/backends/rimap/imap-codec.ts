/**
 * The few IMAP4rev1 pieces a LOGIN/AUTHENTICATE client needs (RFC 3501, 7888, 4959): response
 * parsing, capability lists, and argument encoding. Pure.
 */
import { RefusedOperationError } from '../../../errors.js';

export type Status = 'OK' | 'NO' | 'BAD' | 'BYE' | 'PREAUTH';

export type Response =
  | { readonly kind: 'continuation'; readonly text: string }
  | {
      readonly kind: 'untagged';
      /** Set for status responses (`* OK …`); null for data (`* CAPABILITY …`, `* 3 EXISTS`). */
      readonly status: Status | null;
      /** The response code inside `[…]`, e.g. `CAPABILITY IMAP4rev1 …`, or null. */
      readonly code: string | null;
      readonly text: string;
    }
  | { readonly kind: 'tagged'; readonly tag: string; readonly status: 'OK' | 'NO' | 'BAD'; readonly code: string | null; readonly text: string }
  | { readonly kind: 'garbage'; readonly text: string };

const TAG = /^[!#$&'+,\-./0-9:;<=>?@A-Z^_`a-z|~]+$/;

/** Printable, single-line version of server text for logs (the server may send anything). */
export function printable(text: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\x00-\x1f\x7f-\x9f]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

function splitCode(rest: string): { code: string | null; text: string } {
  if (!rest.startsWith('[')) return { code: null, text: rest };
  const end = rest.indexOf(']');
  if (end < 0) return { code: null, text: rest };
  return { code: rest.slice(1, end), text: rest.slice(end + 1).trimStart() };
}

export function parseResponse(line: Buffer): Response {
  const s = line.toString('utf8');
  if (s === '+' || s.startsWith('+ ')) return { kind: 'continuation', text: s.slice(2) };
  const sp = s.indexOf(' ');
  if (sp <= 0) return { kind: 'garbage', text: s };
  const head = s.slice(0, sp);
  const rest = s.slice(sp + 1);
  const sp2 = rest.indexOf(' ');
  const word = (sp2 < 0 ? rest : rest.slice(0, sp2)).toUpperCase();
  const after = sp2 < 0 ? '' : rest.slice(sp2 + 1);
  if (head === '*') {
    if (word === 'OK' || word === 'NO' || word === 'BAD' || word === 'BYE' || word === 'PREAUTH') {
      return { kind: 'untagged', status: word, ...splitCode(after) };
    }
    if (word === '') return { kind: 'garbage', text: s };
    return { kind: 'untagged', status: null, code: null, text: rest };
  }
  if (!TAG.test(head)) return { kind: 'garbage', text: s };
  if (word === 'OK' || word === 'NO' || word === 'BAD') return { kind: 'tagged', tag: head, status: word, ...splitCode(after) };
  return { kind: 'garbage', text: s };
}

// A server sends the same capability line on every connection; parse each distinct one once.
const capCache = new Map<string, ReadonlySet<string>>();

/** Capabilities from `CAPABILITY a b c` (a response code or the text of `* CAPABILITY …`), upper-cased. */
export function parseCapabilities(text: string): ReadonlySet<string> {
  const hit = capCache.get(text);
  if (hit) return hit;
  const caps = parseCapabilityWords(text);
  if (capCache.size >= 64) capCache.clear();
  capCache.set(text, caps);
  return caps;
}

function parseCapabilityWords(text: string): ReadonlySet<string> {
  const words = text.trim().split(/\s+/);
  if (words[0]?.toUpperCase() === 'CAPABILITY') words.shift();
  return new Set(words.filter((w) => w !== '').map((w) => w.toUpperCase()));
}

/** The capability list in an untagged `* CAPABILITY …` or a `[CAPABILITY …]` code, else null. */
export function capabilitiesIn(r: Response): ReadonlySet<string> | null {
  if (r.kind === 'untagged' && r.status === null && /^CAPABILITY(\s|$)/i.test(r.text)) return parseCapabilities(r.text);
  if ((r.kind === 'untagged' || r.kind === 'tagged') && r.code !== null && /^CAPABILITY(\s|$)/i.test(r.code)) return parseCapabilities(r.code);
  return null;
}

/** CR, LF or NUL: bytes that would end or corrupt an IMAP command (command injection). */
export function hasLineBreakOrNul(bytes: Uint8Array): boolean {
  return bytes.includes(0x0d) || bytes.includes(0x0a) || bytes.includes(0x00);
}

/**
 * One IMAP `astring` argument. 7-bit text goes as a quoted string with `"` and `\` escaped; anything
 * with 8-bit bytes goes as a literal (IMAP4rev1 quoted strings are 7-bit). `nonSync` uses the
 * LITERAL+ form `{n+}`, which needs no continuation from the server.
 */
export type Argument =
  | { readonly kind: 'quoted'; readonly bytes: Buffer }
  | { readonly kind: 'literal'; readonly header: Buffer; readonly bytes: Buffer; readonly nonSync: boolean };

export function encodeArgument(value: Uint8Array, nonSync: boolean): Argument {
  if (hasLineBreakOrNul(value)) throw new RefusedOperationError('CR, LF and NUL cannot be sent in an IMAP argument');
  const sevenBit = value.every((b) => b < 0x80);
  if (sevenBit) {
    const out: number[] = [0x22];
    for (const b of value) {
      if (b === 0x22 || b === 0x5c) out.push(0x5c);
      out.push(b);
    }
    out.push(0x22);
    return { kind: 'quoted', bytes: Buffer.from(out) };
  }
  return {
    kind: 'literal',
    header: Buffer.from(`{${value.length}${nonSync ? '+' : ''}}\r\n`, 'latin1'),
    bytes: Buffer.from(value),
    nonSync,
  };
}

/** SASL PLAIN (RFC 4616) initial response, base64: empty authzid, authcid, password. */
export function saslPlain(login: Uint8Array, password: Uint8Array): string {
  const buf = Buffer.concat([Buffer.from([0]), login, Buffer.from([0]), password]);
  const b64 = buf.toString('base64');
  buf.fill(0);
  return b64;
}
