import type { Logger } from 'pino';
import type { Authenticator, AuthRequest, Outcome } from '../auth/authenticator.js';
import { unavailable } from '../auth/authenticator.js';
import { Secret } from '../auth/secret.js';
import { bracketed } from '../log/escape.js';
import { type RawRequest, validateRequest } from '../protocol/index.js';
import type { ConnectionInfo } from './connection-info.js';
import { protocolReply, replyText } from './reply-text.js';
import { DeadlineError } from '../errors.js';
import type { RequestStats } from '../stats/request-stats.js';
import type { Abortable } from '../auth/request-signal.js';

/** The request's abort: its signal, and abort() for the deadline (a RequestSignal, or an AbortController). */
export interface RequestAbort {
  readonly signal: Abortable;
  abort(reason?: unknown): void;
}

export interface HandlerOptions {
  /** Send saslauthd's exact reply texts. */
  readonly compatReplies: boolean;
  /** Milliseconds one authentication may take; then NO, logged as unavailable (Default: 30000). */
  readonly authTimeoutMs: number;
}


/**
 * Validates a decoded request, asks the authenticator under a deadline, logs one line
 * and returns the reply text. Never throws: an authenticator that throws is a NO, logged.
 */
export class RequestHandler {
  readonly #stats = { ok: 0, rejected: 0, unavailable: 0, malformed: 0 };
  /** Requests in progress per authenticator, so a replaced one is closed only once it is idle. */
  readonly #inFlight = new Map<Authenticator, { count: number; idle: (() => void)[] }>();

  constructor(
    private authenticator: Authenticator,
    private options: HandlerOptions,
    private readonly log: Logger,
    /** Counts and times every answered request for `ctl status` and the metrics (Default: none). */
    private readonly requestStats: RequestStats | null = null,
  ) {}

  /** Swaps the backend (reload); requests already running finish on the old one. */
  setAuthenticator(a: Authenticator): Authenticator {
    const old = this.authenticator;
    this.authenticator = a;
    return old;
  }

  /** Swaps --compat-replies and --auth-timeout (reload); applies to requests that start later. */
  setOptions(o: HandlerOptions): void {
    this.options = o;
  }

  get current(): Authenticator {
    return this.authenticator;
  }

  /** Resolves once no request is using `a` any more (after setAuthenticator replaced it). */
  idle(a: Authenticator): Promise<void> {
    const f = this.#inFlight.get(a);
    if (!f) return Promise.resolve();
    return new Promise((resolve) => f.idle.push(resolve));
  }

  /** Verdicts so far and requests being decided now (for STATUS= and logs). */
  get stats(): Readonly<{ ok: number; rejected: number; unavailable: number; malformed: number; inFlight: number }> {
    let inFlight = 0;
    for (const f of this.#inFlight.values()) inFlight += f.count;
    return { ...this.#stats, inFlight };
  }

  #enter(a: Authenticator): void {
    const f = this.#inFlight.get(a);
    if (f) f.count++;
    else this.#inFlight.set(a, { count: 1, idle: [] });
  }

  #leave(a: Authenticator): void {
    const f = this.#inFlight.get(a);
    if (!f) return;
    if (--f.count > 0) return;
    this.#inFlight.delete(a);
    for (const resolve of f.idle) resolve();
  }

  get name(): string {
    return this.authenticator.name;
  }

  /** A field longer than saslauthd's MAX_REQ_LEN: logged, and answered from the one reply mapping. */
  refuseTooLong(conn: ConnectionInfo, field: string, length: number): string {
    this.log.error({ conn: conn.id, field, length }, `${field} exceeded MAX_REQ_LEN: 256`);
    return protocolReply('too-long', this.options.compatReplies);
  }

