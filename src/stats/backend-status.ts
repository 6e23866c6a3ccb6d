/** What a backend can tell about itself for `ctl status` and the metrics (all optional). */

/** A bounded pool of workers (crypt jobs, PAM helpers, IMAP connections): size, in use, waiting. */
export interface PoolUse {
  /** Fixed, admin-side name: `crypt`, `pam`, `rimap imap.example.org:143`. */
  readonly name: string;
  readonly size: number;
  readonly busy: number;
  readonly queued: number;
}

/** One configured LDAP or IMAP server as the backend sees it now. */
export interface ServerHealth {
  /** As configured (LDAP URI, IMAP host:port). */
  readonly server: string;
  readonly up: boolean;
  /** Ms since it was marked down; null while up or when unknown. */
  readonly downForMs: number | null;
}

export interface BackendStatus {
  readonly pools?: readonly PoolUse[];
  readonly servers?: readonly ServerHealth[];
}
