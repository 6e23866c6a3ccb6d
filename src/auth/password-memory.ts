import { HmacKey } from '../native/hmac-key.js';
import type { Secret } from './secret.js';

export interface PasswordMemoryOptions {
  /** Entries kept in each table; beyond it the least recently used is forgotten (Default: 65536). */
  readonly maxEntries: number;
  /** Ms a failed (user, password) pair is remembered (Default: 3 600 000). */
  readonly failureTtlMs: number;
  /** Ms the password that last succeeded for a user is remembered (Default: 7 days). */
  readonly successTtlMs: number;
  readonly now: () => number;
  /** HMAC key (Default: 32 random bytes per start); the composition shares the cache's (see `digest`). */
  readonly key?: HmacKey;
}

/**
 * Recent (user, password) pairs, as keyed digests only: HMAC-SHA-256 under a key drawn at start and
 * never written anywhere, so nothing kept here can be checked against a guess after a restart or
 * outside this process. Dovecot's auth penalty does the same with a checksum of user and password,
 * so that a client retrying one stale password does not escalate the penalty.
 */
export class PasswordMemory {
  readonly #key: HmacKey;
  /** digest → time of the last failure; Map order is least recently failed first. */
  readonly #failed = new Map<string, number>();
  /** identity (login and realm as backends got them) → digest and time of the last success. */
  readonly #succeeded = new Map<string, { digest: string; at: number }>();

  constructor(private readonly o: PasswordMemoryOptions) {
    this.#key = o.key ?? HmacKey.random();
  }

  /**
   * The pair as `user` and 128 bits of the password's keyed digest. The digest is of the password
   * alone so that the credential cache's digest, under the same key, is the same computation: one
   * HMAC per request (issue 15). The user stays in the pair, so a password that succeeded for one
   * user vouches for no other.
   */
  digest(user: string, password: Secret): string {
    return `${user}\0${password.keyedDigest(this.#key).toString('base64url', 0, 16)}`;
  }

  /** True when this pair failed within the failure TTL. */
  failedRecently(digest: string): boolean {
    const at = this.#failed.get(digest);
    return at !== undefined && this.o.now() - at <= this.o.failureTtlMs;
  }

  noteFailure(user: string, digest: string): void {
    this.#failed.delete(digest);
    this.#failed.set(digest, this.o.now());
    if (this.#succeeded.get(user)?.digest === digest) this.#succeeded.delete(user);
    if (this.#failed.size > this.o.maxEntries) this.#failed.delete(this.#failed.keys().next().value!);
  }

  noteSuccess(user: string, digest: string): void {
    this.#failed.delete(digest);
    this.#succeeded.delete(user);
    this.#succeeded.set(user, { digest, at: this.o.now() });
    if (this.#succeeded.size > this.o.maxEntries) this.#succeeded.delete(this.#succeeded.keys().next().value!);
  }

  /** True when this is the password that last succeeded for `user`, within the success TTL. */
  succeededRecently(user: string, digest: string): boolean {
    const s = this.#succeeded.get(user);
    return s !== undefined && s.digest === digest && this.o.now() - s.at <= this.o.successTtlMs;
  }
}