  /**
   * `abort` belongs to the caller's connection (aborted when the client goes away); the deadline
   * aborts it too, so one controller serves both.
   *
   * Not an async function: V8 gives each call of one a frame as large as all its registers, kept
   * until it returns, and this one ran on every request (1.5 KB; issue 15). The awaiting is done by
   * #decide, which is small, and the answer is made in #answer.
   */
  handle(raw: RawRequest, conn: ConnectionInfo, abort: RequestAbort): Promise<string> {
    try {
      const v = validateRequest(raw);
      if (!v.ok) {
        this.#stats.malformed++;
        this.requestStats?.recordRequest('malformed', null);
        this.log.error({ conn: conn.id, field: v.field, reason: v.reason }, `rejected malformed request: ${v.reason} in ${v.field}`);
        return Promise.resolve(protocolReply(v.reason, this.options.compatReplies));
      }
      const r = v.request;
      const req: AuthRequest = { login: r.login, password: new Secret(r.password), service: r.service, realm: r.realm, clientAddr: r.clientAddr };
      const authenticator = this.authenticator;
      // The log names the user as the backends get it (after -r), which only the authenticator knows.
      const login = authenticator.loginFor?.(req) ?? req.login;
      const started = performance.now();
      this.log.debug({ conn: conn.id, user: login, service: r.service, mech: authenticator.name }, 'authenticating');
      this.#enter(authenticator);
      return this.#decide(authenticator, req, abort).then((outcome) => this.#answer(conn, req, login, authenticator.name, outcome, started));
    } catch (e) {
      // A bug here rejects the reply, as an async function would, rather than throwing at the caller.
      return Promise.reject(e);
    }
  }

  /** The outcome under the deadline; a backend that throws is a NO (a bug in it). Wipes the password. */
  async #decide(authenticator: Authenticator, req: AuthRequest, abort: RequestAbort): Promise<Outcome> {
    try {
      return await this.#withDeadline(authenticator, req, abort);
    } catch (e) {
      // Expected failures (overload included) are outcomes; a throw is a bug in some backend.
      return unavailable('backend-error', `backend threw: ${(e as Error).message}`, 'NO internal mechanism failure');
    } finally {
      req.password.wipe();
      this.#leave(authenticator);
    }
  }

  /** Counts and logs the outcome; returns the reply text. */
  #answer(conn: ConnectionInfo, req: AuthRequest, login: string, mech: string, outcome: Outcome, started: number): string {
    this.#stats[outcome.kind]++;
    const elapsed = performance.now() - started;
    this.requestStats?.recordRequest(outcome.kind, elapsed / 1000);
    const ms = Math.round(elapsed * 1000) / 1000;
    this.#logOutcome(conn, req, login, mech, outcome, ms);
    return replyText(outcome, this.options.compatReplies);
  }

  /**
   * The authenticator's outcome, or `timeout` once the deadline passes (the request is aborted then).
   * One promise settled by whichever comes first, rather than Promise.race over a second one: this
   * runs for every request (issue 15).
   */
  #withDeadline(a: Authenticator, req: AuthRequest, abort: RequestAbort): Promise<Outcome> {
    const ms = this.options.authTimeoutMs;
    return new Promise<Outcome>((resolve, reject) => {
      // Called first: should it throw synchronously, the executor rejects with no timer left behind.
      const pending = a.authenticate(req, abort.signal);
      const timer = setTimeout(() => {
        abort.abort(new DeadlineError('authentication deadline passed'));
        resolve(unavailable('timeout', `no answer from ${a.name} within ${ms} ms`, 'NO internal mechanism failure'));
      }, ms);
      const done = (): void => clearTimeout(timer);
      pending.then(
        (o) => {
          done();
          resolve(o);
        },
        (e: unknown) => {
          done();
          reject(e);
        },
      );
    });
  }

  /** `login` is the user as the backends got it (after -r), which the line names instead of req.login. */
  #logOutcome(conn: ConnectionInfo, req: AuthRequest, login: string, mech: string, outcome: Outcome, ms: number): void {
    // Assigned in the order of the line, not spread: object spreads of optional parts cost a
    // request a few shape changes (issue 15). A key of outcome.log keeps its place, as with spread.
    const fields: Record<string, unknown> = { conn: conn.id, user: login, service: req.service, realm: req.realm };
    if (req.clientAddr !== null) fields['remote'] = req.clientAddr;
    fields['mech'] = mech;
    fields['outcome'] = outcome.kind;
    if (outcome.kind !== 'ok') {
      fields['code'] = outcome.code;
      fields['reason'] = outcome.reason;
    }
    if (outcome.log) for (const k of Object.keys(outcome.log)) fields[k] = (outcome.log as Record<string, unknown>)[k];
    fields['ms'] = ms;
    if (conn.peer) {
      fields['peer_uid'] = conn.peer.uid;
      fields['peer_pid'] = conn.peer.pid;
    }
    const where = { user: login, service: req.service, realm: req.realm, remote: req.clientAddr, mech };
    if (outcome.kind === 'ok') {
      this.log.info(fields, `auth success: ${bracketed(where)}`);
    } else {
      // saslauthd's failure line, kept byte-compatible so existing log watchers and fail2ban filters match.
      this.log.info(fields, `auth failure: ${bracketed({ ...where, reason: outcome.reason })}`);
    }
  }
}
