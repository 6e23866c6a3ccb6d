import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOurs } from '../fixtures/daemon.js';
import { ROOT } from '../fixtures/paths.js';
import { run } from '../fixtures/run.js';

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
let tree: string;

// A copy of the package as an install whose scripts were blocked leaves it: JS present, no build/.
beforeAll(() => {
  tree = mkdtempSync('/tmp/sat_pk-nobuild-');
  for (const p of ['bin', 'dist', 'package.json']) cpSync(join(ROOT, p), join(tree, p), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'));
});
afterAll(() => rmSync(tree, { recursive: true, force: true }));

describe('an install whose compiled parts are missing', () => {
  it('says which file is missing and how to build it, without a stack trace, exit 1', async () => {
    const r = await run(process.execPath, [join(tree, 'bin/saslauthd-ts'), '-a', 'shadow', '-m', join(tree, 'run')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe([
      'saslauthd-ts: the compiled parts are not built (were the install scripts blocked?):',
      `  ${tree}/build/Release/saslauthd_native.node: no such file`,
      `Build them (needs build-essential python3 libcrypt-dev libpam0g-dev): cd ${tree} && npm rebuild --foreground-scripts`,
      'or reinstall the npm package with its scripts allowed (npm 11 allows a tarball by its absolute path):',
      '  npm install -g --allow-scripts=unix-dgram,/path/to/saslauthd-ts-<version>.tgz /path/to/saslauthd-ts-<version>.tgz',
      '',
    ].join('\n'));
  });

  it('still answers --version, which needs no addon', async () => {
    const r = await run(process.execPath, [join(tree, 'bin/saslauthd-ts'), '--version']);
    expect(r.code).toBe(0);
    expect(r.stderr.split('\n')[0]).toBe(`saslauthd-ts ${VERSION}`);
  });

  it('without dist/ (a clone before npm run build) names the build step', async () => {
    const bare = mkdtempSync('/tmp/sat_pk-nodist-');
    try {
      cpSync(join(ROOT, 'bin'), join(bare, 'bin'), { recursive: true });
      cpSync(join(ROOT, 'package.json'), join(bare, 'package.json'));
      for (const [bin, file] of [['saslauthd-ts', 'saslauthd.js'], ['testsaslauthd-ts', 'testsaslauthd.js']] as const) {
        const r = await run(process.execPath, [join(bare, 'bin', bin), '-v']);
        expect(r.code).toBe(1);
        expect(r.stderr).toBe(`${bin}: ${bare}/dist/cli/${file} is missing: the TypeScript is not compiled. In a clone run: npm run build\n`);
      }
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  });
});

describe('version at start-up', () => {
  it('the first log line names the version and Node.js', async () => {
    const d = await startOurs(['-a', 'shadow']);
    try {
      expect(d.output().split('\n')[0]).toMatch(/^\S+Z INFO saslauthd-ts starting version=(\S+) node=(\S+)$/);
      expect(d.output().split('\n')[0]!.endsWith(` version=${VERSION} node=${process.version}`)).toBe(true);
    } finally {
      await d.stop();
    }
  });
});
