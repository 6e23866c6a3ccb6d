import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOurDaemon, startRealDaemon, treeCpuMs, treePeakRssMiB, treePids } from '../../bench/daemons.js';
import { realSaslauthdInstalled } from '../fixtures/daemon.js';
import { ensureUser, mkpasswd, removeUser } from '../fixtures/users.js';
import { runLoad } from '../fixtures/load.js';

// The bench measures the real saslauthd as admins run it (no -d: it forks, writes saslauthd.pid and
// serves from its master and -n workers) and sums CPU and RSS over the whole process tree. These
// check that against the real daemon, since a wrong pid or a missed worker would make every
// saslauthd figure of `npm run bench` wrong without any error.

const USER = 'sat_p1_bench';
const PASSWORD = 'bench daemons pw';
const probe = [{ request: { login: USER, password: PASSWORD, service: 'imap', realm: '' }, expect: 'OK' as const }];

beforeAll(async () => {
  await ensureUser(USER, await mkpasswd(PASSWORD, 'sha-512'));
});

afterAll(async () => {
  await removeUser(USER);
});

describe.skipIf(!realSaslauthdInstalled())('bench daemons', () => {
  it('runs saslauthd in the background and measures its master and all -n workers', async () => {
    const d = await startRealDaemon(['-a', 'shadow', '-n', '5']);
    let pids: number[] = [];
    try {
      expect(readFileSync(join(dirname(d.socket), 'saslauthd.pid'), 'utf8').trim()).toBe(String(d.pid));
      // saslauthd -n 5 serves from the master and 4 forked workers. It listens (and so is "started")
      // before it has forked the last of them: on a busy machine they can take a moment.
      for (const until = Date.now() + 5000; (pids = treePids(d.pid!)).length < 5 && Date.now() < until; ) {
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(pids).toHaveLength(5);
      expect(pids[0]).toBe(d.pid);
      for (const p of pids.slice(1)) expect(readFileSync(`/proc/${p}/stat`, 'utf8')).toMatch(new RegExp(`^${p} \\(saslauthd\\) \\S+ ${d.pid} `));
      const cpu0 = treeCpuMs(d.pid);
      const r = await runLoad(d.socket, probe, { concurrency: 4, count: 400, seconds: 30 });
      expect(r.wrong + r.errors).toBe(0);
      // 400 sha512-crypt hashes cost well over 100 ms of CPU, spread over the workers.
      expect(treeCpuMs(d.pid) - cpu0).toBeGreaterThan(100);
      expect(treePeakRssMiB(d.pid)).toBeGreaterThan(1);
    } finally {
      await d.stop();
    }
    expect(treePids(d.pid!)).toEqual([]);
    for (const p of pids) expect(existsSync(`/proc/${p}/cmdline`) && readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('saslauthd')).toBe(false);
    expect(existsSync(dirname(d.socket))).toBe(false);
  });

  it('measures our daemon the same way', async () => {
    const d = await startOurDaemon(['-a', 'shadow', '-n', '5']);
    try {
      expect(treePids(d.pid!)).toEqual([d.pid]);
      const cpu0 = treeCpuMs(d.pid);
      const r = await runLoad(d.socket, probe, { concurrency: 4, count: 400, seconds: 30 });
      expect(r.wrong + r.errors).toBe(0);
      expect(treeCpuMs(d.pid) - cpu0).toBeGreaterThan(100);
    } finally {
      await d.stop();
    }
    expect(treePids(d.pid!)).toEqual([]);
  });
});
