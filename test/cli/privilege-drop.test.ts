import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOurs } from '../fixtures/daemon.js';
import { type FixtureFiles, writeFixture } from '../fixtures/fixture-users.js';
import { run } from '../fixtures/run.js';
import { verdict } from '../fixtures/testsaslauthd.js';

// --user/--group drop root once the socket is bound, but only for a backend that says it can work
// unprivileged. With -a shadow that means both files stay readable by the target user: here a
// test-only passwd/shadow pair owned by nobody (never the real /etc/shadow).

const USER = 'sat_rel_priv';
const PASSWORD = 'Priv pass 7';
const NOBODY = { uid: 65534, gid: 65534 };
let mine: FixtureFiles;
let roots: FixtureFiles;

/** The drop happens right after listen(), so a connect can succeed a moment before it: wait for the log line. */
async function dropped(output: () => string): Promise<void> {
  for (let i = 0; i < 400 && !output().includes('dropped privileges to nobody'); i++) await new Promise((r) => setTimeout(r, 25));
}

function ids(pid: number): { uid: string; gid: string; groups: string } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const line = (k: string): string => (status.match(new RegExp(`^${k}:[ \\t]*(.*)$`, 'm'))?.[1] ?? '').trim().replace(/\s+/g, ' ');
  return { uid: line('Uid'), gid: line('Gid'), groups: line('Groups') };
}

beforeAll(async () => {
  mine = await writeFixture([{ name: USER, password: PASSWORD, method: 'yescrypt' }], NOBODY);
  roots = await writeFixture([{ name: USER, password: PASSWORD, method: 'yescrypt' }]);
});
afterAll(() => {
  mine?.remove();
  roots?.remove();
});

describe('--user/--group privilege drop', () => {
  it('runs as nobody:nogroup (real, effective, saved, fs ids; no supplementary root groups) and still answers', async () => {
    const d = await startOurs(['-a', 'shadow', '--passwd-file', mine.passwd, '--shadow-file', mine.shadow, '--user', 'nobody', '--group', 'nogroup']);
    try {
      await dropped(d.output);
      expect(ids(d.proc.pid!)).toEqual({ uid: '65534 65534 65534 65534', gid: '65534 65534 65534 65534', groups: '65534' });
      expect(await verdict(d.socket, USER, PASSWORD)).toBe('OK');
      expect(await verdict(d.socket, USER, 'wrong')).toBe('NO');
      expect(d.output()).toContain('dropped privileges to nobody');
    } finally {
      await d.stop();
    }
  });

  it('--user alone takes the primary group from /etc/passwd', async () => {
    const d = await startOurs(['-a', 'shadow', '--passwd-file', mine.passwd, '--shadow-file', mine.shadow, '--user', 'nobody']);
    try {
      await dropped(d.output);
      expect(ids(d.proc.pid!).gid).toBe('65534 65534 65534 65534');
    } finally {
      await d.stop();
    }
  });

  it('refuses to start when the shadow file would be unreadable after the drop (the real /etc/shadow)', async () => {
    const r = await run(process.execPath, ['bin/saslauthd-ts', '-a', 'shadow', '--user', 'nobody', '-m', '/tmp/sat_rel_never']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot drop privileges to nobody: -a shadow re-reads \/etc\/shadow .* is not readable by nobody/);
  });

  it('refuses a root-owned 0600 fixture too', async () => {
    const r = await run(process.execPath, ['bin/saslauthd-ts', '-a', 'shadow', '--passwd-file', roots.passwd, '--shadow-file', roots.shadow, '--user', 'nobody', '-m', '/tmp/sat_rel_never']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${roots.passwd} (owner 0, group 0, mode 600) is not readable by nobody`);
  });

  it('--group without --user and an unknown --user are usage/start-up errors', async () => {
    const g = await run(process.execPath, ['bin/saslauthd-ts', '-a', 'shadow', '--group', 'nogroup']);
    expect(g.code).toBe(1);
    expect(g.stderr).toContain('--group needs --user');
    const u = await run(process.execPath, ['bin/saslauthd-ts', '-a', 'shadow', '--user', 'sat_rel_nosuch', '-m', '/tmp/sat_rel_never']);
    expect(u.code).toBe(1);
    expect(u.stderr).toContain("--user: user 'sat_rel_nosuch' does not exist");
  });
});
