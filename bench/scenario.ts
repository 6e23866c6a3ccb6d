import type { Probe } from '../test/fixtures/load.js';

/** One daemon under test: a socket to load, and how to stop it. */
export interface BenchTarget {
  readonly socket: string;
  /** Process id of the root of its process tree, to read CPU time and RSS from /proc (optional). */
  readonly pid?: number | undefined;
  stop(): Promise<unknown>;
}

/**
 * A benchmark scenario: sets up users/peers, starts saslauthd-ts and (when installed) the real
 * saslauthd configured the same way, and says what to send. `npm run bench` runs every scenario at
 * each concurrency against both daemons in the same run and prints the ratio.
 */
export interface Scenario {
  readonly name: string;
  readonly concurrency: readonly number[];
  /** Requests per run (bounded), and seconds per run (bounded). */
  readonly count: number;
  readonly seconds: number;
  /** false: measure a freshly started daemon from its first request (the cold-start row; Default: warm up first). */
  readonly warmup?: boolean | undefined;
  /** Client i always sends probe i mod n (see LoadOptions.perClient). */
  readonly perClient?: boolean | undefined;
  /** For crypt-bound scenarios: the mkpasswd method whose raw hashing capacity is the ceiling. */
  readonly hashMethod?: 'sha-512' | 'yescrypt' | undefined;
  /** Prepares peers and users; returns the probes to cycle through. */
  setup(): Promise<readonly Probe[]>;
  startOurs(): Promise<BenchTarget>;
  /**
   * The row's Node.js floor: the cheapest server that does the backend's work with nothing of ours on
   * the path. Measured in each repeat just before ours, on the same peers and load, and printed as a
   * row of its own; the gap line pairs each repeat's two runs, so the VM's drift between repeats
   * does not show as a gap (Default: no floor).
   */
  readonly floor?: { readonly name: string; start(): Promise<BenchTarget> } | undefined;
  /**
   * The backend floor: the same bare server deciding with our backend (backend-floor-server.ts).
   * Measured between the floor and ours, so each repeat splits our gap in two: the backend and its
   * library above the floor, the request path above the backend (Default: none).
   */
  readonly backendFloor?: { readonly name: string; start(): Promise<BenchTarget> } | undefined;
  /** null when the real saslauthd (sasl2-bin) is not installed or cannot do this scenario. */
  startReal(): Promise<BenchTarget | null>;
  teardown(): Promise<void>;
}
