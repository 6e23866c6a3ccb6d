import { Command, Option } from 'commander';
import { DEFAULTS, type DaemonOptions } from './daemon-options.js';
import { MECHANISMS, isMechanism } from '../auth/registry.js';
import type { LogFormat, LogLevel } from '../log/logger.js';
import { EnvFileError, argsFromEnvFile } from '../config/env-file.js';
import { DEFAULT_SYSLOG_SOCKET } from '../log/syslog.js';
import { PENALTY_SCOPES } from '../auth/penalty.js';

/**
 * With `--config-file F`, the arguments F stands for come first and the command line after them, so
 * a flag given on the command line wins. Called again on SIGHUP, which is how a reload re-reads F.
 */
export function withConfigFile(argv: readonly string[]): string[] {
  let file: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--config-file') file = argv[i + 1];
    else if (a.startsWith('--config-file=')) file = a.slice('--config-file='.length);
  }
  if (file === undefined || !file.startsWith('/')) return [...argv]; // commander reports the bad value
  return [...argsFromEnvFile(file), ...argv];
}
import { absolutePath, integer, list, octalMode, oneOf } from './parse-values.js';
import { camelOf, mechOfLink, parseChain, parseContinueOn, parseLinkOption, parseRoute, parseTrustedAddr } from '../auth/chain-spec.js';

export type DaemonCommand =
  | { readonly kind: 'run'; readonly options: DaemonOptions; readonly check: boolean; readonly notices: readonly string[] }
  | { readonly kind: 'version'; readonly options: DaemonOptions | null }
  | { readonly kind: 'flush-cache'; readonly runDir: string };

export class UsageError extends Error {
  readonly code = 'USAGE';
}

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];
const RIMAP_AUTH: readonly DaemonOptions['rimapAuth'][] = ['auto', 'plain', 'login'];

