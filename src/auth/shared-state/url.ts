import { UsageError } from '../../errors.js';

/** One Redis (or Sentinel) endpoint. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/**
 * `--shared-state URL`, parsed. Four forms (Valkey speaks the same protocol):
 *
 *   redis://[user:pass@]host[:6379][/db]                  one server
 *   rediss://…                                            the same over verified TLS
 *   redis-sentinel://[user:pass@]h1:26379,h2:26379/master[/db]   ask the Sentinels for `master`
 *   redis-cluster://[user:pass@]h1:7000,h2:7001           a Redis Cluster, from these seed nodes
 *
 * `rediss-sentinel://` and `rediss-cluster://` use TLS for every connection. Credentials are for the
 * Redis servers (Sentinels are asked without them: they hold no data). The password is kept apart
 * from what may be logged (`shown`).
 */
export interface SharedStateUrl {
  readonly kind: 'single' | 'sentinel' | 'cluster';
  readonly tls: boolean;
  readonly nodes: readonly Endpoint[];
  /** Sentinel: the master group name. */
  readonly masterName: string | null;
  readonly db: number;
  readonly username: string | null;
  readonly password: string | null;
  /** The URL with any password replaced by `***`: the only form that goes into logs and status. */
  readonly shown: string;
}

const SCHEMES: Readonly<Record<string, { kind: SharedStateUrl['kind']; tls: boolean; port: number }>> = {
  'redis:': { kind: 'single', tls: false, port: 6379 },
  'rediss:': { kind: 'single', tls: true, port: 6379 },
  'redis-sentinel:': { kind: 'sentinel', tls: false, port: 26379 },
  'rediss-sentinel:': { kind: 'sentinel', tls: true, port: 26379 },
  'redis-cluster:': { kind: 'cluster', tls: false, port: 6379 },
  'rediss-cluster:': { kind: 'cluster', tls: true, port: 6379 },
};

function bad(shown: string, why: string): UsageError {
  return new UsageError(`--shared-state: '${shown}' ${why}`);
}

/** `host[:port]` or `[v6]:port`; throws naming the URL (already redacted) when it is not one. */
function endpoint(text: string, defaultPort: number, shown: string): Endpoint {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:/[\]@,]+))(?::(\d{1,5}))?$/.exec(text);
  if (m === null) throw bad(shown, `has a bad host '${text}'`);
  const port = m[3] === undefined ? defaultPort : Number(m[3]);
  if (port < 1 || port > 65535) throw bad(shown, `has a bad port in '${text}'`);
  return { host: m[1] ?? m[2]!, port };
}

/** Parses `--shared-state`. Comma-separated hosts are why this is not `new URL()`. */
export function parseSharedStateUrl(raw: string): SharedStateUrl {
  // Credentials run to the last @: a password may hold / or @ even when it should have been %-encoded.
  const m = /^([a-z-]+:)\/\/(?:(.*)@)?([^/?#@]*)(\/[^?#@]*)?$/s.exec(raw);
  const scheme = m === null ? undefined : SCHEMES[m[1]!];
  // Never echo a password back, not even in an error: everything before the @ may be one.
  const shown = raw.replace(/^([^/]*\/\/).*@/s, '$1***@');
  if (m === null || scheme === undefined) {
    throw bad(shown, `is not a redis://, rediss://, redis-sentinel:// or redis-cluster:// URL (also rediss-sentinel://, rediss-cluster://)`);
  }
  let username: string | null = null;
  let password: string | null = null;
  if (m[2] !== undefined) {
    const colon = m[2].indexOf(':');
    const decode = (t: string): string => {
      try {
        return decodeURIComponent(t);
      } catch {
        throw bad(shown, 'has a bad %-escape in its credentials');
      }
    };
    const u = decode(colon >= 0 ? m[2].slice(0, colon) : m[2]);
    username = u === '' ? null : u;
    if (colon >= 0) password = decode(m[2].slice(colon + 1));
    else if (username !== null) [username, password] = [null, username]; // redis://secret@host: a bare password, as redis-cli reads it
  }
  if (m[3] === '') throw bad(shown, 'names no host');
  const nodes = m[3]!.split(',').map((h) => endpoint(h, scheme.port, shown));
  if (scheme.kind === 'single' && nodes.length > 1) throw bad(shown, 'names several hosts: use redis-sentinel:// or redis-cluster://');
  const path = (m[4] ?? '').split('/').filter((p) => p !== '');
  let masterName: string | null = null;
  if (scheme.kind === 'sentinel') {
    masterName = path.shift() ?? null;
    if (masterName === null) throw bad(shown, 'names no master group: redis-sentinel://h1:26379,h2:26379/mymaster');
  }
  let db = 0;
  if (path.length > 0) {
    const d = path.shift()!;
    if (!/^\d{1,2}$/.test(d) || scheme.kind === 'cluster') throw bad(shown, `has a bad database '${d}'${scheme.kind === 'cluster' ? ' (a cluster has only database 0)' : ''}`);
    db = Number(d);
  }
  if (path.length > 0) throw bad(shown, 'has a path after the database number');
  const who = username !== null ? `${encodeURIComponent(username)}${password !== null ? ':***' : ''}@` : password !== null ? '***@' : '';
  return { kind: scheme.kind, tls: scheme.tls, nodes, masterName, db, username, password, shown: `${m[1]}//${who}${m[3]}${m[4] ?? ''}` };
}
