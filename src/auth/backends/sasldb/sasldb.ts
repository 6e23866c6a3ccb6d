import { hostname } from 'node:os';
import { isAbsolute } from 'node:path';
import type { Logger } from 'pino';
import { native, type SasldbRead } from '../../../native/binding.js';
import type { WorkPool } from '../../../native/pool.js';
import { type AuthRequest, type Authenticator, type Outcome, ok, rejected, unavailable, withLog } from '../../authenticator.js';
import { type PrivilegeTarget, unreadableBy } from '../../privilege.js';
import { BackendStartError, UsageError } from '../../../errors.js';
import type { Abortable } from '../../request-signal.js';

/** Where libsasl2 and saslauthd look (SASL_DB_PATH on Debian). saslauthd reads no other file. */
export const DEFAULT_SASLDB = '/etc/sasldb2';

export interface SasldbOptions {
  /** The sasldb2 file (Default: /etc/sasldb2; `-O FILE` picks another). */
  readonly file: string;
  /** Bounds concurrent lookups; the daemon passes the crypt pool, sized by `-n`. */
  readonly pool: WorkPool;
  /** The realm for a request with none (Default: os.hostname(), i.e. gethostname(2), as saslauthd). */
  readonly hostname?: () => string;
  /** One read of the file (Default: the native addon's). Tests may pass their own. */
  readonly read?: (file: string, login: string, realm: string, password: Buffer) => Promise<SasldbRead>;
  /** A "no" is believed at once only when the file has not changed for this long (Default: 50 ms). */
  readonly settleMs?: number;
  /** Reads of a file that keeps changing before giving up as unavailable (Default: 25). */
  readonly maxReads?: number;
}

const NO = 'NO'; // saslauthd's sasldb backend answers a bare NO for every failure

// In a chain -O reaches every backend, so an ldap config file or rimap host would land here.
const CHAIN_HINT = '; in a chain, give sasldb its own file with --link-option sasldb.o=FILE';

function pause(ms: number, signal: Abortable): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const done = (): void => {
      signal.removeEventListener('abort', abort);
      resolve();
    };
    const abort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', abort, { once: true });
  });
}

/**
 * `-a sasldb`: the clear-text `userPassword` that `saslpasswd2` stored for login@realm in Cyrus'
 * sasldb (Berkeley DB), read with libdb as libsasl2 reads it. Realm rules are saslauthd's: an
 * empty realm means the host name, and a login is never split at `@`.
 *
 * saslpasswd2 rewrites the file in place with no lock, so a read can land in the middle of a write.
 * A read counts only when the file did not change while it ran; a "no" (unknown user, wrong
 * password) counts only when the file had been quiet for `settleMs` or a second read after a pause
 * says the same, because a half-written file can hide a user but cannot invent a matching password.
 * A file that never holds still is *unavailable* (NO on the wire; a chain may try the next backend).
 */
export class SasldbAuthenticator implements Authenticator {
  readonly name = 'sasldb';
  readonly #hostname: () => string;
  readonly #read: NonNullable<SasldbOptions['read']>;
  readonly #settleMs: number;
  readonly #maxReads: number;

  constructor(
    readonly options: SasldbOptions,
    private readonly log: Logger,
  ) {
    if (!isAbsolute(options.file)) throw new UsageError(`the sasldb file must be an absolute path, got '${options.file}' (-O${CHAIN_HINT})`);
    this.#hostname = options.hostname ?? hostname;
    this.#read = options.read ?? ((f, l, r, p) => native.sasldbLookup(f, l, r, p));
    this.#settleMs = options.settleMs ?? 50;
    this.#maxReads = options.maxReads ?? 25;
  }

  /** Opens the file once, so a missing, unreadable or non-sasldb file stops start-up and `--check`. */
  async check(): Promise<void> {
    const f = this.options.file;
    for (let i = 0; ; i++) {
      const r = await this.#read(f, '', '', Buffer.alloc(0));
      if (r.status === 'missing') {
        throw new BackendStartError(`${f} does not exist (create users with: saslpasswd2 -f ${f} -c USER; -O FILE names another file)`);
      }
      if (r.status !== 'error') return;
      if (r.stable || i >= 5) throw new BackendStartError(`cannot read ${f} as a sasldb2 (Berkeley DB hash) file: ${r.error ?? 'unknown error'} (-O${CHAIN_HINT})`);
      await new Promise((res) => setTimeout(res, 20)); // being rewritten right now: look again
    }
  }

  describe(): string[] {
    return [`sasldb: ${this.options.file} (Cyrus sasldb2, Berkeley DB); an empty realm means the host name "${this.#hostname()}"`];
  }

  async close(): Promise<void> {}

  /** The file is opened for every request, so it must stay readable after the drop. */
  unprivilegedProblem(target: PrivilegeTarget): string | null {
    const why = unreadableBy(this.options.file, target);
    return why === null ? null : `-a sasldb opens ${this.options.file} for every request and could not after dropping to ${target.user}: ${why}`;
  }

  async authenticate(req: AuthRequest, signal: Abortable): Promise<Outcome> {
    const r = await this.#decide(req, signal);
    // How often the file had to be read again because it changed: shows rewrite contention in the log.
    return r.reads > 1 ? withLog(r.outcome, { sasldb_reads: r.reads }) : r.outcome;
  }

  async #decide(req: AuthRequest, signal: Abortable): Promise<{ outcome: Outcome; reads: number }> {
    const file = this.options.file;
    // saslauthd: `if (!realm || !strlen(realm)) gethostname(...)`; the login is used as sent.
    const realm = req.realm === '' ? this.#hostname() : req.realm;
    let pending: SasldbRead['status'] | null = null;
    for (let n = 1; ; n++) {
      const r = await this.options.pool.run(() => this.#read(file, req.login, realm, req.password.expose()), signal);
      if (r.status === 'missing') return { outcome: unavailable('config', `${file} does not exist`, NO), reads: n };
      const settled = r.stable && r.quietMs >= this.#settleMs;
      if (r.stable && r.status === 'match') return { outcome: ok(), reads: n };
      if (r.stable && (r.status === 'mismatch' || r.status === 'notfound')) {
        if (settled || pending === r.status) {
          const outcome =
            r.status === 'notfound'
              ? rejected('unknown-user', `no userPassword for this login in realm ${JSON.stringify(realm)} in ${file}`, NO)
              : rejected('bad-password', 'password mismatch', NO);
          return { outcome, reads: n };
        }
        pending = r.status;
      } else {
        pending = null;
        if (settled && r.status === 'error') return { outcome: unavailable('backend-error', `cannot read ${file}: ${r.error ?? 'unknown error'}`, NO), reads: n };
      }
      if (n >= this.#maxReads) {
        this.log.warn({ file, reads: n }, 'sasldb file kept changing while being read');
        return { outcome: unavailable('backend-error', `${file} kept changing while being read (${n} reads)`, NO), reads: n };
      }
      await pause(Math.min(20, Math.max(10, this.#settleMs - r.quietMs)), signal);
    }
  }
}

/** `-a sasldb [-O FILE]`, checked before the daemon listens. */
export async function createSasldbAuthenticator(mechOption: string | null, pool: WorkPool, log: Logger): Promise<SasldbAuthenticator> {
  const a = new SasldbAuthenticator({ file: mechOption ?? DEFAULT_SASLDB, pool }, log);
  await a.check();
  return a;
}
