import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import {
  type AuthRequest,
  type Authenticator,
  type Outcome,
  type RejectCode,
  ok,
  rejected,
  unavailable,
} from '../../authenticator.js';
import { PamHelperPool, type PoolResult } from './helper-pool.js';
import type { HelperReply } from './protocol.js';
import { isValidPamService, pamConfigFor } from './service-files.js';
import { type Finding, found } from '../../check-finding.js';
import { escapeLogValue } from '../../../log/escape.js';
import { UnreachableError, UsageError } from '../../../errors.js';
import type { BackendStatus } from '../../../stats/backend-status.js';
import { type Abortable, nativeSignal } from '../../request-signal.js';

export interface PamOptions {
  /** Path of the saslauthd_pam_helper executable (Default: build/Release/saslauthd_pam_helper). */
  readonly helperPath: string;
  /** Helper processes (follows `-n`; Default: 5). */
  readonly helpers: number;
  /** Requests that may wait for a free helper (`--pam-queue`; Default: 1024). */
  readonly maxQueue: number;
  /** Milliseconds one PAM conversation may run before its helper is killed (`--pam-timeout`; Default: 10000). */
  readonly timeoutMs: number;
  /** Milliseconds a PAM rejection is held before NO is sent, holding no helper (`--pam-fail-delay`; Default: 2000). */
  readonly failDelayMs: number;
  /** PAM service for every request (`--pam-service`), or null to use each request's service field. */
  readonly forcedService: string | null;
  /** Directory of PAM service files (Default: /etc/pam.d). */
  readonly pamDir?: string;
}

// Linux-PAM return codes (security/_pam_types.h) that decide the outcome.
const PAM = {
  PERM_DENIED: 6,
  AUTH_ERR: 7,
  CRED_INSUFFICIENT: 8,
  USER_UNKNOWN: 10,
  MAXTRIES: 11,
  NEW_AUTHTOK_REQD: 12,
  ACCT_EXPIRED: 13,
  AUTHTOK_EXPIRED: 27,
  BUF_ERR: 5,
  AUTHINFO_UNAVAIL: 9,
} as const;

/**
 * Only these codes say the service behind PAM is unusable right now (a directory down, memory), so
 * a chain may ask its next backend. Every other failure is a refusal: the client picks the stack,
 * and a stack that errors on this request (a conversation it cannot have, a module that fails) must
 * not pass the request on to a backend that would say yes (as issue 11 item 3 found for LDAP).
 */
const isOutage = (code: number): boolean => code === PAM.AUTHINFO_UNAVAIL || code === PAM.BUF_ERR;

/** Services a mail or IMAP server usually sends; listed by --check so the admin sees their files. */
const COMMON_SERVICES = ['smtp', 'imap', 'pop', 'sieve'];
/** Services we remember having logged; clients choose the name, so the set is bounded. */
const MAX_SEEN_SERVICES = 256;

const COMPAT_START = 'NO PAM start error';
const COMPAT_AUTH = 'NO PAM auth error';
const COMPAT_ACCT = 'NO PAM acct error';

function authRejection(code: number): RejectCode | null {
  switch (code) {
    case PAM.USER_UNKNOWN:
      return 'unknown-user';
    case PAM.AUTH_ERR:
    case PAM.MAXTRIES:
    case PAM.CRED_INSUFFICIENT:
      return 'bad-password';
    case PAM.PERM_DENIED:
      return 'not-authorized';
    default:
      return null;
  }
}

function acctRejection(code: number): RejectCode | null {
  switch (code) {
    case PAM.ACCT_EXPIRED:
      return 'account-expired';
    case PAM.NEW_AUTHTOK_REQD:
    case PAM.AUTHTOK_EXPIRED:
      return 'password-expired';
    case PAM.USER_UNKNOWN:
      return 'unknown-user';
    case PAM.PERM_DENIED:
    case PAM.AUTH_ERR:
      return 'not-authorized';
    default:
      return null;
  }
}

