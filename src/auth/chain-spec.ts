import { isIP } from 'node:net';
import { CONTINUE_ON, type ContinueOn } from './chain.js';
import { UsageError } from '../errors.js';

/**
 * Pure parsers for the chain, routing and defence flags. Each throws an Error whose message names
 * the flag and the bad value; commander turns it into a usage error.
 */

/** `--route smtp=ldap,shadow`, `--route service:smtp=…`, `--route realm:example.org=rimap`. */
export interface RouteSpec {
  readonly on: 'service' | 'realm';
  readonly value: string;
  /** Backend names in order (`ldap`, `shadow:alt`). */
  readonly chain: readonly string[];
}

/** A backend name in a chain: a backend type, optionally with an instance label: `shadow`, `shadow:alt`. */
export function parseBackendName(raw: string, flag: string): string {
  const name = raw.trim().toLowerCase();
  if (!/^[a-z0-9_-]+(:[a-z0-9_-]+)?$/.test(name)) throw new UsageError(`${flag}: '${raw}' is not a backend name (type or type:label)`);
  return name;
}

/** The type of a backend instance (`shadow:alt` → `shadow`): which definition builds it. */
export const backendType = (name: string): string => name.split(':')[0] ?? name;

export function parseChain(raw: string, flag: string): string[] {
  const names = raw.split(',').map((n) => parseBackendName(n, flag));
  if (new Set(names).size !== names.length) throw new UsageError(`${flag}: '${raw}' names a backend twice`);
  return names;
}

export function parseRoute(raw: string): RouteSpec {
  const eq = raw.indexOf('=');
  if (eq <= 0 || eq === raw.length - 1) throw new UsageError(`--route: '${raw}' is not SELECTOR=BACKENDS (e.g. smtp=ldap or realm:example.org=rimap)`);
  const sel = raw.slice(0, eq);
  const chain = parseChain(raw.slice(eq + 1), '--route');
  const colon = sel.indexOf(':');
  const kind = colon < 0 ? 'service' : sel.slice(0, colon);
  const value = colon < 0 ? sel : sel.slice(colon + 1);
  if ((kind !== 'service' && kind !== 'realm') || value === '') {
    throw new UsageError(`--route: '${sel}' must be SERVICE, service:SERVICE or realm:REALM`);
  }
  return { on: kind, value, chain };
}

/**
 * `--chain-continue-on [BACKEND=]LIST`: LIST is `unknown`, `unavailable`, `rejected` (comma-separated) or
 * `none`. Without `BACKEND=` it sets the default for every backend. Returns [backend name or '*', outcomes].
 */
export function parseContinueOn(raw: string): [string, ContinueOn[]] {
  const eq = raw.indexOf('=');
  const name = eq < 0 ? '*' : parseBackendName(raw.slice(0, eq), '--chain-continue-on');
  const list = (eq < 0 ? raw : raw.slice(eq + 1)).split(',').map((s) => s.trim().toLowerCase());
  if (list.length === 1 && list[0] === 'none') return [name, []];
  for (const v of list) {
    if (!(CONTINUE_ON as readonly string[]).includes(v)) {
      throw new UsageError(`--chain-continue-on: '${v}' is not one of ${CONTINUE_ON.join(', ')}, none`);
    }
  }
  return [name, [...new Set(list as ContinueOn[])]];
}

/** `--link-option BACKEND.KEY=VALUE`, e.g. `shadow:alt.shadow-file=/etc/alt/shadow`. */
export function parseLinkOption(raw: string): { backend: string; key: string; value: string } {
  const m = /^([^.=]+)\.([a-z0-9-]+)=(.*)$/i.exec(raw);
  if (m === null) throw new UsageError(`--link-option: '${raw}' is not BACKEND.KEY=VALUE (e.g. shadow:alt.shadow-file=/etc/alt/shadow)`);
  return { backend: parseBackendName(m[1]!, '--link-option'), key: m[2]!.toLowerCase(), value: m[3]! };
}

/** Checks an address or CIDR block for `--trusted-addr`. */
export function parseTrustedAddr(raw: string): string {
  const [addr = '', bits, ...rest] = raw.split('/');
  const family = isIP(addr);
  const max = family === 4 ? 32 : 128;
  if (family === 0 || rest.length > 0 || (bits !== undefined && (!/^\d+$/.test(bits) || Number(bits) > max))) {
    throw new UsageError(`--trusted-addr: '${raw}' is not an IP address or CIDR block`);
  }
  return raw;
}
