/**
 * `npm run fuzz [-- --seconds 60] [-- --runs N] [-- --seed S]`: runs every fuzz property for a share
 * of the time budget (or N cases each), prints cases run per target, exits 1 on the first
 * counterexample (printed with the seed and path that replay it).
 */
import fc from 'fast-check';
import { FUZZ_TARGETS } from '../test/fixtures/fuzz-properties.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const seconds = Number(arg('seconds') ?? 60);
const runs = arg('runs') !== undefined ? Number(arg('runs')) : Number.MAX_SAFE_INTEGER;
const seed = arg('seed') !== undefined ? Number(arg('seed')) : Date.now() ^ (Math.random() * 0x7fffffff);
const perTargetMs = (seconds * 1000) / FUZZ_TARGETS.length;

process.stdout.write(`fuzz: ${FUZZ_TARGETS.length} targets, ${seconds} s budget, seed ${seed}\n`);
let total = 0;
let failed = false;
for (const t of FUZZ_TARGETS) {
  const started = performance.now();
  const d = await fc.check(t.property, { numRuns: runs, interruptAfterTimeLimit: perTargetMs, markInterruptAsFailure: false, seed });
  const ms = performance.now() - started;
  total += d.numRuns;
  process.stdout.write(`${d.failed ? 'FAIL' : 'ok  '} ${String(d.numRuns).padStart(9)} cases ${(ms / 1000).toFixed(1).padStart(6)} s  ${t.name}\n`);
  if (d.failed) {
    failed = true;
    process.stdout.write(`     counterexample: ${fc.stringify(d.counterexample)}\n     error: ${String(d.errorInstance)}\n     replay: --seed ${d.seed} (path ${d.counterexamplePath})\n`);
  }
}
process.stdout.write(`fuzz: ${total} cases in all, ${failed ? 'FAILURES' : 'no failures'}\n`);
process.exitCode = failed ? 1 : 0;
