import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import type { Logger } from 'pino';
import { type AuthRequest, type Authenticator, type Outcome, ok, rejected, unavailable } from '../../authenticator.js';
import { RimapError } from './errors.js';
import { hasLineBreakOrNul, printable } from './imap-codec.js';
import { ImapConnection, type TlsSettings } from './imap-connection.js';
import { ConnectionLimiter } from './limiter.js';
import { LoginDialogue, type RimapAuthMode, type Verdict } from './login-dialogue.js';

export { RIMAP_AUTH_MODES, type RimapAuthMode } from './login-dialogue.js';
import { SparePool } from './spare-pool.js';
import { type Finding, found } from '../../check-finding.js';
import { type RimapTarget, parseTargets } from './target.js';
import { DeadlineError, InvariantError, UnreachableError, UsageError } from '../../../errors.js';
import type { BackendStatus } from '../../../stats/backend-status.js';
import { type Abortable, RequestSignal } from '../../request-signal.js';

/** saslauthd's rimap reply texts (auth_rimap.c), sent with --compat-replies. */
export const RIMAP_COMPAT = {
  ok: 'OK remote authentication successful',
  rejected: 'NO remote server rejected your credentials',
  contact: "NO [ALERT] Couldn't contact remote authentication server",
  unexpected: 'NO [ALERT] Unexpected response from remote authentication server',
  unavailable: 'NO [ALERT] The remote authentication server is currently unavailable',
  sync: 'NO [ALERT] error synchronizing with remote authentication server',
} as const;

export interface RimapOptions {
  /** Servers from `-O`, tried in order. */
  readonly targets: readonly RimapTarget[];
  /** `--rimap-starttls`: upgrade every plaintext connection with STARTTLS (Default: false). */
  readonly starttls: boolean;
  /** `--rimap-ca` / `--rimap-insecure`. */
  readonly tls: TlsSettings;
  /** `--rimap-auth`: auto, plain or login (Default: auto). */
  readonly auth: RimapAuthMode;
  /** `--rimap-timeout`: milliseconds for one whole request, all servers included (Default: 15000). */
  readonly timeoutMs: number;
  /** `--rimap-connect-timeout`: milliseconds for one TCP (and implicit TLS) connect (Default: 5000). */
  readonly connectTimeoutMs: number;
  /** `--rimap-read-timeout`: milliseconds any one read may wait (Default: 10000). */
  readonly readTimeoutMs: number;
  /** `--rimap-max-connections`: connections open at once to each server (Default: 16). */
  readonly maxConnections: number;
  /** `--rimap-max-queue`: requests waiting for a connection slot per server (Default: 1024). */
  readonly maxQueue: number;
  /** `--rimap-spare-connections`: connections kept greeted and ready per server, 0 = none (Default: 2). */
  readonly spareConnections: number;
}

/** Time left for LOGOUT and close after the verdict, so a slot is not held by a silent server (ms). */
const LOGOUT_GRACE_MS = 2000;
/** A spare connection older than this is closed unused (ms); servers drop idle pre-login clients after minutes. */
const SPARE_MAX_AGE_MS = 10_000;

type Attempt = { readonly outcome: Outcome; readonly final: boolean };

/** `-a rimap`: asks a remote IMAP server whether the login and password are right. */
export class RimapAuthenticator implements Authenticator {
  readonly name = 'rimap';
  readonly #limiters = new Map<string, ConnectionLimiter>();
  readonly #conns = new Set<ImapConnection>();
  readonly #spares = new Map<string, SparePool>();
  /** Per server: when the last connection attempt failed (ms since the epoch), or 0 while it answers. */
  readonly #downSince = new Map<string, number>();

  constructor(
    readonly options: RimapOptions,
    private readonly log: Logger,
  ) {
    for (const t of options.targets) {
      this.#limiters.set(t.label, new ConnectionLimiter(options.maxConnections, options.maxQueue));
      if (options.spareConnections > 0) {
        const open = (signal: Abortable): Promise<LoginDialogue> =>
          this.#open(t, Date.now() + options.connectTimeoutMs + options.readTimeoutMs, signal);
        this.#spares.set(t.label, new SparePool(options.spareConnections, SPARE_MAX_AGE_MS, open, log, t.label));
      }
    }
  }

