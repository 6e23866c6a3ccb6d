import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gidOf } from '../../src/server/ids.js';
import { type FixtureFiles, writeFixture } from '../fixtures/fixture-users.js';
import { DAEMON_BIN, ROOT } from '../fixtures/paths.js';
import { type RunResult, must, run } from '../fixtures/run.js';
import { optional, readUnit, setprivBoundingSet, single } from '../fixtures/unit-file.js';
import { ensureUser, removeUser } from '../fixtures/users.js';

// Both shipped ways to start the daemon, reproduced from the unit files as systemd would run them
// (no systemd as PID 1 here): the runtime directory with RuntimeDirectoryMode= and the unit's
// owner, ExecStart= under UMask=, Group= and CapabilityBoundingSet=; for socket activation the
// listeners with SocketMode=/SocketUser=/SocketGroup=/DirectoryMode= passed as LISTEN_FDS. Then
// `nobody` must be refused by the kernel (EACCES) and a member of group sasl must get OK, with
// Debian's testsaslauthd running as each of them.

const UNITS = join(ROOT, 'systemd');
const SERVICE = readUnit(join(UNITS, 'saslauthd-ts.service'));
const SOCKET = readUnit(join(UNITS, 'saslauthd-ts.socket'));
const DEFAULTS_TEXT = readFileSync(join(UNITS, 'saslauthd-ts.default'), 'utf8');
const TESTSASLAUTHD = '/usr/sbin/testsaslauthd';
const MEMBER = 'sat_so_member';
const PASSWORD = 'Unit-pass 1';
const LOCK = '/tmp/sat-users.lock';
const CHROOT_DIR = '/var/spool/postfix/var/run/saslauthd';

let fx: FixtureFiles;
let member: { uid: number; gid: number };
let base: string;

beforeAll(async () => {
  // What the Debian package's postinst does; the unit cannot start without it.
  if ((await run('getent', ['group', 'sasl'])).code !== 0) await must('flock', ['-w', '60', LOCK, 'groupadd', '--system', 'sasl']);
  await ensureUser(MEMBER, '!');
  await must('flock', ['-w', '60', LOCK, 'usermod', '-a', '-G', 'sasl', MEMBER]);
  member = { uid: Number((await must('id', ['-u', MEMBER])).trim()), gid: Number((await must('id', ['-g', MEMBER])).trim()) };
  fx = await writeFixture([{ name: MEMBER, password: PASSWORD, method: 'sha-512' }]);
  // Searchable by everyone, so only the unit's own modes decide who reaches the socket.
  base = mkdtempSync('/tmp/sat-so-unit-');
  chmodSync(base, 0o755);
});
afterAll(async () => {
  rmSync(base, { recursive: true, force: true });
  fx?.remove();
  await removeUser(MEMBER);
});

