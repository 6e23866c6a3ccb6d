import { chmodSync, existsSync, lstatSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startOurs, waitForOutput } from '../fixtures/daemon.js';
import { DAEMON_BIN } from '../fixtures/paths.js';
import { run } from '../fixtures/run.js';
import { verdict } from '../fixtures/testsaslauthd.js';
import { userFiles } from '../fixtures/user-files.js';

// issue 14 item 1: the control socket and `saslauthd-ts ctl`, against a real daemon, with Debian's
// testsaslauthd as the client whose requests are penalised, cached and counted.

const USERS = ['sat_ct_pen1', 'sat_ct_pen2', 'sat_ct_cache'];
let tmp: string;
let runDir: string;
let conf: string;
let d: RunningDaemon;

function writeConf(mechanisms: string, files: { passwd: string; shadow: string }): void {
  // --fail-delay 20000 with --auth-timeout 6000: a NO goes out after 5.4 s (the penalty answers before
  // the deadline), and the next check of that user is 20 s after the failure, past the deadline of
  // any request arriving then: a held request gets NO unchecked unless the admin clears the penalty.
  writeFileSync(conf, [
    `MECHANISMS="${mechanisms}"`,
    `OPTIONS="-c --passwd-file ${files.passwd} --shadow-file ${files.shadow} --fail-delay 20000 --penalty-max 40000 --auth-timeout 6000"`,
    '',
  ].join('\n'));
}

let files: { passwd: string; shadow: string };

beforeAll(async () => {
  tmp = mkdtempSync('/tmp/sat_ct-ctl-');
  chmodSync(tmp, 0o755);
  runDir = join(tmp, 'run');
  conf = join(tmp, 'saslauthd-ts');
  files = await userFiles(join(tmp, 'users'), Object.fromEntries(USERS.map((u) => [u, `${u}-pw`])));
  writeConf('shadow', files);
  d = await startOurs(['--config-file', conf, '--fail-delay', '20000'], { dir: runDir });
  await waitForOutput(d, 'control socket:');
});

afterAll(async () => {
  await d?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const ctl = (...args: string[]) => run(process.execPath, [DAEMON_BIN, 'ctl', '-m', runDir, ...args], { timeoutMs: 90_000 });

async function status(): Promise<Record<string, any>> {
  const r = await ctl('--json', 'status');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Record<string, any>;
}

/** Sends raw bytes to the control socket as root; resolves with what came back before the close. */
function raw(bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ path: join(runDir, 'ctl') });
    let got = '';
    s.on('data', (b: Buffer) => (got += b.toString()));
    s.on('close', () => resolve(got));
    s.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? undefined : reject(e)));
    s.write(bytes);
  });
}

