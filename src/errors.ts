/**
 * Every error saslauthd-ts throws, as undici does it (lib/core/errors.js): one base class, one
 * stable `code` per class. Callers branch on `code` (or the class), never on message text: the
 * messages are for people and may be reworded; the codes are an interface. Each class carries its
 * code as a static too (`PoolFullError.code`), so a caller can compare without a string literal.
 *
 * This module imports nothing of ours, so every layer (protocol/ and native/ too) may use it.
 */

export abstract class SaslauthdError extends Error {
  /** `SASLD_ERR_*`, fixed per class; read from the concrete class's static `code`. */
  readonly code: string;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = (new.target as unknown as { readonly code: string }).code;
  }
}

// ---- start-up: flags, files, environment --------------------------------------------------------

/** A command-line flag (or a flag read from the environment file) is wrong; the message names it. */
export class UsageError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_USAGE';
}

/** A `key: value` configuration file (saslauthd.conf style) is wrong; names file, line and key. */
export class ConfigError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_CONFIG';
  constructor(
    readonly file: string,
    readonly line: number | null,
    readonly key: string | null,
    readonly problem: string,
  ) {
    super(`${file}${line !== null ? `:${line}` : ''}: ${key !== null ? `${key}: ` : ''}${problem}`);
  }
}

/** The /etc/default/saslauthd style environment file cannot be read or parsed. */
export class EnvFileError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_ENV_FILE';
}

/** `-a` names a backend this build does not have. */
export class UnknownMechanismError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_UNKNOWN_BACKEND';
  constructor(
    readonly mech: string,
    available: readonly string[],
  ) {
    super(`unknown authentication mechanism: ${mech} (available: ${available.join(', ')})`);
  }
}

/** The native addon (or unix-dgram) was not built or cannot be loaded; the message names the file. */
export class NativeAddonMissingError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_NATIVE_ADDON_MISSING';
}

/** A backend cannot work with its configuration (missing file, stale keytab, helper not built…). */
export class BackendStartError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_BACKEND_START';
  /** The backend instance that failed (`ldap`, `shadow:alt`), when the thrower knows it. */
  readonly backend: string | null;
  constructor(message: string, options?: ErrorOptions & { readonly backend?: string }) {
    super(message, options);
    this.backend = options?.backend ?? null;
  }
}

/** A user or group named by a flag is not in /etc/passwd or /etc/group. */
export class UnknownIdError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_UNKNOWN_ID';
}

/** `--user`/`--group`: dropping root failed or would not hold. */
export class PrivilegeDropError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_PRIVILEGE_DROP';
}

// ---- the listening side ---------------------------------------------------------------------------

/** The socket file cannot be made safely (path too long, owner, mode, something else in the way). */
export class SocketFileError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_SOCKET_FILE';
}

/** The run directory (or a directory above it) can be changed by someone other than root/us. */
/** `--pid-file`: the file cannot be written (safely). */
export class PidFileError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_PID_FILE';
}

export class UnsafeRunDirError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_UNSAFE_RUN_DIR';
}

/** systemd socket activation passed descriptors we cannot use. */
export class ActivationError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_SOCKET_ACTIVATION';
}

/** A reload was asked for while the daemon is closing. */
export class ShuttingDownError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_SHUTTING_DOWN';
}

// ---- requests: deadlines, aborts, load ------------------------------------------------------------

/** An abort reason: the client went away, or the caller gave up, before an answer. */
export class AbortedError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_ABORTED';
}

/** An abort reason: a deadline (`-t`, `--rimap-timeout`…) passed; the message names it. */
export class DeadlineError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_DEADLINE';
}

/** The native work pool has as many calls waiting as it accepts; the request is overload, not a failure. */
export class PoolFullError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_POOL_FULL';
  constructor(max: number) {
    super(`native work queue is full (${max} waiting)`);
  }
}

/** A libkrb5 call did not finish within its deadline; the libkrb5 thread still holds its slot. */
export class Krb5TimeoutError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_KRB5_TIMEOUT';
  constructor(readonly ms: number) {
    super(`no answer from libkrb5 within ${ms} ms`);
  }
}

// ---- peers: IMAP (rimap), LDAP, the PAM helper, the daemon seen from a client --------------------

