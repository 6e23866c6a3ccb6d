import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { controlRequest } from '../client/control-client.js';
import type { ControlRequest, ControlTarget } from '../protocol/control.js';
import type { DaemonSnapshot } from '../stats/snapshot.js';
import type { SeriesSnapshot } from '../stats/request-stats.js';
import type { PenaltyEntry } from '../auth/penalty.js';
import type { ReloadResult } from './control-commands.js';
import { DEFAULT_RUN_DIR } from './daemon-options.js';
import { CONTROL_SOCKET } from './daemon.js';
import { UsageError } from '../errors.js';

/** Exit codes of `saslauthd-ts ctl`. */
export const CTL_EXIT = { ok: 0, refused: 1, usage: 64, unreachable: 69 } as const;

const USAGE = `usage: saslauthd-ts ctl [-m DIR] [--json] [--timeout MS] COMMAND
commands:
  status                        version, uptime, configuration, counts, latency, pools, cache, penalties
  penalty list                  users and client addresses the failure penalty holds
  penalty clear USER|ADDR       forget the failures of one user (folded like the penalty) or address
  penalty clear --user USER | --address ADDR | --all
  cache flush [USER]            empty the credential cache, or only USER's entries
  reload                        re-read the configuration (as SIGHUP); says whether it was taken
options:
  -m, --run-dir DIR             the daemon's run directory (default ${DEFAULT_RUN_DIR}); the socket is DIR/${CONTROL_SOCKET}
  --json                        print the daemon's answer as JSON (for scripts)
  --timeout MS                  give up after MS milliseconds (default 65000)
exit: 0 done, 1 the daemon refused (reload not taken, bad command), ${CTL_EXIT.usage} usage error, ${CTL_EXIT.unreachable} could not ask the daemon
`;

interface CtlArgs {
  readonly runDir: string;
  readonly json: boolean;
  readonly timeoutMs: number;
  readonly request: ControlRequest;
}

/** `ctl …` arguments: options anywhere, then the command words. */
export function parseCtlArgs(argv: readonly string[]): CtlArgs | 'help' {
  let runDir = DEFAULT_RUN_DIR;
  let json = false;
  let timeoutMs = 65_000;
  let target: ControlTarget | null = null;
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '-h' || a === '--help') return 'help';
    else if (a === '-m' || a === '--run-dir') runDir = resolve(value());
    else if (a.startsWith('--run-dir=')) runDir = resolve(a.slice(10));
    else if (a === '--json') json = true;
    else if (a === '--timeout') {
      const v = value();
      if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`--timeout: '${v}' is not a number of milliseconds`);
      timeoutMs = Number(v);
    } else if (a === '--all') target = { all: true };
    else if (a === '--user') target = { user: value() };
    else if (a === '--address') target = { address: value() };
    else if (a === '--') {
      words.push(...argv.slice(i + 1));
      break;
    } else if (a.startsWith('-') && a.length > 1) throw new UsageError(`unknown option ${a}`);
    else words.push(a);
  }
  const cmd = words.join(' ');
  const request = ((): ControlRequest => {
    if (cmd === 'status' || cmd === 'reload') return { cmd };
    if (cmd === 'penalty list') return { cmd: 'penalty.list' };
    if (words[0] === 'cache' && words[1] === 'flush' && words.length <= 3) return words[2] !== undefined ? { cmd: 'cache.flush', user: words[2] } : { cmd: 'cache.flush' };
    if (words[0] === 'penalty' && words[1] === 'clear') {
      const arg = words[2];
      if (words.length > 3 || (arg !== undefined && target !== null)) throw new UsageError('penalty clear takes one USER, ADDR, --user, --address or --all');
      // A bare argument that is an IP address (or an IPv6 /64 key as `penalty list` shows it) is an address.
      if (arg !== undefined) return { cmd: 'penalty.clear', target: isIP(arg) !== 0 || /^[0-9a-f:]+::\/64$/i.test(arg) ? { address: arg } : { user: arg } };
      if (target === null) throw new UsageError('penalty clear needs USER, ADDR, --user, --address or --all');
      return { cmd: 'penalty.clear', target };
    }
    throw new UsageError(cmd === '' ? 'no command' : `unknown command '${cmd}'`);
  })();
  if (target !== null && request.cmd !== 'penalty.clear') throw new UsageError('--all, --user and --address go with penalty clear');
  return { runDir, json, timeoutMs, request };
}

const ms = (v: number | null): string => (v === null ? '-' : v >= 100 ? v.toFixed(0) : v.toFixed(v >= 10 ? 1 : 2));

function duration(sec: number): string {
  const d = Math.floor(sec / 86400);
  const h = Math.floor((sec % 86400) / 3600);
  const m = Math.floor((sec % 3600) / 60);
  const s = sec % 60;
  return `${d > 0 ? `${d}d ` : ''}${h > 0 || d > 0 ? `${h}h ` : ''}${m}m ${s}s`;
}

const kib = (b: number): string => `${(b / 1024).toFixed(1)} KiB`;

function counts(s: SeriesSnapshot | null): string {
  if (s === null) return 'no requests yet';
  const parts = (['ok', 'rejected', 'unavailable', 'malformed', 'error'] as const).filter((k) => s.outcomes[k] > 0 || k === 'ok' || k === 'rejected').map((k) => `${k} ${s.outcomes[k]}`);
  return `${parts.join(', ')}; latency p50 ${ms(s.p50Ms)} ms, p90 ${ms(s.p90Ms)} ms, p99 ${ms(s.p99Ms)} ms`;
}

