import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULTS, type DaemonOptions } from './daemon-options.js';
import { BACKENDS, BACKEND_NAMES, isBackend } from '../auth/registry.js';
import { type BackendFlag, type FlagValue, yesNo } from '../auth/backends/definition.js';
import type { LogFormat, LogLevel } from '../log/logger.js';
import { EnvFileError, argsFromEnvFile } from '../config/env-file.js';
import { DEFAULT_SYSLOG_IDENT, DEFAULT_SYSLOG_SOCKET, SYSLOG_IDENT_PATTERN } from '../log/syslog.js';
import { PID_FILE_NAME } from '../server/pid-file.js';
import { PENALTY_SCOPES } from '../auth/penalty.js';
import { UsageError } from '../errors.js';
import { parseMetricsListen } from '../server/metrics-server.js';

function metricsListen(value: string): ReturnType<typeof parseMetricsListen> {
  try {
    return parseMetricsListen(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}
import { parseSharedStateUrl } from '../auth/shared-state/url.js';
import { DEFAULT_SHARED_STATE_TIMEOUT_MS } from '../auth/shared-state/client.js';

/**
 * With `--config-file F`, the arguments F stands for come first and the command line after them, so
 * a flag given on the command line wins. Called again on SIGHUP, which is how a reload re-reads F.
 */
export function withConfigFile(argv: readonly string[]): string[] {
  const file = configFileOf(argv);
  if (file === undefined) return [...argv];
  return [...argsFromEnvFile(file), ...argv];
}

/** The absolute path given to --config-file, if any (commander reports a relative one). */
function configFileOf(argv: readonly string[]): string | undefined {
  let file: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--config-file') file = argv[i + 1];
    else if (a.startsWith('--config-file=')) file = a.slice('--config-file='.length);
  }
  return file !== undefined && file.startsWith('/') ? file : undefined;
}

/** True when the arguments the file stands for do not parse on their own. */
function fileArgsFail(file: string): boolean {
  try {
    daemonProgram().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} }).parse(argsFromEnvFile(file), { from: 'user' });
    return false;
  } catch {
    return true;
  }
}
import { absolutePath, integer, list, octalMode, oneOf } from './parse-values.js';
import { backendType, parseChain, parseContinueOn, parseLinkOption, parseRoute, parseTrustedAddr } from '../auth/chain-spec.js';

export type DaemonCommand =
  | { readonly kind: 'run'; readonly options: DaemonOptions; readonly check: boolean; readonly notices: readonly string[] }
  | { readonly kind: 'version'; readonly options: DaemonOptions | null }
  | { readonly kind: 'flush-cache'; readonly runDir: string };

export { UsageError };

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