export function daemonProgram(): Command {
  return new Command('saslauthd-ts')
    .description('SASL authentication daemon (saslauthd-compatible socket protocol)')
    .helpOption('-h, --help', 'show this help and exit')
    .option('-a, --mech <name>', `authentication mechanism: ${MECHANISMS.join(', ')}`)
    .option('-O, --mech-option <option>', 'mechanism option (rimap: host[/port]; ldap, kerberos5: config file; sasldb: database file, default /etc/sasldb2)')
    .option('-H, --rimap-host <host>', 'rimap host: the old spelling of -O (deprecated in saslauthd(8) too), same as -O for every backend')
    .option('-m, --run-dir <dir>', 'run directory; the socket is <dir>/mux', absolutePath, DEFAULTS.runDir)
    .option('-n, --threads <n>', 'authentications decided at once (0 means 1)', integer(0, 1024), DEFAULTS.threads)
    .option('-c, --cache', 'enable the credential cache')
    .option('-s, --cache-size <KiB>', 'cache size in KiB', integer(1), DEFAULTS.cacheSizeKiB)
    .option('-t, --cache-ttl <seconds>', 'cache entry lifetime in seconds', integer(1), DEFAULTS.cacheTtlSec)
    .option('-l, --no-accept-lock-file', 'accepted for compatibility; there is no accept lock to disable')
    .option('-r, --realm-concat', 'authenticate login@realm when the client sends a realm')
    .option('-d, --debug', 'debug logging (always runs in the foreground)')
    .option('-f, --foreground', 'accepted for compatibility; always runs in the foreground')
    .option('-V, --verbose', 'verbose (debug) logging')
    .option('-T, --time-restrictions', 'accepted, no effect: saslauthd never acted on -T (time-of-day restrictions) and dropped it in 2002; use pam_time with -a pam')
    .option('-v, --version', 'print version and mechanisms, then exit')
    .option('--check', 'validate the configuration, print the effective setup, and exit')
    .option('--compat-replies', "send saslauthd's exact reply texts instead of 'NO authentication failed'")
    .option('--allow-realm <realms>', 'refuse requests whose realm is not in this comma-separated list (empty realm always passes)', list, [])
    .option('--passwd-file <path>', 'passwd file for -a shadow', DEFAULTS.passwdFile)
    .option('--shadow-file <path>', 'shadow file for -a shadow', DEFAULTS.shadowFile)
    .option('--socket-mode <mode>', 'socket file mode (octal)', octalMode, DEFAULTS.socketMode)
    .option('--socket-owner <user>', 'socket file owner')
    .option('--socket-group <group>', 'socket file group')
    .option('--run-dir-mode <mode>', 'mode for a run directory we create (octal)', octalMode, DEFAULTS.runDirMode)
    .option('--run-dir-group <group>', 'group for a run directory we create (if the group exists)', DEFAULTS.runDirGroup ?? undefined)
    .option('--max-connections <n>', 'connections held at once', integer(1, 1_000_000), DEFAULTS.maxConnections)
    .option('--request-timeout <ms>', 'time a client has to send its request', integer(1), DEFAULTS.requestTimeoutMs)
    .option('--drain-timeout <ms>', 'time to wait for a client to close after the reply', integer(0), DEFAULTS.drainTimeoutMs)
    .option('--auth-timeout <ms>', 'time one authentication may take', integer(1), DEFAULTS.authTimeoutMs)
    .option('--pam-service <name>', 'PAM service for every request (default: the request\'s service field)')
    .option('--pam-timeout <ms>', 'time one PAM conversation may take before its helper is killed', integer(1), DEFAULTS.pamTimeoutMs)
    .option('--pam-fail-delay <ms>', 'delay before answering a PAM authentication failure (0: none)', integer(0, 60_000), DEFAULTS.pamFailDelayMs)
    .option('--pam-queue <n>', 'requests that may wait for a free PAM helper', integer(0, 1_000_000), DEFAULTS.pamQueue)
    .option('--shutdown-timeout <ms>', 'time SIGTERM waits for requests in progress', integer(0), DEFAULTS.shutdownTimeoutMs)
    .option('--allow-uid <users>', 'serve only these peer users (comma-separated names or uids; SO_PEERCRED)', list, [])
    .option('--allow-gid <groups>', 'serve only peers in these groups (comma-separated names or gids; primary or supplementary)', list, [])
    .option('--user <user>', 'drop root to this user after binding the socket (backend must work unprivileged)')
    .option('--group <group>', "group for --user (default: the user's primary group)")
    .option('--rimap-starttls', 'rimap: upgrade plaintext connections with STARTTLS (fail if not offered)')
    .option('--rimap-ca <file>', 'rimap: PEM file of CA certificates to trust for the IMAP server')
    .option('--rimap-insecure', 'rimap: do NOT verify the IMAP server certificate (unsafe)')
    .addOption(new Option('--rimap-auth <mode>', 'rimap: auto (AUTHENTICATE PLAIN if offered, else LOGIN), plain or login').argParser(oneOf(RIMAP_AUTH)).default(DEFAULTS.rimapAuth))
    .option('--rimap-timeout <ms>', 'rimap: time for one whole check, all servers included', integer(1), DEFAULTS.rimapTimeoutMs)
    .option('--rimap-connect-timeout <ms>', 'rimap: time for one connect', integer(1), DEFAULTS.rimapConnectTimeoutMs)
    .option('--rimap-read-timeout <ms>', 'rimap: time one read from the IMAP server may wait', integer(1), DEFAULTS.rimapReadTimeoutMs)
    .option('--rimap-max-connections <n>', 'rimap: connections open at once to each IMAP server', integer(1, 100_000), DEFAULTS.rimapMaxConnections)
    .option('--rimap-max-queue <n>', 'rimap: requests waiting for a connection slot, per server', integer(0, 1_000_000), DEFAULTS.rimapMaxQueue)
    .option('--rimap-spare-connections <n>', 'rimap: connections per server kept greeted and ready (0 = none)', integer(0, 64), DEFAULTS.rimapSpareConnections)
    .option('--krb5-timeout <ms>', 'kerberos5: time for one whole check, KDC round trips included', integer(1), DEFAULTS.krb5TimeoutMs)
    .option('--cache-stale-on-outage <seconds>', 'answer OK from a cached success this young while the backend is unavailable (needs -c)', integer(1))
    .option('--route <selector=backends>', 'send a service or realm to other backends: smtp=ldap, realm:example.org=rimap (repeatable)', collect, [])
    .option('--chain-continue-on <[link=]outcomes>', 'outcomes that pass to the next backend: unknown,unavailable,rejected or none (repeatable)', collect, [])
    .option('--link-option <link.key=value>', "override an option for one backend instance, e.g. shadow:alt.shadow-file=/path (repeatable)", collect, [])
    .option('--fail-delay <ms>', 'delay every NO by this many ms, jittered; 0 disables delay and penalty', integer(0, 600_000), DEFAULTS.failDelayMs)
    .option('--penalty-max <ms>', 'cap on the delay doubled per consecutive failure of a user or address', integer(0, 600_000), DEFAULTS.penaltyMaxMs)
    .option('--trusted-addr <addr[/bits]>', 'client address or block without an address penalty counter; its users keep theirs (repeatable)', collect, [])
    .addOption(new Option('--penalty-scope <scope>', 'failure penalty counted per user, per client address (5th field), or both').argParser(oneOf(PENALTY_SCOPES)).default(DEFAULTS.penaltyScope))
    .option('--penalty-max-held <n>', 'requests held at once per penalised user or address; more get NO unchecked', integer(1, 1_000_000), DEFAULTS.penaltyMaxHeld)
    .option('--penalty-max-tracked <n>', 'users and addresses with failures remembered at once (lowest count forgotten first)', integer(1, 10_000_000), DEFAULTS.penaltyMaxTracked)
    .option('--flush-cache', 'tell the saslauthd-ts serving -m DIR to empty its credential cache (sends SIGUSR1), then exit')
    .addOption(new Option('--log-level <level>', 'log level').argParser(oneOf(LOG_LEVELS)))
    .addOption(new Option('--log-format <format>', 'log format').argParser(oneOf(LOG_FORMATS)).default(DEFAULTS.logFormat))
    .option('--config-file <path>', 'Debian-style defaults file (MECHANISMS, MECH_OPTIONS, THREADS, OPTIONS); re-read on SIGHUP', absolutePath)
    .option('--syslog', `log to syslog (${DEFAULT_SYSLOG_SOCKET}, facility auth) instead of stderr`)
    .option('--syslog-socket <path>', 'syslog socket for --syslog (implies --syslog)', absolutePath);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Parses saslauthd's command line. Unlike saslauthd, mistakes are errors (exit 1), not a silent exit 0. */
export function parseDaemonArgs(argv: readonly string[], program: Command = daemonProgram()): DaemonCommand {
  program.exitOverride().configureOutput({ writeErr: () => {}, writeOut: (s) => process.stdout.write(s) });
  try {
    program.parse(withConfigFile(argv), { from: 'user' });
  } catch (e) {
    const err = e as { code?: string; message: string };
    if (err.code === 'commander.helpDisplayed') throw e;
    if (e instanceof EnvFileError) throw new UsageError(err.message);
    throw new UsageError(err.message.replace(/^error: /, ''));
  }
  if (program.args.length > 0) throw new UsageError(`unexpected argument '${program.args[0]}'`);
  const o = program.opts<Record<string, unknown>>();
  if (o['flushCache']) return { kind: 'flush-cache', runDir: o['runDir'] as string };
  const mech = o['mech'] as string | undefined;
  if (o['version'] && !mech) return { kind: 'version', options: null };
  if (!mech) {
    const file = o['configFile'] as string | undefined;
    throw new UsageError(file ? `no authentication mechanism specified (-a, or MECHANISMS in ${file})` : 'no authentication mechanism specified (-a)');
  }
  const policy = parsePolicy(mech, o);
  const mechOption = o['mechOption'] as string | undefined;
  const rimapHost = o['rimapHost'] as string | undefined;
  // Old saslauthd stored -H and -O in one place and refused a second one; refuse a contradiction.
  if (mechOption !== undefined && rimapHost !== undefined && mechOption !== rimapHost) {
    throw new UsageError(`-H ${rimapHost} and -O ${mechOption} disagree (-H is the old spelling of -O; give one)`);
  }
  const notices: string[] = [];
  if (o['timeRestrictions']) notices.push('-T: time-of-day restrictions are not enforced (saslauthd never acted on -T either); use pam_time.so with -a pam');
  const debug = Boolean(o['debug'] || o['verbose']);
  const options: DaemonOptions = {
    ...DEFAULTS,
    ...policy,
    mechOption: mechOption ?? rimapHost ?? null,
    runDir: o['runDir'] as string,
    threads: Math.max(1, o['threads'] as number),
    cache: Boolean(o['cache']),
    cacheSizeKiB: o['cacheSize'] as number,
    cacheTtlSec: o['cacheTtl'] as number,
    realmConcat: Boolean(o['realmConcat']),
    logLevel: (o['logLevel'] as LogLevel | undefined) ?? (debug ? 'debug' : 'info'),
    logFormat: o['logFormat'] as LogFormat,
    compatReplies: Boolean(o['compatReplies']),
    allowedRealms: (o['allowRealm'] as string[]).map((r) => r.toLowerCase()),
    passwdFile: o['passwdFile'] as string,
    shadowFile: o['shadowFile'] as string,
    socketMode: o['socketMode'] as number,
    socketOwner: (o['socketOwner'] as string | undefined) ?? null,
    socketGroup: (o['socketGroup'] as string | undefined) ?? null,
    runDirMode: o['runDirMode'] as number,
    runDirGroup: (o['runDirGroup'] as string | undefined) ?? null,
    maxConnections: o['maxConnections'] as number,
    requestTimeoutMs: o['requestTimeout'] as number,
    drainTimeoutMs: o['drainTimeout'] as number,
    authTimeoutMs: o['authTimeout'] as number,
    pamService: (o['pamService'] as string | undefined) ?? null,
    pamTimeoutMs: o['pamTimeout'] as number,
    pamFailDelayMs: o['pamFailDelay'] as number,
    pamQueue: o['pamQueue'] as number,
    shutdownTimeoutMs: o['shutdownTimeout'] as number,
    configFile: (o['configFile'] as string | undefined) ?? null,
    syslogSocket: (o['syslogSocket'] as string | undefined) ?? (o['syslog'] ? DEFAULT_SYSLOG_SOCKET : null),
    allowUids: o['allowUid'] as string[],
    allowGids: o['allowGid'] as string[],
    user: (o['user'] as string | undefined) ?? null,
    group: (o['group'] as string | undefined) ?? null,
    rimapStarttls: Boolean(o['rimapStarttls']),
    rimapCa: (o['rimapCa'] as string | undefined) ?? null,
    rimapInsecure: Boolean(o['rimapInsecure']),
    rimapAuth: o['rimapAuth'] as DaemonOptions['rimapAuth'],
    rimapTimeoutMs: o['rimapTimeout'] as number,
    rimapConnectTimeoutMs: o['rimapConnectTimeout'] as number,
    rimapReadTimeoutMs: o['rimapReadTimeout'] as number,
    rimapMaxConnections: o['rimapMaxConnections'] as number,
    rimapMaxQueue: o['rimapMaxQueue'] as number,
    rimapSpareConnections: o['rimapSpareConnections'] as number,
    krb5TimeoutMs: o['krb5Timeout'] as number,
  };
  if (options.group !== null && options.user === null) throw new UsageError('--group needs --user');
  // A login's domain is what follows its first '@' (login-parts.ts); a realm with one could let a
  // login with two '@' pass the allow-list with a different domain at its end.
  const atRealm = options.allowedRealms.find((r) => r.includes('@'));
  if (atRealm !== undefined) throw new UsageError(`--allow-realm: '${atRealm}' is not a realm (it contains '@')`);
  if (options.cacheStaleOnOutageSec > 0 && !options.cache) throw new UsageError('--cache-stale-on-outage needs the cache (-c)');
  if (o['version']) return { kind: 'version', options };
  return { kind: 'run', options, check: Boolean(o['check']), notices };
}

/** A --link-option value typed like the option's default: whole numbers and yes/no where those are expected. */
function linkOptionValue(key: string, value: string, d: unknown): string | number | boolean {
  if (typeof d === 'number') {
    if (!/^\d+$/.test(value)) throw new Error(`--link-option: ${key} needs a whole number, got '${value}'`);
    return Number(value);
  }
  if (typeof d === 'boolean') {
    const v = value.toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off'].includes(v)) return false;
    throw new Error(`--link-option: ${key} needs yes or no, got '${value}'`);
  }
  return value;
}

type Policy = Pick<DaemonOptions, 'mechanisms' | 'routes' | 'chainContinueOn' | 'linkOptions' | 'cacheStaleOnOutageSec' | 'failDelayMs' | 'penaltyMaxMs' | 'trustedAddrs' | 'penaltyScope' | 'penaltyMaxHeld' | 'penaltyMaxTracked'>;

/** -a chains, routes, per-link settings and the defence flags; every link name is checked here. */
function parsePolicy(mech: string, o: Record<string, unknown>): Policy {
  const usage = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  };
  const mechanisms = usage(() => parseChain(mech, '-a'));
  const routes = usage(() => (o['route'] as string[]).map(parseRoute));
  const links = new Set([...mechanisms, ...routes.flatMap((r) => r.chain)]);
  for (const l of links) {
    const m = mechOfLink(l);
    if (!isMechanism(m)) throw new UsageError(`unknown authentication mechanism: ${m} (available: ${MECHANISMS.join(', ')})`);
  }
  const chainContinueOn: Record<string, DaemonOptions['chainContinueOn'][string]> = {};
  for (const raw of o['chainContinueOn'] as string[]) {
    const [link, on] = usage(() => parseContinueOn(raw));
    if (link !== '*' && !links.has(link)) throw new UsageError(`--chain-continue-on: '${link}' is not a backend named in -a or --route`);
    chainContinueOn[link] = on;
  }
  const linkOptions: Record<string, Record<string, string | number | boolean>> = {};
  for (const raw of o['linkOption'] as string[]) {
    const { link, key, value } = usage(() => parseLinkOption(raw));
    if (!links.has(link)) throw new UsageError(`--link-option: '${link}' is not a backend named in -a or --route`);
    const camel = key === 'o' ? 'mechOption' : camelOf(key);
    // The field behind a flag may carry its unit: --rimap-timeout is rimapTimeoutMs.
    const field = [camel, `${camel}Ms`, `${camel}Sec`].find((f) => f in DEFAULTS);
    const d = field === undefined ? undefined : (DEFAULTS as Record<string, unknown>)[field];
    if (field === undefined || (typeof d !== 'string' && typeof d !== 'number' && typeof d !== 'boolean' && d !== null) || field === 'mechanisms') {
      throw new UsageError(`--link-option: '${key}' is not an option that can be set per backend (e.g. mech-option, passwd-file, shadow-file)`);
    }
    (linkOptions[link] ??= {})[field] = usage(() => linkOptionValue(key, value, d));
  }
  return {
    mechanisms,
    routes,
    chainContinueOn,
    linkOptions,
    cacheStaleOnOutageSec: (o['cacheStaleOnOutage'] as number | undefined) ?? 0,
    failDelayMs: o['failDelay'] as number,
    penaltyMaxMs: o['penaltyMax'] as number,
    trustedAddrs: usage(() => (o['trustedAddr'] as string[]).map(parseTrustedAddr)),
    penaltyScope: o['penaltyScope'] as DaemonOptions['penaltyScope'],
    penaltyMaxHeld: o['penaltyMaxHeld'] as number,
    penaltyMaxTracked: o['penaltyMaxTracked'] as number,
  };
}
