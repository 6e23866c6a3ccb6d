import { readFileSync } from 'node:fs';
import { parseShadow } from '../src/auth/backends/shadow/shadow-parser.js';
import { Crypt } from '../src/native/crypt.js';
import { serveFloor } from './floor-common.js';

// The floor of a hashing backend in Node.js (issue 15): the bare node:net server of floor-server.ts
// with the daemon's own hashing under it, the addon's crypt(3) on the same bounded pool of libuv
// threads. No penalty, cache, account check, deadline or log line. What the `shadow $6$` row costs
// above this row is our request path; what this row's latency shows beside saslauthd's is the
// event loop and the thread pool themselves.
//   UV_THREADPOOL_SIZE=14 node crypt-floor-server.js USER SHADOW_FILE THREADS -m DIR

const [user, shadowFile, threads, flag, dir] = process.argv.slice(2);
if (user === undefined || shadowFile === undefined || threads === undefined || flag !== '-m' || dir === undefined) {
  process.stderr.write('usage: crypt-floor-server USER SHADOW_FILE THREADS -m DIR\n');
  process.exit(2);
}
const hash = parseShadow(readFileSync(shadowFile, 'utf8')).entries.get(user)?.hash;
if (hash === undefined) {
  process.stderr.write(`crypt-floor-server: ${user} not in ${shadowFile}\n`);
  process.exit(2);
}
const crypt = new Crypt(Number(threads));
const name = Buffer.from(user, 'latin1');

serveFloor(dir, (l, p, answer) => {
  if (!l.equals(name)) {
    answer(false);
    return;
  }
  crypt.verify(p, hash).then(answer, () => answer(false));
});