  /** Talks to the IMAP server over the network; nothing local needs root. */
  unprivilegedProblem(): string | null {
    return null;
  }

  describe(): string[] {
    const o = this.options;
    const lines = o.targets.map((t, i) => {
      const tls = t.tls === 'implicit' ? 'implicit TLS' : o.starttls ? 'STARTTLS (required)' : 'plaintext (STARTTLS if the server sends LOGINDISABLED)';
      return `rimap: server ${i + 1}: ${t.label} ${tls}`;
    });
    lines.push(
      `rimap: auth=${o.auth} timeout=${o.timeoutMs}ms connect-timeout=${o.connectTimeoutMs}ms read-timeout=${o.readTimeoutMs}ms max-connections=${o.maxConnections} max-queue=${o.maxQueue} spare-connections=${o.spareConnections}`,
      `rimap: certificates: ${o.tls.insecure ? 'NOT VERIFIED (--rimap-insecure)' : 'verified'}`,
    );
    return lines;
  }

  /** Connection slots per server, and each server up unless its last connection attempt failed. */
  status(): BackendStatus {
    const now = Date.now();
    return {
      pools: this.options.targets.map((t) => {
        const l = this.#limiters.get(t.label)!;
        return { name: t.label, size: l.max, busy: l.active, queued: l.waiting };
      }),
      servers: this.options.targets.map((t) => {
        const down = this.#downSince.get(t.label) ?? 0;
        return { server: t.label, up: down === 0, downForMs: down === 0 ? null : now - down };
      }),
    };
  }

