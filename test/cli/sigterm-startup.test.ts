import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAEMON_BIN } from '../fixtures/paths.js';
import { userFiles } from '../fixtures/user-files.js';

// A SIGTERM that arrives while the daemon is still making its sockets and pid file (a supervisor
// stopping a unit that just started) must shut it down cleanly: exit 0, files removed. The handlers
// used to be installed only after listen() returned, so a SIGTERM in between killed the process and
// left the pid file behind (seen in CI as exit -1 in the pid-file test).
let tmp: string;
let files: { passwd: string; shadow: string };
beforeAll(async () => {
  tmp = mkdtempSync('/tmp/sat_st-');
  files = await userFiles(join(tmp, 'users'), { sat_st_ann: 'pw' });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Starts a daemon, sends SIGTERM the moment its pid file appears; the exit code and what is left. */
async function termAtPidFile(i: number): Promise<{ code: number | null; signal: string | null; left: string[] }> {
  const run = join(tmp, `run${i}`);
  const pidFile = join(run, 'saslauthd.pid');
  const proc = spawn(process.execPath, [DAEMON_BIN, '-a', 'shadow', '--passwd-file', files.passwd, '--shadow-file', files.shadow, '-m', run, '--pid-file'], { stdio: 'ignore' });
  const exited = new Promise<[number | null, string | null]>((resolve) => proc.once('exit', (code, signal) => resolve([code, signal])));
  const until = Date.now() + 15_000;
  while (!existsSync(pidFile) && Date.now() < until && proc.exitCode === null) await new Promise((r) => setImmediate(r));
  proc.kill('SIGTERM');
  const [code, signal] = await exited;
  return { code, signal, left: ['saslauthd.pid', 'mux', 'ctl'].filter((f) => existsSync(join(run, f))) };
}

describe('SIGTERM during start-up', () => {
  it('a SIGTERM as soon as the pid file exists: exit 0, pid file and sockets removed (8 starts)', async () => {
    const results = [];
    for (let i = 0; i < 8; i++) results.push(await termAtPidFile(i));
    expect(results).toEqual(Array.from({ length: 8 }, () => ({ code: 0, signal: null, left: [] })));
  }, 120_000);
});
