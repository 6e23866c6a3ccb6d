import { lstatSync, unlinkSync } from 'node:fs';
import { type Server as HttpServer, createServer } from 'node:http';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { DURATION_BUCKETS_S, REQUEST_OUTCOMES, type SeriesSnapshot } from '../stats/request-stats.js';
import type { DaemonSnapshot } from '../stats/snapshot.js';
import { InvalidArgumentError, SocketFileError } from '../errors.js';

/** `--metrics-listen`: a TCP address or a UNIX socket path. */
export type MetricsListen = { readonly host: string; readonly port: number } | { readonly path: string };

/** Parses `127.0.0.1:9187`, `[::1]:9187` or `/run/saslauthd/metrics`; throws naming the value. */
export function parseMetricsListen(value: string): MetricsListen {
  if (value.startsWith('/')) return { path: value };
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (host === undefined || isIP(host) === 0 || !(port >= 1 && port <= 65535)) {
    throw new InvalidArgumentError(`'${value}' is not IP:PORT ([IPv6]:PORT) or an absolute socket path`);
  }
  return { host, port };
}

export const metricsListenLabel = (l: MetricsListen): string => ('path' in l ? l.path : isIP(l.host) === 6 ? `[${l.host}]:${l.port}` : `${l.host}:${l.port}`);

/** Prometheus text for one histogram, from the stats module's cumulative buckets. */
function histogramValues(name: string, labels: Record<string, string>, s: SeriesSnapshot) {
  const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
  DURATION_BUCKETS_S.forEach((le, i) => values.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: s.buckets[i]! }));
  values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: s.buckets[DURATION_BUCKETS_S.length]! });
  values.push({ metricName: `${name}_sum`, labels, value: s.sumSeconds });
  values.push({ metricName: `${name}_count`, labels, value: s.count });
  return values;
}

/**
 * The registry: every value is read from one daemon snapshot per scrape (the same one `ctl status`
 * prints), plus prom-client's default process metrics. Labels are admin-given names (backend
 * instances, configured servers, pools) and fixed words, never a login, service or realm.
 */
export function metricsRegistry(snapshot: () => Promise<DaemonSnapshot>): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Gauges whose names end in _total break the exposition rules (promtool check metrics refuses
  // them); the same counts stay available without the suffix (nodejs_active_handles…).
  for (const n of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(n);
  let current: Promise<DaemonSnapshot> | null = null;
  // One snapshot serves every collector of one scrape (they run in parallel).
  const snap = (): Promise<DaemonSnapshot> => {
    current ??= snapshot().finally(() => setImmediate(() => (current = null)));
    return current;
  };
  const counter = (name: string, help: string, labelNames: string[], fill: (c: Counter, s: DaemonSnapshot) => void): void => {
    new Counter({ name, help, labelNames, registers: [registry], async collect() { const s = await snap(); this.reset(); fill(this, s); } });
  };
  const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge, s: DaemonSnapshot) => void): void => {
    new Gauge({ name, help, labelNames, registers: [registry], async collect() { const s = await snap(); this.reset(); fill(this, s); } });
  };
  counter('saslauthd_requests_total', 'Requests answered, by outcome (ok, rejected, unavailable, malformed).', ['outcome'], (c, s) => {
    for (const o of REQUEST_OUTCOMES) if (o !== 'error') c.inc({ outcome: o }, s.requests.outcomes[o]);
  });
  counter('saslauthd_backend_requests_total', 'Decisions by each backend instance (as named in -a/--route), by outcome; error: the backend threw.', ['backend', 'outcome'], (c, s) => {
    for (const b of s.backends) for (const o of REQUEST_OUTCOMES) if (o !== 'malformed' && b.stats) c.inc({ backend: b.name, outcome: o }, b.stats.outcomes[o]);
  });
  gauge('saslauthd_requests_in_flight', 'Requests being decided now.', [], (g, s) => g.set(s.requests.inFlight));
  gauge('saslauthd_connections_open', 'Client connections open on the saslauthd sockets.', [], (g, s) => g.set(s.connections.open));
  counter('saslauthd_connections_total', 'Client connections, by what happened at accept (accepted, refused, dropped at the cap).', ['result'], (c, s) => {
    c.inc({ result: 'accepted' }, s.connections.accepted);
    c.inc({ result: 'refused' }, s.connections.refused);
    c.inc({ result: 'dropped' }, s.connections.dropped);
  });
  gauge('saslauthd_pool_size', 'Workers in a bounded pool (crypt, pam, rimap SERVER).', ['pool'], (g, s) => { for (const p of s.pools) g.set({ pool: p.name }, p.size); });
  gauge('saslauthd_pool_busy', 'Workers of a pool busy now.', ['pool'], (g, s) => { for (const p of s.pools) g.set({ pool: p.name }, p.busy); });
  gauge('saslauthd_pool_queued', 'Jobs waiting for a worker of a pool.', ['pool'], (g, s) => { for (const p of s.pools) g.set({ pool: p.name }, p.queued); });
  gauge('saslauthd_backend_server_up', 'LDAP or IMAP server as the backend sees it: 1 up, 0 marked down.', ['backend', 'server'], (g, s) => {
    for (const b of s.backends) for (const sv of b.servers) g.set({ backend: b.name, server: sv.server }, sv.up ? 1 : 0);
  });
  counter('saslauthd_cache_hits_total', 'Credential cache hits (-c).', [], (c, s) => { if (s.cache) c.inc(s.cache.hits); });
  counter('saslauthd_cache_misses_total', 'Credential cache misses (-c).', [], (c, s) => { if (s.cache) c.inc(s.cache.misses); });
  gauge('saslauthd_cache_entries', 'Entries in the credential cache (-c).', [], (g, s) => { if (s.cache) g.set(s.cache.entries); });
  gauge('saslauthd_penalised_keys', 'Users and client addresses with failures the penalty counts now.', ['kind'], (g, s) => {
    if (s.penalties === null) return;
    g.set({ kind: 'user' }, s.penalties.users);
    g.set({ kind: 'address' }, s.penalties.addresses);
  });
  gauge('saslauthd_shared_state_up', 'With --shared-state: 1 while this host uses Redis/Valkey, 0 while it works on local state.', [], (g, s) => {
    if (s.sharedState) g.set(s.sharedState.up ? 1 : 0);
  });
  counter('saslauthd_shared_cache_lookups_total', 'With --shared-state and -c: fleet cache lookups by result (hit, miss; fallback: Redis down or late, the local cache decided).', ['result'], (c, s) => {
    const f = s.sharedState?.cache;
    if (!f) return;
    c.inc({ result: 'hit' }, f.hits);
    c.inc({ result: 'miss' }, f.misses);
    c.inc({ result: 'fallback' }, f.fallbacks);
  });
  gauge('saslauthd_start_time_seconds', 'Start time of the daemon, Unix seconds.', [], (g, s) => g.set(Date.parse(s.startedAt) / 1000));
  gauge('saslauthd_build_info', 'Always 1; the version as a label.', ['version'], (g, s) => g.set({ version: s.version }, 1));
  const histogram = (name: string, help: string, values: (s: DaemonSnapshot) => ReturnType<typeof histogramValues>): void => {
    // prom-client's Histogram keeps its own buckets; this one reads the stats module's, so the
    // exposition and `ctl status` count the same requests.
    registry.registerMetric({
      name,
      help,
      type: 'histogram',
      get: async () => ({ name, help, type: 'histogram', aggregator: 'sum', values: values(await snap()) }),
    } as unknown as Parameters<Registry['registerMetric']>[0]);
  };
  histogram('saslauthd_request_duration_seconds', 'Time from a whole request to its reply (failure delay included).', (s) => histogramValues('saslauthd_request_duration_seconds', {}, s.requests));
  histogram('saslauthd_backend_request_duration_seconds', 'Time one backend instance took to decide.', (s) =>
    s.backends.flatMap((b) => (b.stats ? histogramValues('saslauthd_backend_request_duration_seconds', { backend: b.name }, b.stats) : [])));
  return registry;
}

