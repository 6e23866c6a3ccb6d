import { readFileSync } from 'node:fs';

// Where a daemon's CPU per request goes, from a `perf record -g` of it under load (docs/performance.md):
//   perf script -i perf.data -F comm,tid,ip,sym > stacks.txt
//   node dist-bench/bench/perf-buckets.js stacks.txt 0.245      (the measured ms of CPU per request)
// Each sample goes to the first bucket below that any frame of its stack matches, so a bucket listed
// early takes its callees' samples (the log line's write syscall counts as the log line). The daemon
// must run with `node --perf-basic-prof` for JavaScript frames to have names.

const BUCKETS: readonly (readonly [string, readonly string[]])[] = [
  ['GC (V8 scavenger, marking)', ['Scavenge', 'ConcurrentMarking', 'MarkCompact', 'Heap::', 'GCTracer']],
  ['log line (format + write to stderr)', ['log/logger.js', 'sonic-boom', 'log/escape.js', 'bracketed']],
  ['shadow account check (2 stats)', ['shadow/shadow.js', 'watched-file.js', 'statSync']],
  ['HMAC digests (cache, penalty memory)', ['JS:*digest', 'createHmac', 'Hmac ']],
  ['penalty key (NFKC, case fold)', ['penalty-keys.js']],
  ['wrappers: policy, penalty, routing, cache, chain', ['auth/penalty.js', 'request-policy.js', 'routing.js', 'auth/cache.js', 'auth/chain.js', 'compose.js', 'password-memory.js']],
  ['handler: validate, deadline, abort signal', ['request-handler.js', 'validate.js', 'AbortSignal', 'abort_controller']],
  ['reply write (socket.end)', ['connection.js:143', 'Socket.end']],
  ['decode request', ['request-decoder.js']],
  ['accept: SO_PEERCRED, Connection object', ['dist/server/server.js', 'peercred', 'connection.js:24', 'Connection ']],
  ['Node socket set-up (onconnection)', ['onconnection']],
  ['Node socket read + close', ['onStreamRead', 'endReadableNT', '_destroy', 'afterShutdown', 'emitCloseNT', 'server/connection.js']],
  ['promise and microtask machinery', ['processTicksAndRejections', 'runMicrotasks', 'PromiseResolve']],
  ['event loop: epoll, timers', ['uv__io_poll', 'uv__run_timers', 'listOnTimeout', 'processTimers', 'epoll']],
];
const OTHER = 'other (scheduler, libc, unattributed)';

function bucketOf(frames: readonly string[]): string {
  for (const [name, marks] of BUCKETS) if (frames.some((f) => marks.some((m) => f.includes(m)))) return name;
  return OTHER;
}

const [file, msArg] = process.argv.slice(2);
if (file === undefined) {
  process.stderr.write('usage: perf-buckets STACKS.txt [MS_CPU_PER_REQUEST]\n');
  process.exit(2);
}
const perReqUs = Number(msArg ?? NaN) * 1000;
const counts = new Map<string, number>();
let total = 0;
let frames: string[] = [];
const flush = (): void => {
  if (frames.length === 0) return;
  const b = bucketOf(frames);
  counts.set(b, (counts.get(b) ?? 0) + 1);
  total++;
  frames = [];
};
// perf script: a header line per sample, then one indented line per frame, then a blank line.
for (const line of readFileSync(file, 'utf8').split('\n')) {
  if (line.trim() === '') flush();
  else if (line.startsWith('\t') || line.startsWith(' ')) frames.push(line.trim());
}
flush();
console.log(`${total} samples${Number.isFinite(perReqUs) ? `, ${perReqUs.toFixed(0)} µs CPU per request` : ''}`);
for (const [b, n] of [...counts].sort((x, y) => y[1] - x[1])) {
  const share = n / total;
  console.log(`${(100 * share).toFixed(1).padStart(5)} %  ${Number.isFinite(perReqUs) ? `${(perReqUs * share).toFixed(1).padStart(5)} µs  ` : ''}${b}`);
}
