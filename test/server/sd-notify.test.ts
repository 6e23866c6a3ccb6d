import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datagramSink } from '../fixtures/datagram.js';
import { type RunningDaemon, startOurs } from '../fixtures/daemon.js';
import { DAEMON_BIN } from '../fixtures/paths.js';
import { run } from '../fixtures/run.js';
import { verdict } from '../fixtures/testsaslauthd.js';
import { mkpasswd } from '../fixtures/users.js';
import { writeUserFiles } from '../fixtures/user-files.js';
import { canConnect } from '../fixtures/daemon.js';

let dir: string;
let files: { passwd: string; shadow: string };

beforeAll(async () => {
  dir = mkdtempSync('/tmp/sat-pf-notify-');
  files = writeUserFiles(dir, [{ name: 'sat_pf_n1', hash: await mkpasswd('right horse', 'sha-512') }]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const backend = (): string[] => ['-a', 'shadow', '--passwd-file', files.passwd, '--shadow-file', files.shadow];

describe('sd_notify (Type=notify)', () => {
  it('sends READY=1 only once the socket accepts, STATUS with counts, WATCHDOG=1, and STOPPING=1 on SIGTERM', async () => {
    const runDir = mkdtempSync('/tmp/sat-pf-rd-');
    const socket = join(runDir, 'mux');
    let acceptedAtReady: Promise<boolean> | null = null;
    // The moment READY=1 arrives, the socket must already take connections.
    const sink = datagramSink(join(dir, 'notify1'), (m) => {
      if (m.split('\n').includes('READY=1') && acceptedAtReady === null) acceptedAtReady = canConnect(socket);
    });
    let d: RunningDaemon | undefined;
    try {
      d = await startOurs(backend(), { dir: runDir, env: { ...process.env, NOTIFY_SOCKET: sink.path, WATCHDOG_USEC: '400000' } });
      const ready = await sink.waitFor((m) => m.split('\n').includes('READY=1'), 20_000, 'READY=1');
      expect(ready).toMatch(new RegExp(`^READY=1\nSTATUS=shadow: 0 ok, 0 rejected, 0 unavailable, 0 malformed; 0 in progress, 0 connection\\(s\\) open on 1 socket\\(s\\)\nMAINPID=${d.proc.pid}$`));
      expect(await acceptedAtReady).toBe(true);

      expect(await verdict(socket, 'sat_pf_n1', 'right horse')).toBe('OK');
      expect(await verdict(socket, 'sat_pf_n1', 'wrong horse')).toBe('NO');
      expect(await verdict(socket, 'sat_pf_nobody', 'x')).toBe('NO');
      await sink.waitFor((m) => m.includes('STATUS=shadow: 1 ok, 2 rejected, 0 unavailable, 0 malformed;'), 20_000, 'STATUS with counts');
      await sink.waitFor((m) => m.split('\n').includes('WATCHDOG=1'), 20_000, 'WATCHDOG=1');
      expect(sink.messages.some((m) => m.includes('STOPPING=1'))).toBe(false);

      const code = await d.stop('SIGTERM');
      expect(code).toBe(0);
      const stopping = await sink.waitFor((m) => m.split('\n').includes('STOPPING=1'), 5_000, 'STOPPING=1');
      expect(stopping).toBe('STOPPING=1\nSTATUS=shutting down: 0 request(s) in progress');
    } finally {
      await d?.stop('SIGKILL');
      sink.close();
      rmSync(runDir, { recursive: true, force: true });
    }
  });

  it('sends no WATCHDOG=1 when the manager did not ask for one, and no READY=1 when start-up fails', async () => {
    const sink = datagramSink(join(dir, 'notify2'));
    let d: RunningDaemon | undefined;
    try {
      const r = await run(process.execPath, [DAEMON_BIN, '-a', 'shadow', '--passwd-file', files.passwd, '--shadow-file', join(dir, 'missing'), '-m', join(dir, 'rd2')], {
        env: { ...process.env, NOTIFY_SOCKET: sink.path },
      });
      expect(r.code).toBe(1);
      const failed = await sink.waitFor((m) => m.startsWith('STATUS=failed: '), 5_000, 'STATUS=failed');
      expect(failed).toMatch(/^STATUS=failed: failed to initialize mechanism shadow: .*missing.*\nERRNO=22$/);
      expect(sink.messages.some((m) => m.includes('READY=1'))).toBe(false);

      d = await startOurs(backend(), { env: { ...process.env, NOTIFY_SOCKET: sink.path } });
      await sink.waitFor((m) => m.includes('READY=1'));
      expect(await verdict(d.socket, 'sat_pf_n1', 'right horse')).toBe('OK');
      expect(await d.stop()).toBe(0);
      await sink.waitFor((m) => m.includes('STOPPING=1'));
      expect(sink.messages.some((m) => m.includes('WATCHDOG=1'))).toBe(false);
    } finally {
      await d?.stop('SIGKILL');
      sink.close();
    }
  });

  it('reaches an abstract NOTIFY_SOCKET (@name), which systemd may use', async () => {
    const name = `sat_pf_notify_${process.pid}`;
    // Python binds the abstract name with its exact length, as systemd does.
    const py = spawn('python3', ['-u', '-c', [
      'import socket, sys, json',
      's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
      `s.bind("\\0${name}")`,
      'print("bound", flush=True)',
      'while True: print(json.dumps(s.recv(4096).decode()), flush=True)',
    ].join('\n')], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const seen = (pred: (l: string) => boolean, what: string): Promise<void> => new Promise((resolve, reject) => {
      const check = (): boolean => out.split('\n').some(pred);
      if (check()) return resolve();
      const timer = setTimeout(() => reject(new Error(`python did not see ${what}: ${out}`)), 20_000);
      py.stdout.on('data', () => {
        if (check()) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    py.stdout.on('data', (b: Buffer) => (out += b.toString()));
    let d: RunningDaemon | undefined;
    try {
      await seen((l) => l === 'bound', 'its own bind');
      d = await startOurs(backend(), { env: { ...process.env, NOTIFY_SOCKET: `@${name}` } });
      await seen((l) => l.startsWith('"READY=1\\nSTATUS=shadow: '), 'READY=1');
      expect(await d.stop()).toBe(0);
      await seen((l) => l.startsWith('"STOPPING=1\\n'), 'STOPPING=1');
      expect(d.output()).not.toContain('cannot notify');
    } finally {
      await d?.stop('SIGKILL');
      py.kill('SIGKILL');
    }
  });
});
