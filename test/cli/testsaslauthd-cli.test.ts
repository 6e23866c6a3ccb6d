import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, type Socket, createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startOurs } from '../fixtures/daemon.js';
import { CLIENT_BIN } from '../fixtures/paths.js';
import { run } from '../fixtures/run.js';
import { ensureUser, mkpasswd, removeUser } from '../fixtures/users.js';

const USER = 'sat_tcli_user';
const PW = 'tcli pw';
let d: RunningDaemon;

const ours = (args: string[]) => run(process.execPath, [CLIENT_BIN, ...args]);
const theirs = (args: string[]) => run('/usr/sbin/testsaslauthd', args);

beforeAll(async () => {
  await ensureUser(USER, await mkpasswd(PW, 'yescrypt'));
  d = await startOurs(['-a', 'shadow', '--compat-replies']);
});
afterAll(async () => {
  await d?.stop();
  await removeUser(USER);
});

describe('testsaslauthd-ts matches Debian testsaslauthd', () => {
  it.each([
    ['right password', () => ['-u', USER, '-p', PW, '-f', d.socket]],
    ['wrong password', () => ['-u', USER, '-p', 'nope', '-f', d.socket]],
    ['repeat 3, realm and service', () => ['-u', USER, '-p', PW, '-r', 'example.org', '-s', 'smtp', '-R', '3', '-f', d.socket]],
  ])('%s: same stdout, stderr and exit code', async (_name, args) => {
    const [a, b] = await Promise.all([ours(args()), theirs(args())]);
    expect({ code: a.code, stdout: a.stdout, stderr: a.stderr }).toEqual({ code: b.code, stdout: b.stdout, stderr: b.stderr });
  });

  it('missing socket: same stdout, but exit 2 (could not ask) where testsaslauthd says 255 as for NO, and the path tried', async () => {
    const args = ['-u', USER, '-p', PW, '-f', '/tmp/sat_lg-no-such-dir/mux'];
    const [a, b] = await Promise.all([ours(args), theirs(args)]);
    expect(b).toMatchObject({ code: 255, stdout: '0: ', stderr: 'connect() : No such file or directory\n' });
    expect(a.stdout).toBe(b.stdout);
    expect(a.code).toBe(2);
    expect(a.stderr).toBe('testsaslauthd-ts: could not ask the daemon at /tmp/sat_lg-no-such-dir/mux: connect() : No such file or directory\n');
  });

  it('exit codes: 0 OK, 255 NO, 2 when the daemon could not be asked (refused, timeout, garbled reply)', async () => {
    expect((await ours(['-u', USER, '-p', PW, '-f', d.socket])).code).toBe(0);
    expect((await ours(['-u', USER, '-p', 'nope', '-f', d.socket])).code).toBe(255);
    // The last try decides: a NO after failed tries is still a NO.
    const dir = mkdtempSync('/tmp/sat_lg-tcli-');
    const servers: Server[] = [];
    const listen = (name: string, onConn: (s: Socket) => void): Promise<string> => {
      const path = join(dir, name);
      const srv = createServer(onConn);
      servers.push(srv);
      return new Promise((resolve) => srv.listen(path, () => resolve(path)));
    };
    try {
      // A socket file with nobody listening: connection refused.
      const refused = await listen('refused', () => {});
      await new Promise<void>((resolve) => servers.pop()!.close(() => resolve()));
      writeFileSync(join(dir, 'plain'), '');
      const silent = await listen('silent', () => {});
      const garbled = await listen('garbled', (s) => s.end(Buffer.from([0xff, 0xff, 0x41])));
      const cases: Array<[string, string[], RegExp]> = [
        [refused, [], /connect\(\) : (Connection refused|No such file or directory)$/],
        [join(dir, 'plain'), [], /connect\(\) : Connection refused$/],
        [silent, ['--timeout', '300'], /no reply in time$/],
        [garbled, [], /(size read failed|bad response from saslauthd)$/],
      ];
      for (const [path, extra, why] of cases) {
        const r = await ours(['-u', USER, '-p', PW, '-f', path, ...extra]);
        expect(r.code, path).toBe(2);
        expect(r.stderr.trimEnd(), path).toMatch(new RegExp(`^testsaslauthd-ts: could not ask the daemon at ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ${why.source}`));
      }
    } finally {
      for (const s of servers) s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('usage errors exit 1 like testsaslauthd', async () => {
    for (const args of [['-u', USER], ['-p', PW], ['-h']]) {
      const [a, b] = await Promise.all([ours(args), theirs(args)]);
      expect([a.code, b.code]).toEqual([1, 1]);
      expect(a.stdout).toBe('');
    }
  });

  it('-a sends the fifth field and --verbose prints the reply text and latency', async () => {
    const r = await ours(['-u', USER, '-p', 'nope', '-a', '198.51.100.4;993', '--verbose', '-f', d.socket]);
    expect(r.code).toBe(255);
    expect(r.stdout).toMatch(/^0: NO "authentication failed"\n {3}reply: "NO Incorrect password" \(\d+\.\d{3} ms\)\n$/);
    expect(d.output()).toContain('[remote=198.51.100.4;993]');
  });
});
