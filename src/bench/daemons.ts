import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchTarget } from './scenario.js';

export const REAL_SASLAUTHD = '/usr/sbin/saslauthd';
const OUR_BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'saslauthd-ts');

export function realSaslauthdInstalled(): boolean {
  return existsSync(REAL_SASLAUTHD);
}

/** True when something accepts connections: a UNIX socket path, or a TCP port on 127.0.0.1. */
export function canConnect(target: string | number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = typeof target === 'string' ? connect({ path: target }) : connect({ port: target, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Starts a daemon with `-m <tmpdir>` appended, in its own process group, and waits for its socket.
 * `onLog` sees every chunk of its stderr (its log), for scenarios that count log lines.
 */
export async function startDaemon(cmd: string, args: readonly string[], onLog?: (chunk: string) => void): Promise<BenchTarget> {
  const dir = mkdtempSync('/tmp/sat-bench-');
  const socket = join(dir, 'mux');
  // Own process group: saslauthd in the foreground SIGTERMs its whole group when it exits.
  const proc = spawn(cmd, [...args, '-m', dir], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => {
    onLog?.(d.toString());
    if (err.length < 4096) err += d.toString();
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const until = Date.now() + 20_000;
  while (!(existsSync(socket) && (await canConnect(socket)))) {
    if (proc.exitCode !== null || Date.now() > until) {
      proc.kill('SIGKILL');
      throw new Error(`${cmd} did not start: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    socket,
    pid: proc.pid,
    stop: async () => {
      const signalGroup = (sig: NodeJS.Signals): void => {
        try {
          process.kill(-proc.pid!, sig);
        } catch {
          // group already gone
        }
      };
      if (proc.exitCode === null) proc.kill('SIGTERM');
      const t = setTimeout(() => signalGroup('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
      // saslauthd's forked workers must not outlive the run.
      signalGroup('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** saslauthd-ts with these arguments, default logging (one line per request, to a pipe). */
export function startOurDaemon(args: readonly string[], onLog?: (chunk: string) => void): Promise<BenchTarget> {
  return startDaemon(process.execPath, [OUR_BIN, ...args], onLog);
}

export function startRealDaemon(args: readonly string[]): Promise<BenchTarget> {
  return startDaemon(REAL_SASLAUTHD, [...args, '-d']);
}

/** CPU time (user + system) of a process and its threads, in milliseconds, from /proc. */
export function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return NaN;
  }
}

/** Sums CPU over a process group member list (saslauthd forks -n workers). */
export function groupCpuMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  let total = 0;
  try {
    for (const e of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) {
      total += cpuMs(Number(e));
    }
  } catch {
    // no children file: single process
  }
  return total + cpuMs(pid);
}