export function daemonProgram(): Command {
  const program = new Command('saslauthd-ts')
    .description('SASL authentication daemon (saslauthd-compatible socket protocol)')
    .helpOption('-h, --help', 'show this help and exit')
    .option('-a, --mech <name>', `backend, or a comma-separated chain of backends: ${BACKEND_NAMES.join(', ')}`)
    .option('-O, --mech-option <option>', `backend option (${BACKENDS.filter((b) => b.mechOption !== undefined).map((b) => `${b.name}: ${b.mechOption}`).join('; ')})`)
    .option('-H, --rimap-host <host>', 'rimap host: the old spelling of -O (deprecated in saslauthd(8) too), same as -O for every backend')
    .option('-m, --run-dir <dir>', 'run directory; the socket is <dir>/mux', absolutePath, DEFAULTS.runDir)
    .option('-n, --threads <n>', 'authentications decided at once, a concurrency cap (0 means 1)', integer(0, 1024), DEFAULTS.concurrency)
    .option('-c, --cache', 'enable the credential cache')
    .option('-s, --cache-size <KiB>', 'cache size in KiB', integer(1), DEFAULTS.cacheSizeKiB)
    .option('-t, --cache-ttl <seconds>', 'cache entry lifetime in seconds', integer(1), DEFAULTS.cacheTtlSec)
    .option('-l, --no-accept-lock-file', 'accepted for compatibility; there is no accept lock to disable')
    .option('-r, --realm-concat', 'authenticate login@realm when the client sends a realm')
    .option('-d, --debug', 'debug logging (always runs in the foreground)')
    .option('-f, --foreground', 'accepted for compatibility; always runs in the foreground')
    .option('-V, --verbose', 'verbose (debug) logging')
    .option('-T, --time-restrictions', 'accepted, no effect: saslauthd never acted on -T (time-of-day restrictions) and dropped it in 2002; use pam_time with -a pam')
    .option('-v, --version', 'print version and backends, then exit')
    .option('--check', 'check everything a start and a first request need (users, groups, files, run directory, live LDAP/IMAP probes), print the effective configuration, and exit non-zero on any problem')
    .option('--test', 'run one request through the configured backends in this process and print each step (-u USER [-p PASS] -s SERVICE -r REALM, as testsaslauthd); exit 0 OK, 255 NO, 2 could not decide')
    .option('--compat-replies', "send saslauthd's exact reply texts instead of 'NO authentication failed'")
    .option('--allow-realm <realms>', 'refuse requests whose realm is not in this comma-separated list (empty realm always passes)', list, [])
    .addOption(new Option('--socket-mode <mode>', 'socket file mode (octal)').argParser(octalMode).default(DEFAULTS.socketMode, octal(DEFAULTS.socketMode)))
    .option('--socket-owner <user>', 'socket file owner')
    .option('--socket-group <group>', 'socket file group')
    .addOption(new Option('--run-dir-mode <mode>', 'mode for a run directory we create (octal)').argParser(octalMode).default(DEFAULTS.runDirMode, octal(DEFAULTS.runDirMode)))
    .option('--run-dir-group <group>', 'group for a run directory we create (if the group exists)', DEFAULTS.runDirGroup ?? undefined)
    .option('--max-connections <n>', 'connections held at once', integer(1, 1_000_000), DEFAULTS.maxConnections)
    .option('--request-timeout <ms>', 'time a client has to send its request', integer(1), DEFAULTS.requestTimeoutMs)
    .option('--drain-timeout <ms>', 'time to wait for a client to close after the reply', integer(0), DEFAULTS.drainTimeoutMs)
    .option('--auth-timeout <ms>', 'time one authentication may take', integer(1), DEFAULTS.authTimeoutMs)
    .option('--shutdown-timeout <ms>', 'time SIGTERM waits for requests in progress', integer(0), DEFAULTS.shutdownTimeoutMs)
    .option('--allow-uid <users>', 'serve only these peer users (comma-separated names or uids; SO_PEERCRED)', list, [])
    .option('--allow-gid <groups>', 'serve only peers in these groups (comma-separated names or gids; primary or supplementary)', list, [])
    .option('--user <user>', 'drop root to this user after binding the socket (backend must work unprivileged)')
    .option('--group <group>', "group for --user (default: the user's primary group)")
    .option('--cache-stale-on-outage <seconds>', 'answer OK from a cached success this young while the backend is unavailable (needs -c)', integer(1))
    .option('--route <selector=backends>', 'send a service or realm to other backends: smtp=ldap, realm:example.org=rimap (repeatable)', collect, [])
    .option('--chain-continue-on <[backend=]outcomes>', 'outcomes that pass to the next backend: unknown,unavailable,rejected or none (repeatable)', collect, [])
    .option('--link-option <backend.key=value>', "set one of a backend's own flags (or o for -O) for one backend instance, e.g. shadow:alt.shadow-file=/path (repeatable)", collect, [])
    .option('--fail-delay <ms>', 'delay every NO by this many ms, jittered; 0 disables delay and penalty', integer(0, 600_000), DEFAULTS.failDelayMs)
    .option('--penalty-max <ms>', 'cap on the delay doubled per consecutive failure of a user or address', integer(0, 600_000), DEFAULTS.penaltyMaxMs)
    .option('--trusted-addr <addr[/bits]>', 'client address or block without an address penalty counter; its users keep theirs (repeatable)', collect, [])
    .addOption(new Option('--penalty-scope <scope>', 'failure penalty counted per user, per client address (5th field), or both').argParser(oneOf(PENALTY_SCOPES)).default(DEFAULTS.penaltyScope))
    .option('--penalty-max-held <n>', 'requests held at once per penalised user or address; more get NO unchecked', integer(1, 1_000_000), DEFAULTS.penaltyMaxHeld)
    .option('--penalty-max-tracked <n>', 'users and addresses with failures remembered at once (lowest count forgotten first)', integer(1, 10_000_000), DEFAULTS.penaltyMaxTracked)
    .option('--shared-state <url>', 'share penalties (and the cache) with other hosts through Redis/Valkey: redis://, rediss://, redis-sentinel://h1,h2/master, redis-cluster://h1,h2 (needs --cache-key-file)')
    .option('--shared-state-timeout <ms>', 'deadline of one Redis call; slower counts as Redis trouble and this host uses local state', integer(1, 10_000), DEFAULT_SHARED_STATE_TIMEOUT_MS)
    .option('--shared-state-prefix <text>', 'added to saslauthd: at the start of every Redis key (several fleets on one Redis)', '')
    .option('--shared-state-ca <file>', 'PEM file of CAs to verify a rediss:// server with (default: the system store)', absolutePath)
    .option('--cache-key-file <file>', 'the fleet key: root-owned file, mode 0600 or stricter, 32+ random bytes; everything about a password sent to Redis is an HMAC under it', absolutePath)
    .option('--flush-cache', 'tell the saslauthd-ts serving -m DIR to empty its credential cache (sends SIGUSR1), then exit')
    .addOption(new Option('--log-level <level>', 'log level').argParser(oneOf(LOG_LEVELS)))
    .addOption(new Option('--log-format <format>', 'log format').argParser(oneOf(LOG_FORMATS)).default(DEFAULTS.logFormat))
    .option('--config-file <path>', 'Debian-style defaults file (MECHANISMS, MECH_OPTIONS, THREADS, OPTIONS); re-read on SIGHUP', absolutePath)
    .option('--syslog', `log to syslog (${DEFAULT_SYSLOG_SOCKET}, facility auth) instead of stderr`)
    .option('--syslog-socket <path>', 'syslog socket for --syslog (implies --syslog)', absolutePath)
    .option('--metrics-listen <addr>', 'serve Prometheus metrics (GET /metrics) on IP:PORT or a UNIX socket path', metricsListen)
    .addOption(new Option('--syslog-ident <name>', 'program name in syslog lines (saslauthd\'s, so its log watchers match)').argParser(syslogIdent).default(DEFAULT_SYSLOG_IDENT))
    .option('--pid-file [path]', `write the daemon's pid to this file (default path: <run dir>/${PID_FILE_NAME}, as saslauthd does)`, absolutePath);
  for (const b of BACKENDS) for (const f of b.flags) program.addOption(backendOption(f));
  program.addHelpText('after', '\nA running daemon is steered with: saslauthd-ts ctl status | penalty list | penalty clear | cache flush | reload\n(root only; saslauthd-ts ctl --help for its options).');
  return program;
}