  async close(): Promise<void> {
    for (const p of this.#spares.values()) p.close();
    for (const c of this.#conns) c.destroy();
    await Promise.all([...this.#conns].map((c) => c.closed));
  }

  async authenticate(req: AuthRequest, signal: Abortable): Promise<Outcome> {
    const login = Buffer.from(req.login, 'utf8');
    const password = req.password.expose();
    // saslauthd sends these raw inside the quoted string: a CRLF ends LOGIN and starts a command of the caller's choosing.
    if (hasLineBreakOrNul(login) || hasLineBreakOrNul(password)) {
      return rejected('invalid-input', 'login or password contains CR, LF or NUL; not sent to the IMAP server', RIMAP_COMPAT.rejected);
    }
    const deadline = Date.now() + this.options.timeoutMs;
    const ctl = new RequestSignal();
    const onAbort = (): void => ctl.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => ctl.abort(new DeadlineError('--rimap-timeout passed')), this.options.timeoutMs);
    try {
      let last: Outcome | null = null;
      for (const target of this.options.targets) {
        req.trace?.('rimap', `server ${target.label} (${target.tls === 'implicit' ? 'implicit TLS' : this.options.starttls ? 'STARTTLS required' : 'plaintext unless LOGINDISABLED'}), auth ${this.options.auth}`);
        const a = await this.#attempt(target, login, password, deadline, ctl.signal);
        req.trace?.('rimap', `${target.label}: ${a.outcome.kind === 'ok' ? 'OK' : a.outcome.reason}${a.final ? '' : ' (trying the next server, if any)'}`);
        if (a.final) return a.outcome;
        last = a.outcome;
        if (ctl.signal.aborted) break;
        this.log.debug({ server: target.label, reason: a.outcome.kind === 'ok' ? '' : a.outcome.reason }, 'rimap: trying the next server');
      }
      if (last === null) throw new InvariantError('rimap: no servers configured');
      return last;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  }

  /**
   * `--check`: each server's greeting and CAPABILITY over the configured TLS, within the connect and
   * read timeouts; no credentials are sent. One server answering is enough to serve.
   */
  async probe(signal: Abortable): Promise<Finding[]> {
    const results = await Promise.all(
      this.options.targets.map(async (t) => {
        const deadline = Date.now() + this.options.connectTimeoutMs + this.options.readTimeoutMs;
        try {
          const d = await this.#open(t, deadline, signal);
          try {
            const p = await d.probe();
            const how = `greeting and CAPABILITY over ${d.conn.secure ? 'TLS' : 'plaintext'}, would use ${p.via}`;
            return { label: t.label, problem: p.problem, how, caps: p.caps.join(' ') };
          } finally {
            d.logout();
            setTimeout(() => d.conn.destroy(), LOGOUT_GRACE_MS).unref();
          }
        } catch (e) {
          return { label: t.label, problem: (e as Error).message, how: 'connect', caps: '' };
        }
      }),
    );
    const up = results.filter((r) => r.problem === null).length;
    return results.map((r) => {
      if (r.problem === null) return found.ok(`${r.label}: ${r.how}: OK (${r.caps})`);
      const text = `${r.label}: ${r.how}: ${r.problem}`;
      return up > 0 ? found.warning(`${text} (another server answered)`) : found.error(text);
    });
  }

  /** Connects and prepares a conversation (greeting, STARTTLS) under `signal`; the connection is tracked for close(). */
  async #open(target: RimapTarget, deadline: number, signal: Abortable): Promise<LoginDialogue> {
    const conn = await ImapConnection.open(target, this.options.tls, Math.min(deadline, Date.now() + this.options.connectTimeoutMs), signal);
    this.#conns.add(conn);
    void conn.closed.then(() => this.#conns.delete(conn));
    const dialogue = new LoginDialogue(conn, target, this.options, deadline, signal);
    try {
      await dialogue.prepare();
    } catch (e) {
      conn.destroy();
      throw e;
    }
    return dialogue;
  }

  async #attempt(target: RimapTarget, login: Buffer, password: Buffer, deadline: number, signal: Abortable): Promise<Attempt> {
    const limiter = this.#limiters.get(target.label)!;
    let release: () => void;
    try {
      release = await limiter.acquire(signal);
    } catch (e) {
      return { outcome: this.#failure(target, e, deadline), final: false };
    }
    const pool = this.#spares.get(target.label);
    let dialogue = pool?.take() ?? null;
    const spare = dialogue !== null;
    pool?.refill();
    if (dialogue) {
      dialogue.bind(deadline, signal);
    } else {
      try {
        dialogue = await this.#open(target, deadline, signal);
      } catch (e) {
        release();
        if (!signal.aborted && !this.#downSince.get(target.label)) this.#downSince.set(target.label, Date.now());
        return { outcome: this.#failure(target, e, deadline), final: false };
      }
    }
    const conn = dialogue.conn;
    // The slot is free again only when the connection is really gone, LOGOUT included.
    void conn.closed.then(release);
    try {
      const verdict = await dialogue.authenticate(login, password);
      this.#downSince.set(target.label, 0);
      this.log.debug({ server: target.label, via: verdict.via, tls: conn.secure, spare, verdict: verdict.kind }, 'rimap: server answered');
      dialogue.logout();
      // A server that never takes the LOGOUT bytes must not hold the slot.
      const linger = setTimeout(() => conn.destroy(), LOGOUT_GRACE_MS);
      void conn.closed.then(() => clearTimeout(linger));
      return { outcome: this.#verdict(target, verdict), final: true };
    } catch (e) {
      conn.destroy();
      // Once the password has gone out, another server would be a second guess at it: stop here.
      return { outcome: this.#failure(target, e, deadline), final: dialogue.credentialsSent };
    }
  }

  #verdict(target: RimapTarget, v: Verdict): Outcome {
    if (v.kind === 'ok') return ok(RIMAP_COMPAT.ok);
    const why = `${target.label} said NO to ${v.via}: ${v.code !== null ? `[${printable(v.code, 60)}] ` : ''}${printable(v.text)}`;
    const code = (v.code ?? '').split(' ')[0]!.toUpperCase();
    switch (code) {
      // RFC 5530: the server could not decide, which is not the same as a wrong password.
      case 'UNAVAILABLE':
      case 'SERVERBUG':
        return unavailable('backend-error', why, RIMAP_COMPAT.rejected);
      case 'EXPIRED':
        return rejected('password-expired', why, RIMAP_COMPAT.rejected);
      case 'AUTHORIZATIONFAILED':
        return rejected('not-authorized', why, RIMAP_COMPAT.rejected);
      default:
        return rejected('bad-password', why, RIMAP_COMPAT.rejected);
    }
  }

  #failure(target: RimapTarget, e: unknown, deadline: number): Outcome {
    if (!(e instanceof RimapError)) {
      return unavailable('backend-error', `${target.label}: internal error: ${(e as Error).message}`, RIMAP_COMPAT.unexpected);
    }
    const why = `${target.label}: ${e.message}`;
    switch (e.reason) {
      case 'connect':
      case 'tls':
        return unavailable('connect-failed', why, RIMAP_COMPAT.contact);
      case 'timeout':
        return unavailable('timeout', why, RIMAP_COMPAT.unexpected);
      case 'aborted':
        return Date.now() >= deadline
          ? unavailable('timeout', `${target.label}: no verdict within --rimap-timeout`, RIMAP_COMPAT.unexpected)
          : unavailable('timeout', why, RIMAP_COMPAT.unexpected);
      case 'closed':
      case 'protocol':
        return unavailable('protocol-error', why, RIMAP_COMPAT.unexpected);
      case 'sync':
        return unavailable('protocol-error', why, RIMAP_COMPAT.sync);
      case 'unavailable':
        return unavailable('backend-error', why, RIMAP_COMPAT.unavailable);
      case 'overloaded':
        return unavailable('overloaded', why, RIMAP_COMPAT.unavailable);
      default: {
        const never: never = e.reason;
        throw new UnreachableError(`unhandled rimap error ${String(never)}`);
      }
    }
  }
}

/** Settings from the command line, before validation. */
export interface RimapConfigInput {
  readonly mechOption: string | null;
  readonly rimapStarttls: boolean;
  readonly rimapCa: string | null;
  readonly rimapInsecure: boolean;
  readonly rimapAuth: RimapAuthMode;
  readonly rimapTimeoutMs: number;
  readonly rimapConnectTimeoutMs: number;
  readonly rimapReadTimeoutMs: number;
  readonly rimapMaxConnections: number;
  readonly rimapMaxQueue: number;
  readonly rimapSpareConnections: number;
}

const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

function readCa(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`--rimap-ca '${path}': cannot read: ${(e as Error).message}`);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`--rimap-ca '${path}': no PEM certificate in the file`);
  return text;
}

/** Validates the rimap settings once at start-up; throws an Error that names the flag. */
export function rimapOptionsFrom(c: RimapConfigInput, log: Logger): RimapOptions {
  const targets = parseTargets(c.mechOption);
  let ca: TlsSettings['ca'];
  if (c.rimapCa !== null) {
    ca = readCa(c.rimapCa);
  } else {
    // Node trusts only its bundled roots; admins expect the system store (update-ca-certificates) too.
    let system: string | null = null;
    try {
      system = readFileSync(SYSTEM_CA_BUNDLE, 'utf8');
    } catch {
      system = null;
    }
    ca = system !== null ? [...rootCertificates, system] : undefined;
  }
  if (c.rimapInsecure) {
    log.warn('rimap: --rimap-insecure: TLS certificates are NOT verified; anyone on the path can impersonate the IMAP server and read passwords');
  }
  for (const t of targets) {
    if (t.tls === 'none' && !c.rimapStarttls) {
      log.warn({ server: t.label }, `rimap: ${t.label} is plaintext: passwords travel in clear unless the server demands STARTTLS (use imaps:// or --rimap-starttls)`);
    }
  }
  if (c.rimapTimeoutMs < c.rimapConnectTimeoutMs) {
    log.warn(`rimap: --rimap-timeout (${c.rimapTimeoutMs} ms) is shorter than --rimap-connect-timeout (${c.rimapConnectTimeoutMs} ms)`);
  }
  return {
    targets,
    starttls: c.rimapStarttls,
    tls: { ca, insecure: c.rimapInsecure },
    auth: c.rimapAuth,
    timeoutMs: c.rimapTimeoutMs,
    connectTimeoutMs: c.rimapConnectTimeoutMs,
    readTimeoutMs: c.rimapReadTimeoutMs,
    maxConnections: c.rimapMaxConnections,
    maxQueue: c.rimapMaxQueue,
    spareConnections: c.rimapSpareConnections,
  };
}