function penaltyLines(entries: readonly PenaltyEntry[]): string[] {
  return entries.map((p) => `  ${p.kind === 'user' ? 'user   ' : 'address'} ${JSON.stringify(p.key)}: ${p.failures} failure(s), delay ${p.delayMs} ms, forgotten in ${Math.ceil(p.expiresInMs / 1000)} s`);
}

/** `ctl status` for people. */
export function formatStatus(s: DaemonSnapshot & { readonly penalised: readonly PenaltyEntry[] }): string {
  const total = Object.values(s.requests.outcomes).reduce((a, b) => a + b, 0);
  const lines = [
    `saslauthd-ts ${s.version}, pid ${s.pid}, up ${duration(s.uptimeSec)} (since ${s.startedAt}), configuration taken ${s.configuredAt}`,
    `socket: ${s.socket}   chain: ${s.mech}`,
    '',
    `requests: ${total} answered, ${s.requests.inFlight} in progress`,
    `  ${counts(s.requests)} (last ${Math.min(s.requests.count, 1024)} timed)`,
    'backends:',
  ];
  for (const b of s.backends) {
    lines.push(`  ${b.name}: ${counts(b.stats)}`);
    for (const sv of b.servers) lines.push(`    server ${sv.server}: ${sv.up ? 'up' : `DOWN${sv.downForMs !== null ? ` for ${Math.round(sv.downForMs / 1000)} s` : ''}`}`);
  }
  lines.push(`pools: ${s.pools.map((p) => `${p.name} ${p.busy}/${p.size} busy, ${p.queued} queued`).join('; ')}`);
  lines.push(`connections: ${s.connections.open} open; ${s.connections.accepted} accepted, ${s.connections.refused} refused, ${s.connections.dropped} dropped at the cap`);
  const c = s.cache;
  lines.push(c === null ? 'cache: off' : `cache: ${c.entries} entries (${kib(c.bytes)} of ${kib(c.maxBytes)}), hit rate ${c.hitRate === null ? '-' : `${(c.hitRate * 100).toFixed(1)}%`} (${c.hits} hits, ${c.misses} misses), ${c.evictions} evicted, ${c.revoked} revoked`);
  const f = s.sharedState;
  if (f !== null) {
    lines.push(`shared state: ${f.url} ${f.up ? 'up' : 'DOWN (this host works on its local penalty counters and cache)'}` +
      (f.cache === null ? '' : `; fleet cache ${f.cache.hits} hits, ${f.cache.misses} misses, ${f.cache.fallbacks} decided locally`));
  }
  if (s.penalties === null) lines.push('penalty: off (--fail-delay 0)');
  else {
    lines.push(`penalised: ${s.penalties.users} user(s), ${s.penalties.addresses} address(es)`);
    lines.push(...penaltyLines(s.penalised));
    if (s.penalised.length < s.penalties.users + s.penalties.addresses) lines.push('  … (all: saslauthd-ts ctl penalty list)');
  }
  lines.push('', 'configuration:', ...s.config.map((l) => `  ${l}`));
  return `${lines.join('\n')}\n`;
}

function human(req: ControlRequest, result: unknown): { text: string; code: number } {
  switch (req.cmd) {
    case 'status':
      return { text: formatStatus(result as Parameters<typeof formatStatus>[0]), code: 0 };
    case 'penalty.list': {
      const r = result as { enabled: boolean; entries: PenaltyEntry[] };
      if (!r.enabled) return { text: 'the failure penalty is off (--fail-delay 0)\n', code: 0 };
      return { text: r.entries.length === 0 ? 'no penalised users or addresses\n' : `${penaltyLines(r.entries).join('\n')}\n`, code: 0 };
    }
    case 'penalty.clear': {
      const r = result as { enabled: boolean; cleared: number };
      return { text: r.enabled ? `cleared ${r.cleared} penalised key(s)\n` : 'the failure penalty is off (--fail-delay 0); nothing to clear\n', code: 0 };
    }
    case 'cache.flush': {
      const r = result as { enabled: boolean; flushed: number };
      return { text: r.enabled ? `credential cache: ${r.flushed} entries dropped\n` : 'the credential cache is off (-c); nothing to flush\n', code: 0 };
    }
    case 'reload': {
      const r = result as ReloadResult;
      if (!r.taken) return { text: `reload NOT taken; the running configuration stays: ${r.reason}\n`, code: CTL_EXIT.refused };
      const later = r.restartNeeded.length > 0 ? `; changed but only after a restart: ${r.restartNeeded.join(', ')}` : '';
      return { text: `reload taken (chain: ${r.mech})${later}\n`, code: 0 };
    }
  }
}

/** `saslauthd-ts ctl …`; returns the exit code. */
export async function ctlMain(argv: readonly string[]): Promise<number> {
  let args: CtlArgs | 'help';
  try {
    args = parseCtlArgs(argv);
  } catch (e) {
    process.stderr.write(`saslauthd-ts ctl: ${(e as Error).message}\n${USAGE}`);
    return CTL_EXIT.usage;
  }
  if (args === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const path = join(args.runDir, CONTROL_SOCKET);
  let reply;
  try {
    reply = await controlRequest(path, args.request, args.timeoutMs);
  } catch (e) {
    process.stderr.write(`saslauthd-ts ctl: ${(e as Error).message}\n`);
    return CTL_EXIT.unreachable;
  }
  if (!reply.ok) {
    if (args.json) process.stdout.write(`${JSON.stringify(reply)}\n`);
    process.stderr.write(`saslauthd-ts ctl: the daemon refused: ${reply.error}\n`);
    return CTL_EXIT.refused;
  }
  const out = human(args.request, reply.result);
  process.stdout.write(args.json ? `${JSON.stringify(reply.result, null, 2)}\n` : out.text);
  return out.code;
}