/** Why one exchange with the IMAP server failed; the rimap backend maps each reason to an outcome. */
export type RimapErrorReason =
  /** TCP connect failed, was refused, or the name did not resolve. */
  | 'connect'
  /** The TLS handshake failed (including certificate verification). */
  | 'tls'
  /** A read, the connect or the whole exchange passed its deadline. */
  | 'timeout'
  /** The server closed the connection before answering. */
  | 'closed'
  /** A line longer than the reader accepts, or a socket error mid-exchange. */
  | 'sync'
  /** The server sent something IMAP does not allow here. */
  | 'protocol'
  /** The server refused service (`* BYE`, `* NO` greeting, `NO [UNAVAILABLE]`). */
  | 'unavailable'
  /** Too many requests waiting for a connection slot to this server. */
  | 'overloaded'
  /** The request's signal aborted. */
  | 'aborted';

/** One exchange with the IMAP server failed; `reason` says how. */
export class RimapError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_RIMAP';
  constructor(
    readonly reason: RimapErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'RimapError';
  }
}

/** `-O host[/port]` for rimap is not a usable target. */
export class TargetError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_RIMAP_TARGET';
}

/** An IMAP response (line plus literals) is longer than the reader accepts. */
export class LineTooLongError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_LINE_TOO_LONG';
}

/** Why a call to an LDAP server did not produce an LDAP answer. */
export type LdapTransportReason = 'timeout' | 'connect-failed' | 'aborted' | 'server-unavailable';

/** A call to an LDAP server did not produce an LDAP answer; the request may be retried elsewhere. */
export class LdapTransportError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_LDAP_TRANSPORT';
  constructor(
    readonly reason: LdapTransportReason,
    message: string,
  ) {
    super(message);
  }
}

/** The service bind (ldap_bind_dn) was refused: a configuration problem, the same for every request. */
export class LdapServiceBindError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_LDAP_SERVICE_BIND';
  constructor(
    readonly dn: string,
    cause: Error,
  ) {
    super(`service bind as ${dn === '' ? '(anonymous)' : dn} refused: ${cause.message}`);
  }
}

/** The PAM helper process wrote a frame that does not decode. */
export class HelperProtocolError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_PAM_HELPER_PROTOCOL';
}

/** What went wrong talking to the daemon, in testsaslauthd's words. */
export type ClientErrorReason = 'CONNECT' | 'WRITE' | 'SIZE_READ' | 'BAD_RESPONSE' | 'READ' | 'TIMEOUT';

/** A request over the saslauthd socket failed (the client side, testsaslauthd). */
export class ClientError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_CLIENT';
  constructor(
    readonly reason: ClientErrorReason,
    message: string,
  ) {
    super(message);
  }
}

/** A control-socket exchange failed (`saslauthd-ts ctl`): no daemon, refused, timed out, or a bad reply. */
export class ControlError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_CONTROL';
}

// ---- user files ---------------------------------------------------------------------------------

/** One line of a passwd/shadow file is malformed; the parser reports it and skips the line. */
export class UserFileLineError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_USER_FILE_LINE';
}

// ---- guards and bugs ------------------------------------------------------------------------------

/** A safety guard refused an operation (an empty simple bind, CR/LF in an IMAP argument…): fail closed. */
export class RefusedOperationError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_REFUSED';
}

/** A value handed to an encoder or constructor is out of its range (a field too long to frame…). */
export class InvalidArgumentError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_INVALID_ARGUMENT';
}

/** Our own invariant does not hold (a helper used twice at once, a chain with no links): a bug. */
export class InvariantError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_INVARIANT';
}

/** The `never` default of an exhaustive switch was reached: a value the types rule out. A bug. */
export class UnreachableError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_UNREACHABLE';
}

// ---- fleet state (Redis/Valkey) -------------------------------------------------------------------

/**
 * A call to the shared state (`--shared-state`) did not give an answer we can use: Redis is down or
 * marked down, the call passed `--shared-state-timeout`, or Redis answered with an error. Callers
 * fall back to local state; `reason` says which case it was.
 */
export class SharedStateError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_SHARED_STATE';
  constructor(
    readonly reason: 'down' | 'timeout' | 'connection' | 'reply',
    message: string,
  ) {
    super(message);
  }
}

/** `--cache-key-file` cannot be used as the fleet key: missing, too short, or readable by others. */
export class KeyFileError extends SaslauthdError {
  static readonly code = 'SASLD_ERR_KEY_FILE';
}