/** The shipped defaults file, with the run directory moved under the test's root and the fixture users. */
function defaultsFile(dir: string, runDir: string): string {
  expect(DEFAULTS_TEXT).toMatch(/^OPTIONS="[^"]*-m \/run\/saslauthd[ "]/m);
  const f = join(dir, 'default');
  writeFileSync(f, DEFAULTS_TEXT.replace('-m /run/saslauthd', `-m ${runDir} --passwd-file ${fx.passwd} --shadow-file ${fx.shadow}`));
  return f;
}

/** ExecStart= with the binary replaced by the built one and the defaults file by the test's copy. */
function execStart(defaults: string): string[] {
  const [bin, ...args] = single(SERVICE, 'ExecStart').split(/\s+/);
  expect(bin).toMatch(/\/saslauthd-ts$/);
  expect(args).toContain('/etc/default/saslauthd-ts');
  return [process.execPath, DAEMON_BIN, ...args.map((a) => (a === '/etc/default/saslauthd-ts' ? defaults : a))];
}

type Caps = 'unit' | 'all';

/** `cmd` as the service's main process: UMask=, User=/Group= (no supplementary groups, as from PID 1), the bounding set. */
function serviceArgv(cmd: readonly string[], caps: Caps): string[] {
  const user = optional(SERVICE, 'User');
  const group = optional(SERVICE, 'Group');
  const bounding = setprivBoundingSet(SERVICE);
  const setpriv = ['setpriv', ...(user ? ['--reuid', user] : []), ...(group ? ['--regid', group] : []), '--clear-groups',
    ...(caps === 'unit' && bounding ? ['--bounding-set', bounding] : []), '--'];
  return ['sh', '-c', `umask ${optional(SERVICE, 'UMask') ?? '0022'} && exec "$@"`, 'sh', ...setpriv, ...cmd];
}

interface Started {
  readonly proc: ChildProcess;
  output(): string;
  stop(): Promise<number | null>;
}

/** Spawns `argv` and waits for "listening on socket" (throws with the output if it exits first). */
async function launch(argv: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Started> {
  const proc = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'], ...env } });
  let out = '';
  proc.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const stop = async (): Promise<number | null> => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    const code = await exited;
    clearTimeout(t);
    return code;
  };
  for (let i = 0; i < 800 && !out.includes('listening on socket'); i++) {
    if (proc.exitCode !== null) throw new Error(`daemon exited with ${proc.exitCode}:\n${out}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  if (!out.includes('listening on socket')) {
    await stop();
    throw new Error(`daemon never listened:\n${out}`);
  }
  return { proc, output: () => out, stop };
}

/** systemd's RuntimeDirectory=: <base>/run/<name>, mode RuntimeDirectoryMode=, owned by User=:Group=. */
function runtimeDirectory(root: string): string {
  const dir = join(root, 'run', single(SERVICE, 'RuntimeDirectory'));
  mkdirSync(dirname(dir), { recursive: true, mode: 0o755 });
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, Number.parseInt(single(SERVICE, 'RuntimeDirectoryMode'), 8));
  const group = optional(SERVICE, 'Group');
  chownSync(dir, 0, group ? gidOf(group) : 0);
  return dir;
}

function asUser(who: 'nobody' | 'member', socket: string): Promise<RunResult> {
  const id = who === 'nobody' ? ['--reuid=nobody', '--regid=nogroup', '--clear-groups'] : [`--reuid=${member.uid}`, `--regid=${member.gid}`, '--init-groups'];
  return run('setpriv', [...id, TESTSASLAUTHD, '-u', MEMBER, '-p', PASSWORD, '-f', socket]);
}

const OK = { code: 0, stdout: '0: OK "Success."\n' };

/** Root and sasl members get their verdict; `nobody` is stopped by the kernel before a byte is sent. */
async function expectOnlyRootAndSasl(socket: string): Promise<void> {
  const nobody = await asUser('nobody', socket);
  expect({ socket, code: nobody.code, stderr: nobody.stderr }).toEqual({ socket, code: 255, stderr: expect.stringContaining('connect() : Permission denied') });
  const m = await asUser('member', socket);
  expect({ socket, code: m.code, stdout: m.stdout }).toEqual({ socket, ...OK });
  const r = await run(TESTSASLAUTHD, ['-u', MEMBER, '-p', PASSWORD, '-f', socket]);
  expect({ socket, code: r.code, stdout: r.stdout }).toEqual({ socket, ...OK });
}

const modeOf = (p: string): string => (lstatSync(p).mode & 0o7777).toString(8);
const ownerOf = (p: string): string => `${lstatSync(p).uid}:${lstatSync(p).gid}`;

describe('the shipped units declare', () => {
  it('a root:sasl runtime directory and socket without CAP_CHOWN, and the Postfix chroot path', () => {
    expect(optional(SERVICE, 'Group')).toBe('sasl');
    expect(single(SERVICE, 'RuntimeDirectoryMode')).toBe('0710');
    expect(single(SERVICE, 'CapabilityBoundingSet')).not.toContain('CAP_CHOWN');
    expect(SERVICE.get('ReadWritePaths')).toContain(`-${CHROOT_DIR}`);
    expect(SOCKET.get('ListenStream')).toEqual(['/run/saslauthd/mux', `${CHROOT_DIR}/mux`]);
    expect([single(SOCKET, 'SocketGroup'), single(SOCKET, 'SocketMode')]).toEqual(['sasl', '0660']);
  });
});

describe.each<Caps>(['unit', 'all'])('shipped units under the %s capability bounding set: only root and group sasl reach the socket', (caps) => {
  it('saslauthd-ts.service alone, binding /run/saslauthd/mux; again after a restart', async () => {
    const root = mkdtempSync(join(base, `svc-${caps}-`));
    chmodSync(root, 0o755);
    const runDir = runtimeDirectory(root);
    const argv = serviceArgv(execStart(defaultsFile(root, runDir)), caps);
    for (const start of ['first start', 'restart']) {
      const d = await launch(argv);
      try {
        const sock = join(runDir, 'mux');
        await expectOnlyRootAndSasl(sock);
        expect([start, modeOf(runDir), ownerOf(runDir)]).toEqual([start, '710', `0:${gidOf('sasl')}`]);
        expect([start, modeOf(sock), ownerOf(sock)]).toEqual([start, '660', `0:${gidOf('sasl')}`]);
        expect(d.output()).not.toContain('SECURITY');
      } finally {
        expect(await d.stop()).toBe(0);
      }
    }
  });

  it('saslauthd-ts.service alone with -m in Postfix\'s chroot, the directory created as the unit says or by the daemon itself', async () => {
    const root = mkdtempSync(join(base, `chroot-${caps}-`));
    chmodSync(root, 0o755);
    const spool = join(root, 'var/spool/postfix/var/run');
    mkdirSync(spool, { recursive: true, mode: 0o755 });
    const preset = join(spool, 'saslauthd');
    // The command in the unit's comment and the README.
    await must('install', ['-d', '-o', 'root', '-g', 'sasl', '-m', '0710', preset]);
    const own = join(root, 'var/spool/postfix/var/run2/saslauthd');
    mkdirSync(dirname(own), { mode: 0o755 });
    for (const runDir of [preset, own]) {
      const d = await launch(serviceArgv(execStart(defaultsFile(root, runDir)), caps));
      try {
        expect([runDir, modeOf(runDir), ownerOf(runDir)]).toEqual([runDir, '710', `0:${gidOf('sasl')}`]);
        await expectOnlyRootAndSasl(join(runDir, 'mux'));
      } finally {
        expect(await d.stop()).toBe(0);
      }
    }
  });

  it('saslauthd-ts.socket + saslauthd-ts.service: both ListenStream= sockets, /run/saslauthd/mux and the chroot copy', async () => {
    const root = mkdtempSync(join(base, `act-${caps}-`));
    chmodSync(root, 0o755);
    const listen = (SOCKET.get('ListenStream') ?? []).map((p) => join(root, p));
    expect(listen).toHaveLength(2);
    const dirMode = Number.parseInt(single(SOCKET, 'DirectoryMode'), 8);
    for (const p of listen) {
      // systemd creates missing parents with DirectoryMode=, root-owned.
      let d = dirname(p);
      const missing: string[] = [];
      for (; !existsSync(d); d = dirname(d)) missing.unshift(d);
      for (const m of missing) {
        mkdirSync(m);
        chmodSync(m, dirMode);
      }
    }
    const names = listen.map(() => single(SOCKET, 'FileDescriptorName')).join(':');
    const launcher = `
import os, socket, sys, pwd, grp
mode, user, group, names, n = int(sys.argv[1], 8), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
paths, cmd = sys.argv[6:6 + n], sys.argv[6 + n:]
held = []
for p in paths:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(~mode & 0o777)
    s.bind(p)
    os.umask(old)
    os.chown(p, pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid)
    s.listen(128)
    held.append(os.dup(s.fileno()))
    s.close()
for i, fd in enumerate(held):
    os.dup2(fd, 3 + i)
    os.set_inheritable(3 + i, True)
os.environ.update(LISTEN_FDS=str(n), LISTEN_FDNAMES=names, LISTEN_PID=str(os.getpid()))
os.execvp(cmd[0], cmd)
`;
    const runDir = join(root, 'run', single(SERVICE, 'RuntimeDirectory'));
    const argv = ['/usr/bin/python3', '-c', launcher, single(SOCKET, 'SocketMode'), optional(SOCKET, 'SocketUser') ?? 'root', single(SOCKET, 'SocketGroup'),
      names, String(listen.length), ...listen, ...serviceArgv(execStart(defaultsFile(root, runDir)), caps)];
    const d = await launch(argv);
    try {
      for (const sock of listen) {
        expect(d.output()).toContain(`listening on socket: ${sock} (socket activation)`);
        expect([modeOf(sock), ownerOf(sock)]).toEqual(['660', `0:${gidOf('sasl')}`]);
        await expectOnlyRootAndSasl(sock);
      }
    } finally {
      expect(await d.stop()).toBe(0);
    }
  });
});

describe('start-up errors about the socket\'s group', () => {
  it('a daemon that cannot give a new run directory its group (no CAP_CHOWN, not its own group) says so and leaves nothing behind', async () => {
    const root = mkdtempSync(join(base, 'eperm-'));
    const runDir = join(root, 'saslauthd');
    const r = await run('setpriv', ['--clear-groups', '--bounding-set', setprivBoundingSet(SERVICE) ?? '-all,+dac_read_search', '--',
      process.execPath, DAEMON_BIN, '-a', 'shadow', '--passwd-file', fx.passwd, '--shadow-file', fx.shadow, '-m', runDir], { timeoutMs: 20_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot give the new run directory ${runDir} mode 710 and group sasl: EPERM`);
    expect(r.stderr).toContain('Group=sasl');
    // The old behaviour left a root:root 0710 directory that the next start used as it was.
    expect(existsSync(runDir)).toBe(false);
  });

  it('a missing socket group stops the start before anything is bound, naming the flag and the group', async () => {
    const root = mkdtempSync(join(base, 'nogroup-'));
    const r = await run(process.execPath, [DAEMON_BIN, '-a', 'shadow', '--passwd-file', fx.passwd, '--shadow-file', fx.shadow, '-m', root,
      '--socket-mode', '0660', '--socket-group', 'sat_so_nosuchgroup'], { timeoutMs: 20_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("--socket-group: group 'sat_so_nosuchgroup' does not exist (looked in /etc/group)");
    expect(existsSync(join(root, 'mux'))).toBe(false);
  });

  it('a run directory the socket\'s group cannot enter (left root:root 0710 by an old failed start) is named in a warning', async () => {
    const runDir = mkdtempSync(join(base, 'shut-'));
    chmodSync(runDir, 0o710);
    const d = await launch([process.execPath, DAEMON_BIN, '-a', 'shadow', '--passwd-file', fx.passwd, '--shadow-file', fx.shadow, '-m', runDir,
      '--socket-mode', '0660', '--socket-group', 'sasl']);
    try {
      const m = await asUser('member', join(runDir, 'mux'));
      expect([m.code, m.stderr]).toEqual([255, expect.stringContaining('connect() : Permission denied')]);
      expect(d.output()).toContain(`members of group sasl cannot reach ${join(runDir, 'mux')}: ${runDir} is root:root 710;`);
    } finally {
      expect(await d.stop()).toBe(0);
    }
  });

  it('a missing run directory group leaves a root-only directory and a warning that names the fix', async () => {
    const root = mkdtempSync(join(base, 'norundirgroup-'));
    const runDir = join(root, 'saslauthd');
    const d = await launch([process.execPath, DAEMON_BIN, '-a', 'shadow', '--passwd-file', fx.passwd, '--shadow-file', fx.shadow, '-m', runDir,
      '--run-dir-group', 'sat_so_nosuchgroup']);
    try {
      expect([modeOf(runDir), ownerOf(runDir)]).toEqual(['710', '0:0']);
      expect(d.output()).toContain(`group sat_so_nosuchgroup does not exist, so run directory ${runDir} was created root-only`);
      expect(d.output()).toContain('addgroup --system sat_so_nosuchgroup');
    } finally {
      expect(await d.stop()).toBe(0);
    }
  });
});
