import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, fstatSync, lstatSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VERSION } from '../../src/cli/version.js';
import { type RunningDaemon, canConnect, startOurs, waitForOutput } from '../fixtures/daemon.js';
import { DAEMON_BIN } from '../fixtures/paths.js';
import { verdict } from '../fixtures/testsaslauthd.js';
import { writeUserFiles } from '../fixtures/user-files.js';
import { mkpasswd } from '../fixtures/users.js';

const USER = 'sat_lg_fmt';
const PASSWORD = 'format pw';
const ISO = String.raw`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`;

let dir: string;
let files: { passwd: string; shadow: string };

beforeAll(async () => {
  dir = mkdtempSync('/tmp/sat_lg-fmt-');
  files = writeUserFiles(dir, [{ name: USER, hash: await mkpasswd(PASSWORD, 'sha-512') }]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The daemon with stderr going to a file, as under systemd's StandardError=file: or a script's
 * `2>>log`: `env` decides whether JOURNAL_STREAM names that file.
 */
async function withStderrFile(name: string, args: string[], env: (st: { dev: number; ino: number }) => NodeJS.ProcessEnv, body: (run: string) => Promise<void>): Promise<string> {
  const logFile = join(dir, `${name}.log`);
  const run = join(dir, name);
  const fd = openSync(logFile, 'w');
  const st = fstatSync(fd);
  let proc: ChildProcess | undefined;
  try {
    proc = spawn(process.execPath, [DAEMON_BIN, '--fail-delay', '0', '-a', 'shadow', '--passwd-file', files.passwd, '--shadow-file', files.shadow, ...args, '-m', run], {
      stdio: ['ignore', fd, fd],
      env: { ...process.env, JOURNAL_STREAM: undefined, ...env({ dev: st.dev, ino: st.ino }) },
      detached: true,
    });
    const until = Date.now() + 15_000;
    while (!(existsSync(join(run, 'mux')) && (await canConnect(join(run, 'mux'))))) {
      if (proc.exitCode !== null || Date.now() > until) throw new Error(`daemon did not start:\n${readFileSync(logFile, 'utf8')}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    await body(run);
    const exited = new Promise((r) => proc!.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
  } finally {
    if (proc?.exitCode === null) proc.kill('SIGKILL');
    closeSync(fd);
  }
  return readFileSync(logFile, 'utf8');
}

async function failAndSucceed(run: string): Promise<void> {
  expect(await verdict(join(run, 'mux'), USER, 'wrong pw', { service: 'smtp', realm: 'example.org' })).toBe('NO');
  expect(await verdict(join(run, 'mux'), USER, PASSWORD, { service: 'smtp' })).toBe('OK');
}

describe('text lines', () => {
  it('carry an ISO 8601 timestamp when stderr is a file, and each field once', async () => {
    // JOURNAL_STREAM inherited from a service but naming another stream: still a file, still timestamps.
    const out = await withStderrFile('file', [], () => ({ JOURNAL_STREAM: '1:1' }), failAndSucceed);
    const lines = out.trimEnd().split('\n');
    for (const l of lines) expect(l).toMatch(new RegExp(`^${ISO} (INFO|WARN|DEBUG|ERROR) `));
    expect(lines[0]).toMatch(new RegExp(`^${ISO} INFO saslauthd-ts starting version=${VERSION.replace(/\./g, '\\.')} node=v\\d+\\.\\d+\\.\\d+$`));
    const failure = lines.find((l) => l.includes('auth failure:'));
    expect(failure).toMatch(new RegExp(`^${ISO} INFO auth failure: \\[user=${USER}\\] \\[service=smtp\\] \\[realm=example\\.org\\] \\[mech=shadow\\] \\[reason=password mismatch\\] conn=\\d+ outcome=rejected code=bad-password ms=[\\d.]+ peer_uid=0 peer_pid=\\d+$`));
    const success = lines.find((l) => l.includes('auth success:'));
    expect(success).toMatch(new RegExp(`^${ISO} INFO auth success: \\[user=${USER}\\] \\[service=smtp\\] \\[realm=\\] \\[mech=shadow\\] conn=\\d+ outcome=ok ms=[\\d.]+ peer_uid=0 peer_pid=\\d+$`));
  });

  it('start with sd-daemon <N> priorities and no timestamp when journald reads stderr (JOURNAL_STREAM = its dev:ino)', async () => {
    const out = await withStderrFile('journal', ['-T'], ({ dev, ino }) => ({ JOURNAL_STREAM: `${dev}:${ino}` }), failAndSucceed);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toBe(`<6>INFO saslauthd-ts starting version=${VERSION} node=${process.version}`);
    expect(lines.find((l) => l.includes('auth failure:'))).toMatch(new RegExp(`^<6>INFO auth failure: \\[user=${USER}\\] \\[service=smtp\\] \\[realm=example\\.org\\] \\[mech=shadow\\] \\[reason=password mismatch\\] conn=\\d+ outcome=rejected `));
    // -T is accepted with a warning: at warning priority.
    expect(lines.find((l) => l.includes('-T: time-of-day'))).toMatch(/^<4>WARN -T: time-of-day /);
    for (const l of lines) expect(l).toMatch(/^<[2-7]>(INFO|WARN|DEBUG|ERROR|FATAL) /);
  });
});

describe('JSON lines', () => {
  it('name their level ("info", not 30)', async () => {
    const out = await withStderrFile('json', ['--log-format', 'json', '-T'], () => ({}), failAndSucceed);
    const recs = out.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(recs[0]).toMatchObject({ level: 'info', msg: 'saslauthd-ts starting', version: VERSION, node: process.version, pid: expect.any(Number) });
    expect(recs.find((r) => String(r['msg']).startsWith('auth failure:'))).toMatchObject({ level: 'info', user: USER, outcome: 'rejected' });
    expect(recs.find((r) => String(r['msg']).startsWith('-T: time-of-day'))).toMatchObject({ level: 'warn' });
    for (const r of recs) expect(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).toContain(r['level']);
  });
});

describe('the process', () => {
  it("is called saslauthd-ts: pidof finds it", async () => {
    const d = await startOurs(['-a', 'shadow', '--passwd-file', files.passwd, '--shadow-file', files.shadow]);
    try {
      const pids = execFileSync('pidof', ['saslauthd-ts'], { encoding: 'utf8' }).trim().split(/\s+/).map(Number);
      expect(pids).toContain(d.pid);
    } finally {
      expect(await d.stop()).toBe(0);
    }
  });
});

/** The socket accepts before the pid file is written (right after, still as root): wait for that. */
const pidWritten = (d: RunningDaemon): Promise<void> => waitForOutput(d, 'wrote pid file ');

describe('--pid-file', () => {
  it('writes <run dir>/saslauthd.pid as saslauthd does, and removes it on exit', async () => {
    const d = await startOurs(['-a', 'shadow', '--passwd-file', files.passwd, '--shadow-file', files.shadow, '--pid-file']);
    const pidFile = join(d.dir, 'saslauthd.pid');
    let running = '';
    try {
      await pidWritten(d);
      running = readFileSync(pidFile, 'utf8');
      expect(lstatSync(pidFile).mode & 0o7777).toBe(0o644);
    } finally {
      expect(await d.stop()).toBe(0);
    }
    expect(running).toBe(`${d.pid}\n`);
    expect(d.output()).toContain(`wrote pid file ${pidFile}`);
    expect(existsSync(pidFile)).toBe(false);
  });

  it('replaces a symlink planted at its path instead of writing through it', async () => {
    const run = mkdtempSync(join(dir, 'pidlink-'));
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'precious\n');
    const pidFile = join(run, 'pid');
    symlinkSync(victim, pidFile);
    const d = await startOurs(['-a', 'shadow', '--passwd-file', files.passwd, '--shadow-file', files.shadow, '--pid-file', pidFile], { dir: run });
    try {
      await pidWritten(d);
      expect(lstatSync(pidFile).isFile()).toBe(true);
      expect(readFileSync(pidFile, 'utf8')).toBe(`${d.pid}\n`);
      expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    } finally {
      expect(await d.stop()).toBe(0);
    }
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(existsSync(pidFile)).toBe(false);
  });

  it('leaves a pid file that is no longer its own (another daemon wrote it) on exit', async () => {
    const run = mkdtempSync(join(dir, 'pidother-'));
    const pidFile = join(run, 'saslauthd.pid');
    const d = await startOurs(['-a', 'shadow', '--passwd-file', files.passwd, '--shadow-file', files.shadow, '--pid-file'], { dir: run });
    try {
      await pidWritten(d);
      rmSync(pidFile);
      writeFileSync(pidFile, '4242\n');
    } finally {
      expect(await d.stop()).toBe(0);
    }
    expect(readFileSync(pidFile, 'utf8')).toBe('4242\n');
    rmSync(run, { recursive: true, force: true });
  });

  it('names the file when it cannot be written', async () => {
    const r = spawn(process.execPath, [DAEMON_BIN, '-a', 'shadow', '--passwd-file', files.passwd, '--shadow-file', files.shadow, '--pid-file', '/nonexistent-sat_lg/x.pid', '-m', join(dir, 'pidfail')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    r.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise((res) => r.once('exit', res));
    expect(code).toBe(1);
    expect(err).toMatch(/FATAL --pid-file \/nonexistent-sat_lg\/x\.pid: cannot write it: ENOENT/);
    expect(existsSync(join(dir, 'pidfail', 'mux'))).toBe(false);
  });
});
