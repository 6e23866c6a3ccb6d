import { Command } from 'commander';
import { loadavg } from 'node:os';
import { hashCapacity } from './capacity.js';
import { treeCpuMs, treePeakRssMiB } from './daemons.js';
import { type LoadResult, runLoad } from '../test/fixtures/load.js';
import type { BenchTarget, Scenario } from './scenario.js';
import { allScenarios } from './scenarios/index.js';
import { runBruteForceBench } from './brute-force.js';

const WARMUP_SECONDS = 3;

/** One daemon's figures for one scenario and concurrency: medians over the repeats. */
interface Figures {
  rps: number;
  goodRps: number;
  p50Ms: number;
  p99Ms: number;
  cpuMsPerReq: number;
  peakRssMiB: number;
  /** Summed over the repeats. */
  wrong: number;
  errors: number;
}

interface Row {
  scenario: string;
  c: number;
  ours: Figures;
  real: Figures | null;
  /** Medians of the per-repeat ratios ours / saslauthd (each pair measured back to back). */
  rpsRatio: number;
  goodRatio: number;
  cpuRatio: number;
  capacity: number | null;
  /** Some probes expect NO: the right-password throughput ratio is worth its own column. */
  mixed: boolean;
  /** The row's floor, measured in the same repeats (Scenario.floor), or null. */
  floor: { figures: Figures; cpuGap: number } | null;
  /** The backend floor (Scenario.backendFloor): ours above it, and it above the floor, paired per repeat. */
  backendFloor: { figures: Figures; requestPath: number; backend: number } | null;
}

type Run = LoadResult & { cpuMsPerReq: number; peakRssMiB: number };

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '-');
const f3 = (n: number) => (Number.isFinite(n) ? n.toFixed(3) : '-');
const fx = (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)}x` : '-');
const load = () => loadavg().map((n) => n.toFixed(2)).join(' ');

function median(xs: readonly number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function summarize(runs: readonly Run[]): Figures {
  const med = (k: keyof Run) => median(runs.map((r) => r[k]));
  return {
    rps: med('rps'),
    goodRps: med('goodRps'),
    p50Ms: med('p50Ms'),
    p99Ms: med('p99Ms'),
    cpuMsPerReq: med('cpuMsPerReq'),
    peakRssMiB: med('peakRssMiB'),
    wrong: runs.reduce((n, r) => n + r.wrong, 0),
    errors: runs.reduce((n, r) => n + r.errors, 0),
  };
}

async function measure(t: BenchTarget, s: Scenario, probes: Parameters<typeof runLoad>[1], c: number): Promise<Run> {
  // Warm up for a few seconds at the same concurrency: a long-running daemon's code is compiled
  // and optimised, and the first thousands of requests through a fresh Node.js process are not.
  // The cold-start row skips this on purpose.
  // The warm-up is bounded by time alone, so a --scale run is as warm as a full one.
  if (s.warmup !== false) await runLoad(t.socket, probes, { concurrency: c, count: Number.MAX_SAFE_INTEGER, seconds: WARMUP_SECONDS, perClient: s.perClient });
  const cpu0 = treeCpuMs(t.pid);
  const r = await runLoad(t.socket, probes, { concurrency: c, count: s.count, seconds: s.seconds, perClient: s.perClient });
  // Per answered request: a connection the kernel refused (saslauthd's backlog at 64 clients) cost
  // the daemon nothing, and counting it would make a refusing daemon look cheap.
  const cpuMsPerReq = (treeCpuMs(t.pid) - cpu0) / Math.max(1, r.requests - r.errors);
  return { ...r, cpuMsPerReq, peakRssMiB: treePeakRssMiB(t.pid) };
}

async function once(start: () => Promise<BenchTarget | null>, s: Scenario, probes: Parameters<typeof runLoad>[1], c: number): Promise<Run | null> {
  const t = await start();
  if (!t) return null;
  try {
    return await measure(t, s, probes, c);
  } finally {
    await t.stop();
  }
}

function print(rows: Row[]): void {
  const head = [
    'scenario', 'c', 'ours req/s', 'saslauthd req/s', 'ratio', 'good-pw ratio', 'ours p50/p99 ms', 'saslauthd p50/p99 ms',
    'ours cpu ms/req', 'saslauthd cpu ms/req', 'cpu ratio', 'ours peak RSS MiB', 'saslauthd peak RSS MiB', '% of hash capacity', 'wrong/errors',
  ];
  const lines = rows.map((r) => [
    r.scenario,
    String(r.c),
    f1(r.ours.rps),
    r.real ? f1(r.real.rps) : 'n/a',
    r.real ? fx(r.rpsRatio) : 'n/a',
    r.real && r.mixed ? fx(r.goodRatio) : '',
    `${f2(r.ours.p50Ms)}/${f2(r.ours.p99Ms)}`,
    r.real ? `${f2(r.real.p50Ms)}/${f2(r.real.p99Ms)}` : 'n/a',
    f3(r.ours.cpuMsPerReq),
    r.real ? f3(r.real.cpuMsPerReq) : 'n/a',
    r.real ? fx(r.cpuRatio) : 'n/a',
    f1(r.ours.peakRssMiB),
    r.real ? f1(r.real.peakRssMiB) : 'n/a',
    r.capacity ? `${f1((100 * r.ours.rps) / r.capacity)}%` : '-',
    `${r.ours.wrong + (r.real?.wrong ?? 0)}/${r.ours.errors + (r.real?.errors ?? 0)}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  console.log(fmt(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const l of lines) console.log(fmt(l));
}

