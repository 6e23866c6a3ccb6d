/**
 * The control socket's protocol (`<runDir>/ctl`, `saslauthd-ts ctl`): one JSON object on one line
 * each way, then the daemon closes. Pure: text in, a typed request or a reason out.
 */

/** Bytes a request line may take, newline included; a longer one closes the connection. */
export const MAX_CONTROL_REQUEST = 4096;
/** Bytes a reply may take (a status with many penalised keys stays far below). */
export const MAX_CONTROL_REPLY = 4 * 1024 * 1024;

export type ControlTarget = { readonly all: true } | { readonly user: string } | { readonly address: string };

export type ControlRequest =
  | { readonly cmd: 'status' }
  | { readonly cmd: 'penalty.list' }
  | { readonly cmd: 'penalty.clear'; readonly target: ControlTarget }
  | { readonly cmd: 'cache.flush'; readonly user?: string }
  | { readonly cmd: 'reload' };

export type ControlReply = { readonly ok: true; readonly result: unknown } | { readonly ok: false; readonly error: string };

export type ParsedControlRequest = { readonly ok: true; readonly request: ControlRequest } | { readonly ok: false; readonly reason: string };

/** A name as the penalty and the cache take it: non-empty, printable, short (the saslauthd field limit). */
const isName = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 256 && !/[\u0000-\u001f\u007f]/.test(v);

/** One request line (without its newline). Unknown commands and extra or ill-typed fields are refused. */
export function parseControlRequest(line: string): ParsedControlRequest {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, reason: 'not a JSON object' };
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).sort().join(',');
  const bad = (why: string): ParsedControlRequest => ({ ok: false, reason: why });
  switch (o['cmd']) {
    case 'status':
    case 'penalty.list':
    case 'reload':
      return keys === 'cmd' ? { ok: true, request: { cmd: o['cmd'] } } : bad(`unexpected fields for ${o['cmd']}`);
    case 'cache.flush':
      if (keys === 'cmd') return { ok: true, request: { cmd: 'cache.flush' } };
      if (keys === 'cmd,user' && isName(o['user'])) return { ok: true, request: { cmd: 'cache.flush', user: o['user'] } };
      return bad('cache.flush takes an optional user (a non-empty printable string of at most 256 characters)');
    case 'penalty.clear': {
      const t = o['target'];
      if (keys !== 'cmd,target' || typeof t !== 'object' || t === null) return bad('penalty.clear needs a target');
      const tk = Object.keys(t).join(',');
      const tv = t as Record<string, unknown>;
      if (tk === 'all' && tv['all'] === true) return { ok: true, request: { cmd: 'penalty.clear', target: { all: true } } };
      if (tk === 'user' && isName(tv['user'])) return { ok: true, request: { cmd: 'penalty.clear', target: { user: tv['user'] } } };
      if (tk === 'address' && isName(tv['address'])) return { ok: true, request: { cmd: 'penalty.clear', target: { address: tv['address'] } } };
      return bad('penalty.clear target must be {"all":true}, {"user":…} or {"address":…}');
    }
    default:
      return bad(typeof o['cmd'] === 'string' ? 'unknown command' : 'no cmd');
  }
}

export function encodeControl(message: ControlRequest | ControlReply): string {
  return `${JSON.stringify(message)}\n`;
}
