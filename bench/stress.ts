/**
 * `npm run stress [-- --hash sha512|yescrypt --slowloris 5000 --count 3000 --timing 300]`: starts saslauthd-ts (-a shadow
 * on a throwaway passwd/shadow pair under /tmp), attacks it with hostile crowds while a well-behaved
 * client measures its latency, runs 64-client load, and measures the time the backend takes for
 * unknown users, wrong passwords and locked accounts. Prints one table (Markdown) of figures.
 * Bounded by counts; must run as root (it raises RLIMIT_NOFILE with prlimit and reads /proc).
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sendRequest, type ClientRequest } from '../src/client/saslauthd-client.js';
import { Crypt, gensalt } from '../src/native/crypt.js';
import { isOkReply } from '../src/protocol/index.js';
import { type Crowd, halfOpen, idle, oversized, procStats, slowloris, waitForFds } from '../test/fixtures/hostile.js';
import { type LoadResult, runLoad } from '../test/fixtures/load.js';
import { DAEMON_BIN } from '../test/fixtures/paths.js';
import { type RunningDaemon, startProcess } from '../test/fixtures/daemon.js';
import { writeUserFiles } from '../test/fixtures/user-files.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const SLOWLORIS = arg('slowloris', 5000);
const IDLE_OVER = arg('idle-over', 500);
const HALF_OPEN = arg('half-open', 2000);
const OVERSIZED = arg('oversized', 2000);
const LOAD_COUNT = arg('count', 3000);
const CONCURRENCY = arg('concurrency', 64);
const GOOD_SAMPLES = arg('good', 200);
const TIMING = arg('timing', 300);
const MAX_CONN = arg('max-connections', 1024);
/** RLIMIT_NOFILE for this process and the daemon: 65536, or the hard limit when that is lower. */
/** crypt(3) prefix for the fixture's hashes: `$6$` (sha512crypt, cheap: measures the daemon) or `$y$` (yescrypt, Debian's default: measures the hash). */
const HASH = (() => {
  const i = process.argv.indexOf('--hash');
  const v = i >= 0 ? process.argv[i + 1] : 'sha512';
  if (v === 'sha512') return '$6$';
  if (v === 'yescrypt') return '$y$';
  throw new Error(`--hash: '${v}' is not sha512 or yescrypt`);
})();
/** Which parts to run (Default: attack,load,timing). */
const PHASES = new Set((() => {
  const i = process.argv.indexOf('--phases');
  return i >= 0 ? (process.argv[i + 1] ?? '') : 'attack,load,timing';
})().split(','));
const NOFILE = (() => {
  const m = readFileSync('/proc/self/limits', 'utf8').match(/^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m);
  const hard = m && m[2] !== 'unlimited' ? Number(m[2]) : Infinity;
  return Math.min(65536, hard);
})();

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function pct(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
const median = (xs: number[]): number => pct([...xs].sort((a, b) => a - b), 50);

const GOOD = { login: 'sat_stress_good', password: 'Stress good 1', service: 'smtp', realm: '' };
const LOCKED = { login: 'sat_stress_locked', password: 'Stress locked 2', service: 'smtp', realm: '' };

async function fixture(): Promise<{ dir: string; passwd: string; shadow: string }> {
  const crypt = new Crypt(2);
  const hashOf = async (pw: string): Promise<string> => {
    const h = await crypt.hash(Buffer.from(pw), gensalt(HASH) ?? '');
    if (!h) throw new Error(`cannot hash with ${HASH}`);
    return h;
  };
  const dir = mkdtempSync('/tmp/sat_rel_stress-');
  const users = [{ name: GOOD.login, hash: await hashOf(GOOD.password) }, { name: LOCKED.login, hash: `!${await hashOf(LOCKED.password)}` }];
  for (let i = 0; i < 20; i++) users.push({ name: `sat_stress_u${i}`, hash: await hashOf(`other ${i}`) });
  const { passwd, shadow } = writeUserFiles(dir, users);
  return { dir, passwd, shadow };
}

/** Node has no setrlimit; prlimit(1) raises the soft limit of a running process (up to the hard one). */
function raiseNofile(pid: number): void {
  execFileSync('prlimit', ['--pid', String(pid), `--nofile=${NOFILE}:${NOFILE}`]);
  process.stderr.write(`RLIMIT_NOFILE of stress client and daemon: ${NOFILE}\n`);
}

/** prlimit execs the daemon in place, so the launcher's pid is the daemon's. */
function startDaemon(fx: { dir: string; passwd: string; shadow: string }): Promise<RunningDaemon> {
  return startProcess('prlimit', [`--nofile=${NOFILE}:${NOFILE}`, process.execPath, DAEMON_BIN,
    '-a', 'shadow', '--passwd-file', fx.passwd, '--shadow-file', fx.shadow, '--max-connections', String(MAX_CONN),
    '--log-level', 'fatal'], { dir: join(fx.dir, 'run'), keepOutput: 4096, onOutput: (c) => process.stderr.write(c) });
}

/** The well-behaved client: sequential requests, latency of each. */
async function goodClient(socket: string, n: number): Promise<{ p50: number; p99: number; wrong: number; errors: number }> {
  const lat: number[] = [];
  let wrong = 0;
  let errors = 0;
  for (let i = 0; i < n; i++) {
    const req = i % 2 === 0 ? GOOD : { ...GOOD, password: 'wrong' };
    const t0 = performance.now();
    try {
      const text = await sendRequest(socket, req, { timeoutMs: 60_000 });
      lat.push(performance.now() - t0);
      if (isOkReply(text) !== (i % 2 === 0)) wrong++;
    } catch {
      errors++;
    }
  }
  lat.sort((a, b) => a - b);
  return { p50: pct(lat, 50), p99: pct(lat, 99), wrong, errors };
}

const rows: string[][] = [];
const row = (...cells: Array<string | number>): void => {
  rows.push(cells.map((c) => (typeof c === 'number' ? (Number.isInteger(c) ? String(c) : c.toFixed(2)) : c)));
  process.stderr.write(`${cells.join(' | ')}\n`);
};

async function underAttack(name: string, d: { proc: ChildProcess; socket: string }, baseline: number, make: () => Promise<Crowd>, settleMs: number): Promise<void> {
  const pid = d.proc.pid!;
  const rss0 = procStats(pid).rssKiB;
  const crowd = await make();
  await sleep(settleMs);
  const held = procStats(pid).fds - baseline;
  const g = await goodClient(d.socket, GOOD_SAMPLES);
  const rss1 = procStats(pid).rssKiB;
  await crowd.stop();
  const back = await waitForFds(pid, baseline, 30_000);
  row(name, crowd.opened(), held, crowd.closedByServer(), g.p50, g.p99, `${g.wrong}/${g.errors}`, `${rss0} → ${rss1}`, back <= baseline ? 'yes' : `no (${back})`);
}

type Daemon = Awaited<ReturnType<typeof startDaemon>>;

async function attackPhase(d: Daemon, baseline: number): Promise<void> {
  const pid = d.proc.pid!;
  const quiet = await goodClient(d.socket, GOOD_SAMPLES);
  row('no attack', 0, 0, 0, quiet.p50, quiet.p99, `${quiet.wrong}/${quiet.errors}`, `${procStats(pid).rssKiB}`, 'yes');
  await underAttack(`slowloris ×${SLOWLORIS} (1 byte/200 ms)`, d, baseline, () => slowloris(d.socket, SLOWLORIS, 200), 1000);
  await underAttack(`idle ×${MAX_CONN + IDLE_OVER} (cap ${MAX_CONN})`, d, baseline, () => idle(d.socket, MAX_CONN + IDLE_OVER), 500);
  await underAttack(`half-open ×${HALF_OPEN} (never read)`, d, baseline, () => halfOpen(d.socket, HALF_OPEN), 500);
  await underAttack(`oversized ×${OVERSIZED} (64 KiB)`, d, baseline, () => oversized(d.socket, OVERSIZED), 500);
  printTable(['phase', 'hostile conns opened', 'held by daemon (fds)', 'closed by daemon', 'good p50 ms', 'good p99 ms', 'good wrong/errors', 'daemon RSS KiB', 'fds back to baseline']);
}

async function loadPhase(d: Daemon, baseline: number): Promise<void> {
  const pid = d.proc.pid!;
  const probes = [
    { request: GOOD, expect: 'OK' as const },
    { request: { ...GOOD, password: 'wrong' }, expect: 'NO' as const },
    { request: LOCKED, expect: 'NO' as const },
    { request: { ...GOOD, login: 'sat_stress_nobody' }, expect: 'NO' as const },
  ];
  // Four equal slices, RSS after each: growth that levels off is warm-up, growth that keeps on is a leak.
  const s0 = procStats(pid);
  const rss: number[] = [s0.rssKiB];
  const parts: LoadResult[] = [];
  for (let i = 0; i < 4; i++) {
    parts.push(await runLoad(d.socket, probes, { concurrency: CONCURRENCY, count: Math.ceil(LOAD_COUNT / 4), seconds: 3600 }));
    rss.push(procStats(pid).rssKiB);
  }
  const fdsBack = await waitForFds(pid, baseline, 30_000);
  const sum = (f: (r: LoadResult) => number): number => parts.reduce((a, r) => a + f(r), 0);
  const requests = sum((r) => r.requests);
  const rps = requests / sum((r) => r.requests / r.rps);
  row(`${CONCURRENCY} clients × ${requests} requests`, requests, rps, Math.max(...parts.map((r) => r.p50Ms)), Math.max(...parts.map((r) => r.p99Ms)),
    sum((r) => r.wrong), sum((r) => r.errors), rss.join(' → '), `${s0.fds} → ${fdsBack}`);
  printTable(['load', 'requests', 'req/s', 'worst slice p50 ms', 'worst slice p99 ms', 'wrong', 'errors', 'daemon RSS KiB: start → after each quarter', 'daemon fds start → after']);
}

/** One client; the classes in a fresh random order each round, so drift and position affect all alike. */
async function timingPhase(d: Daemon): Promise<void> {
  const classes: Array<[string, ClientRequest]> = [
    ['known user, right password', GOOD],
    ['known user, wrong password', { ...GOOD, password: 'wrong password' }],
    ['unknown user', { ...GOOD, login: 'sat_stress_nobody' }],
    ['locked user (!)', LOCKED],
  ];
  const samples = new Map<string, number[]>(classes.map(([n]) => [n, []]));
  for (let i = 0; i < TIMING; i++) {
    const round = [...classes].sort(() => Math.random() - 0.5);
    for (const [n, req] of round) {
      const t0 = performance.now();
      await sendRequest(d.socket, req, { timeoutMs: 60_000 });
      samples.get(n)!.push(performance.now() - t0);
    }
  }
  const ref = median(samples.get('known user, wrong password')!);
  for (const [n] of classes) {
    const m = median(samples.get(n)!);
    row(n, TIMING, m, `${(((m - ref) / ref) * 100).toFixed(1)} %`);
  }
  printTable([`timing (${HASH === '$y$' ? 'yescrypt' : 'sha512crypt'})`, 'samples', 'median ms', 'vs wrong password']);
}

async function main(): Promise<void> {
  raiseNofile(process.pid);
  const fx = await fixture();
  const d = await startDaemon(fx);
  try {
    await goodClient(d.socket, 20); // warm-up
    await sleep(200);
    const baseline = procStats(d.proc.pid!).fds;
    if (PHASES.has('attack')) await attackPhase(d, baseline);
    if (PHASES.has('load')) await loadPhase(d, baseline);
    if (PHASES.has('timing')) await timingPhase(d);
  } finally {
    await d.stop();
    rmSync(fx.dir, { recursive: true, force: true });
  }
}

function printTable(header: string[]): void {
  process.stdout.write(`\n| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|\n`);
  for (const r of rows) process.stdout.write(`| ${r.join(' | ')} |\n`);
  rows.length = 0;
}

await main();
