import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sendRequest } from '../src/client/saslauthd-client.js';
import { isOkReply } from '../src/protocol/index.js';
import { startOurDaemon } from './daemons.js';
import type { BenchTarget } from './scenario.js';

// The brute-force defence under attack (issue 11 items 9, 12, 13c), with the daemon's defaults
// unless a row says otherwise: backend checks per second one bot gets against one user, with 1 and
// with 40 parallel connections; the real user's login latency while a bot hammers the name at c=8;
// another user's logins while 40 connections hammer one user under --max-connections 30.

const VICTIM = 'sat_bench_victim';
const OTHER = 'sat_bench_other';
const PW = 'bench right pw';

interface Files {
  readonly dir: string;
  readonly args: string[];
}

function userFiles(): Files {
  const dir = mkdtempSync('/tmp/sat-bench-bf-');
  const hash = execFileSync('mkpasswd', ['-m', 'yescrypt', '--stdin'], { input: PW, encoding: 'utf8' }).trim();
  const users = [VICTIM, OTHER];
  writeFileSync(join(dir, 'passwd'), users.map((u, i) => `${u}:x:${21000 + i}:${21000 + i}::/nonexistent:/usr/sbin/nologin\n`).join(''));
  writeFileSync(join(dir, 'shadow'), users.map((u) => `${u}:${hash}:19000:0:99999:7:::\n`).join(''), { mode: 0o600 });
  return { dir, args: ['-a', 'shadow', '--passwd-file', join(dir, 'passwd'), '--shadow-file', join(dir, 'shadow')] };
}

/** A daemon whose backend checks (lines with the shadow backend's mismatch reason) are counted per user. */
async function counted(args: readonly string[]): Promise<{ d: BenchTarget; checks: (user: string) => number }> {
  let buf = '';
  const n = new Map<string, number>();
  const d = await startOurDaemon(args, (chunk) => {
    buf += chunk;
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    for (const l of lines) {
      const m = /auth failure: \[user=([^\]]*)\].*\[reason=password mismatch\]/.exec(l);
      if (m) n.set(m[1]!, (n.get(m[1]!) ?? 0) + 1);
    }
  });
  return { d, checks: (u) => n.get(u) ?? 0 };
}

const ask = (socket: string, login: string, password: string): Promise<string> =>
  sendRequest(socket, { login, password, service: 'smtp', realm: '' }, { timeoutMs: 60_000 });

/** `n` closed-loop bots sending new wrong passwords for `user` until `stop()` is called. */
function bots(socket: string, user: string, n: number): { stop: () => Promise<number> } {
  let running = true;
  let k = 0;
  let replies = 0;
  const all = Promise.all(
    Array.from({ length: n }, async (_, i) => {
      while (running) {
        try {
          await ask(socket, user, `bot ${i} ${k++}`);
          replies++;
        } catch {
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    }),
  );
  return {
    stop: async () => {
      running = false;
      await all;
      return replies;
    },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function guessRate(f: Files, n: number, seconds: number): Promise<string> {
  const { d, checks } = await counted(f.args);
  try {
    await ask(d.socket, VICTIM, 'first wrong');
    const before = checks(VICTIM);
    const t0 = performance.now();
    const b = bots(d.socket, VICTIM, n);
    await sleep(seconds * 1000);
    await b.stop();
    const s = (performance.now() - t0) / 1000;
    return `${((checks(VICTIM) - before) / s).toFixed(3)} backend checks/s (${checks(VICTIM) - before} in ${s.toFixed(0)} s)`;
  } finally {
    await d.stop();
  }
}

/** The real user logs in once a second (sequentially) while `botCount` bots hammer the name. */
async function realUser(f: Files, extra: readonly string[], loggedInBefore: boolean, user: string, target: string, botCount: number, seconds: number, untilOk = false): Promise<string> {
  const { d } = await counted([...f.args, ...extra]);
  try {
    if (loggedInBefore && !isOkReply(await ask(d.socket, user, PW))) throw new Error(`${user}: right password refused before the attack`);
    const b = bots(d.socket, target, botCount);
    await sleep(3000);
    const ms: number[] = [];
    let ok = 0;
    const until = performance.now() + seconds * 1000;
    while (performance.now() < until) {
      const t0 = performance.now();
      const reply = await ask(d.socket, user, PW).catch((e: Error) => `error ${e.message}`);
      ms.push(performance.now() - t0);
      if (isOkReply(reply)) ok++;
      if (untilOk && ok > 0) break;
      await sleep(1000);
    }
    await b.stop();
    ms.sort((x, y) => x - y);
    return `${ok}/${ms.length} OK, p50 ${percentile(ms, 50).toFixed(0)} ms, p99 ${percentile(ms, 99).toFixed(0)} ms`;
  } finally {
    await d.stop();
  }
}

/** Runs the brute-force rows and prints them. */
export async function runBruteForceBench(log: (line: string) => void = console.log): Promise<void> {
  const f = userFiles();
  try {
    const rows: [string, string][] = [];
    const row = async (label: string, run: () => Promise<string>): Promise<void> => {
      console.error(`# brute-force: ${label}`);
      rows.push([label, await run()]);
    };
    await row('guess rate, 1 bot connection (defaults: --fail-delay 2000 --penalty-max 15000)', () => guessRate(f, 1, 40));
    await row('guess rate, 40 bot connections (same)', () => guessRate(f, 40, 40));
    await row('real user (password used before) while a bot hammers the name at c=8, default --penalty-scope both', () => realUser(f, [], true, VICTIM, VICTIM, 8, 20));
    await row('real user, first login with the right password during that attack (same)', () => realUser(f, [], false, VICTIM, VICTIM, 8, 35, true));
    await row('real user while a bot hammers the name at c=8, --penalty-scope address (no 5th field)', () => realUser(f, ['--penalty-scope', 'address'], false, VICTIM, VICTIM, 8, 20));
    await row('another user while 40 connections hammer one user, --max-connections 30', () => realUser(f, ['--max-connections', '30'], false, OTHER, VICTIM, 40, 15));
    log('');
    log('brute-force defence (-a shadow, yescrypt; issue 11 items 9, 12, 13c)');
    const w = Math.max(...rows.map((r) => r[0].length));
    for (const [k, v] of rows) log(`${k.padEnd(w)}  ${v}`);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
}
