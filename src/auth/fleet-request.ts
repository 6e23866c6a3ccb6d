import type { Outcome } from './authenticator.js';
import type { FleetPenalty } from './penalty.js';
import type { Secret } from './secret.js';

/**
 * One request's conversation with the fleet's penalty state. The first call that fails (Redis down,
 * slow, or answering garbage) switches it off for the rest of the request, which then goes on with
 * the local counters alone: at most one deadline is spent per request on a Redis in trouble, and
 * none once the shared state is marked down.
 */
export class FleetRequest {
  readonly #fleet: FleetPenalty;
  readonly #keys: readonly string[];
  readonly #identity: string;
  readonly #digest: string;
  readonly #token: string;
  readonly #fails = new Map<string, number>();
  #on = true;
  /** An admit went out: this request may hold leases (even when the answer was lost). */
  #leased = false;

  constructor(fleet: FleetPenalty, keys: readonly string[], identity: string, password: Secret) {
    this.#fleet = fleet;
    this.#keys = keys;
    this.#identity = identity;
    this.#digest = fleet.digest(identity, password);
    this.#token = fleet.token();
  }

  /** The fleet's failure count for a key, as last heard (0 when it said nothing). */
  fails(key: string): number {
    return this.#fails.get(key) ?? 0;
  }

  /** Reads the counts; true when this is the password that last succeeded for the identity. */
  async look(): Promise<boolean> {
    try {
      const r = await this.#fleet.look(this.#keys, this.#identity, this.#digest);
      this.#note(r.fails);
      return r.known;
    } catch {
      this.#off();
      return false;
    }
  }

  /** Ms to wait before asking again; 0 when this request may be checked now (or the fleet is gone). */
  async admit(): Promise<number> {
    if (!this.#on) return 0;
    // Keys without failures hold nothing (as on one host): no lease to take, no round trip.
    if (this.#keys.every((k) => this.fails(k) === 0)) return 0;
    this.#leased = true;
    try {
      const r = await this.#fleet.admit(this.#keys, this.#token);
      this.#note(r.fails);
      return r.waitMs;
    } catch {
      this.#off();
      return 0;
    }
  }

  /** Records the check's outcome in the fleet; false when it could not (then the host counts it). */
  async settle(outcome: Outcome, reset: readonly boolean[]): Promise<boolean> {
    if (!this.#on) return false;
    try {
      if (outcome.kind === 'ok') {
        // Only keys with something to clear or a lease to give back need their script.
        const busy = this.#keys.map((k) => this.#leased || this.fails(k) > 0);
        await this.#fleet.succeeded(this.#keys.filter((_, i) => busy[i]), reset.filter((_, i) => busy[i]), this.#identity, this.#digest, this.#token);
      } else if (outcome.kind === 'rejected') {
        const f = await this.#fleet.failed(this.#keys, this.#identity, this.#digest, this.#token);
        this.#keys.forEach((k, i) => this.#fails.set(k, f[i] ?? 0));
      } else {
        await this.#fleet.release(this.#keys, this.#token);
      }
      this.#leased = false;
      return true;
    } catch {
      this.#off();
      return false;
    }
  }

  /** The request ended without a check: free its leases in the background (they expire anyway). */
  abandon(): void {
    this.#off();
  }

  /**
   * Stops asking the fleet for this request. A call that timed out may still have taken a lease, and
   * other hosts would queue behind it until it expires: try to give it back (a no-op when down).
   */
  #off(): void {
    this.#on = false;
    if (this.#leased) {
      this.#leased = false;
      void this.#fleet.release(this.#keys, this.#token).catch(() => {});
    }
  }

  #note(fails: readonly number[]): void {
    this.#keys.forEach((k, i) => this.#fails.set(k, Math.max(this.#fails.get(k) ?? 0, fails[i] ?? 0)));
  }
}