/** Maps a helper's reply to an outcome; `authFailed` says whether the fail delay applies. */
export function outcomeOfReply(r: HelperReply): { outcome: Outcome; authFailed: boolean } {
  const detail = `${r.text} (PAM code ${r.code})`;
  switch (r.stage) {
    case 'ok':
      return { outcome: ok(), authFailed: false };
    case 'start':
      return { outcome: unavailable('config', `pam_start failed: ${detail}`, COMPAT_START), authFailed: false };
    case 'auth': {
      const code = authRejection(r.code);
      const outcome = isOutage(r.code)
        ? unavailable('backend-error', `pam_authenticate failed: ${detail}`, COMPAT_AUTH)
        : rejected(code ?? 'not-authorized', `pam_authenticate failed: ${detail}`, COMPAT_AUTH);
      return { outcome, authFailed: true };
    }
    case 'unasked':
      // A stack that said yes without ever asking for the password (pam_permit, pam_succeed_if,
      // pam_rootok, nullok on an empty field) verified nothing; the client picks the stack.
      return {
        outcome: rejected('not-authorized', 'pam_authenticate returned success without asking for the password; refused', COMPAT_AUTH),
        authFailed: true,
      };
    case 'acct': {
      const code = acctRejection(r.code);
      const outcome = isOutage(r.code)
        ? unavailable('backend-error', `pam_acct_mgmt failed: ${detail}`, COMPAT_ACCT)
        : rejected(code ?? 'not-authorized', `pam_acct_mgmt failed: ${detail}`, COMPAT_ACCT);
      return { outcome, authFailed: false };
    }
    default: {
      const never: never = r.stage;
      throw new UnreachableError(`unhandled PAM stage ${String(never)}`);
    }
  }
}

/** `-a pam`: PAM in a supervised pool of helper processes, with the failure delay applied here. */
export class PamAuthenticator implements Authenticator {
  readonly name = 'pam';
  readonly #pool: PamHelperPool;
  readonly #seen = new Set<string>();
  readonly #pamDir: string;

