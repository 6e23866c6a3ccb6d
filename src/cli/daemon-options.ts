import type { LogFormat, LogLevel } from '../log/logger.js';
import type { CompositionOptions } from '../auth/compose.js';
import type { ContinueOn } from '../auth/chain.js';
import type { RouteSpec } from '../auth/chain-spec.js';
import type { FlagValue } from '../auth/backends/definition.js';
import type { MetricsListen } from '../server/metrics-server.js';

/**
 * Everything the saslauthd-ts command line decides, validated. Only the CLI holds this bag: auth gets
 * the CompositionOptions part, the server its own options, each backend its own typed options.
 */
export interface DaemonOptions extends CompositionOptions {
  /** `-a`: the default chain: backend names in order (`ldap,shadow`; `type:label` names a second instance). */
  readonly chain: readonly string[];
  /** `-O`: backend option (rimap host, ldap config path); last one wins. */
  readonly mechOption: string | null;
  /** `-m`: run directory; the socket is `<runDir>/mux` (Default: /run/saslauthd). */
  readonly runDir: string;
  /** `-n`: authentications decided at once, a concurrency cap (Default: 5). 0 is taken as 1. */
  readonly concurrency: number;
  /** `-c`: credential cache on. */
  readonly cache: boolean;
  /** `-s`: cache size in KiB. */
  readonly cacheSizeKiB: number;
  /** `-t`: cache TTL in seconds (Default: 28800). */
  readonly cacheTtlSec: number;
  /** `--cache-stale-on-outage`: seconds a cached success may answer while the backend is unavailable (Default: 0, off). */
  readonly cacheStaleOnOutageSec: number;
  /** `--route`: requests for a service or realm go to another chain, first match wins (Default: none). */
  readonly routes: readonly RouteSpec[];
  /** `--chain-continue-on`: per backend name (or `*` for all) the outcomes that pass to the next backend (Default: unknown, unavailable). */
  readonly chainContinueOn: Readonly<Record<string, readonly ContinueOn[]>>;
  /** Every backend's own flags (their tables in src/auth/backends/<name>/index.ts), by key; defaults filled in. */
  readonly backendFlags: Readonly<Record<string, FlagValue>>;
  /** `--link-option`: per backend name, keys of that backend's flag table (and `mech-option`) set for that instance (Default: none). */
  readonly backendOverrides: Readonly<Record<string, Readonly<Record<string, FlagValue>>>>;
  /** `--fail-delay`: milliseconds every NO waits, jittered up to +25%; 0 turns delay and penalty off (Default: 2000). */
  readonly failDelayMs: number;
  /** `--penalty-max`: cap in milliseconds on the delay doubled per consecutive failure (Default: 15000). */
  readonly penaltyMaxMs: number;
  /** `--trusted-addr`: client addresses/CIDR blocks without an address counter; their users still have theirs (Default: none). */
  readonly trustedAddrs: readonly string[];
  /** `--penalty-scope`: penalty counters per user, per client address, or both (Default: both). */
  readonly penaltyScope: 'user' | 'address' | 'both';
  /** `--penalty-max-held`: requests held at once per penalised user or address; more get NO unchecked (Default: 4). */
  readonly penaltyMaxHeld: number;
  /** `--penalty-max-tracked`: users + addresses with failures remembered at once (Default: 65536). */
  readonly penaltyMaxTracked: number;
  /** `-r`: fold a non-empty realm into the login as `login@realm`. */
  readonly realmConcat: boolean;
  /** `-d`, `-V`: debug logging. */
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  /** Send saslauthd's exact reply texts instead of the uniform `NO authentication failed`. */
  readonly compatReplies: boolean;
  /** `--allow-realm`: realms (lower-case) a request may carry; others are refused (Default: none = any realm). */
  readonly allowedRealms: readonly string[];
  /** Socket file mode (Default: 0o777, like saslauthd: access is governed by the run directory). */
  readonly socketMode: number;
  readonly socketOwner: string | null;
  readonly socketGroup: string | null;
  /** Mode for a run directory we create (Default: 0o710, root:sasl when group sasl exists). */
  readonly runDirMode: number;
  readonly runDirGroup: string | null;
  /** Connections held at once; beyond it the oldest idle one is dropped (Default: 1024). */
  readonly maxConnections: number;
  /** Milliseconds a client has from connect to a whole request (Default: 5000). */
  readonly requestTimeoutMs: number;
  /** Milliseconds to wait for the client to close after the reply (Default: 2000). */
  readonly drainTimeoutMs: number;
  /** Milliseconds one authentication may take before it is answered NO (Default: 30000). */
  readonly authTimeoutMs: number;
  /** Milliseconds SIGTERM waits for requests in progress before cutting them (Default: 10000). */
  readonly shutdownTimeoutMs: number;
  /** `--config-file`: Debian-style variables file (MECHANISMS, MECH_OPTIONS, THREADS, OPTIONS) read at start and on SIGHUP (Default: none). */
  readonly configFile: string | null;
  /** `--syslog` / `--syslog-socket`: log to this syslog socket, facility auth (Default: none, plain text to stderr). */
  readonly syslogSocket: string | null;
  /** `--syslog-ident`: program name in syslog lines (Default: saslauthd, the name saslauthd's log watchers expect). */
  readonly syslogIdent: string;
  /** `--pid-file [PATH]`: file the daemon's pid is written to while it serves (Default: none; bare flag: `<runDir>/saslauthd.pid`). */
  readonly pidFile: string | null;
  /** `--allow-uid`: users (names or numbers) whose connections are served; others are refused before reading (Default: none = everyone). */
  readonly allowUids: readonly string[];
  /** `--allow-gid`: groups (names or numbers, primary or supplementary) whose connections are served (Default: none = everyone). */
  readonly allowGids: readonly string[];
  /** `--user`: drop root to this user once the socket is bound (Default: null = keep running as started). */
  readonly user: string | null;
  /** `--group`: group for the drop (Default: the user's primary group). */
  readonly group: string | null;
  /** `--metrics-listen`: serve Prometheus metrics on this address or UNIX socket (Default: null = no metrics). */
  readonly metricsListen: MetricsListen | null;
}

export const DEFAULT_RUN_DIR = '/run/saslauthd';

export const DEFAULTS: Omit<DaemonOptions, 'chain' | 'backendFlags'> = {
  mechOption: null,
  runDir: DEFAULT_RUN_DIR,
  concurrency: 5,
  cache: false,
  cacheSizeKiB: 964,
  cacheTtlSec: 28800,
  cacheStaleOnOutageSec: 0,
  routes: [],
  chainContinueOn: {},
  backendOverrides: {},
  failDelayMs: 2000,
  penaltyMaxMs: 15000,
  trustedAddrs: [],
  penaltyScope: 'both',
  penaltyMaxHeld: 4,
  penaltyMaxTracked: 65536,
  realmConcat: false,
  logLevel: 'info',
  logFormat: 'text',
  compatReplies: false,
  allowedRealms: [],
  socketMode: 0o777,
  socketOwner: null,
  socketGroup: null,
  runDirMode: 0o710,
  runDirGroup: 'sasl',
  maxConnections: 1024,
  requestTimeoutMs: 5000,
  drainTimeoutMs: 2000,
  authTimeoutMs: 30000,
  shutdownTimeoutMs: 10000,
  sharedState: null,
  cacheKeyFile: null,
  configFile: null,
  syslogSocket: null,
  syslogIdent: 'saslauthd',
  pidFile: null,
  allowUids: [],
  allowGids: [],
  user: null,
  group: null,
  metricsListen: null,
};
