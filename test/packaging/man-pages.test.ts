import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLIENT_BIN, DAEMON_BIN, ROOT } from '../fixtures/paths.js';
import { run } from '../fixtures/run.js';

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const page = (name: string): string => join(ROOT, 'man', `${name}.8`);

/** Every -x / --long-flag on the lines of the usage text. */
function helpFlags(help: string): string[] {
  return [...new Set([...help.matchAll(/(?<![\w-])(--?[A-Za-z][\w-]*)/g)].map((m) => m[1] as string))].sort();
}

/** The flags each `.TP` entry of the OPTIONS section documents (the line after `.TP`). */
function manFlags(roff: string): string[] {
  const options = roff.split(/^\.SH /m).find((s) => s.startsWith('OPTIONS')) ?? '';
  const lines = options.split('\n');
  const flags: string[] = [];
  lines.forEach((l, i) => {
    if (l !== '.TP') return;
    const tag = (lines[i + 1] ?? '').replace(/\\f[BIRP]/g, '').replace(/\\-/g, '-');
    for (const m of tag.matchAll(/(?<![\w-])(--?[A-Za-z][\w-]*)/g)) flags.push(m[1] as string);
  });
  return [...new Set(flags)].sort();
}

describe('man pages', () => {
  it('saslauthd-ts(8) documents exactly the flags --help lists', async () => {
    const r = await run(process.execPath, [DAEMON_BIN, '--help']);
    expect(r.code).toBe(0);
    const usage = r.stdout.split('\n').filter((l) => /^\s+-/.test(l)).map((l) => l.trim().split(/\s{2,}/)[0]).join('\n');
    const fromHelp = helpFlags(usage);
    expect(fromHelp.length).toBeGreaterThan(50);
    expect(manFlags(readFileSync(page('saslauthd-ts'), 'utf8'))).toEqual(fromHelp);
  });

  it('testsaslauthd-ts(8) documents exactly the flags its usage lists', async () => {
    const r = await run(process.execPath, [CLIENT_BIN, '--help']);
    expect(r.code).toBe(1);
    const fromUsage = helpFlags(r.stderr.replace(/^testsaslauthd-ts: usage: testsaslauthd-ts/, ''));
    expect(fromUsage).toEqual(['--timeout', '--verbose', '-R', '-a', '-f', '-p', '-r', '-s', '-u']);
    expect(manFlags(readFileSync(page('testsaslauthd-ts'), 'utf8'))).toEqual(fromUsage);
  });

  it('the comparison can fail: a page missing one entry, or with an extra one, differs', () => {
    const roff = readFileSync(page('saslauthd-ts'), 'utf8');
    const without = roff.replace(/^\.TP\n\\fB\\-\\-rimap\\-insecure\\fR\n.*\n/m, '');
    expect(without).not.toBe(roff);
    expect(manFlags(without)).not.toContain('--rimap-insecure');
    const extra = roff.replace(/^\.SH OPTIONS\n/m, '.SH OPTIONS\n.TP\n\\fB\\-\\-no\\-such\\-flag\\fR\nNothing.\n');
    expect(manFlags(extra)).toContain('--no-such-flag');
  });

  it.each(['saslauthd-ts', 'testsaslauthd-ts'])('%s(8) renders without a groff or man warning and names this version', async (name) => {
    const g = await run('groff', ['-ww', '-man', '-z', page(name)]);
    expect(g.stderr).toBe('');
    expect(g.code).toBe(0);
    const m = await run('man', ['--warnings', '-l', page(name)], { env: { ...process.env, MANPAGER: 'cat', MANWIDTH: '80' } });
    expect(m.stderr).toBe('');
    expect(m.code).toBe(0);
    expect(m.stdout).toContain(name.toUpperCase());
    expect(readFileSync(page(name), 'utf8').split('\n')[0]).toContain(`"saslauthd-ts ${VERSION}"`);
  });
});
