import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest } from '../../src/client/saslauthd-client.js';
import { isOkReply } from '../../src/protocol/index.js';
import { gidOf } from '../../src/server/ids.js';
import { type RunningDaemon, startReal } from '../fixtures/daemon.js';
import { copySource, commandOfUnit, mustLogged, unitValues } from '../fixtures/packaging.js';
import { ROOT } from '../fixtures/paths.js';
import { PostfixHarness, SMTP_AUTH_FAILED, SMTP_AUTH_OK } from '../fixtures/postfix.js';
import { must, run } from '../fixtures/run.js';
import { verdict } from '../fixtures/testsaslauthd.js';
import { ensureUser, mkpasswd, removeUser } from '../fixtures/users.js';

// Builds the .deb from debian/, installs it with apt beside sasl2-bin, runs the installed daemon
// the way its units say, authenticates with testsaslauthd and Postfix, upgrades it under load,
// and purges it. systemd is not PID 1 here: test/fixtures/socket-unit.py holds the sockets
// saslauthd-ts.socket describes and restarts the service as `systemctl try-restart` would.
const PKG = 'saslauthd-ts';
const USER = 'sat_pk_deb';
const PASSWORD = 'Deb pass 1';
const UNIT_DIR = '/lib/systemd/system';
const CHROOT_RUN = '/var/spool/postfix/var/run/saslauthd';
async function apt(...args: string[]): Promise<void> {
  const r = await run('apt-get', ['-y', '-q', '-o', 'DPkg::Lock::Timeout=600', ...args],
    { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeoutMs: 900_000 });
  if (r.code !== 0) throw new Error(`apt-get ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
}

let work: string;
let deb: string;
let newer: string;
let newerVersion: string;
let holder: ChildProcess | null = null;
let holderOut = '';
let real: RunningDaemon | null = null;
let createdSpoolVar = false;
const pf = new PostfixHarness({ port: 26725, work: '/tmp/sat_pk-postfix', mark: '# sat_pk test configuration' });

const installedVersion = async (): Promise<string | null> => {
  const r = await run('dpkg-query', ['-W', '-f', '${db:Status-Abbrev}${Version}', PKG]);
  return r.code === 0 && r.stdout.startsWith('ii') ? r.stdout.slice(3).trim() : null;
};

async function purgeIfInstalled(): Promise<void> {
  const r = await run('dpkg-query', ['-W', '-f', '${db:Status-Abbrev}', PKG]);
  if (r.code === 0 && !r.stdout.startsWith('un') && !r.stdout.startsWith('pn')) await apt('purge', PKG);
}

function waitFor(pred: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (pred()) resolve();
      else if (Date.now() > until) reject(new Error(`timed out waiting for ${what}:\n${holderOut}`));
      else setTimeout(tick, 25);
    };
    tick();
  });
}

const holderSay = (word: string): void => {
  holder?.stdin?.write(`${word}\n`);
};

beforeAll(async () => {
  await purgeIfInstalled();
  work = mkdtempSync('/tmp/sat_pk-deb-');
  chmodSync(work, 0o755);
  const src = join(work, 'src');
  await copySource(src);
  await mustLogged('dpkg-buildpackage', ['-us', '-uc', '-b'], { cwd: src, log: join(work, 'build.log'), timeoutMs: 1_200_000 });
  const built = readdirSync(work).filter((f) => /^saslauthd-ts_.*\.deb$/.test(f));
  expect(built).toHaveLength(1);
  deb = join(work, built[0] as string);
  // A newer build of the same tree: only the version differs, which is what an upgrade needs.
  const tree = join(work, 'newer');
  await must('dpkg-deb', ['-R', deb, tree]);
  const version = (await must('dpkg-deb', ['-f', deb, 'Version'])).trim();
  newerVersion = `${version}+sat1`;
  const control = join(tree, 'DEBIAN/control');
  writeFileSync(control, readFileSync(control, 'utf8').replace(/^Version: .*$/m, `Version: ${newerVersion}`));
  newer = join(work, `saslauthd-ts_${newerVersion}_amd64.deb`);
  await must('dpkg-deb', ['--root-owner-group', '-b', tree, newer]);
  await ensureUser(USER, await mkpasswd(PASSWORD, 'yescrypt'));
}, 1_500_000);

afterAll(async () => {
  if (holder && holder.exitCode === null) {
    holderSay('stop');
    await new Promise((r) => setTimeout(r, 2_000));
    holder.kill('SIGKILL');
  }
  await real?.stop();
  await pf.end();
  rmSync(CHROOT_RUN, { recursive: true, force: true });
  if (createdSpoolVar) rmSync('/var/spool/postfix/var', { recursive: true, force: true });
  await purgeIfInstalled();
  await removeUser(USER);
  if (work) rmSync(work, { recursive: true, force: true });
}, 600_000);

describe('the Debian package', () => {
  it('lintian finds no error', async () => {
    const r = await run('lintian', ['--no-tag-display-limit', deb], { timeoutMs: 300_000 });
    const tags = r.stdout.split('\n').filter((l) => /^[EWIP]: /.test(l));
    expect(tags.filter((l) => l.startsWith('E: '))).toEqual([]);
    // The one warning we keep, and why: debian/README.source.
    expect(tags.filter((l) => l.startsWith('W: ')).map((l) => l.split(' ')[2])).toEqual(['initial-upload-closes-no-bugs']);
  });

  it('installs with apt beside sasl2-bin, and a running saslauthd keeps answering', async () => {
    real = await startReal(['-a', 'shadow']);
    expect(await verdict(real.socket, USER, PASSWORD)).toBe('OK');
    await apt('install', deb);
    expect(await installedVersion()).toBe((await must('dpkg-deb', ['-f', deb, 'Version'])).trim());
    expect(await verdict(real.socket, USER, PASSWORD)).toBe('OK');
    expect((await run('dpkg-query', ['-W', '-f', '${Status}', 'sasl2-bin'])).stdout).toBe('install ok installed');
    for (const f of ['/usr/sbin/saslauthd-ts', '/usr/bin/testsaslauthd-ts', '/usr/lib/saslauthd-ts/build/Release/saslauthd_native.node',
      '/usr/lib/saslauthd-ts/build/Release/saslauthd_pam_helper', '/usr/lib/saslauthd-ts/node_modules/pino/package.json',
      `${UNIT_DIR}/saslauthd-ts.service`, `${UNIT_DIR}/saslauthd-ts.socket`, '/etc/default/saslauthd-ts',
      '/usr/share/man/man8/saslauthd-ts.8.gz', '/usr/share/man/man8/testsaslauthd-ts.8.gz',
      '/usr/share/doc/saslauthd-ts/README.Debian', '/usr/share/doc/saslauthd-ts/copyright']) {
      expect(existsSync(f), f).toBe(true);
    }
    // Production dependencies only.
    expect(existsSync('/usr/lib/saslauthd-ts/node_modules/typescript')).toBe(false);
    expect(existsSync('/usr/lib/saslauthd-ts/node_modules/vitest')).toBe(false);
    expect(readFileSync(`/var/lib/dpkg/info/${PKG}.conffiles`, 'utf8').split('\n')).toContain('/etc/default/saslauthd-ts');
    expect((await run('getent', ['group', 'sasl'])).code).toBe(0);
    const v = await run('/usr/sbin/saslauthd-ts', ['-v']);
    expect(v.stderr.split('\n')[0]).toBe(`saslauthd-ts ${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}`);
    expect((await run('man', ['-w', 'saslauthd-ts'])).stdout.trim()).toBe('/usr/share/man/man8/saslauthd-ts.8.gz');
    await real.stop();
    real = null;
  });

  it('postinst creates the system group sasl when it is missing (in a private copy of /etc)', async (ctx) => {
    // sasl2-bin made the group on this machine; a mount namespace gives postinst an /etc without it.
    const probe = await run('unshare', ['-m', 'true']);
    if (probe.code !== 0) ctx.skip(`no mount namespace here (unshare -m: ${probe.stderr.trim()})`);
    const etc = join(work, 'etc');
    const r = await run('unshare', ['-m', '--propagation', 'private', 'sh', '-c', [
      'set -e', `cp -a /etc '${etc}'`, `mount --bind '${etc}' /etc`, "sed -i '/^sasl:/d' /etc/group /etc/gshadow",
      'if getent group sasl; then exit 3; fi', `/var/lib/dpkg/info/${PKG}.postinst configure >/dev/null 2>&1`, 'getent group sasl',
    ].join('; ')], { timeoutMs: 120_000 });
    rmSync(etc, { recursive: true, force: true });
    expect(r.code).toBe(0);
    const m = /^sasl:x:(\d+):$/.exec(r.stdout.trim());
    expect(m, r.stdout + r.stderr).not.toBe(null);
    expect(Number(m?.[1])).toBeLessThan(1000); // a system group
    expect(gidOf('sasl')).toBeGreaterThan(0); // the real /etc/group is untouched
  });

  it('its installed units pass systemd-analyze verify', async () => {
    const r = await run('systemd-analyze', ['verify', `${UNIT_DIR}/saslauthd-ts.socket`, `${UNIT_DIR}/saslauthd-ts.service`]);
    expect(r.stderr + r.stdout).toBe('');
    expect(r.code).toBe(0);
    expect(unitValues(readFileSync(`${UNIT_DIR}/saslauthd-ts.service`, 'utf8'), 'ExecStart')[0]).toMatch(/^\/usr\/sbin\/saslauthd-ts /);
  });

  it('runs as its units say and authenticates testsaslauthd, testsaslauthd-ts and chrooted Postfix', async () => {
    const service = readFileSync(`${UNIT_DIR}/saslauthd-ts.service`, 'utf8');
    const socket = readFileSync(`${UNIT_DIR}/saslauthd-ts.socket`, 'utf8');
    const listen = unitValues(socket, 'ListenStream').filter((p) => p !== '');
    expect(listen).toContain('/run/saslauthd/mux');
    expect(listen).toContain(`${CHROOT_RUN}/mux`);
    // The chroot path is the real one (held under the Postfix lock); /run/saslauthd/mux is
    // stood in for by a path of ours, so a saslauthd elsewhere on the machine is left alone.
    const main = join(work, 'mux');
    await pf.begin();
    createdSpoolVar = !existsSync('/var/spool/postfix/var');
    mkdirSync(CHROOT_RUN, { recursive: true, mode: 0o755 });
    chownSync(CHROOT_RUN, 0, 0);
    chmodSync(CHROOT_RUN, Number.parseInt(unitValues(socket, 'DirectoryMode')[0] ?? '0755', 8));
    const group = unitValues(socket, 'SocketGroup')[0] ?? 'root';
    holder = spawn('python3', [join(ROOT, 'test/fixtures/socket-unit.py'), '--listen', main, '--listen', `${CHROOT_RUN}/mux`,
      '--group', group, '--mode', unitValues(socket, 'SocketMode')[0] ?? '0666', '--name', unitValues(socket, 'FileDescriptorName')[0] ?? 'saslauthd',
      '--', ...commandOfUnit(service)], { stdio: ['pipe', 'pipe', 'pipe'] });
    holder.stdout?.on('data', (b: Buffer) => (holderOut += b.toString()));
    holder.stderr?.on('data', (b: Buffer) => (holderOut += b.toString()));
    await waitFor(() => (holderOut.match(/listening on socket: /g) ?? []).length === 2, 'the daemon to listen on both sockets');
    expect(holderOut).toContain('INFO saslauthd-ts ');
    expect(holderOut).toContain(`listening on socket: ${main} (socket activation) fd=3 name=saslauthd`);
    expect(gidOf(group)).toBeGreaterThan(0);

    expect(await verdict(main, USER, PASSWORD, { service: 'smtp' })).toBe('OK');
    expect(await verdict(main, USER, 'wrong', { service: 'smtp' })).toBe('NO');
    const own = await run('/usr/bin/testsaslauthd-ts', ['-u', USER, '-p', PASSWORD, '-f', main, '-s', 'smtp']);
    expect([own.code, own.stdout]).toEqual([0, '0: OK "Success."\n']);

    pf.writeMasterCf(true);
    pf.writeSmtpdConf('/var/run/saslauthd/mux'); // inside smtpd's chroot
    await pf.restart();
    expect(await pf.smtpAuth('PLAIN', USER, PASSWORD)).toBe(SMTP_AUTH_OK);
    expect(await pf.smtpAuth('LOGIN', USER, 'not it')).toBe(SMTP_AUTH_FAILED);
    expect(holderOut).toContain(`auth success: [user=${USER}] [service=smtp] [realm=] [mech=shadow]`);
  });

  it('upgrades under load without a failed request: apt-get install of a newer build, then the restart', async () => {
    expect(holder?.exitCode).toBe(null);
    const main = join(work, 'mux');
    let ok = 0;
    const failures: string[] = [];
    let loading = true;
    const client = async (): Promise<void> => {
      while (loading) {
        try {
          const reply = await sendRequest(main, { login: USER, password: PASSWORD, service: 'smtp', realm: '' }, { timeoutMs: 30_000 });
          if (isOkReply(reply)) ok++;
          else failures.push(reply);
        } catch (e) {
          failures.push((e as Error).message);
        }
      }
    };
    const clients = Array.from({ length: 4 }, client);
    await new Promise((r) => setTimeout(r, 500));
    await apt('install', newer);
    expect(await installedVersion()).toBe(newerVersion);
    const duringInstall = ok;
    // What postinst asks systemd for on upgrade (deb-systemd-invoke try-restart saslauthd-ts.service).
    const starts = (holderOut.match(/^started \d+$/gm) ?? []).length;
    holderSay('restart');
    await waitFor(() => (holderOut.match(/^started \d+$/gm) ?? []).length === starts + 1, 'the restarted daemon');
    await waitFor(() => (holderOut.match(/listening on socket: /g) ?? []).length === 4, 'the restarted daemon to listen');
    const afterRestart = ok;
    await waitFor(() => ok > afterRestart + 20, 'requests answered by the new daemon');
    loading = false;
    await Promise.all(clients);
    expect(holderOut).toMatch(/^exited 0$/m);
    expect(failures).toEqual([]);
    expect(duringInstall).toBeGreaterThan(0);
  });

  it('purges to nothing that policy does not keep', async () => {
    holderSay('stop');
    await waitFor(() => holder?.exitCode !== null, 'the daemon to stop');
    expect(holder?.exitCode).toBe(0);
    holder = null;
    const files = (await must('dpkg-query', ['-L', PKG])).split('\n').filter((f) => f.startsWith('/') && f !== '/.');
    expect(files.length).toBeGreaterThan(100);
    // An admin's edit of the conffile is removed by purge too.
    writeFileSync('/etc/default/saslauthd-ts', `${readFileSync('/etc/default/saslauthd-ts', 'utf8')}\nTHREADS=7\n`);
    await apt('purge', PKG);
    expect(await installedVersion()).toBe(null);
    expect((await run('dpkg-query', ['-W', '-f', '${db:Status-Abbrev}', PKG])).stdout.trim()).not.toMatch(/^(ii|rc)/);
    const left: string[] = [];
    for (const f of files) {
      if (!existsSync(f)) continue;
      // A directory other packages also use (/usr/share/man/man8…) stays; nothing else may.
      if ((await run('dpkg-query', ['-S', f])).code !== 0) left.push(f);
    }
    expect(left).toEqual([]);
    for (const f of ['/etc/default/saslauthd-ts', '/usr/lib/saslauthd-ts', '/usr/share/doc/saslauthd-ts']) expect(existsSync(f), f).toBe(false);
    expect(readdirSync('/var/lib/dpkg/info').filter((f) => f.startsWith(`${PKG}.`))).toEqual([]);
    const helperState = '/var/lib/systemd/deb-systemd-helper-enabled';
    if (existsSync(helperState)) expect(readdirSync(helperState).filter((f) => f.includes('saslauthd-ts'))).toEqual([]);
    // Kept by policy: the group sasl2-bin, Postfix and Cyrus share.
    expect((await run('getent', ['group', 'sasl'])).code).toBe(0);
  });
});
