import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { daemonProgram } from '../../src/cli/daemon-args.js';
import { ROOT } from '../fixtures/paths.js';

/** README.md and every page under docs/: the documentation a reader follows links through. */
function pages(): string[] {
  const out = [join(ROOT, 'README.md')];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.md')) out.push(p);
    }
  };
  walk(join(ROOT, 'docs'));
  return out;
}

/** Markdown text without fenced and indented code blocks, where a `[x](y)` is not a link. */
function prose(text: string): string {
  const lines: string[] = [];
  let fenced = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    else if (!fenced && !/^( {4}|\t)/.test(line)) lines.push(line.replace(/`[^`]*`/g, ''));
  }
  return lines.join('\n');
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, -1, -2 for repeats. */
function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fenced = false;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const m = fenced ? null : /^#{1,6} (.*)$/.exec(line);
    if (!m) continue;
    const base = m[1]!.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

describe('documentation links', () => {
  it('every relative link in README.md and docs/ names a file that exists, and an anchor it has', () => {
    const broken: string[] = [];
    let checked = 0;
    for (const page of pages()) {
      for (const m of prose(readFileSync(page, 'utf8')).matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/.test(target)) continue; // http:, https:, mailto:
        checked++;
        const [path = '', anchor] = target.split('#');
        const file = path === '' ? page : join(dirname(page), path);
        const where = `${relative(ROOT, page)}: ${target}`;
        if (!existsSync(file)) {
          broken.push(`${where} (no such file)`);
          continue;
        }
        if (anchor !== undefined && !(statSync(file).isFile() && anchors(file).has(anchor))) {
          broken.push(`${where} (no heading with that anchor)`);
        }
      }
    }
    expect(broken).toEqual([]);
    expect(checked).toBeGreaterThan(50);
  });

  it('every file or directory of this repository that the documentation names in `code` exists', () => {
    const missing: string[] = [];
    let checked = 0;
    for (const page of pages()) {
      let fenced = false;
      for (const line of readFileSync(page, 'utf8').split('\n')) {
        if (line.startsWith('```')) fenced = !fenced;
        if (fenced || /^( {4}|\t)/.test(line)) continue;
        for (const m of line.matchAll(/`((?:src|test|bench|systemd|debian|man|\.ci)\/[^`\s]*)`/g)) {
          const path = m[1]!;
          if (/[<>*{]/.test(path)) continue; // a pattern, not a path
          checked++;
          if (!existsSync(join(ROOT, path))) missing.push(`${relative(ROOT, page)}: ${path}`);
        }
      }
    }
    expect(missing).toEqual([]);
    expect(checked).toBeGreaterThan(40);
  });

  it('README.md is a front page: at most 250 lines, with the two promised set-up lines verbatim', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme.split('\n').length).toBeLessThanOrEqual(250);
    const lines = readme.split('\n').map((l) => l.trim());
    expect(lines).toContain('apt-get update && apt-get install -y build-essential python3 libcrypt-dev libpam0g-dev libdb5.3-dev libkrb5-dev && npm ci && npm run build && ./bin/saslauthd-ts -a shadow');
    expect(lines).toContain('bash .ci/install-deps && npm ci && npm test');
  });

  it('docs/cli.md names every flag saslauthd-ts --help lists', () => {
    const cli = readFileSync(join(ROOT, 'docs', 'cli.md'), 'utf8');
    const flags = daemonProgram().options.flatMap((o) => [o.short, o.long]).filter((f): f is string => f !== undefined);
    expect(flags.length).toBeGreaterThan(60);
    // As written in the tables: `-a, --mech NAME`, `--cache-size KiB`, `--syslog`.
    const missing = flags.filter((f) => !new RegExp(`[\`\\s,]${f}[\\s,\`=]`).test(cli));
    expect(missing).toEqual([]);
  });
});
