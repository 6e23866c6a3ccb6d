import { Command } from 'commander';
import { hashCapacity } from './capacity.js';
import { groupCpuMs } from './daemons.js';
import { type LoadResult, runLoad } from '../test/fixtures/load.js';
import type { BenchTarget, Scenario } from './scenario.js';
import { allScenarios } from './scenarios/index.js';
import { runBruteForceBench } from './brute-force.js';

const WARMUP_SECONDS = 3;

interface Row {
  scenario: string;
  c: number;
  ours: LoadResult & { cpuMsPerReq: number };
  real: (LoadResult & { cpuMsPerReq: number }) | null;
  capacity: number | null;
  /** Some probes expect NO: the right-password throughput ratio is worth its own column. */
  mixed: boolean;
}

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '-');
const f3 = (n: number) => (Number.isFinite(n) ? n.toFixed(3) : '-');

async function measure(t: BenchTarget, s: Scenario, probes: Parameters<typeof runLoad>[1], c: number) {
  // Warm up for a few seconds at the same concurrency: a long-running daemon's code is compiled
  // and optimised, and the first thousands of requests through a fresh Node.js process are not.
  await runLoad(t.socket, probes, { concurrency: c, count: s.count, seconds: WARMUP_SECONDS, perClient: s.perClient });
  const cpu0 = groupCpuMs(t.pid);
  const r = await runLoad(t.socket, probes, { concurrency: c, count: s.count, seconds: s.seconds, perClient: s.perClient });
  const cpuMsPerReq = (groupCpuMs(t.pid) - cpu0) / Math.max(1, r.requests);
  return { ...r, cpuMsPerReq };
}

function print(rows: Row[]): void {
  const head = ['scenario', 'c', 'ours req/s', 'saslauthd req/s', 'ratio', 'good-pw ratio', 'ours p50/p99 ms', 'saslauthd p50/p99 ms', 'ours cpu ms/req', 'saslauthd cpu ms/req', '% of hash capacity', 'wrong/errors'];
  const lines = rows.map((r) => [
    r.scenario,
    String(r.c),
    f1(r.ours.rps),
    r.real ? f1(r.real.rps) : 'n/a',
    r.real ? `${f2(r.ours.rps / r.real.rps)}x` : 'n/a',
    r.real && r.mixed ? `${f2(r.ours.goodRps / r.real.goodRps)}x` : '',
    `${f2(r.ours.p50Ms)}/${f2(r.ours.p99Ms)}`,
    r.real ? `${f2(r.real.p50Ms)}/${f2(r.real.p99Ms)}` : 'n/a',
    f3(r.ours.cpuMsPerReq),
    r.real ? f3(r.real.cpuMsPerReq) : 'n/a',
    r.capacity ? `${f1((100 * r.ours.rps) / r.capacity)}%` : '-',
    `${r.ours.wrong + (r.real?.wrong ?? 0)}/${r.ours.errors + (r.real?.errors ?? 0)}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log(fmt(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const l of lines) console.log(fmt(l));
}

async function main(): Promise<number> {
  const program = new Command('bench')
    .option('--only <names>', 'comma-separated substrings of scenario names to run')
    .option('--concurrency <list>', 'override the concurrency levels, e.g. 1,8')
    .option('--scale <x>', 'multiply request counts (e.g. 0.2 for a quick run)', '1')
    .parse(process.argv.slice(2), { from: 'user' });
  const o = program.opts<{ only?: string; concurrency?: string; scale: string }>();
  const only = o.only?.split(',');
  const scenarios = allScenarios().filter((s) => !only || only.some((n) => s.name.includes(n)));
  const rows: Row[] = [];
  let bad = 0;
  for (const s of scenarios) {
    const count = Math.max(10, Math.round(s.count * Number(o.scale)));
    const sc: Scenario = { ...s, count };
    console.error(`# ${s.name}: setting up`);
    const probes = await s.setup();
    try {
      const capacity = s.hashMethod ? await hashCapacity(s.hashMethod) : null;
      if (capacity) console.error(`# ${s.name}: raw crypt capacity on all cores ${capacity.toFixed(1)} hashes/s`);
      const levels = o.concurrency ? o.concurrency.split(',').map(Number) : s.concurrency;
      for (const c of levels) {
        // One daemon at a time, so neither steals the other's cores; both in this same run.
        const ours = await s.startOurs();
        let oursR;
        try {
          oursR = await measure(ours, sc, probes, c);
        } finally {
          await ours.stop();
        }
        const real = await s.startReal();
        let realR = null;
        if (real) {
          try {
            realR = await measure(real, sc, probes, c);
          } finally {
            await real.stop();
          }
        }
        bad += oursR.wrong + oursR.errors;
        rows.push({ scenario: s.name, c, ours: oursR, real: realR, capacity, mixed: probes.some((p) => p.expect === 'NO') });
        console.error(`# ${s.name} c=${c}: ours ${f1(oursR.rps)}/s${realR ? `, saslauthd ${f1(realR.rps)}/s` : ''}`);
      }
    } finally {
      await s.teardown();
    }
  }
  if (rows.length > 0) print(rows);
  if (!only || only.some((n) => 'brute-force'.includes(n))) await runBruteForceBench();
  if (bad > 0) console.log(`\n${bad} wrong answers or errors from saslauthd-ts: see above`);
  return bad > 0 ? 1 : 0;
}

process.exitCode = await main();
