import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOurs, waitForOutput } from '../fixtures/daemon.js';
import { DAEMON_BIN } from '../fixtures/paths.js';
import { must, run } from '../fixtures/run.js';
import { ensureUser, mkpasswd, removeUser } from '../fixtures/users.js';

const daemon = (args: string[]) => run(process.execPath, [DAEMON_BIN, ...args]);
const USER = 'sat_cli_user';

beforeAll(async () => ensureUser(USER, await mkpasswd('cli pw', 'sha-512')));
afterAll(() => removeUser(USER));

describe('saslauthd-ts command line', () => {
  it('-v prints version and mechanisms to stderr like saslauthd, exit 0', async () => {
    const r = await daemon(['-v']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^saslauthd-ts \d+\.\d+\.\d+\nauthentication mechanisms: .*\bshadow\b.*\n\n$/);
  });

  it.each([
    [['-m', '/tmp/x'], 'no authentication mechanism specified'],
    [['-a', 'kerberos9'], 'unknown authentication mechanism: kerberos9'],
    [['-a', 'shadow', '-n', 'many'], "'many' is not a whole number"],
    [['-a', 'shadow', '-n', '-1'], 'must be between 0'],
    [['-a', 'shadow', '-m', 'relative/dir'], 'requires an absolute pathname'],
    [['-a', 'shadow', '-t', '0'], 'must be between 1'],
    [['-a', 'shadow', '-s', '0'], 'must be between 1'],
    [['-a', 'shadow', '-X'], "unknown option '-X'"], // -T and -H are saslauthd(8) flags: accepted (saslauthd-flags.test.ts)
    [['-a', 'shadow', '--socket-mode', '999'], 'is not an octal file mode'],
  ])('%j is a usage error with a message and exit 1 (saslauthd exits 0)', async (args, message) => {
    const r = await daemon(args);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(message);
  });

  it('--help prints usage and exits 0', async () => {
    const r = await daemon(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('-a, --mech <name>');
  });

  it('--check validates the backend and exits 0 without listening', async () => {
    const dir = mkdtempSync('/tmp/sat-cli-');
    const r = await daemon(['-a', 'shadow', '-m', dir, '--check']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      '\n# backends, chains and wrappers\nchain (-a): shadow\nshadow: passwd=/etc/passwd shadow=/etc/shadow\n' +
        'fail delay: 2000 ms (+0..25% jitter), doubles per consecutive failure of a user or client address up to 15000 ms; ' +
        'one check at a time per penalised key, at most 4 held, 65536 remembered\n' +
        `cache: off\nsocket: ${dir}/mux\n# checks\nok: run directory ${dir} is usable; ${dir}/mux is free\n`,
    );
    expect(r.stdout).toMatch(/\nconfiguration OK\n$/);
    expect(existsSync(join(dir, 'mux'))).toBe(false);
    const bad = await daemon(['-a', 'shadow', '--shadow-file', '/tmp/sat-cli-does-not-exist', '--check']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('failed to initialize mechanism shadow');
    rmSync(dir, { recursive: true });
  });
});

describe('socket file handling', () => {
  it('creates a missing run directory 0710 root:sasl, binds mux, removes it on SIGTERM, exit 0', async () => {
    const parent = mkdtempSync('/tmp/sat-cli-');
    const dir = join(parent, 'saslauthd');
    const d = await startOurs(['-a', 'shadow'], { dir });
    await waitForOutput(d, 'listening on socket');
    const st = statSync(dir);
    expect((st.mode & 0o7777).toString(8)).toBe('710');
    expect(st.uid).toBe(0);
    expect(st.gid).toBe(Number((await must('getent', ['group', 'sasl'])).split(':')[2]));
    expect(statSync(d.socket).isSocket()).toBe(true);
    expect(d.output()).not.toContain('SECURITY');
    expect(await d.stop()).toBe(0);
    expect(existsSync(join(dir, 'mux'))).toBe(false);
    expect(d.output()).toContain('master exited');
    rmSync(parent, { recursive: true });
  });

  it('warns loudly when every local user can reach the socket', async () => {
    const d = await startOurs(['-a', 'shadow']); // mkdtemp dir is 0700… open it up
    await d.stop();
    const dir = mkdtempSync('/tmp/sat-cli-');
    await must('chmod', ['0755', dir]);
    const open = await startOurs(['-a', 'shadow'], { dir });
    // The warning is logged just after listen(), so it may trail the socket becoming connectable.
    await waitForOutput(open, 'listening on socket');
    expect(open.output()).toContain('SECURITY: every local user can connect to');
    await open.stop();
    rmSync(dir, { recursive: true });
  });

  it('replaces a stale socket file left by a dead daemon', async () => {
    const dir = mkdtempSync('/tmp/sat-cli-');
    const sock = join(dir, 'mux');
    await must('python3', ['-c', `import socket; s=socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(sock)})`]);
    expect(statSync(sock).isSocket()).toBe(true);
    const d = await startOurs(['-a', 'shadow'], { dir });
    expect(d.output()).toContain('removing stale socket file');
    expect((await run('/usr/sbin/testsaslauthd', ['-u', USER, '-p', 'cli pw', '-f', sock])).code).toBe(0);
    await d.stop();
    rmSync(dir, { recursive: true });
  });

  it('refuses to start on a socket another daemon is listening on, and leaves it working', async () => {
    const first = await startOurs(['-a', 'shadow']);
    const second = await daemon(['-a', 'shadow', '-m', first.dir]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`another daemon is already listening on ${first.socket}`);
    expect((await run('/usr/sbin/testsaslauthd', ['-u', USER, '-p', 'cli pw', '-f', first.socket])).code).toBe(0);
    await first.stop();
  });

  it('refuses to replace a file that is not a socket', async () => {
    const dir = mkdtempSync('/tmp/sat-cli-');
    writeFileSync(join(dir, 'mux'), 'precious');
    const r = await daemon(['-a', 'shadow', '-m', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('exists and is not a socket');
    rmSync(dir, { recursive: true });
  });

  it('applies --socket-mode and --socket-group', async () => {
    const d = await startOurs(['-a', 'shadow', '--socket-mode', '0660', '--socket-group', 'sasl']);
    // The socket accepts from listen() on; its group is set just after, and then the line is logged.
    await waitForOutput(d, 'listening on socket');
    const st = statSync(d.socket);
    expect((st.mode & 0o777).toString(8)).toBe('660');
    expect(st.gid).toBe(Number((await must('getent', ['group', 'sasl'])).split(':')[2]));
    await d.stop();
  });

  it('refuses a run directory whose socket path would not fit in sun_path', async () => {
    const r = await daemon(['-a', 'shadow', '-m', `/tmp/${'d'.repeat(110)}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('longer than 107 bytes');
  });
});
