import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcess } from '../fixtures/daemon.js';
import { copySource, mustLogged } from '../fixtures/packaging.js';
import { ROOT } from '../fixtures/paths.js';
import { run } from '../fixtures/run.js';
import { verdict } from '../fixtures/testsaslauthd.js';
import { ensureUser, mkpasswd, removeUser } from '../fixtures/users.js';

// The npm tarball as an admin installs it, and the clone-based production install, each run and
// asked by Debian's testsaslauthd. A private global prefix keeps /usr free for the .deb test.
const USER = 'sat_pk_npm';
const PASSWORD = 'Npm pass 1';
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
let work: string;
let tgz: string;
const npmEnv = { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' };

beforeAll(async () => {
  work = mkdtempSync('/tmp/sat_pk-npm-');
  const src = join(work, 'src');
  await copySource(src);
  // prepack compiles with the tree's devDependencies.
  symlinkSync(join(ROOT, 'node_modules'), join(src, 'node_modules'));
  await mustLogged('npm', ['pack', '--pack-destination', work], { cwd: src, log: join(work, 'pack.log'), timeoutMs: 300_000, env: npmEnv });
  tgz = join(work, `saslauthd-ts-${VERSION}.tgz`);
  await ensureUser(USER, await mkpasswd(PASSWORD, 'sha-512'));
}, 360_000);

afterAll(async () => {
  await removeUser(USER);
  if (work) rmSync(work, { recursive: true, force: true });
});

async function authenticates(bin: string, client: string): Promise<void> {
  const d = await startProcess(bin, ['-a', 'shadow', '--fail-delay', '0']);
  try {
    expect(d.output().split('\n')[0]).toContain(`INFO saslauthd-ts starting version=${VERSION} `);
    expect(await verdict(d.socket, USER, PASSWORD)).toBe('OK');
    expect(await verdict(d.socket, USER, 'wrong')).toBe('NO');
    const own = await run(client, ['-u', USER, '-p', PASSWORD, '-f', d.socket]);
    expect([own.code, own.stdout]).toEqual([0, '0: OK "Success."\n']);
  } finally {
    expect(await d.stop()).toBe(0);
  }
}

describe('the npm package', () => {
  it('holds the compiled JavaScript and the native sources, not the tests or TypeScript', async () => {
    const r = await run('tar', ['tzf', tgz]);
    const files = r.stdout.split('\n').filter((f) => f !== '');
    for (const f of ['package/dist/cli/saslauthd.js', 'package/bin/saslauthd-ts', 'package/binding.gyp', 'package/src/native/addon/crypt.cc',
      'package/src/native/pam-helper/pam_helper.cc', 'package/man/saslauthd-ts.8', 'package/LICENSE', 'package/CHANGELOG.md', 'package/README.md', 'package/docs/README.md', 'package/docs/cli.md']) {
      expect(files, f).toContain(f);
    }
    expect(files.filter((f) => /^package\/(test|build|dist\/bench)\/|\.ts$|\.map$/.test(f))).toEqual([]);
    const pkg = JSON.parse((await run('tar', ['xzOf', tgz, 'package/package.json'])).stdout) as Record<string, unknown>;
    expect(pkg['private']).toBeUndefined();
    expect((pkg['scripts'] as Record<string, string>)['prepare']).toBeUndefined();
  });

  it('npm install -g with the documented --allow-scripts builds, runs, authenticates and uninstalls, even with --strict-allow-scripts', async () => {
    const prefix = join(work, 'global');
    mkdirSync(join(prefix, 'lib'), { recursive: true });
    const log = join(work, 'install.log');
    const out = await mustLogged('npm', ['install', '-g', '--prefix', prefix, '--strict-allow-scripts', `--allow-scripts=unix-dgram,${tgz}`, tgz],
      { log, timeoutMs: 600_000, env: npmEnv });
    expect(out).not.toContain('not yet covered by allowScripts');
    const lib = join(prefix, 'lib/node_modules/saslauthd-ts');
    expect(existsSync(join(lib, 'build/Release/saslauthd_native.node'))).toBe(true);
    expect(existsSync(join(lib, 'build/Release/saslauthd_pam_helper'))).toBe(true);
    expect(existsSync(join(lib, 'node_modules/typescript'))).toBe(false);
    const v = await run(join(prefix, 'bin/saslauthd-ts'), ['--version']);
    expect(v.stderr.split('\n')[0]).toBe(`saslauthd-ts ${VERSION}`);
    await authenticates(join(prefix, 'bin/saslauthd-ts'), join(prefix, 'bin/testsaslauthd-ts'));
    await mustLogged('npm', ['uninstall', '-g', '--prefix', prefix, 'saslauthd-ts'], { log, timeoutMs: 120_000, env: npmEnv });
    expect(existsSync(lib)).toBe(false);
    expect(readdirSync(join(prefix, 'bin'))).toEqual([]);
  });

  it('the same install without allowed scripts is refused by --strict-allow-scripts, naming our package', async () => {
    const prefix = join(work, 'strict');
    mkdirSync(join(prefix, 'lib'), { recursive: true });
    const r = await run('npm', ['install', '-g', '--prefix', prefix, '--strict-allow-scripts', tgz], { timeoutMs: 300_000, env: npmEnv });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`saslauthd-ts@${VERSION} (install: node-gyp rebuild)`);
  });

  it('a clone installs for production with npm ci && npm run build && npm prune --omit=dev', async () => {
    const clone = join(work, 'clone');
    await copySource(clone);
    const log = join(work, 'clone.log');
    for (const args of [['ci', '--foreground-scripts'], ['run', 'build'], ['prune', '--omit=dev']]) {
      await mustLogged('npm', args, { cwd: clone, log, timeoutMs: 600_000, env: npmEnv });
    }
    expect(existsSync(join(clone, 'node_modules/typescript'))).toBe(false);
    expect(existsSync(join(clone, 'node_modules/pino'))).toBe(true);
    await authenticates(join(clone, 'bin/saslauthd-ts'), join(clone, 'bin/testsaslauthd-ts'));
  });
});
