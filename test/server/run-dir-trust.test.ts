import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lchownSync, lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/cli/daemon-options.js';
import { secureSocketFile } from '../../src/server/socket-file.js';
import { DAEMON_BIN } from '../fixtures/paths.js';
import { must } from '../fixtures/run.js';
import { ensureUser, removeUser } from '../fixtures/users.js';

// A run directory that someone other than root can write to lets that user swap `mux` for a symlink
// between bind() and chmod()/chown(): root then changes the mode of whatever the link names, or the
// user simply puts their own socket there and collects passwords.

const EVIL = 'sat_so_evil';
let evil: { uid: number; gid: number };
let base: string;

beforeAll(async () => {
  await ensureUser(EVIL, '!');
  evil = { uid: Number((await must('id', ['-u', EVIL])).trim()), gid: Number((await must('id', ['-g', EVIL])).trim()) };
  base = mkdtempSync('/tmp/sat-so-rd-');
  chmodSync(base, 0o755); // the attacker must be able to reach their own directory
});
afterAll(async () => {
  rmSync(base, { recursive: true, force: true });
  await removeUser(EVIL);
});

interface Outcome {
  /** Exit code, or 'listening' when the daemon served (it is then stopped). */
  readonly result: number | 'listening';
  readonly output: string;
}

