import { readFileSync } from 'node:fs';
import { DAEMON_BIN } from '../test/fixtures/paths.js';
import { startProcess, startReal } from '../test/fixtures/daemon.js';
import type { BenchTarget } from './scenario.js';

// Daemons come from the test fixtures' launcher; the benchmark keeps only a bounded log tail.
const KEEP_LOG = 4096;

/**
 * saslauthd-ts with these arguments and its production defaults (unlike the tests' startOurs, no
 * `--fail-delay 0`: the brute-force bench measures the delay). `onLog` sees its log.
 */
export function startOurDaemon(args: readonly string[], onLog?: (chunk: string) => void): Promise<BenchTarget> {
  return startProcess(process.execPath, [DAEMON_BIN, ...args], { keepOutput: KEEP_LOG, ...(onLog ? { onOutput: onLog } : {}) });
}

export function startRealDaemon(args: readonly string[]): Promise<BenchTarget> {
  return startReal(args, { keepOutput: KEEP_LOG });
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
