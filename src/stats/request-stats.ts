/**
 * Request statistics, kept in one place: `ctl status` and the Prometheus exposition both read them
 * from here, so the two never disagree. Labels are only ever names the admin wrote (backend names
 * from -a/--route) and fixed outcome words: nothing a client sends (login, service, realm) becomes
 * a key here, so a client can neither forge a series nor make the set grow.
 */

/** Upper bounds (seconds) of the duration histogram buckets; the last bucket is +Inf. */
export const DURATION_BUCKETS_S: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Request-level outcomes: the three verdicts, a request the decoder refused, and a backend that threw. */
export const REQUEST_OUTCOMES = ['ok', 'rejected', 'unavailable', 'malformed', 'error'] as const;
export type RequestOutcome = (typeof REQUEST_OUTCOMES)[number];

/** Samples kept per series for the percentiles: the most recent ones. */
const RECENT = 1024;

/** Counts, histogram and recent percentiles of one series (all requests, or one backend). */
export interface SeriesSnapshot {
  readonly outcomes: Readonly<Record<RequestOutcome, number>>;
  /** Timed requests (the histogram's count): malformed ones are counted but not timed. */
  readonly count: number;
  /** Sum of durations in seconds. */
  readonly sumSeconds: number;
  /** Cumulative counts per DURATION_BUCKETS_S bound, then +Inf (Prometheus' `le`). */
  readonly buckets: readonly number[];
  /** Percentiles in ms over the last RECENT requests; null when there was none. */
  readonly p50Ms: number | null;
  readonly p90Ms: number | null;
  readonly p99Ms: number | null;
}

class Series {
  readonly outcomes: Record<RequestOutcome, number> = { ok: 0, rejected: 0, unavailable: 0, malformed: 0, error: 0 };
  readonly #perBucket = new Array<number>(DURATION_BUCKETS_S.length + 1).fill(0);
  #sum = 0;
  #count = 0;
  readonly #recent = new Float64Array(RECENT);

  record(outcome: RequestOutcome, seconds: number | null): void {
    this.outcomes[outcome]++;
    if (seconds === null) return;
    let i = DURATION_BUCKETS_S.findIndex((b) => seconds <= b);
    if (i < 0) i = DURATION_BUCKETS_S.length;
    this.#perBucket[i]!++;
    this.#sum += seconds;
    this.#recent[this.#count % RECENT] = seconds;
    this.#count++;
  }

  snapshot(): SeriesSnapshot {
    let acc = 0;
    const buckets = this.#perBucket.map((n) => (acc += n));
    const recent = [...this.#recent.subarray(0, Math.min(this.#count, RECENT))].sort((a, b) => a - b);
    const pct = (q: number): number | null => {
      if (recent.length === 0) return null;
      const v = recent[Math.min(recent.length - 1, Math.ceil(q * recent.length) - 1)]!;
      return Math.round(v * 1e6) / 1e3;
    };
    return { outcomes: { ...this.outcomes }, count: this.#count, sumSeconds: this.#sum, buckets, p50Ms: pct(0.5), p90Ms: pct(0.9), p99Ms: pct(0.99) };
  }
}

/** Owned by the daemon; lives across reloads, so counts run from start-up. */
export class RequestStats {
  readonly #requests = new Series();
  readonly #backends = new Map<string, Series>();

  /** One answered request (server side, after the reply was decided); null: not timed (malformed). */
  recordRequest(outcome: RequestOutcome, seconds: number | null): void {
    this.#requests.record(outcome, seconds);
  }

  /** One decision by a backend instance (`shadow`, `ldap:b`): the name comes from -a/--route, never from a client. */
  recordBackend(backend: string, outcome: RequestOutcome, seconds: number): void {
    let s = this.#backends.get(backend);
    if (s === undefined) this.#backends.set(backend, (s = new Series()));
    s.record(outcome, seconds);
  }

  requests(): SeriesSnapshot {
    return this.#requests.snapshot();
  }

  /** Per backend instance, in the order each was first used. */
  backends(): ReadonlyMap<string, SeriesSnapshot> {
    return new Map([...this.#backends].map(([k, s]) => [k, s.snapshot()]));
  }
}