/** Starts the daemon on `dir` and reports whether it refused (exit code) or listened. */
async function attempt(dir: string, extra: readonly string[] = []): Promise<Outcome> {
  const p: ChildProcess = spawn(process.execPath, [DAEMON_BIN, '-a', 'shadow', '--fail-delay', '0', '-m', dir, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  p.stdout?.on('data', (b: Buffer) => (output += b.toString()));
  p.stderr?.on('data', (b: Buffer) => (output += b.toString()));
  const exited = new Promise<number>((resolve) => p.once('exit', (code) => resolve(code ?? -1)));
  const listening = (async () => {
    for (let i = 0; i < 600 && !output.includes('listening on socket'); i++) await new Promise((r) => setTimeout(r, 25));
    return 'listening' as const;
  })();
  const first = await Promise.race([exited, listening]);
  if (first === 'listening' && p.exitCode === null) {
    // Give a racing attacker and the post-listen chmod/chown time to have happened.
    await new Promise((r) => setTimeout(r, 100));
    p.kill('SIGTERM');
    await exited;
    return { result: 'listening', output };
  }
  return { result: typeof first === 'number' ? first : (p.exitCode ?? -1), output };
}

/** As `EVIL`: swaps `<dir>/mux`, as soon as it is a socket, for a symlink to `target`. */
function startSwapper(dir: string, target: string, seconds: number): ChildProcess {
  const script = `
import os, stat, sys, time
d, target, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
mux, tmp = os.path.join(d, 'mux'), os.path.join(d, 'link')
end, swaps = time.time() + secs, 0
while time.time() < end:
    try:
        st = os.lstat(mux)
    except FileNotFoundError:
        continue
    if stat.S_ISSOCK(st.st_mode):
        try:
            os.symlink(target, tmp)
        except FileExistsError:
            pass
        os.rename(tmp, mux)
        swaps += 1
print(swaps)
`;
  return spawn('setpriv', [`--reuid=${evil.uid}`, `--regid=${evil.gid}`, '--clear-groups', '/usr/bin/python3', '-c', script, dir, target, String(seconds)],
    { stdio: ['ignore', 'pipe', 'pipe'] });
}

const modeOf = (p: string): string => (lstatSync(p).mode & 0o7777).toString(8);

describe('run directory trust (symlink race on mux)', () => {
  it('refuses a run directory owned by another user; swapping mux for a symlink never changes the target', async () => {
    const dir = join(base, 'evil');
    mkdirSync(dir);
    chownSync(dir, evil.uid, evil.gid);
    chmodSync(dir, 0o755);
    const target = join(base, 'root-secret');
    writeFileSync(target, 'root only\n', { mode: 0o600 });
    const swapper = startSwapper(dir, target, 30);
    let swaps = '';
    swapper.stdout?.on('data', (b: Buffer) => (swaps += b.toString()));
    const swapperDone = new Promise((r) => swapper.once('exit', r));
    try {
      for (let round = 0; round < 5; round++) {
        rmSync(join(dir, 'mux'), { force: true });
        const o = await attempt(dir, ['--socket-group', 'sasl']);
        expect({ round, mode: modeOf(target), uid: lstatSync(target).uid, gid: lstatSync(target).gid }).toEqual({ round, mode: '600', uid: 0, gid: 0 });
        expect(o.result).toBe(1);
        expect(o.output).toContain(`run directory ${dir} is not safe: ${dir} is owned by ${EVIL} (uid ${evil.uid}), not root`);
      }
    } finally {
      swapper.kill('SIGTERM');
      await swapperDone;
    }
  });

  it('sets the socket mode and group without following a symlink put in place of mux', () => {
    const dir = join(base, 'nofollow');
    mkdirSync(dir, { mode: 0o700 });
    const target = join(base, 'nofollow-target');
    writeFileSync(target, 'x', { mode: 0o600 });
    symlinkSync(target, join(dir, 'mux'));
    const o = { ...DEFAULTS, runDir: dir, socketMode: 0o777, socketGroup: 'sasl' };
    expect(() => secureSocketFile(join(dir, 'mux'), o, pino({ level: 'silent' }))).toThrow(`${join(dir, 'mux')} is not a socket`);
    expect(modeOf(target)).toBe('600');
    expect(statSync(target).gid).toBe(0);
  });

  const refusals: [string, () => string, () => string][] = [
    ['group-writable', () => {
      const d = join(base, 'g-w');
      mkdirSync(d);
      chownSync(d, 0, evil.gid);
      chmodSync(d, 0o775);
      return d;
    }, () => `is writable by group`],
    ['group root but writable by another user through an ACL (the group bits are the ACL mask)', () => {
      const d = join(base, 'acl');
      mkdirSync(d, { mode: 0o755 });
      execFileSync('setfacl', ['-m', `u:${EVIL}:rwx`, d]);
      return d;
    }, () => 'is writable by group root (gid 0)'],
    ['world-writable', () => {
      const d = join(base, 'o-w');
      mkdirSync(d);
      chmodSync(d, 0o777);
      return d;
    }, () => 'is writable by every user'],
    ['world-writable even with the sticky bit (anyone could put a socket of their own there while the daemon is down)', () => {
      const d = join(base, 'sticky-run');
      mkdirSync(d);
      chmodSync(d, 0o1777);
      return d;
    }, () => 'is writable by every user'],
    ['owned by root inside a directory another user owns', () => {
      const p = join(base, 'evil-parent');
      mkdirSync(p);
      chownSync(p, evil.uid, evil.gid);
      mkdirSync(join(p, 'run'), { mode: 0o755 });
      return join(p, 'run');
    }, () => `${join(base, 'evil-parent')} is owned by ${EVIL}`],
    ['owned by another user inside a sticky world-writable directory (like /tmp)', () => {
      const s = join(base, 'tmp1');
      mkdirSync(s);
      chmodSync(s, 0o1777);
      const d = join(s, 'run');
      mkdirSync(d, { mode: 0o755 });
      chownSync(d, evil.uid, evil.gid);
      return d;
    }, () => `is owned by ${EVIL}`],
    ['reached through a symlink another user owns in a sticky directory', () => {
      const s = join(base, 'tmp2');
      mkdirSync(s);
      chmodSync(s, 0o1777);
      const real = join(base, 'real-run');
      mkdirSync(real, { mode: 0o755 });
      const link = join(s, 'run');
      symlinkSync(real, link);
      lchownSync(link, evil.uid, evil.gid); // a link in a sticky directory is owned by whoever made it
      return link;
    }, () => `${join(base, 'tmp2', 'run')} is owned by`],
  ];

  it.each(refusals)('refuses a run directory %s, naming the path and the problem', async (_what, make, problem) => {
    const dir = make();
    const o = await attempt(dir);
    expect(o.result).toBe(1);
    expect(o.output).toContain(`run directory ${dir} is not safe: `);
    expect(o.output).toContain(problem());
    expect(existsSync(join(dir, 'mux'))).toBe(false);
  });

  it('accepts root-owned directories inside sticky world-writable ones (/tmp), root-owned symlinks, and creates a missing one', async () => {
    const s = join(base, 'tmp3');
    mkdirSync(s);
    chmodSync(s, 0o1777);
    const made = join(s, 'run');
    mkdirSync(made, { mode: 0o755 });
    const viaLink = join(base, 'link-to-run');
    symlinkSync(made, viaLink);
    const missing = join(s, 'created');
    for (const dir of [made, viaLink, missing]) {
      const o = await attempt(dir);
      expect([dir, o.result]).toEqual([dir, 'listening']);
    }
    expect(statSync(missing).uid).toBe(0);
    expect(modeOf(missing)).toBe('710');
  });
});

