import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startOurs } from '../fixtures/daemon.js';
import { userFiles } from '../fixtures/user-files.js';

// `-n` must reach libuv's thread pool, which runs the hashes: it is read when the pool first runs,
// and Node's module loader runs it before any of the daemon's code. Setting it from the daemon left
// 4 threads whatever -n said (so `-n 16` hashed 4 at a time). Counted from /proc/PID/task.
let tmp: string;
let files: { passwd: string; shadow: string };
const running: RunningDaemon[] = [];
beforeAll(async () => {
  tmp = mkdtempSync('/tmp/sat_tp-');
  files = await userFiles(join(tmp, 'users'), { sat_tp_ann: 'pw' });
});
afterAll(async () => {
  await Promise.all(running.map((d) => d.stop()));
  rmSync(tmp, { recursive: true, force: true });
});

async function threadsWith(args: string[]): Promise<number> {
  const d = await startOurs(['-a', 'shadow', '--passwd-file', files.passwd, '--shadow-file', files.shadow, ...args]);
  running.push(d);
  return readdirSync(`/proc/${d.proc.pid!}/task`).length;
}

describe('libuv thread pool follows -n', () => {
  it('-n 12 runs 16 more threads than -n 4 (2 per -n: hashes and kerberos5 calls)', async () => {
    const few = await threadsWith(['-n', '4']);
    const many = await threadsWith(['-n', '12']);
    expect(many - few).toBe(16);
  });

  it('THREADS in --config-file counts as -n does', async () => {
    const conf = join(tmp, 'defaults');
    writeFileSync(conf, `MECHANISMS="shadow"\nTHREADS=12\nOPTIONS="--passwd-file ${files.passwd} --shadow-file ${files.shadow}"\n`);
    const viaFile = await threadsWith(['--config-file', conf]);
    const viaFlag = await threadsWith(['-n', '12']);
    expect(viaFile).toBe(viaFlag);
  });
});