describe('control socket (real daemon)', () => {
  it('is a socket of root, mode 0600, beside mux', () => {
    const st = lstatSync(join(runDir, 'ctl'));
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o7777).toBe(0o600);
    expect([st.uid, st.gid]).toEqual([0, 0]);
  });

  it('refuses a non-root peer by SO_PEERCRED even when the mode would let it in', async () => {
    // The mode is the first lock; the peer check must hold alone, so open the file up as an admin's
    // mistaken chmod would, and connect as nobody.
    chmodSync(runDir, 0o755);
    chmodSync(join(runDir, 'ctl'), 0o666);
    try {
      const script = `const s=require('net').connect(${JSON.stringify(join(runDir, 'ctl'))});let got='';` +
        `s.on('connect',()=>s.write('{"cmd":"status"}\\n'));s.on('data',b=>got+=b);` +
        `s.on('close',()=>{process.stdout.write('uid='+process.getuid()+' reply='+JSON.stringify(got));});s.on('error',e=>process.stdout.write('error '+e.code+' '));`;
      const r = await run('runuser', ['-u', 'nobody', '--', process.execPath, '-e', script]);
      expect(r.stdout).toMatch(/^(error ECONNRESET |error EPIPE )?uid=65534 reply=""$/);
      await waitForOutput(d, 'control connection refused: peer uid 65534 is not root');
      // And ctl as nobody says it could not ask (exit 69), never prints a status.
      const asNobody = await run('runuser', ['-u', 'nobody', '--', process.execPath, DAEMON_BIN, 'ctl', '-m', runDir, 'status']);
      expect(asNobody.code).toBe(69);
      expect(asNobody.stdout).toBe('');
      expect(asNobody.stderr).toContain(join(runDir, 'ctl'));
    } finally {
      chmodSync(join(runDir, 'ctl'), 0o600);
      chmodSync(runDir, 0o700);
    }
    // Root still gets in.
    expect((await status())['pid']).toBe(d.pid);
  });

  it('penalty list shows the penalised user; penalty clear lets that user in at once', async () => {
    const [pen1, pen2] = [USERS[0]!, USERS[1]!];
    expect(await Promise.all([verdict(d.socket, pen1, 'wrong'), verdict(d.socket, pen2, 'wrong')])).toEqual(['NO', 'NO']);

    const list = await ctl('--json', 'penalty', 'list');
    expect(list.code).toBe(0);
    const entries = (JSON.parse(list.stdout) as { enabled: boolean; entries: Record<string, unknown>[] }).entries;
    for (const u of [pen1, pen2]) {
      expect(entries).toContainEqual(expect.objectContaining({ kind: 'user', key: u, failures: 1, delayMs: 20000 }));
    }
    const human = await ctl('penalty', 'list');
    expect(human.stdout).toContain(`user    "${pen1}": 1 failure(s), delay 20000 ms, forgotten in`);

    // Both users' right passwords are now held by the penalty (the next check is 20 s after the failure)…
    const first = verdict(d.socket, pen1, `${pen1}-pw`);
    const second = verdict(d.socket, pen2, `${pen2}-pw`);
    for (let i = 0; (await status())['requests']['inFlight'] < 2; i++) {
      if (i > 100) throw new Error('the two requests were never held');
      await new Promise((r) => setTimeout(r, 50));
    }
    // …and clearing pen1 (in another spelling: keys are folded) lets it be checked now.
    const clear = await ctl('penalty', 'clear', pen1.toUpperCase());
    expect(clear, clear.stderr).toMatchObject({ code: 0, stdout: 'cleared 1 penalised key(s)\n' });
    expect(await first).toBe('OK');
    // pen2 was not cleared: its held request runs into the deadline and is refused unchecked.
    expect(await second).toBe('NO');
    expect(d.output()).toMatch(/control: penalty clear user=SAT_CT_PEN1/);
    const after = JSON.parse((await ctl('--json', 'penalty', 'list')).stdout) as { entries: { key: string }[] };
    expect(after.entries.map((e) => e.key)).toEqual([pen2]);
    expect(await ctl('penalty', 'clear', '--all')).toMatchObject({ code: 0, stdout: 'cleared 1 penalised key(s)\n' });
  }, 60_000);

  it('cache flush USER makes the next request of that user a miss', async () => {
    const u = USERS[2]!;
    expect(await verdict(d.socket, u, `${u}-pw`)).toBe('OK');
    expect(await verdict(d.socket, u, `${u}-pw`)).toBe('OK');
    const before = (await status())['cache'];
    expect(await ctl('cache', 'flush', 'sat_ct_nobody_else')).toMatchObject({ code: 0, stdout: 'credential cache: 0 entries dropped\n' });
    expect(await ctl('cache', 'flush', u)).toMatchObject({ code: 0, stdout: 'credential cache: 1 entries dropped\n' });
    expect(await verdict(d.socket, u, `${u}-pw`)).toBe('OK');
    const after = (await status())['cache'];
    expect(after.misses).toBe(before.misses + 1);
    expect(after.hits).toBe(before.hits);
    expect(await verdict(d.socket, u, `${u}-pw`)).toBe('OK');
    expect((await status())['cache'].hits).toBe(before.hits + 1);
  });

  it('status --json has every field an admin script reads', async () => {
    const s = await status();
    expect(Object.keys(s).sort()).toEqual(
      ['backends', 'cache', 'config', 'configuredAt', 'connections', 'mech', 'penalised', 'penalties', 'pid', 'pools', 'requests', 'sharedState', 'socket', 'startedAt', 'uptimeSec', 'version'].sort(),
    );
    // No --shared-state here (test/cli/fleet-status.test.ts has one).
    expect(s['sharedState']).toBeNull();
    expect(s['version']).toMatch(/^\d+\.\d+\.\d+/);
    expect(s['mech']).toBe('shadow');
    expect(s['socket']).toBe(join(runDir, 'mux'));
    expect(s['requests']['outcomes']['ok']).toBeGreaterThanOrEqual(5);
    expect(s['requests']['outcomes']['rejected']).toBeGreaterThanOrEqual(3);
    expect(typeof s['requests']['p50Ms']).toBe('number');
    expect(s['backends'][0]).toMatchObject({ name: 'shadow', servers: [] });
    expect(s['backends'][0].stats.outcomes.ok).toBeGreaterThanOrEqual(2);
    expect(s['pools'][0]).toEqual({ name: 'crypt', size: 5, busy: 0, queued: 0 });
    expect(s['connections'].accepted).toBeGreaterThanOrEqual(8);
    // sat_ct_pen1's and sat_ct_cache's successes.
    expect(s['cache']).toMatchObject({ entries: 2 });
    expect(s['penalties']).toEqual({ users: 0, addresses: 0 });
    expect(s['config']).toContain('chain (-a): shadow');
    const human = await ctl('status');
    expect(human.stdout).toMatch(new RegExp(`^saslauthd-ts \\S+, pid ${d.pid}, up `));
    expect(human.stdout).toContain('\nbackends:\n  shadow: ok ');
    expect(human.stdout).toContain('\npools: crypt 0/5 busy, 0 queued\n');
  });

  it('a huge or malformed control request closes that connection and is logged; the daemon serves on', async () => {
    expect(await raw(Buffer.alloc(10_000, 'x'))).toBe('');
    await waitForOutput(d, 'control request refused: request longer than 4096 bytes');
    expect(await raw('hello\n')).toBe('{"ok":false,"error":"malformed request (not JSON)"}\n');
    expect(await raw('{"cmd":"shutdown"}\n')).toBe('{"ok":false,"error":"malformed request (unknown command)"}\n');
    await waitForOutput(d, 'control request refused: malformed request (unknown command)');
    expect((await status())['pid']).toBe(d.pid);
  });

  it('reload with a broken configuration answers "not taken" with the reason, and the old one keeps serving', async () => {
    writeConf('nosuchmech', files);
    const bad = await ctl('reload');
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('reload NOT taken; the running configuration stays: bad configuration: unknown authentication mechanism: nosuchmech (available: ' +
      `${bad.stdout.split('(available: ')[1]!.split(')')[0]})\n`);
    expect(await verdict(d.socket, USERS[2]!, `${USERS[2]}-pw`)).toBe('OK');
    const json = await ctl('--json', 'reload');
    expect(JSON.parse(json.stdout)).toMatchObject({ taken: false, mech: 'shadow', restartNeeded: [] });
    writeConf('shadow', files);
    expect(await ctl('reload')).toMatchObject({ code: 0, stdout: 'reload taken (chain: shadow)\n' });
    expect(await verdict(d.socket, USERS[2]!, `${USERS[2]}-pw`)).toBe('OK');
  });

  it('usage errors and a daemon that is not there have their own exit codes', async () => {
    expect((await ctl('frobnicate')).code).toBe(64);
    expect((await ctl('penalty', 'clear')).code).toBe(64);
    const none = await run(process.execPath, [DAEMON_BIN, 'ctl', '-m', join(tmp, 'nothing-here'), 'status']);
    expect(none.code).toBe(69);
    expect(none.stderr).toContain(`cannot reach the control socket ${join(tmp, 'nothing-here', 'ctl')}`);
  });

  it('the control socket goes away with the daemon', async () => {
    await d.stop();
    expect(existsSync(join(runDir, 'ctl'))).toBe(false);
    expect(existsSync(join(runDir, 'mux'))).toBe(false);
  });
});
