import { PoolFullError } from '../native/pool.js';
import { type AccountCheck, type AuthRequest, type Authenticator, type Outcome, unavailable } from './authenticator.js';
import type { PrivilegeTarget } from './privilege.js';
import type { BackendStatus } from '../stats/backend-status.js';
import type { RequestStats } from '../stats/request-stats.js';
import type { Abortable } from './request-signal.js';

/**
 * One backend instance as the composition holds it: the same instance may sit in several chains and
 * routes, and every wrapper closes what it wraps, so close() runs the backend's close once and hands
 * the same promise to every later caller. describe() starts with the instance name (`shadow:b`), which
 * a chain or route prints in its own line, then the backend's lines, tagged with the name when the
 * daemon has several backends.
 */
export class SharedBackend implements Authenticator {
  #closing: Promise<void> | null = null;

  constructor(
    /** As written in `-a`/`--route` (`shadow`, `shadow:b`). */
    readonly name: string,
    readonly backend: Authenticator,
    private readonly tagged: boolean,
    /** Counts each decision of this instance under its name (Default: not counted). */
    private readonly stats: RequestStats | null = null,
  ) {}

  get accountCheck(): AccountCheck | undefined {
    return this.backend.accountCheck;
  }

  /**
   * A full native work queue (crypt, sasldb) is load shedding, not a backend fault: it becomes the
   * outcome `unavailable('overloaded')` here, so chains, the cache and the penalty see it as pam's and
   * rimap's own overload outcomes, and the server never has to recognise an exception.
   */
  async authenticate(req: AuthRequest, signal: Abortable): Promise<Outcome> {
    // `--test` traces what this backend received and answered; without a trace this costs nothing.
    req.trace?.(this.name, `received login '${req.login}', realm '${req.realm}', service '${req.service}'`);
    const started = performance.now();
    let outcome: Outcome;
    try {
      outcome = await this.backend.authenticate(req, signal);
    } catch (e) {
      if (!(e instanceof PoolFullError)) {
        this.stats?.recordBackend(this.name, 'error', (performance.now() - started) / 1000);
        throw e;
      }
      outcome = unavailable('overloaded', e.message, 'NO internal mechanism failure');
    }
    const ms = performance.now() - started;
    this.stats?.recordBackend(this.name, outcome.kind, ms / 1000);
    if (req.trace !== undefined) req.trace(this.name, outcome.kind === 'ok' ? `OK (${ms.toFixed(1)} ms)` : `${outcome.kind} (${outcome.code}): ${outcome.reason} (${ms.toFixed(1)} ms)`);
    return outcome;
  }

  status(): BackendStatus {
    return this.backend.status?.() ?? {};
  }

  describe(): string[] {
    return [this.name, ...this.backend.describe().map((l) => (this.tagged ? `[${this.name}] ${l}` : l))];
  }

  unprivilegedProblem(target: PrivilegeTarget): string | null {
    const check = this.backend.unprivilegedProblem;
    return check ? check.call(this.backend, target) : `-a ${this.name} needs root to work, so --user cannot be used with it`;
  }

  close(): Promise<void> {
    this.#closing ??= this.backend.close();
    return this.#closing;
  }
}