  constructor(
    readonly options: PamOptions,
    private readonly log: Logger,
  ) {
    if (options.forcedService !== null && !isValidPamService(options.forcedService)) {
      throw new UsageError(`--pam-service: '${options.forcedService}' is not a usable PAM service name`);
    }
    this.#pamDir = options.pamDir ?? '/etc/pam.d';
    this.#pool = new PamHelperPool(
      { helperPath: options.helperPath, size: options.helpers, maxQueue: options.maxQueue, timeoutMs: options.timeoutMs },
      log,
    );
  }

  /** Starts the helpers and says which PAM file applies to the services known so far. */
  start(): void {
    this.#pool.start();
    for (const line of this.#serviceLines()) this.log.info(line);
  }

  get pool(): PamHelperPool {
    return this.#pool;
  }

  /** The helper processes: running (size), busy, and requests waiting for one. */
  status(): BackendStatus {
    const st = this.#pool.stats;
    return { pools: [{ name: 'helpers', size: this.#pool.options.size, busy: st.helpers - st.idle, queued: st.queued }] };
  }

  /**
   * `--check`: pam_unix run by a non-root process can check only that process's own user (through
   * unix_chkpwd), so every other login fails; and a service with neither its own file nor `other`
   * refuses everything.
   */
  async probe(): Promise<Finding[]> {
    const out: Finding[] = [];
    const uid = process.getuid?.() ?? 0;
    if (uid !== 0) {
      out.push(found.error(`runs as uid ${uid}, not root: pam_unix can then check only the password of the user running the daemon, so other logins fail (start it as root; --user cannot be used with -a pam)`));
    }
    const forced = this.options.forcedService;
    for (const service of forced !== null ? [forced] : COMMON_SERVICES) {
      const file = pamConfigFor(service, this.#pamDir);
      const text = `service '${service}'${forced !== null ? ' (--pam-service)' : ''} uses ${file}`;
      out.push(file.startsWith('none') ? found.error(text) : found.ok(text));
    }
    return out;
  }

  describe(): string[] {
    const o = this.options;
    return [
      `pam: ${o.helpers} helper processes (${o.helperPath}), queue ${o.maxQueue}, timeout ${o.timeoutMs} ms, fail delay ${o.failDelayMs} ms`,
      ...this.#serviceLines(),
    ];
  }

  #serviceLines(): string[] {
    const forced = this.options.forcedService;
    if (forced !== null) return [`pam: every request uses service '${forced}': ${pamConfigFor(forced, this.#pamDir)}`];
    const services = [...new Set([...COMMON_SERVICES, ...this.#seen])];
    return [
      'pam: the PAM service is each request\'s service field (--pam-service forces one)',
      ...services.map((s) => `pam: service '${s}' uses ${pamConfigFor(s, this.#pamDir)}`),
    ];
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }

  async authenticate(req: AuthRequest, signal: Abortable): Promise<Outcome> {
    const service = this.options.forcedService ?? req.service;
    if (!isValidPamService(service)) {
      return rejected('invalid-input', 'service name is not a usable PAM service name', COMPAT_START);
    }
    this.#noteService(service);
    req.trace?.('pam', `PAM service '${service}'${this.options.forcedService !== null ? ' (--pam-service)' : " (the request's service field)"} uses ${pamConfigFor(service, this.#pamDir)}`);
    const rhost = req.clientAddr === null ? null : (req.clientAddr.split(';')[0] ?? '');
    const result = await this.#pool.run(
      { service, login: req.login, password: req.password.expose(), rhost: rhost === '' ? null : rhost },
      signal,
    );
    if (result.kind !== 'reply') return this.#poolFailure(result);
    const { outcome, authFailed } = outcomeOfReply(result.reply);
    if (result.reply.delayUsec > 0) {
      const pamDelayMs = Math.round(result.reply.delayUsec / 1000);
      this.log.debug(
        { pamDelayMs, failDelayMs: this.options.failDelayMs },
        `PAM asked for a ${pamDelayMs} ms failure delay; the helper did not sleep, the daemon waits ${this.options.failDelayMs} ms`,
      );
    }
    if (authFailed && this.options.failDelayMs > 0) {
      // pam_unix/pam_faildelay would have slept ~2 s inside the helper; the helper's PAM_FAIL_DELAY
      // callback declined, and the delay happens here, where it holds a timer, not a helper.
      await sleep(this.options.failDelayMs, undefined, { signal: nativeSignal(signal) }).catch(() => {});
    }
    return outcome;
  }

  #poolFailure(r: Exclude<PoolResult, { kind: 'reply' }>): Outcome {
    switch (r.kind) {
      case 'timeout':
        return unavailable('timeout', `PAM did not answer within ${this.options.timeoutMs} ms; helper killed and replaced`, COMPAT_AUTH);
      case 'died':
        return unavailable('backend-error', `PAM helper died during the conversation (${r.why}); replaced`, COMPAT_AUTH);
      case 'aborted':
        return unavailable('timeout', 'request abandoned before PAM answered', COMPAT_AUTH);
      case 'overloaded':
        return unavailable('overloaded', `all PAM helpers busy and ${this.options.maxQueue} requests already waiting`, COMPAT_START);
      case 'closed':
        return unavailable('backend-error', 'PAM helpers are shutting down', COMPAT_START);
      default: {
        const never: never = r;
        throw new UnreachableError(`unhandled pool result ${String(never)}`);
      }
    }
  }

  #noteService(service: string): void {
    if (this.#seen.has(service) || this.#seen.size >= MAX_SEEN_SERVICES) return;
    this.#seen.add(service);
    this.log.info({ service }, `pam: first request for service '${escapeLogValue(service)}', which uses ${pamConfigFor(service, this.#pamDir)}`);
  }
}
