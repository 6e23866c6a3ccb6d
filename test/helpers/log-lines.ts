import { expect } from 'vitest';

/** Issue 11 item 8: Postfix sends no 5th field, so this would be the only [remote=] on its line. */
export const FORGING_LOGIN = 'x [remote=198.51.100.9;1';

/**
 * What no log line may hold anywhere: C0, DEL, C1 (NEL), U+2028/2029, format characters (bidi
 * overrides and isolates, zero widths, BOM), lone surrogates, and spaces other than U+0020.
 */
export const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/u;

/** Reverses the log escaping (`\\`, `\xNN`, `\uNNNN`, `\u{N…}`); written apart from src/log/escape.ts. */
export function decodeLogValue(e: string): string {
  return e.replace(/\\(\\|x([0-9a-f]{2})|u\{([0-9a-f]+)\}|u([0-9a-f]{4}))/g, (_m, all: string, x?: string, big?: string, u?: string) => {
    if (all === '\\') return '\\';
    if (x !== undefined) return String.fromCharCode(parseInt(x, 16));
    if (big !== undefined) return String.fromCodePoint(parseInt(big, 16));
    return String.fromCharCode(parseInt(u!, 16));
  });
}

export interface SeenRequest {
  readonly login: string;
  readonly service: string;
  readonly realm: string;
  readonly clientAddr: string | null;
}

const AUTH_LINE = /^auth (success|failure|penalty): /;

/**
 * The `[key=value]` groups and `key=value` pairs of a message (and, for text and syslog, of the
 * fields after it): every `[` opens a group of ours, every `=` follows one of our key names, no key
 * appears twice in one form, and the values decode to what the client sent.
 */
function checkStructure(msg: string, rest: string, seen: SeenRequest): void {
  const groups = [...msg.matchAll(/\[([a-z_]+)=([^[\]]*)\]/g)];
  // Nothing but our groups holds a bracket.
  expect((msg + rest).replace(/\[([a-z_]+)=([^[\]]*)\]/g, '')).not.toMatch(/[[\]]/);
  const keys = groups.map((g) => g[1]!);
  expect(new Set(keys).size).toBe(keys.length);
  const value = (k: string): string | undefined => {
    const g = groups.find((x) => x[1] === k);
    return g === undefined ? undefined : decodeLogValue(g[2]!);
  };
  if (AUTH_LINE.test(msg)) {
    expect(keys.filter((k) => k === 'user')).toEqual(['user']);
    expect(value('user')).toBe(seen.login);
    expect(value('service')).toBe(seen.service);
    if (msg.startsWith('auth penalty:')) expect(value('realm')).toBeUndefined();
    else expect(value('realm')).toBe(seen.realm);
    expect(value('remote')).toBe(seen.clientAddr ?? undefined);
  } else {
    expect(keys).toEqual([]);
  }
  // Every `=` in the line follows `[key` or ` key`, and each (form, key) appears once.
  const all = msg + rest;
  const pairs: string[] = [];
  for (let i = all.indexOf('='); i >= 0; i = all.indexOf('=', i + 1)) {
    const m = /(^|[[ ])([a-z_]+)$/.exec(all.slice(0, i));
    expect(m, `'=' at ${i} does not follow a key: ${JSON.stringify(all)}`).not.toBeNull();
    pairs.push(`${m![1]}${m![2]}`);
  }
  expect(new Set(pairs).size).toBe(pairs.length);
  expect(pairs.filter((p) => p === '[remote').length).toBe(AUTH_LINE.test(msg) && seen.clientAddr !== null ? 1 : 0);
}

/** Value of ` key=…` in the trailing fields of a text/syslog line, decoded. */
function trailing(rest: string, key: string): string | undefined {
  const m = new RegExp(` ${key}=(?:"([^"]*)"|(\\S*))`).exec(rest);
  if (!m) return undefined;
  return decodeLogValue(m[1] ?? m[2]!);
}

/**
 * One line of daemon output (without its newline) in `format`. Asserts: no control, line-separator
 * or invisible character; the structure above; the fields carry the client's values exactly.
 */
export function checkLine(format: 'text' | 'json' | 'syslog', line: string, seen: SeenRequest | readonly SeenRequest[]): void {
  expect(UNSAFE.test(line), `unsafe character in ${JSON.stringify(line)}`).toBe(false);
  if (Array.isArray(seen)) {
    // Lines of several requests: one of them must match in every respect.
    const errors: unknown[] = [];
    for (const s of seen as readonly SeenRequest[]) {
      try {
        checkLine(format, line, s);
        return;
      } catch (e) {
        errors.push(e);
      }
    }
    throw errors.at(-1) ?? new Error('no request to check against');
  }
  checkOne(format, line, seen as SeenRequest);
}

function checkOne(format: 'text' | 'json' | 'syslog', line: string, seen: SeenRequest): void {
  if (format === 'json') {
    const rec = JSON.parse(line) as Record<string, unknown>;
    const msg = String(rec['msg']);
    // In the raw line, the client's `[`, `]` and `=` appear only escaped, outside our msg too.
    const cut = line.lastIndexOf(',"msg":');
    expect(cut).toBeGreaterThan(0);
    expect(line.slice(0, cut)).not.toMatch(/[[\]=]/);
    checkStructure(msg, '', seen);
    if ('user' in rec) expect(rec['user']).toBe(seen.login);
    if ('service' in rec) expect(rec['service']).toBe(seen.service);
    if ('realm' in rec) expect(rec['realm']).toBe(seen.realm);
    if ('remote' in rec) expect(rec['remote']).toBe(seen.clientAddr);
    return;
  }
  const head = format === 'syslog'
    ? /^<\d+>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d saslauthd-ts\[\d+\]: (.*)$/.exec(line)
    : /^(?:TRACE|DEBUG|INFO|WARN|ERROR|FATAL) (.*)$/.exec(line);
  expect(head, `not a ${format} log line: ${JSON.stringify(line)}`).not.toBeNull();
  const body = head![1]!;
  // The message ends where our key=value fields begin: after the last `]` of an auth line, else at the first ` key=`.
  const auth = AUTH_LINE.test(body);
  const end = auth ? body.lastIndexOf(']') + 1 : (/ [a-z_]+=/.exec(body)?.index ?? body.length);
  const msg = body.slice(0, end);
  const rest = body.slice(end);
  checkStructure(msg, rest, seen);
  const user = trailing(rest, 'user');
  if (user !== undefined) expect(user).toBe(seen.login);
  const remote = trailing(rest, 'remote');
  if (remote !== undefined) expect(remote).toBe(seen.clientAddr);
}