/**
 * A row's CPU above its bare-Node.js floor, per concurrency: what is left to find. The gap is the
 * median of each repeat's difference, the floor run just before ours.
 */
function printGap(rows: Row[]): void {
  for (const r of rows) {
    if (r.floor === null) continue;
    const f = r.floor.figures;
    const vsReal = r.real ? `; saslauthd ${f3(r.real.cpuMsPerReq)} ms (floor/saslauthd ${fx(f.cpuMsPerReq / r.real.cpuMsPerReq)})` : '';
    const p99 = `p99 ms ours ${f2(r.ours.p99Ms)}, floor ${f2(f.p99Ms)}${r.real ? `, saslauthd ${f2(r.real.p99Ms)}` : ''}`;
    console.log(`${r.scenario} above its floor at c=${r.c}: ${f3(r.floor.cpuGap)} ms CPU/req (ours ${f3(r.ours.cpuMsPerReq)}, floor ${f3(f.cpuMsPerReq)}${vsReal}); ${p99}`);
    const b = r.backendFloor;
    if (b !== null) {
      const bVsReal = r.real ? ` (backend floor/saslauthd ${fx(b.figures.cpuMsPerReq / r.real.cpuMsPerReq)})` : '';
      console.log(`  of which the backend above the floor ${f3(b.backend)}, the request path above the backend floor ${f3(b.requestPath)} ms CPU/req; backend floor ${f3(b.figures.cpuMsPerReq)}${bVsReal}, p99 ${f2(b.figures.p99Ms)} ms`);
    }
  }
}