/** A backend's flag as commander declares it; its parse errors become commander's usage errors. */
function backendOption(f: BackendFlag): Option {
  const o = new Option(`--${f.key}${f.value !== undefined ? ` ${f.value}` : ''}`, f.help);
  const parse = f.parse;
  if (parse !== undefined) {
    o.argParser((raw: string) => {
      try {
        return parse(raw);
      } catch (e) {
        throw new InvalidArgumentError((e as Error).message);
      }
    });
  }
  // A switch's default (false) and an unset value (null) are the table's: commander leaves them undefined.
  if (f.value !== undefined && f.default !== null) o.default(f.default);
  return o;
}

/** Every backend's flags as parsed, defaults filled in, by key. */
function backendFlagValues(o: Record<string, unknown>): Record<string, FlagValue> {
  const values: Record<string, FlagValue> = {};
  for (const b of BACKENDS) {
    for (const f of b.flags) {
      const v = o[camelOf(f.key)] as FlagValue | undefined;
      values[f.key] = v === undefined ? f.default : f.value === undefined ? Boolean(v) : v;
    }
  }
  return values;
}

/** Commander's attribute name for a flag (`rimap-ca` → `rimapCa`). */
const camelOf = (kebab: string): string => kebab.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** A mode as the admin writes it: `0777`, not commander's decimal 511. */
const octal = (mode: number): string => `0${mode.toString(8)}`;

