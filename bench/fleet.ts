import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sendRequest } from '../src/client/saslauthd-client.js';
import { isOkReply } from '../src/protocol/index.js';
import { startRedis } from '../test/fixtures/redis.js';
import { startOurDaemon } from './daemons.js';
import type { BenchTarget } from './scenario.js';

// Issue 16 item 6 (penalty side): the guess rate an attacker gets against one user by spreading
// over three hosts, with and without --shared-state, and what the shared state costs a real login.
// `npm run bench:fleet` (or node dist-bench/bench/fleet.js). Settings from the environment:
// FLEET_SECONDS (20), FLEET_BOTS per host (8), FLEET_FAIL_DELAY (200), FLEET_PENALTY_MAX (400),
// FLEET_REDIS_PORT (27690), FLEET_LOGINS (300).

const env = (k: string, d: number): number => (process.env[k] !== undefined ? Number(process.env[k]) : d);
const SECONDS = env('FLEET_SECONDS', 20);
const BOTS = env('FLEET_BOTS', 8);
const D = env('FLEET_FAIL_DELAY', 200);
const MAX = env('FLEET_PENALTY_MAX', 400);
const PORT = env('FLEET_REDIS_PORT', 27690);
const LOGINS = env('FLEET_LOGINS', 300);
const VICTIM = 'sat_f1_bench_victim';
const REAL = 'sat_f1_bench_real';
const PW = 'bench right pw';

const ask = (socket: string, login: string, password: string): Promise<string> => sendRequest(socket, { login, password, service: 'smtp', realm: '' }, { timeoutMs: 60_000 });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Three daemons; backend checks of `VICTIM` counted from their logs. */
async function hosts(args: readonly string[]): Promise<{ ds: BenchTarget[]; checks: () => number }> {
  let n = 0;
  const ds = await Promise.all(
    [0, 1, 2].map(() => {
      let buf = '';
      return startOurDaemon(args, (chunk) => {
        buf += chunk;
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        for (const l of lines) if (l.includes(`auth failure: [user=${VICTIM}]`) && l.includes('[reason=password mismatch]')) n++;
      });
    }),
  );
  return { ds, checks: () => n };
}

async function guessRate(args: readonly string[]): Promise<string> {
  const { ds, checks } = await hosts(args);
  try {
    await sleep(1500); // the shared state connects
    await ask(ds[0]!.socket, VICTIM, 'first wrong');
    const before = checks();
    let running = true;
    let k = 0;
    const t0 = performance.now();
    const all = Promise.all(
      ds.flatMap((d) =>
        Array.from({ length: BOTS }, async () => {
          while (running) await ask(d.socket, VICTIM, `bot ${k++}`).catch(() => sleep(5));
        }),
      ),
    );
    await sleep(SECONDS * 1000);
    const s = (performance.now() - t0) / 1000;
    const n = checks() - before;
    running = false;
    await all;
    return `${(n / s).toFixed(2)} backend checks/s (${n} in ${s.toFixed(0)} s)`;
  } finally {
    await Promise.all(ds.map((d) => d.stop()));
  }
}

async function loginLatency(args: readonly string[]): Promise<string> {
  const { ds } = await hosts(args);
  try {
    await sleep(1500);
    const ms: number[] = [];
    for (let i = 0; i < LOGINS; i++) {
      const t0 = performance.now();
      const r = await ask(ds[i % 3]!.socket, REAL, PW);
      ms.push(performance.now() - t0);
      if (!isOkReply(r)) throw new Error(`right password refused: ${r}`);
    }
    ms.sort((a, b) => a - b);
    const p = (q: number): string => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!.toFixed(1);
    return `p50 ${p(0.5)} ms, p99 ${p(0.99)} ms (${LOGINS} sequential, round-robin)`;
  } finally {
    await Promise.all(ds.map((d) => d.stop()));
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync('/tmp/sat_f1-bench-');
  const redis = await startRedis(PORT);
  try {
    const hash = execFileSync('mkpasswd', ['-m', 'yescrypt', '--stdin'], { input: PW, encoding: 'utf8' }).trim();
    writeFileSync(join(dir, 'passwd'), [VICTIM, REAL].map((u, i) => `${u}:x:${21100 + i}:${21100 + i}::/nonexistent:/usr/sbin/nologin\n`).join(''));
    writeFileSync(join(dir, 'shadow'), [VICTIM, REAL].map((u) => `${u}:${hash}:19000:0:99999:7:::\n`).join(''), { mode: 0o600 });
    writeFileSync(join(dir, 'fleet.key'), randomBytes(32), { mode: 0o600 });
    const base = ['-a', 'shadow', '--passwd-file', join(dir, 'passwd'), '--shadow-file', join(dir, 'shadow'), '--fail-delay', String(D), '--penalty-max', String(MAX)];
    const shared = [...base, '--shared-state', redis.url, '--cache-key-file', join(dir, 'fleet.key'), '--shared-state-prefix', 'bench:'];
    const rows: [string, string][] = [];
    const row = async (label: string, run: () => Promise<string>): Promise<void> => {
      console.error(`# fleet: ${label}`);
      rows.push([label, await run()]);
    };
    await row(`guess rate on one user, 3 hosts × ${BOTS} bots, local state only`, () => guessRate(base));
    await row(`guess rate on one user, 3 hosts × ${BOTS} bots, --shared-state`, () => guessRate(shared));
    await row('right-password login (shadow, yescrypt), 3 hosts, local state only', () => loginLatency(base));
    await row('right-password login (shadow, yescrypt), 3 hosts, --shared-state', () => loginLatency(shared));
    console.log(`\nfleet bench: --fail-delay ${D} --penalty-max ${MAX} (one host allows ${(1000 / MAX).toFixed(2)} checks/s per user once penalised), ${SECONDS} s per rate row\n`);
    console.log('| scenario | result |\n|---|---|');
    for (const [l, r] of rows) console.log(`| ${l} | ${r} |`);
  } finally {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
