import type { PoolUse, ServerHealth } from './backend-status.js';
import type { SeriesSnapshot } from './request-stats.js';

/**
 * The running daemon at one moment: what `ctl status` prints and the metrics expose, gathered in
 * one place (src/cli/daemon-status.ts) so both say the same.
 */
export interface DaemonSnapshot {
  readonly version: string;
  readonly pid: number;
  /** Seconds since start-up. */
  readonly uptimeSec: number;
  /** Start-up time, ISO 8601. */
  readonly startedAt: string;
  /** Time of the last configuration taken (start or reload), ISO 8601. */
  readonly configuredAt: string;
  /** The default chain (`-a`). */
  readonly mech: string;
  readonly socket: string;
  /** The effective configuration, as `-v`/`--check` word it. */
  readonly config: readonly string[];
  readonly requests: SeriesSnapshot & { readonly inFlight: number };
  readonly backends: readonly {
    readonly name: string;
    /** Null until the backend decided a request. */
    readonly stats: SeriesSnapshot | null;
    readonly servers: readonly ServerHealth[];
  }[];
  /** Bounded worker pools: crypt (hashes, sasldb), pam helpers, rimap connections. */
  readonly pools: readonly PoolUse[];
  readonly connections: { readonly open: number; readonly accepted: number; readonly refused: number; readonly dropped: number };
  /** Null when the cache is off (-c). */
  readonly cache: {
    readonly entries: number;
    readonly bytes: number;
    readonly maxBytes: number;
    readonly hits: number;
    readonly misses: number;
    /** hits / (hits + misses); null before the first lookup. */
    readonly hitRate: number | null;
    readonly evictions: number;
    readonly revoked: number;
  } | null;
  /**
   * `--shared-state`: the Redis/Valkey URL (no password), whether this host uses it now, and with -c
   * the fleet cache's counters (fallbacks: lookups the local cache decided because Redis was down or
   * late). Null without --shared-state.
   */
  readonly sharedState: {
    readonly url: string;
    readonly up: boolean;
    readonly cache: { readonly hits: number; readonly misses: number; readonly fallbacks: number } | null;
  } | null;
  /** Null when the penalty is off (--fail-delay 0). */
  readonly penalties: { readonly users: number; readonly addresses: number } | null;
}