function syslogIdent(value: string): string {
  if (!SYSLOG_IDENT_PATTERN.test(value)) throw new InvalidArgumentError(`'${value}' is not a syslog ident (1 to 32 of A-Z a-z 0-9 . _ -).`);
  return value;
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
    const message = err.message.replace(/^error: /, '');
    const file = configFileOf(argv);
    // A mistake in the file's OPTIONS would otherwise look like one on the command line.
    if (file !== undefined && fileArgsFail(file)) throw new UsageError(`${file} (MECHANISMS, MECH_OPTIONS, THREADS, OPTIONS): ${message}`);
    throw new UsageError(message);
  }
  if (program.args.length > 0) throw new UsageError(`unexpected argument '${program.args[0]}'`);
  const o = program.opts<Record<string, unknown>>();
  if (o['flushCache']) return { kind: 'flush-cache', runDir: o['runDir'] as string };
  const mech = o['mech'] as string | undefined;
  if (o['version'] && !mech) return { kind: 'version', options: null };
  if (!mech) {
    const file = o['configFile'] as string | undefined;
    if (file !== undefined && !existsSync(file)) throw new UsageError(`--config-file ${file}: no such file, and no -a: no authentication mechanism specified`);
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
  const configFile = o['configFile'] as string | undefined;
  if (configFile !== undefined && !existsSync(configFile)) notices.push(`--config-file ${configFile} does not exist; read as empty (MECHANISMS and the rest come from the command line and the environment)`);
  if (o['timeRestrictions']) notices.push('-T: time-of-day restrictions are not enforced (saslauthd never acted on -T either); use pam_time.so with -a pam');
  const debug = Boolean(o['debug'] || o['verbose']);
  const options: DaemonOptions = {
    ...DEFAULTS,
    ...policy,
    mechOption: mechOption ?? rimapHost ?? null,
    runDir: o['runDir'] as string,
    concurrency: Math.max(1, o['threads'] as number),
    backendFlags: backendFlagValues(o),
    cache: Boolean(o['cache']),
    cacheSizeKiB: o['cacheSize'] as number,
    cacheTtlSec: o['cacheTtl'] as number,
    realmConcat: Boolean(o['realmConcat']),
    logLevel: (o['logLevel'] as LogLevel | undefined) ?? (debug ? 'debug' : 'info'),
    logFormat: o['logFormat'] as LogFormat,
    compatReplies: Boolean(o['compatReplies']),
    allowedRealms: (o['allowRealm'] as string[]).map((r) => r.toLowerCase()),
    socketMode: o['socketMode'] as number,
    socketOwner: (o['socketOwner'] as string | undefined) ?? null,
    socketGroup: (o['socketGroup'] as string | undefined) ?? null,
    runDirMode: o['runDirMode'] as number,
    runDirGroup: (o['runDirGroup'] as string | undefined) ?? null,
    maxConnections: o['maxConnections'] as number,
    requestTimeoutMs: o['requestTimeout'] as number,
    drainTimeoutMs: o['drainTimeout'] as number,
    authTimeoutMs: o['authTimeout'] as number,
    shutdownTimeoutMs: o['shutdownTimeout'] as number,
    configFile: (o['configFile'] as string | undefined) ?? null,
    syslogSocket: (o['syslogSocket'] as string | undefined) ?? (o['syslog'] ? DEFAULT_SYSLOG_SOCKET : null),
    syslogIdent: o['syslogIdent'] as string,
    pidFile: o['pidFile'] === true ? join(o['runDir'] as string, PID_FILE_NAME) : ((o['pidFile'] as string | undefined) ?? null),
    allowUids: o['allowUid'] as string[],
    allowGids: o['allowGid'] as string[],
    user: (o['user'] as string | undefined) ?? null,
    group: (o['group'] as string | undefined) ?? null,
    metricsListen: (o['metricsListen'] as DaemonOptions['metricsListen'] | undefined) ?? null,
    cacheKeyFile: (o['cacheKeyFile'] as string | undefined) ?? null,
    sharedState: sharedStateOf(o),
  };
  if (options.group !== null && options.user === null) throw new UsageError('--group needs --user');
  // A login's domain is what follows its first '@' (login-parts.ts); a realm with one could let a
  // login with two '@' pass the allow-list with a different domain at its end.
  const atRealm = options.allowedRealms.find((r) => r.includes('@'));
  if (atRealm !== undefined) throw new UsageError(`--allow-realm: '${atRealm}' is not a realm (it contains '@')`);
  if (options.cacheStaleOnOutageSec > 0 && !options.cache) throw new UsageError('--cache-stale-on-outage needs the cache (-c)');
  if (options.sharedState !== null && options.cacheKeyFile === null) {
    throw new UsageError('--shared-state needs --cache-key-file: password digests go to Redis only as HMACs under the fleet key');
  }
  if (o['version']) return { kind: 'version', options };
  return { kind: 'run', options, check: Boolean(o['check']), notices };
}