/** Deadlines of the metrics listener: a scraper is a client like any other. */
const REQUEST_TIMEOUT_MS = 10_000;

/** `--metrics-listen`: GET /metrics over HTTP on a loopback port or a UNIX socket; nothing else. */
export class MetricsServer {
  readonly #http: HttpServer;
  #path: string | null = null;

  constructor(
    private readonly registry: Registry,
    private readonly log: Logger,
  ) {
    this.#http = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(req.method === 'GET' ? 404 : 405, { 'content-type': 'text/plain' }).end('saslauthd-ts: only GET /metrics\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (e: unknown) => {
          this.log.error({ err: (e as Error).message }, 'metrics: collecting failed');
          res.writeHead(500, { 'content-type': 'text/plain' }).end('collecting metrics failed\n');
        },
      );
    });
    this.#http.requestTimeout = REQUEST_TIMEOUT_MS;
    this.#http.headersTimeout = REQUEST_TIMEOUT_MS;
    this.#http.keepAliveTimeout = 5000;
    this.#http.maxHeadersCount = 50;
    this.#http.setTimeout(REQUEST_TIMEOUT_MS);
    this.#http.on('error', (err) => this.log.error({ err: err.message }, 'metrics listener error'));
  }

  async listen(where: MetricsListen): Promise<void> {
    if ('path' in where) {
      try {
        const st = lstatSync(where.path);
        if (!st.isSocket()) throw new SocketFileError(`--metrics-listen: ${where.path} exists and is not a socket; refusing to replace it`);
        unlinkSync(where.path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error): void => reject(new SocketFileError(`--metrics-listen ${metricsListenLabel(where)}: ${e.message}`));
      this.#http.once('error', onError);
      const done = (): void => {
        this.#http.off('error', onError);
        resolve();
      };
      if ('path' in where) {
        // Mode 0660 through the umask at bind() (as the mux socket): no chmod that could follow a link.
        const old = process.umask(0o117);
        try {
          this.#http.listen({ path: where.path }, done);
        } finally {
          process.umask(old);
        }
      } else {
        this.#http.listen({ host: where.host, port: where.port }, done);
      }
    });
    if ('path' in where) this.#path = where.path;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#http.close(() => resolve());
      this.#http.closeAllConnections();
    });
    if (this.#path !== null) {
      try {
        unlinkSync(this.#path);
      } catch {
        // already gone
      }
    }
  }
}
