import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RunningDovecot, startDovecot } from '../dovecot.js';
import type { Probe } from '../load.js';
import type { BenchTarget, Scenario } from '../scenario.js';

// Dovecot listens on 24320-24322 (the rimap range is 24300-24399).
const DOVECOT_BASE = 24320;
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const REAL_SASLAUTHD = '/usr/sbin/saslauthd';
const USER = { name: 'sat_rimap_bench', password: 'Bench-pw 1' };

function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ path });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Spawns a daemon with `-m <fresh dir>` and waits for its socket. */
async function startDaemon(cmd: string, args: readonly string[]): Promise<BenchTarget> {
  const dir = mkdtempSync('/tmp/sat-rimap-bench-');
  const socket = join(dir, 'mux');
  let out = '';
  // Its own process group: saslauthd in the foreground answers SIGTERM by killing its whole group.
  const proc: ChildProcess = spawn(cmd, [...args, '-m', dir], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  proc.stderr?.on('data', (d: Buffer) => {
    // Keep only the tail: a long run logs a line per request.
    out = (out + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const until = Date.now() + 20_000;
  while (!(existsSync(socket) && (await canConnect(socket)))) {
    if (proc.exitCode !== null || Date.now() > until) {
      proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`${cmd} did not start: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    socket,
    pid: proc.pid,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let dovecot: RunningDovecot | null = null;

/**
 * rimap against a local Dovecot on its plaintext port, the one mode the real saslauthd supports.
 * Right passwords only: Dovecot holds every failed login for about half a second (its auth failure
 * delay cannot go lower), which would measure Dovecot's timer rather than either daemon. The wrong
 * and unknown cases are proven in test/auth/rimap/.
 */
export const rimapScenario: Scenario = {
  name: 'rimap (Dovecot, plaintext LOGIN)',
  concurrency: [1, 8, 32],
  count: 3000,
  seconds: 10,
  async setup(): Promise<readonly Probe[]> {
    dovecot = await startDovecot({ basePort: DOVECOT_BASE, users: [USER] });
    const req = (password: string) => ({ login: USER.name, password, service: 'imap', realm: '' });
    return [{ request: req(USER.password), expect: 'OK' }];
  },
  startOurs(): Promise<BenchTarget> {
    return startDaemon(process.execPath, [join(ROOT, 'bin', 'saslauthd-ts'), '-a', 'rimap', '-O', `127.0.0.1/${DOVECOT_BASE}`, '--log-level', 'warn']);
  },
  async startReal(): Promise<BenchTarget | null> {
    if (!existsSync(REAL_SASLAUTHD)) return null;
    // -d keeps it in the foreground, so stop() really stops it (it would daemonize otherwise).
    return startDaemon(REAL_SASLAUTHD, ['-a', 'rimap', '-O', `127.0.0.1/${DOVECOT_BASE}`, '-n', '5', '-d']);
  },
  async teardown(): Promise<void> {
    await dovecot?.stop();
    dovecot = null;
  },
};

export default rimapScenario;
