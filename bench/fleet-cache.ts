import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOurDaemon, treeCpuMs } from './daemons.js';
import { benchUser, removeBenchUser } from './scenarios/shadow.js';
import { type Probe, runLoad } from '../test/fixtures/load.js';
import { startRedis } from '../test/fixtures/redis.js';
import type { BenchTarget } from './scenario.js';

// issue 16 item 6: what the fleet costs per request. The same daemon, the same user and load, once
// with local state only and once with --shared-state on a local redis-server (loopback: the cost of
// the round trip and of Redis itself, not of a network). Rows: cache hits (-c, one right password
// over and over; with --fail-delay 0 for the cache's own cost, and with the default penalty, whose
// fleet calls every request also makes) and shadow without -c (every request a yescrypt check). `node dist-bench/bench/fleet-cache.js [seconds] [c]`.

const REDIS_PORT = 27750;
const USER = 'sat_f2_bench';
const PASSWORD = 'fleet bench pw';
const WARMUP_SECONDS = 2;

interface Measured {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  daemonCpuMsPerReq: number;
  redisCpuMsPerReq: number;
  wrong: number;
  errors: number;
}

async function measure(t: BenchTarget, probes: readonly Probe[], c: number, seconds: number, redisPid: number | null): Promise<Measured> {
  await runLoad(t.socket, probes, { concurrency: c, count: 1e9, seconds: WARMUP_SECONDS });
  const cpu0 = treeCpuMs(t.pid);
  const rcpu0 = redisPid === null ? 0 : treeCpuMs(redisPid);
  const r = await runLoad(t.socket, probes, { concurrency: c, count: 1e9, seconds });
  const n = Math.max(1, r.requests);
  return {
    rps: r.rps,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    daemonCpuMsPerReq: (treeCpuMs(t.pid) - cpu0) / n,
    redisCpuMsPerReq: redisPid === null ? 0 : (treeCpuMs(redisPid) - rcpu0) / n,
    wrong: r.wrong,
    errors: r.errors,
  };
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 8);
  const c = Number(process.argv[3] ?? 8);
  const dir = mkdtempSync(join(tmpdir(), 'sat_f2-bench-'));
  const keyFile = join(dir, 'fleet.key');
  writeFileSync(keyFile, randomBytes(48).toString('base64'));
  chmodSync(keyFile, 0o600);
  const redis = await startRedis(REDIS_PORT);
  const spy = redis.client();
  const redisPid = Number(/process_id:(\d+)/.exec(await spy.info('server'))?.[1]);
  await benchUser(USER, PASSWORD, 'yescrypt');
  const probes: Probe[] = [{ request: { login: USER, password: PASSWORD, service: 'imap', realm: '' }, expect: 'OK' }];
  const shared = ['--shared-state', redis.url, '--cache-key-file', keyFile];
  const noPenalty = ['--fail-delay', '0'];
  const rows: [string, string[]][] = [
    // The cache's own cost: the penalty (and its fleet calls) off.
    ['cache hit, local, --fail-delay 0', ['-a', 'shadow', '-c', '-n', '5', ...noPenalty]],
    ['cache hit, shared, --fail-delay 0', ['-a', 'shadow', '-c', '-n', '5', ...noPenalty, ...shared]],
    ['cache hit, local', ['-a', 'shadow', '-c', '-n', '5']],
    ['cache hit, shared', ['-a', 'shadow', '-c', '-n', '5', ...shared]],
    ['shadow $y$, local', ['-a', 'shadow', '-n', '5']],
    ['shadow $y$, shared', ['-a', 'shadow', '-n', '5', ...shared]],
  ];
  const out: string[] = [];
  out.push(`fleet cost, concurrency ${c}, ${seconds} s per row, redis-server ${REDIS_PORT} on loopback`);
  out.push('| row | req/s | p50 / p99 ms | daemon cpu ms/req | redis cpu ms/req | shared=hit/down | wrong/errors |');
  out.push('|---|---:|---:|---:|---:|---:|---:|');
  try {
    for (const [name, args] of rows) {
      // How many answers the fleet gave and how many fell back (a call past the deadline on a loaded box).
      const seen = { hit: 0, down: 0 };
      const d = await startOurDaemon(args, (chunk) => {
        seen.hit += chunk.split('shared=hit').length - 1;
        seen.down += chunk.split('shared=down').length - 1;
      });
      try {
        const m = await measure(d, probes, c, seconds, args.includes('--shared-state') ? redisPid : null);
        const fleet = args.includes('--shared-state') ? `${m.redisCpuMsPerReq.toFixed(3)} | ${seen.hit}/${seen.down}` : '- | -';
        const line = `| ${name} | ${m.rps.toFixed(0)} | ${m.p50Ms.toFixed(2)} / ${m.p99Ms.toFixed(2)} | ${m.daemonCpuMsPerReq.toFixed(3)} | ${fleet} | ${m.wrong}/${m.errors} |`;
        out.push(line);
        console.error(line);
      } finally {
        await d.stop();
      }
    }
  } finally {
    await removeBenchUser(USER);
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(out.join('\n'));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