async function main(): Promise<number> {
  const program = new Command('bench')
    .option('--only <names>', 'comma-separated substrings of scenario names to run')
    .option('--concurrency <list>', 'override the concurrency levels, e.g. 1,8')
    .option('--scale <x>', 'multiply request counts (e.g. 0.2 for a quick run)', '1')
    .option('--repeat <n>', 'measure each row n times, each daemon in turn, and print medians (Default: 3; 1 when --scale is below 1)')
    .option('--no-brute-force', 'skip the brute-force rows')
    .parse(process.argv.slice(2), { from: 'user' });
  const o = program.opts<{ only?: string; concurrency?: string; scale: string; repeat?: string; bruteForce: boolean }>();
  const scale = Number(o.scale);
  const repeat = o.repeat !== undefined ? Number(o.repeat) : scale < 1 ? 1 : 3;
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat must be a positive integer, not ${o.repeat}`);
  if (!(scale > 0)) throw new Error(`--scale must be a positive number, not ${o.scale}`);
  const only = o.only?.split(',');
  const scenarios = allScenarios().filter((s) => !only || only.some((n) => s.name.includes(n)));
  const startedAt = Date.now();
  const loadAtStart = load();
  console.log(`bench: node ${process.version}, repeat ${repeat} (medians), scale ${scale}, started ${new Date(startedAt).toISOString()}, load average ${loadAtStart}`);
  const rows: Row[] = [];
  let bad = 0;
  for (const s of scenarios) {
    const count = Math.max(10, Math.round(s.count * scale));
    const sc: Scenario = { ...s, count };
    console.error(`# ${s.name}: setting up`);
    const probes = await s.setup();
    try {
      const capacity = s.hashMethod ? await hashCapacity(s.hashMethod) : null;
      if (capacity) console.error(`# ${s.name}: raw crypt capacity on all cores ${capacity.toFixed(1)} hashes/s`);
      const levels = o.concurrency ? o.concurrency.split(',').map(Number) : s.concurrency;
      for (const c of levels) {
        const floor: Run[] = [];
        const backendFloor: Run[] = [];
        const ours: Run[] = [];
        const real: Run[] = [];
        for (let i = 0; i < repeat; i++) {
          // One daemon at a time, so neither steals the other's cores; all back to back in this run.
          const fl = s.floor ? await once(() => s.floor!.start(), sc, probes, c) : null;
          if (fl) {
            floor.push(fl);
            console.error(`# ${s.floor!.name} c=${c} #${i + 1}: ${f1(fl.rps)}/s ${f3(fl.cpuMsPerReq)} ms CPU/req`);
          }
          const bf = s.backendFloor ? await once(() => s.backendFloor!.start(), sc, probes, c) : null;
          if (bf) {
            backendFloor.push(bf);
            console.error(`# ${s.backendFloor!.name} c=${c} #${i + 1}: ${f1(bf.rps)}/s ${f3(bf.cpuMsPerReq)} ms CPU/req`);
          }
          const a = await once(() => s.startOurs(), sc, probes, c);
          ours.push(a!);
          const b = await once(() => s.startReal(), sc, probes, c);
          if (b) real.push(b);
          console.error(`# ${s.name} c=${c} #${i + 1}: ours ${f1(a!.rps)}/s ${f3(a!.cpuMsPerReq)} ms CPU/req${b ? `, saslauthd ${f1(b.rps)}/s ${f3(b.cpuMsPerReq)} ms CPU/req` : ''}`);
        }
        const pairs = real.map((b, i) => [ours[i]!, b] as const);
        const oursF = summarize(ours);
        bad += oursF.wrong + oursF.errors;
        const floorF = floor.length > 0 ? summarize(floor) : null;
        const backendF = backendFloor.length > 0 ? summarize(backendFloor) : null;
        bad += (floorF?.wrong ?? 0) + (floorF?.errors ?? 0) + (backendF?.wrong ?? 0) + (backendF?.errors ?? 0);
        const none = { rpsRatio: NaN, goodRatio: NaN, cpuRatio: NaN, capacity, mixed: false, floor: null, backendFloor: null };
        if (floorF !== null) rows.push({ scenario: s.floor!.name, c, ours: floorF, real: null, ...none });
        if (backendF !== null) rows.push({ scenario: s.backendFloor!.name, c, ours: backendF, real: null, ...none });
        rows.push({
          scenario: s.name,
          c,
          ours: oursF,
          real: real.length > 0 ? summarize(real) : null,
          rpsRatio: median(pairs.map(([a, b]) => a.rps / b.rps)),
          goodRatio: median(pairs.map(([a, b]) => a.goodRps / b.goodRps)),
          cpuRatio: median(pairs.map(([a, b]) => a.cpuMsPerReq / b.cpuMsPerReq)),
          capacity,
          mixed: probes.some((p) => p.expect === 'NO'),
          floor: floorF === null ? null : { figures: floorF, cpuGap: median(floor.map((f, i) => ours[i]!.cpuMsPerReq - f.cpuMsPerReq)) },
          backendFloor:
            backendF === null || floor.length !== backendFloor.length
              ? null
              : {
                  figures: backendF,
                  requestPath: median(backendFloor.map((b, i) => ours[i]!.cpuMsPerReq - b.cpuMsPerReq)),
                  backend: median(backendFloor.map((b, i) => b.cpuMsPerReq - floor[i]!.cpuMsPerReq)),
                },
        });
      }
    } finally {
      await s.teardown();
    }
  }
  if (rows.length > 0) {
    print(rows);
    printGap(rows);
  }
  if (o.bruteForce && (!only || only.some((n) => 'brute-force'.includes(n)))) await runBruteForceBench();
  const minutes = (Date.now() - startedAt) / 60_000;
  console.log(`\nload average at start ${loadAtStart}, at end ${load()}; took ${minutes.toFixed(1)} min`);
  if (bad > 0) console.log(`${bad} wrong answers or errors from saslauthd-ts: see above`);
  return bad > 0 ? 1 : 0;
}

process.exitCode = await main();
