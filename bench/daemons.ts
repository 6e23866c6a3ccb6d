import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DAEMON_BIN } from '../test/fixtures/paths.js';
import { REAL_SASLAUTHD, canConnect, startProcess } from '../test/fixtures/daemon.js';
import type { BenchTarget } from './scenario.js';

// Daemons come from the test fixtures' launcher; the benchmark keeps only a bounded log tail.
const KEEP_LOG = 4096;
const READY_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;

/**
 * saslauthd-ts with these arguments and its production defaults (unlike the tests' startOurs, no
 * `--fail-delay 0`: the brute-force bench measures the delay). `onLog` sees its log.
 */
export function startOurDaemon(args: readonly string[], onLog?: (chunk: string) => void): Promise<BenchTarget> {
  return startProcess(process.execPath, [DAEMON_BIN, ...args], { keepOutput: KEEP_LOG, ...(onLog ? { onOutput: onLog } : {}) });
}

/** Any program that listens on `<dir>/mux` given `-m <dir>` (the floor servers), with extra environment. */
export function startNodeScript(script: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<BenchTarget> {
  return startProcess(process.execPath, [script, ...args], { keepOutput: KEEP_LOG, env: { ...process.env, ...env } });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The real saslauthd as admins run it: `saslauthd <args> -m <dir>` WITHOUT `-d`. It forks into the
 * background, writes `<dir>/saslauthd.pid` and serves from that process and its -n workers; the
 * measured figures are of that whole tree. With `-d` it would log every request to stderr, which
 * is not how it runs in production and costs it CPU.
 */
export async function startRealDaemon(args: readonly string[]): Promise<BenchTarget> {
  const dir = mkdtempSync('/tmp/sat-p1-real-');
  const socket = join(dir, 'mux');
  const pidFile = join(dir, 'saslauthd.pid');
  let out = '';
  const launcher = spawn(REAL_SASLAUTHD, [...args, '-m', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  launcher.stdout.on('data', (d: Buffer) => (out += d.toString().slice(0, KEEP_LOG)));
  launcher.stderr.on('data', (d: Buffer) => (out += d.toString().slice(0, KEEP_LOG)));
  const code = await new Promise<number | null>((resolve) => launcher.once('exit', (c) => resolve(c)));
  if (code !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${REAL_SASLAUTHD} ${args.join(' ')} exited with ${code} before daemonizing:\n${out}`);
  }
  const until = Date.now() + READY_TIMEOUT_MS;
  let pid: number | undefined;
  while (Date.now() < until) {
    if (pid === undefined && existsSync(pidFile)) {
      const n = Number(readFileSync(pidFile, 'utf8').trim());
      if (n > 0) pid = n;
    }
    if (pid !== undefined && (await canConnect(socket))) break;
    await sleep(25);
  }
  if (pid === undefined || !(await canConnect(socket))) {
    if (pid !== undefined) killTree(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${REAL_SASLAUTHD} did not write ${pidFile} and listen on ${socket} within ${READY_TIMEOUT_MS} ms`);
  }
  const root = pid;
  return {
    socket,
    pid: root,
    async stop() {
      // saslauthd's master takes its workers down on SIGTERM; anything left is killed. The pids are
      // taken first: once the master is gone its workers are no longer in its tree, but may still
      // be exiting (a loaded machine: the bench daemons test saw one).
      const pids = treePids(root);
      signalAll(pids, 'SIGTERM');
      const deadline = Date.now() + STOP_TIMEOUT_MS;
      while (pids.some(alive) && Date.now() < deadline) await sleep(20);
      signalAll(pids.filter(alive), 'SIGKILL');
      while (pids.some(alive) && Date.now() < deadline + STOP_TIMEOUT_MS) await sleep(20);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function killTree(root: number, signal: NodeJS.Signals): void {
  signalAll(treePids(root), signal);
}

/** Running (a zombie has exited). */
function alive(pid: number): boolean {
  const s = readStat(pid);
  return s !== null && !s.zombie;
}

function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const p of pids) {
    try {
      process.kill(p, signal);
    } catch {
      // already gone
    }
  }
}

interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  /** utime + stime + cutime + cstime, in clock ticks. */
  readonly ticks: number;
  readonly zombie: boolean;
}

function readStat(pid: number): ProcStat | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // f[0] is field 3 (state): utime..cstime are fields 14-17.
    const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    return { pid, ppid: Number(f[1]), ticks, zombie: f[0] === 'Z' || f[0] === 'X' };
  } catch {
    return null;
  }
}

/**
 * The live processes of the tree rooted at `root` (root first): saslauthd's master and its forked
 * workers, or our daemon and any helper it spawned. A zombie is gone (this container's init may
 * never reap a daemonized process).
 */
export function treePids(root: number): number[] {
  const all: ProcStat[] = [];
  for (const e of readdirSync('/proc')) {
    const n = Number(e);
    if (!Number.isInteger(n) || n <= 0) continue;
    const s = readStat(n);
    if (s && !s.zombie) all.push(s);
  }
  const children = new Map<number, number[]>();
  for (const s of all) {
    const list = children.get(s.ppid);
    if (list) list.push(s.pid);
    else children.set(s.ppid, [s.pid]);
  }
  if (!all.some((s) => s.pid === root)) return [];
  const out: number[] = [];
  const todo = [root];
  while (todo.length > 0) {
    const p = todo.pop()!;
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

/**
 * CPU time (user + system, threads and reaped children included) summed over the whole process
 * tree, in milliseconds. USER_HZ is 100 on Linux, so one reading is exact to 10 ms per process:
 * measure over thousands of requests.
 */
export function treeCpuMs(root: number | undefined): number {
  if (root === undefined) return NaN;
  let ticks = 0;
  for (const p of treePids(root)) ticks += readStat(p)?.ticks ?? 0;
  return (ticks * 1000) / 100;
}

/**
 * Peak resident memory of the tree in MiB: the sum of every process's VmHWM. Pages shared between
 * saslauthd's forked workers (libc, its mmap cache) count once per process, as `ps` would show them.
 */
export function treePeakRssMiB(root: number | undefined): number {
  if (root === undefined) return NaN;
  let kib = 0;
  for (const p of treePids(root)) {
    try {
      const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      kib += Number(m?.[1] ?? 0);
    } catch {
      // exited meanwhile
    }
  }
  return kib / 1024;
}
