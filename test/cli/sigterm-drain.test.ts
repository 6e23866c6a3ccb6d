import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datagramSink } from '../fixtures/datagram.js';
import { startOurs } from '../fixtures/daemon.js';
import { run } from '../fixtures/run.js';

/** Debian's testsaslauthd with room for slow hashes on a loaded machine (the shared helper kills it after 30 s). */
function testsaslauthd(socket: string, user: string, password: string, o: { service?: string } = {}): ReturnType<typeof run> {
  return run('/usr/sbin/testsaslauthd', ['-u', user, '-p', password, '-f', socket, ...(o.service ? ['-s', o.service] : [])], { timeoutMs: 600_000 });
}
import { mkpasswd } from '../fixtures/users.js';
import { writeUserFiles } from '../fixtures/user-files.js';

// bcrypt cost 14: about a second of CPU per check, so requests are surely still being decided
// when SIGTERM arrives; the test waits for the daemon's own "authenticating" lines, not the clock.
let dir: string;
let files: { passwd: string; shadow: string };

beforeAll(async () => {
  dir = mkdtempSync('/tmp/sat-pf-drain-');
  const slow = (await import('../fixtures/run.js')).must;
  const hash = (await slow('mkpasswd', ['-m', 'bcrypt', '-R', '14', '--stdin'], { input: 'slow pw' })).trim();
  files = writeUserFiles(dir, [
    { name: 'sat_pf_slow', hash },
    { name: 'sat_pf_fast', hash: await mkpasswd('fast pw', 'sha-512') },
  ]);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const count = (text: string, needle: string): number => text.split(needle).length - 1;

async function until(pred: () => boolean, what: string, out: () => string, timeoutMs = 60_000): Promise<void> {
  for (let waited = 0; !pred(); waited += 25) {
    if (waited > timeoutMs) throw new Error(`timed out waiting for ${what}:\n${out()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('SIGTERM', () => {
  it('answers every request in flight, refuses new ones, then exits 0', { timeout: 900_000 }, async () => {
    const sink = datagramSink(join(dir, 'notify'));
    const d = await startOurs(['-a', 'shadow', '--passwd-file', files.passwd, '--shadow-file', files.shadow, '-n', '4', '-d',
      '--auth-timeout', '300000', '--shutdown-timeout', '300000'], { env: { ...process.env, NOTIFY_SOCKET: sink.path } });
    try {
      const pending = [
        testsaslauthd(d.socket, 'sat_pf_slow', 'slow pw'),
        testsaslauthd(d.socket, 'sat_pf_slow', 'not it'),
        testsaslauthd(d.socket, 'sat_pf_slow', 'slow pw', { service: 'smtp' }),
        testsaslauthd(d.socket, 'sat_pf_slow', 'also wrong', { service: 'smtp' }),
      ];
      await until(() => count(d.output(), 'DEBUG authenticating') === 4, '4 requests in progress', d.output);
      d.proc.kill('SIGTERM');
      const stopping = await sink.waitFor((m) => m.startsWith('STOPPING=1'), 120_000, 'STOPPING=1');
      const inProgress = Number(/shutting down: (\d+) request/.exec(stopping)?.[1]);
      expect(inProgress).toBeGreaterThan(0);
      // The listener is closed: a new client is turned away.
      await until(() => d.output().includes('shutting down: finishing requests in progress'), 'shutdown log', d.output);
      const late = await testsaslauthd(d.socket, 'sat_pf_fast', 'fast pw');
      expect(late.code).not.toBe(0);

      // A second SIGTERM during the drain changes nothing.
      d.proc.kill('SIGTERM');
      await until(() => d.output().includes('already shutting down'), 'second SIGTERM noted', d.output);
      const results = await Promise.all(pending);
      expect(results.map((r) => r.stdout)).toEqual([
        '0: OK "Success."\n',
        '0: NO "authentication failed"\n',
        '0: OK "Success."\n',
        '0: NO "authentication failed"\n',
      ]);
      expect(await d.stop()).toBe(0);
      expect(d.output()).toContain('master exited');
      expect(d.output()).not.toContain('shutdown deadline passed');
    } finally {
      await d.stop('SIGKILL');
      sink.close();
    }
  });

  it('cuts requests still running when --shutdown-timeout passes, and still exits 0', { timeout: 900_000 }, async () => {
    const d = await startOurs(['-a', 'shadow', '--passwd-file', files.passwd, '--shadow-file', files.shadow, '-n', '2', '-d',
      '--auth-timeout', '300000', '--shutdown-timeout', '1']);
    try {
      const pending = [testsaslauthd(d.socket, 'sat_pf_slow', 'slow pw'), testsaslauthd(d.socket, 'sat_pf_slow', 'slow pw')];
      await until(() => count(d.output(), 'DEBUG authenticating') === 2, '2 requests in progress', d.output);
      // The process exits once the hashes already running on libuv's pool return (Node joins its
      // threads at exit), so wait for the exit itself rather than the helper's 10 s stop().
      const exited = new Promise<number | null>((resolve) => d.proc.once('exit', (code) => resolve(code)));
      d.proc.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(d.output()).toContain('shutdown deadline passed; closing remaining connections');
      // Cut, not answered OK: testsaslauthd sees the connection close without a reply.
      for (const r of await Promise.all(pending)) expect(r.stdout).not.toContain('OK');
    } finally {
      await d.stop('SIGKILL');
    }
  });
});
