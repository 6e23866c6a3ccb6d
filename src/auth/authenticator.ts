import type { PrivilegeTarget } from './privilege.js';
import type { Secret } from './secret.js';
import type { BackendStatus } from '../stats/backend-status.js';
import type { Trace } from './trace.js';
import type { Finding } from './check-finding.js';
import type { Abortable } from './request-signal.js';

/** One authentication request as a backend sees it. */
export interface AuthRequest {
  /**
   * The login. Backends get it after `-r` folded the realm in (`user@realm`), as saslauthd does: the
   * request policy (request-policy.ts) does that before anything else sees the request.
   */
  readonly login: string;
  readonly password: Secret;
  /** SASL service name (`smtp`, `imap`…): PAM service, LDAP `%s`, cache key. */
  readonly service: string;
  /** Realm as sent (may be empty). */
  readonly realm: string;
  /** The v5 client address (`a.b.c.d;port`), or null when a v4 client sent none. */
  readonly clientAddr: string | null;
  /** `--test` only: receives each step of the request (trace.ts). Absent on the daemon's requests. */
  readonly trace?: Trace;
}

/** Stable reasons for a rejection; logs and routing branch on these, never on text. */
export type RejectCode =
  | 'unknown-user'
  | 'bad-password'
  | 'locked'
  | 'no-password'
  | 'account-expired'
  | 'password-expired'
  | 'account-inactive'
  | 'not-authorized'
  | 'invalid-input';

/** Stable reasons for "could not decide": the backend or its server is not usable right now. */
export type UnavailableCode = 'backend-error' | 'timeout' | 'connect-failed' | 'protocol-error' | 'overloaded' | 'config';

/** Extra fields a wrapper adds to the per-request log line (`cached`, `via`, `route`…). Never secrets. */
export type OutcomeLog = Readonly<Record<string, string | number | boolean>>;

/**
 * What a backend would refuse a request for without looking at its password (lock, expiry, a user it
 * no longer has), or null when it would go on to check the password. Cheap: no crypt, no network.
 */
export type AccountCheck = (req: AuthRequest, signal: Abortable) => Promise<Outcome | null>;

export type Outcome =
  | {
      readonly kind: 'ok';
      /** saslauthd's exact success text for this backend (default `OK`), used with --compat-replies. */
      readonly compat: string;
      readonly log?: OutcomeLog;
      /**
       * The account check of the backend that accepted, set by a chain (which backend accepted is known
       * only here); the credential cache keeps it with the entry and asks it on every hit.
       */
      readonly recheck?: AccountCheck;
    }
  | {
      readonly kind: 'rejected';
      readonly code: RejectCode;
      /** What an admin reads in the log. Never the password or a hash. */
      readonly reason: string;
      /** saslauthd's exact reply text for this case, used with --compat-replies. */
      readonly compat: string;
      readonly log?: OutcomeLog;
    }
  | {
      readonly kind: 'unavailable';
      readonly code: UnavailableCode;
      readonly reason: string;
      readonly compat: string;
      readonly log?: OutcomeLog;
    };

/** The same outcome with more log fields (earlier fields win, so the innermost wrapper's say stands). */
export const withLog = (o: Outcome, fields: OutcomeLog): Outcome => ({ ...o, log: { ...fields, ...o.log } });

export const ok = (compat = 'OK'): Outcome => ({ kind: 'ok', compat });

export const rejected = (code: RejectCode, reason: string, compat: string): Outcome => ({
  kind: 'rejected',
  code,
  reason,
  compat,
});

export const unavailable = (code: UnavailableCode, reason: string, compat: string): Outcome => ({
  kind: 'unavailable',
  code,
  reason,
  compat,
});

/**
 * What every backend (shadow, getpwent, pam, ldap, rimap, sasldb, kerberos5) and every wrapper (request
 * policy, penalty, routing, cache, chain)
 * implements. The server only ever sees this interface.
 */
export interface Authenticator {
  /**
   * The backend's name (`shadow`, `ldap`), or for a chain the chain (`ldap,shadow`); the per-request
   * log line shows it as saslauthd's `mech=`.
   */
  readonly name: string;
  /**
   * Decides one request. Must not throw for a bad password or a dead server: those are outcomes.
   * Must stop work and settle soon after `signal` aborts.
   */
  authenticate(req: AuthRequest, signal: Abortable): Promise<Outcome>;
  /**
   * Backends that can see a lock, an expiry or a deleted user without the password (shadow, getpwent)
   * say so here; the credential cache asks before every hit, so a cached password outlives none of them.
   */
  readonly accountCheck?: AccountCheck;
  /**
   * The login the backends receive for `req` (after `-r`), for the per-request log line; absent:
   * `req.login`. Only the request policy rewrites a login.
   */
  loginFor?(req: AuthRequest): string;
  /** Human-readable lines for `-v`/`--check` (effective settings, files that apply). */
  describe(): string[];
  /**
   * `--check`: what the backend finds by looking now — its files parsed and counted, its servers
   * probed live within their deadlines, its PAM files resolved. Absent: nothing beyond create().
   */
  probe?(signal: Abortable): Promise<Finding[]>;
  /** Releases connections, helper processes, watchers. */
  close(): Promise<void>;
  /**
   * Why this backend could not work after `--user`/`--group` drop root (null: it can). Asked once at
   * start-up; a backend without this method is taken to need root and the drop is refused. Network
   * backends (ldap, rimap) return null; file backends check their files; pam needs root.
   */
  unprivilegedProblem?(target: PrivilegeTarget): string | null;
  /** Pools and server health for `ctl status` and the metrics (ldap, rimap, pam); absent: nothing to tell. */
  status?(): BackendStatus;
}
