import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** __SO_ACCEPTCON in /proc/net/unix's Flags column: the socket is listening. */
const SO_ACCEPTCON = 0x10000;

/** Inodes of listening UNIX sockets bound to `path`, from /proc/net/unix. */
function listeningInodes(path: string): Set<string> {
  const found = new Set<string>();
  for (const line of readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    if (f.slice(7).join(' ') === path && (parseInt(f[3] ?? '0', 16) & SO_ACCEPTCON) !== 0) found.add(f[6]!);
  }
  return found;
}

/** Processes holding one of those sockets and running saslauthd-ts (never the C saslauthd: SIGUSR1 would kill it). */
export function findDaemonPids(runDir: string): number[] {
  const inodes = listeningInodes(join(resolve(runDir), 'mux'));
  if (inodes.size === 0) return [];
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue; // gone, or not ours to read
    }
    const holds = fds.some((fd) => {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${entry}/fd/${fd}`));
        return m !== null && inodes.has(m[1]!);
      } catch {
        return false;
      }
    });
    if (!holds) continue;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.split('\0').some((arg) => /saslauthd-ts(\.js)?$|dist\/cli\/saslauthd\.js$/.test(arg))) pids.push(Number(entry));
  }
  return pids;
}

/** `saslauthd-ts --flush-cache -m DIR`: SIGUSR1 to the daemon listening on DIR/mux. Returns the exit code. */
export function sendFlushSignal(runDir: string): number {
  const sock = join(resolve(runDir), 'mux');
  let pids: number[];
  try {
    pids = findDaemonPids(runDir);
  } catch (e) {
    process.stderr.write(`saslauthd-ts: cannot look for the daemon on ${sock}: ${(e as Error).message}\n`);
    return 1;
  }
  if (pids.length === 0) {
    const hint = process.getuid?.() === 0 ? '' : ' (or it runs as another user: try as root)';
    process.stderr.write(`saslauthd-ts: no saslauthd-ts is listening on ${sock}${hint}\n`);
    return 1;
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGUSR1');
    } catch (e) {
      process.stderr.write(`saslauthd-ts: cannot signal pid ${pid}: ${(e as Error).message}\n`);
      return 1;
    }
    process.stdout.write(`sent SIGUSR1 (flush credential cache) to saslauthd-ts pid ${pid}\n`);
  }
  return 0;
}