/** `--shared-state` and its companions; parsed here, not by commander, whose errors would echo a password. */
function sharedStateOf(o: Record<string, unknown>): DaemonOptions['sharedState'] {
  const raw = o['sharedState'] as string | undefined;
  const ca = (o['sharedStateCa'] as string | undefined) ?? null;
  if (raw === undefined) {
    if (ca !== null) throw new UsageError('--shared-state-ca needs --shared-state');
    return null;
  }
  const url = parseSharedStateUrl(raw);
  if (ca !== null && !url.tls) throw new UsageError(`--shared-state-ca needs a TLS URL (rediss://…), not ${url.shown}`);
  const prefix = o['sharedStatePrefix'] as string;
  if (!/^[A-Za-z0-9_.:-]{0,64}$/.test(prefix)) throw new UsageError(`--shared-state-prefix: '${prefix}' may hold only letters, digits and _ . : - (at most 64)`);
  return { url, timeoutMs: o['sharedStateTimeout'] as number, prefix, caFile: ca };
}

/**
 * `--link-option NAME.KEY=VALUE`: KEY must be in that backend's flag table (or `o`/`mech-option` for a
 * backend that reads -O); the value is parsed as the flag would parse it.
 */
function linkOptionValue(backend: string, key: string, value: string): [string, FlagValue] {
  const def = BACKENDS.find((b) => b.name === backendType(backend))!;
  if ((key === 'o' || key === 'mech-option') && def.mechOption !== undefined) return ['mech-option', value];
  const flag = def.flags.find((f) => f.key === key);
  if (flag === undefined) {
    const keys = [...(def.mechOption !== undefined ? ['o (mech-option)'] : []), ...def.flags.map((f) => f.key)];
    throw new UsageError(`--link-option: '${key}' is not an option of ${def.name} backends (${keys.length > 0 ? `valid: ${keys.join(', ')}` : `${def.name} has none`})`);
  }
  try {
    return [key, flag.value === undefined ? yesNo(value) : flag.parse !== undefined ? flag.parse(value) : value];
  } catch (e) {
    throw new UsageError(`--link-option ${backend}.${key}: ${(e as Error).message}`);
  }
}

type Policy = Pick<DaemonOptions, 'chain' | 'routes' | 'chainContinueOn' | 'backendOverrides' | 'cacheStaleOnOutageSec' | 'failDelayMs' | 'penaltyMaxMs' | 'trustedAddrs' | 'penaltyScope' | 'penaltyMaxHeld' | 'penaltyMaxTracked'>;

/** -a chains, routes, per-backend settings and the defence flags; every backend name is checked here. */
function parsePolicy(mech: string, o: Record<string, unknown>): Policy {
  const usage = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  };
  const chain = usage(() => parseChain(mech, '-a'));
  const routes = usage(() => (o['route'] as string[]).map(parseRoute));
  const names = new Set([...chain, ...routes.flatMap((r) => r.chain)]);
  for (const n of names) {
    const type = backendType(n);
    if (!isBackend(type)) throw new UsageError(`unknown authentication mechanism: ${type} (available: ${BACKEND_NAMES.join(', ')})`);
  }
  const chainContinueOn: Record<string, DaemonOptions['chainContinueOn'][string]> = {};
  for (const raw of o['chainContinueOn'] as string[]) {
    const [name, on] = usage(() => parseContinueOn(raw));
    if (name !== '*' && !names.has(name)) throw new UsageError(`--chain-continue-on: '${name}' is not a backend named in -a or --route`);
    chainContinueOn[name] = on;
  }
  const backendOverrides: Record<string, Record<string, FlagValue>> = {};
  for (const raw of o['linkOption'] as string[]) {
    const { backend, key, value } = usage(() => parseLinkOption(raw));
    if (!names.has(backend)) throw new UsageError(`--link-option: '${backend}' is not a backend named in -a or --route`);
    const [k, v] = linkOptionValue(backend, key, value);
    (backendOverrides[backend] ??= {})[k] = v;
  }
  return {
    chain,
    routes,
    chainContinueOn,
    backendOverrides,
    cacheStaleOnOutageSec: (o['cacheStaleOnOutage'] as number | undefined) ?? 0,
    failDelayMs: o['failDelay'] as number,
    penaltyMaxMs: o['penaltyMax'] as number,
    trustedAddrs: usage(() => (o['trustedAddr'] as string[]).map(parseTrustedAddr)),
    penaltyScope: o['penaltyScope'] as DaemonOptions['penaltyScope'],
    penaltyMaxHeld: o['penaltyMaxHeld'] as number,
    penaltyMaxTracked: o['penaltyMaxTracked'] as number,
  };
}
