import { join } from 'node:path';
import type { Daemon } from './daemon.js';
import type { DaemonSnapshot } from '../stats/snapshot.js';
import { VERSION } from './version.js';

/** The effective configuration lines: what `--check` prints for the running authenticator, plus the sockets. */
function configLines(d: Daemon): string[] {
  const o = d.options;
  const lines = [...d.authenticator.describe()];
  lines.push(`socket: ${d.activated ? 'from the service manager (socket activation)' : join(o.runDir, 'mux')}`);
  lines.push(`-n ${o.concurrency}, --max-connections ${o.maxConnections}, --auth-timeout ${o.authTimeoutMs} ms, --request-timeout ${o.requestTimeoutMs} ms`);
  if (o.allowUids.length + o.allowGids.length > 0) lines.push(`peers: --allow-uid ${o.allowUids.join(',') || '-'} --allow-gid ${o.allowGids.join(',') || '-'}`);
  if (o.configFile !== null) lines.push(`config file: ${o.configFile}`);
  return lines;
}

/** One snapshot of the running daemon: the source of `ctl status` and of every metric. */
export async function daemonSnapshot(d: Daemon): Promise<DaemonSnapshot> {
  const auth = d.authenticator;
  const now = Date.now();
  const perBackend = d.stats.backends();
  const status = auth.backendStatus();
  const pools = [d.cryptPool, ...status.flatMap((b) => (b.status.pools ?? []).map((p) => ({ ...p, name: `${b.name} ${p.name}` })))];
  const connections = { open: 0, accepted: 0, refused: 0, dropped: 0 };
  for (const s of d.servers) {
    const st = s.stats;
    connections.open += st.open;
    connections.accepted += st.accepted;
    connections.refused += st.refused;
    connections.dropped += st.dropped;
  }
  const c = auth.cache;
  const lookups = c === null ? 0 : c.hits + c.misses;
  const penalised = d.options.failDelayMs === 0 ? null : await auth.penalties();
  return {
    version: VERSION,
    pid: process.pid,
    uptimeSec: Math.round((now - d.startedAt) / 1000),
    startedAt: new Date(d.startedAt).toISOString(),
    configuredAt: new Date(d.configuredAt).toISOString(),
    mech: auth.name,
    socket: d.activated ? 'socket activation' : join(d.options.runDir, 'mux'),
    config: configLines(d),
    requests: { ...d.stats.requests(), inFlight: d.handler.stats.inFlight },
    backends: status.map((b) => ({ name: b.name, stats: perBackend.get(b.name) ?? null, servers: b.status.servers ?? [] })),
    pools,
    connections,
    cache: c === null ? null : {
      entries: c.size,
      bytes: c.bytes,
      maxBytes: c.options.maxBytes,
      hits: c.hits,
      misses: c.misses,
      hitRate: lookups === 0 ? null : c.hits / lookups,
      evictions: c.evictions,
      revoked: c.revoked,
    },
    sharedState: auth.sharedState === null ? null : {
      url: auth.sharedState.shown,
      up: auth.sharedState.healthy,
      cache: auth.fleetCache === null ? null : { hits: auth.fleetCache.hits, misses: auth.fleetCache.misses, fallbacks: auth.fleetCache.fallbacks },
    },
    penalties: penalised === null ? null : {
      users: penalised.filter((p) => p.kind === 'user').length,
      addresses: penalised.filter((p) => p.kind === 'address').length,
    },
  };
}
