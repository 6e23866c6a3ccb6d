import { openSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { benchUser, removeBenchUser } from './scenarios/shadow.js';

// A/B of the request path alone (docs/performance.md): RequestHandler.handle of two builds, in one
// process, cache hits back to back, no sockets. Rounds alternate between the builds so a busy
// machine slows both alike; CPU per call from process.cpuUsage. A build is a directory holding
// dist/ (as for ab.ts). Daemon flags after `--` (Default: -a shadow -c -n 5).
//   node dist-bench/bench/handler-ab.js /tmp/old-build . [-- --fail-delay 0]

const USER = 'sat_handler_ab';
const PASSWORD = 'handler ab pw';
const ROUNDS = 12;
const PER_ROUND = 20_000;

interface Handler {
  handle(raw: unknown, conn: unknown, abort: AbortController): Promise<string>;
}

async function load(root: string, flags: readonly string[]): Promise<{ handler: Handler; close: () => Promise<void> }> {
  const mod = async <T>(p: string): Promise<T> => (await import(pathToFileURL(join(root, 'dist', p)).href)) as T;
  const { buildAuthenticator } = await mod<typeof import('../src/auth/compose.js')>('auth/compose.js');
  const { parseDaemonArgs } = await mod<typeof import('../src/cli/daemon-args.js')>('cli/daemon-args.js');
  const { createLogger } = await mod<typeof import('../src/log/logger.js')>('log/logger.js');
  const { Crypt } = await mod<typeof import('../src/native/crypt.js')>('native/crypt.js');
  const { RequestHandler } = await mod<typeof import('../src/server/request-handler.js')>('server/request-handler.js');
  const { RequestStats } = await mod<typeof import('../src/stats/request-stats.js')>('stats/request-stats.js');
  const cmd = parseDaemonArgs(['-a', 'shadow', '-c', '-n', '5', ...flags]);
  if (cmd.kind !== 'run') throw new Error('flags do not make a daemon');
  const o = cmd.options;
  const log = createLogger({ level: o.logLevel, format: 'text', syslogSocket: null, destination: pino.destination({ fd: openSync('/dev/null', 'w'), sync: true }) });
  const stats = new RequestStats();
  const a = await buildAuthenticator(o, { crypt: new Crypt(5), log, stats });
  return { handler: new RequestHandler(a, { compatReplies: false, authTimeoutMs: 30_000 }, log, stats), close: () => a.close() };
}

const raw = (): unknown => ({ login: Buffer.from(USER), password: Buffer.from(PASSWORD), service: Buffer.from('imap'), realm: Buffer.from(''), clientAddr: null });
const conn = { id: 1, peer: { uid: 0, gid: 0, pid: 1 } };
const median = (xs: readonly number[]): number => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;

async function round(h: Handler, n: number): Promise<number> {
  const abort = new AbortController();
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await h.handle(raw(), conn, abort);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

const sep = process.argv.indexOf('--');
const [a, b] = process.argv.slice(2, sep < 0 ? undefined : sep);
if (a === undefined || b === undefined) throw new Error('usage: handler-ab BUILD_A BUILD_B [-- daemon flags]');
const flags = sep < 0 ? [] : process.argv.slice(sep + 1);
await benchUser(USER, PASSWORD, 'yescrypt');
const [A, B] = [await load(a, flags), await load(b, flags)];
try {
  for (const x of [A, B]) {
    if ((await x.handler.handle(raw(), conn, new AbortController())) !== 'OK') throw new Error('the first request was not OK');
    await round(x.handler, PER_ROUND);
  }
  const ra: number[] = [];
  const rb: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    ra.push(await round(A.handler, PER_ROUND));
    rb.push(await round(B.handler, PER_ROUND));
  }
  const lower = ra.filter((x, i) => rb[i]! < x).length;
  console.log(`A median ${median(ra).toFixed(2)} µs, B median ${median(rb).toFixed(2)} µs CPU per cache hit; B lower in ${lower} of ${ROUNDS} rounds`);
} finally {
  await A.close();
  await B.close();
  await removeBenchUser(USER);
}
