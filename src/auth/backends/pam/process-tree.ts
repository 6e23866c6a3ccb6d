import { readFileSync, readdirSync } from 'node:fs';

/** Direct children of `pid` from /proc/<pid>/task/<tid>/children (empty if unavailable or gone). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ')) if (c !== '') out.push(Number(c));
    } catch {
      // The task ended while we looked.
    }
  }
  return out;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // ESRCH: already gone.
  }
}

/**
 * SIGKILLs a helper, its process group, and every process it started, even those that left the group:
 * pam_exec runs its script in a session of its own, so a hung script survives a group kill. The tree
 * is frozen with SIGSTOP first (a stopped process can't fork), re-read until it stops growing, then
 * killed. Processes already orphaned by a helper that crashed can't be found this way; they end on
 * their own.
 */
export function killProcessTree(root: number): void {
  const seen = new Set<number>([root]);
  signal(-root, 'SIGSTOP');
  let frontier = [root];
  for (let round = 0; round < 8 && frontier.length > 0; round++) {
    const next: number[] = [];
    for (const p of frontier) {
      for (const c of childrenOf(p)) {
        if (seen.has(c)) continue;
        seen.add(c);
        signal(c, 'SIGSTOP');
        next.push(c);
      }
    }
    frontier = next;
  }
  signal(-root, 'SIGKILL');
  for (const p of seen) {
    if (p === root) continue;
    // A descendant that made its own group (setsid) takes that group with it.
    signal(-p, 'SIGKILL');
    signal(p, 'SIGKILL');
  }
}
