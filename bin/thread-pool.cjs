'use strict';
// libuv reads UV_THREADPOOL_SIZE once, when its pool first runs, and Node's ES module loader runs it
// to read the first module file: from inside the daemon's (ESM) code it is too late, so the pool
// stayed at 4 threads whatever -n said. This runs first, in CommonJS, and sizes the pool from -n
// (or THREADS in --config-file), before any module is loaded.
const { readFileSync } = require('node:fs');

/** -n/--threads from the arguments and THREADS= from --config-file: the largest given (Default: 5; 0 means 1). */
function concurrencyOf(argv) {
  let n = null;
  const take = (v) => {
    const x = Number.parseInt(String(v).trim().replace(/^["']|["']$/g, ''), 10);
    if (Number.isInteger(x) && x >= 0) n = Math.max(n ?? 1, x, 1);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-n' || a === '--threads') take(argv[i + 1]);
    else if (a.startsWith('--threads=')) take(a.slice(10));
    else if (/^-n\d+$/.test(a)) take(a.slice(2));
    else if (a === '--config-file' || a.startsWith('--config-file=')) {
      const path = a === '--config-file' ? argv[i + 1] : a.slice(14);
      try {
        const m = readFileSync(path, 'utf8').match(/^\s*THREADS\s*=\s*(\S+)/m);
        if (m) take(m[1]);
      } catch {
        // The daemon reports an unreadable file itself, naming it.
      }
    }
  }
  return Math.min(n ?? 5, 1024);
}

/**
 * Threads for -n hashes, as many again for kerberos5's blocking calls (which get their own so they
 * cannot starve the hashes of a chain), and 4 for file and DNS work. Unused threads only sleep; the
 * crypt pool, not this number, caps how many hashes run at once.
 */
function threadPoolSize(argv) {
  return Math.min(1024, concurrencyOf(argv) * 2 + 4);
}

module.exports = { threadPoolSize };
