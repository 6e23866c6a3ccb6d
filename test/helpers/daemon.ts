import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { canConnect } from '../../src/bench/daemons.js';
import { DAEMON_BIN } from './paths.js';

/** A daemon process under test (ours or the real saslauthd), with its socket and captured log. */
export interface RunningDaemon {
  readonly dir: string;
  readonly socket: string;
  readonly proc: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** SIGTERM, wait for exit (SIGKILL after 10 s); returns the exit code. Removes the temp dir. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StartOptions {
  /** Use this run directory instead of a fresh temp dir. */
  readonly dir?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Milliseconds to wait for the socket to accept connections (Default: 15000). */
  readonly readyTimeoutMs?: number;
}

async function waitReady(path: string, proc: ChildProcess, timeoutMs: number, out: () => string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (proc.exitCode !== null) throw new Error(`daemon exited with ${proc.exitCode} before listening:\n${out()}`);
    if (existsSync(path) && (await canConnect(path))) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`daemon did not listen on ${path} within ${timeoutMs} ms:\n${out()}`);
}

/** Daemons this test file started that have not exited yet. */
const live = new Set<ChildProcess>();

/**
 * Kills (with their process groups) the daemons a test file left running because an assertion
 * failed before its stop(); registered for every file in test/setup/leftovers.ts.
 */
export function killLeftovers(): void {
  for (const p of live) {
    try {
      process.kill(-p.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

/** Starts `cmd args…` with `-m <dir>` appended and waits until `<dir>/mux` accepts connections. */
export async function startProcess(cmd: string, args: readonly string[], opts: StartOptions = {}): Promise<RunningDaemon> {
  const dir = opts.dir ?? mkdtempSync('/tmp/sat-d-');
  const socket = join(dir, 'mux');
  let log = '';
  // Own process group: saslauthd in the foreground sends SIGTERM to its whole group on exit,
  // which would otherwise take the test runner with it.
  const proc = spawn(cmd, [...args, '-m', dir], { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env, detached: true });
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  proc.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code, sig) => resolve(code ?? (sig ? -1 : null))));
  try {
    await waitReady(socket, proc, opts.readyTimeoutMs ?? 15_000, () => log);
  } catch (e) {
    proc.kill('SIGKILL');
    throw e;
  }
  return {
    dir,
    socket,
    proc,
    output: () => log,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const killGroup = (): void => {
        try {
          process.kill(-proc.pid!, 'SIGKILL');
        } catch {
          // group already empty
        }
      };
      const timer = setTimeout(killGroup, 10_000);
      const code = await exited;
      clearTimeout(timer);
      // saslauthd's forked workers (and anything else left in the group) must not outlive the test.
      killGroup();
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}

/** Waits until the daemon's output contains `text` (log lines written after listen() returned). */
export async function waitForOutput(d: RunningDaemon, text: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!d.output().includes(text)) {
    if (Date.now() > until) throw new Error(`daemon output never contained ${JSON.stringify(text)}:\n${d.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Our daemon: `saslauthd-ts <args> -m <tmpdir>`. Adds `--fail-delay 0` unless `args` set a delay:
 * the 2 s default on every NO (and the penalty) is for production, and only tests about the delay
 * want it.
 */
export function startOurs(args: readonly string[], opts: StartOptions = {}): Promise<RunningDaemon> {
  const delay = args.includes('--fail-delay') ? [] : ['--fail-delay', '0'];
  return startProcess(process.execPath, [DAEMON_BIN, ...delay, ...args], opts);
}

/** The real Debian saslauthd in the foreground (-d), for differential tests. */
export function startReal(args: readonly string[], opts: StartOptions = {}): Promise<RunningDaemon> {
  return startProcess('/usr/sbin/saslauthd', [...args, '-d'], opts);
}

/** Debian's testsaslauthd against a socket. */
export { run } from './run.js';
