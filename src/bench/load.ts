import { sendRequest, type ClientRequest } from '../client/saslauthd-client.js';
import { isOkReply } from '../protocol/index.js';

export interface LoadOptions {
  /** Clients sending at once. */
  readonly concurrency: number;
  /** Stop after this many requests in all. */
  readonly count: number;
  /** …or after this many seconds, whichever comes first. */
  readonly seconds: number;
  /** Client i always sends probe i mod n (e.g. one client in four sends wrong passwords), instead of all clients cycling through the probes. */
  readonly perClient?: boolean | undefined;
}

export interface LoadResult {
  readonly requests: number;
  readonly rps: number;
  /** Throughput of the probes that expect OK (right passwords) alone. */
  readonly goodRps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Connection or protocol errors. */
  readonly errors: number;
  /** Replies that did not match the expected verdict. */
  readonly wrong: number;
}

/** A request and the verdict it must get. */
export interface Probe {
  readonly request: ClientRequest;
  readonly expect: 'OK' | 'NO';
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Closed-loop load: `concurrency` clients, each sending the next probe as soon as its last reply arrives. */
export async function runLoad(socket: string, probes: readonly Probe[], o: LoadOptions): Promise<LoadResult> {
  if (probes.length === 0) throw new Error('no probes');
  const latencies: number[] = [];
  let issued = 0;
  let errors = 0;
  let wrong = 0;
  let good = 0;
  let lastGoodAt = 0;
  const started = performance.now();
  const deadline = started + o.seconds * 1000;
  const client = async (_: unknown, index: number): Promise<void> => {
    while (issued < o.count && performance.now() < deadline) {
      const probe = probes[(o.perClient ? index : issued) % probes.length]!;
      issued++;
      const t0 = performance.now();
      try {
        const text = await sendRequest(socket, probe.request, { timeoutMs: 60_000 });
        latencies.push(performance.now() - t0);
        if ((isOkReply(text) ? 'OK' : 'NO') !== probe.expect) wrong++;
        else if (probe.expect === 'OK') {
          good++;
          lastGoodAt = performance.now();
        }
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, client));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length + errors,
    rps: latencies.length / elapsed,
    // Over the right-password clients' own window: a wrong password held back by a failure delay
    // must not stretch the time over which the right ones are counted.
    goodRps: good > 0 ? good / ((lastGoodAt - started) / 1000) : 0,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    errors,
    wrong,
  };
}
