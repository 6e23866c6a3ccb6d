import { isIP } from 'node:net';
import { TargetError } from '../../../errors.js';

/** One remote IMAP server from `-O`. */
export interface RimapTarget {
  /** Host name or IP address (IPv6 without brackets); resolved at each connection attempt. */
  readonly host: string;
  readonly port: number;
  /** `implicit` for `imaps://` (TLS from the first byte); `none` starts in plaintext (STARTTLS may follow). */
  readonly tls: 'implicit' | 'none';
  /** How logs name it: `host:port`, `[v6]:port` or `imaps://host:port`. */
  readonly label: string;
}

export const IMAP_PORT = 143;
export const IMAPS_PORT = 993;

/** saslauthd passes the port part to getaddrinfo as a service, so `host/imap` works there too. */
const SERVICE_PORTS: Readonly<Record<string, number>> = { imap: IMAP_PORT, imap2: IMAP_PORT, imaps: IMAPS_PORT };

export { TargetError };

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/;

function parsePort(text: string, whole: string): number {
  const named = SERVICE_PORTS[text.toLowerCase()];
  if (named !== undefined) return named;
  if (!/^\d{1,5}$/.test(text)) throw new TargetError(`-O '${whole}': port '${text}' is not a number from 1 to 65535`);
  const n = Number(text);
  if (n < 1 || n > 65535) throw new TargetError(`-O '${whole}': port '${text}' is not a number from 1 to 65535`);
  return n;
}

function checkHost(host: string, whole: string): string {
  if (host === '') throw new TargetError(`-O '${whole}': no host name`);
  if (isIP(host) !== 0 || HOSTNAME.test(host)) return host;
  throw new TargetError(`-O '${whole}': '${host}' is not a host name or IP address`);
}

function labelOf(host: string, port: number, tls: RimapTarget['tls']): string {
  const h = isIP(host) === 6 ? `[${host}]` : host;
  return tls === 'implicit' ? `imaps://${h}:${port}` : `${h}:${port}`;
}

/** Splits `rest` (no scheme) into host and optional port: `[v6]:p`, `[v6]`, `v6`, `host:p`, `host/p`, `host`. */
function splitHostPort(rest: string, whole: string, allowSlash: boolean): { host: string; port: string | null } {
  if (rest.startsWith('[')) {
    const end = rest.indexOf(']');
    if (end < 0) throw new TargetError(`-O '${whole}': missing ']' after the IPv6 address`);
    const host = rest.slice(1, end);
    if (isIP(host) !== 6) throw new TargetError(`-O '${whole}': '${host}' is not an IPv6 address`);
    const after = rest.slice(end + 1);
    if (after === '') return { host, port: null };
    if (after.startsWith(':') || (allowSlash && after.startsWith('/'))) return { host, port: after.slice(1) };
    throw new TargetError(`-O '${whole}': unexpected '${after}' after the IPv6 address`);
  }
  // saslauthd's own form: the separator is a slash, so a bare IPv6 address works there.
  const slash = allowSlash ? rest.lastIndexOf('/') : -1;
  if (slash >= 0) return { host: rest.slice(0, slash), port: rest.slice(slash + 1) };
  const colons = rest.split(':').length - 1;
  if (colons === 1) {
    const i = rest.indexOf(':');
    return { host: rest.slice(0, i), port: rest.slice(i + 1) };
  }
  // Two or more colons without brackets can only be a bare IPv6 address.
  return { host: rest, port: null };
}

function parseOne(item: string): RimapTarget {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(item);
  let tls: RimapTarget['tls'] = 'none';
  let rest = item;
  if (scheme) {
    const name = scheme[1]!.toLowerCase();
    if (name === 'imaps') tls = 'implicit';
    else if (name !== 'imap') throw new TargetError(`-O '${item}': unknown scheme '${scheme[1]}://' (use imap:// or imaps://)`);
    rest = item.slice(scheme[0].length);
    if (rest.endsWith('/')) rest = rest.slice(0, -1);
    if (/[/?#@]/.test(rest)) throw new TargetError(`-O '${item}': only imap[s]://host[:port] is accepted (no path, user or query)`);
  }
  const { host, port } = splitHostPort(rest, item, scheme === null);
  const h = checkHost(host, item);
  const p = port === null ? (tls === 'implicit' ? IMAPS_PORT : IMAP_PORT) : parsePort(port, item);
  return { host: h, port: p, tls, label: labelOf(h, p, tls) };
}

/**
 * Parses `-O`: one or more servers separated by spaces or commas, each `host`, `host/port`
 * (saslauthd), `host:port`, `[IPv6]:port`, `imap://host[:port]` or `imaps://host[:port]`.
 * They are tried in order for each request.
 */
export function parseTargets(option: string | null): RimapTarget[] {
  if (option === null || option.trim() === '') {
    throw new TargetError('-O is required for rimap: the IMAP server, e.g. -O imap.example.org or -O imaps://imap.example.org');
  }
  return option
    .split(/[\s,]+/)
    .filter((s) => s !== '')
    .map(parseOne);
}
