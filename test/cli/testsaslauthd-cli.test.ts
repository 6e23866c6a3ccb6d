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
    ['missing socket', () => ['-u', USER, '-p', PW, '-f', '/tmp/sat-no-such-dir/mux']],
  ])('%s: same stdout, stderr and exit code', async (_name, args) => {
    const [a, b] = await Promise.all([ours(args()), theirs(args())]);
    expect({ code: a.code, stdout: a.stdout, stderr: a.stderr }).toEqual({ code: b.code, stdout: b.stdout, stderr: b.stderr });
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
