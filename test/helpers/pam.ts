import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';

/** Test PAM service files: only /etc/pam.d/sat-pam-*, removed by removePamService. */
export function writePamService(name: string, body: string): void {
  if (!name.startsWith('sat-pam-')) throw new Error(`test PAM services must be named sat-pam-*: ${name}`);
  writeFileSync(`/etc/pam.d/${name}`, body);
}

export function removePamService(name: string): void {
  if (!name.startsWith('sat-pam-')) throw new Error(`refusing to remove ${name}`);
  rmSync(`/etc/pam.d/${name}`, { force: true });
}

/** Live processes (from /proc) whose parent is `ppid`, with their command line. */
export function childrenOf(ppid: number): Array<{ pid: number; cmd: string }> {
  const out: Array<{ pid: number; cmd: string }> = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      // Field 4 is the parent pid; the command name in field 2 may contain spaces, so cut after ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== ppid || fields[0] === 'Z') continue;
      out.push({ pid: Number(d), cmd: readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ').trim() });
    } catch {
      // The process went away while we looked.
    }
  }
  return out;
}

/** Live processes whose command line contains `marker`. */
export function processesMatching(marker: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ').includes(marker)) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

/** Polls until `cond` holds (or throws after timeoutMs): for process counts that settle asynchronously. */
export async function eventually(cond: () => boolean, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
