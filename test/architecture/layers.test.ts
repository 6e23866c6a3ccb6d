import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

// issue 12 item 2: layers point one way (docs/development.md, "Layers"). Every import of every
// file under src/ is read and checked against the table below; a new import against the rule fails
// here with the file, the line and the layer it may not reach.

const ROOT = resolve(__dirname, '../..');
const SRC = join(ROOT, 'src');

/**
 * What each layer may import besides itself. `cli` composes everything; nothing imports `cli`.
 * `errors` is src/errors.ts, the one errors module: everyone may throw its classes, it imports nothing.
 */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  errors: [],
  protocol: ['errors'],
  native: ['errors'],
  io: ['errors', 'native'],
  log: ['errors', 'io'],
  client: ['errors', 'protocol'],
  config: ['errors'],
  stats: ['errors'],
  auth: ['errors', 'native', 'log', 'protocol', 'stats'],
  server: ['errors', 'protocol', 'native', 'io', 'log', 'auth', 'stats'],
  cli: ['errors', 'protocol', 'native', 'io', 'log', 'client', 'config', 'auth', 'server', 'stats'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

interface Import {
  readonly file: string;
  readonly line: number;
  readonly spec: string;
}

/** Static `import … from`, `export … from`, side-effect `import '…'` and dynamic `import('…')`. */
function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const out: Import[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)'([^']+)'/gm;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    out.push({ file, line: text.slice(0, m.index).split('\n').length, spec: m[1]! });
  }
  return out;
}

const layerOf = (file: string): string => (file === join(SRC, 'errors.ts') ? 'errors' : relative(SRC, file).split(sep)[0]!);
const where = (i: Import): string => `${relative(ROOT, i.file)}:${i.line} imports '${i.spec}'`;
const FILES = sourceFiles(SRC);
const IMPORTS = FILES.flatMap(importsOf);
const RELATIVE = IMPORTS.filter((i) => i.spec.startsWith('.'));

describe('layers (docs/development.md)', () => {
  it('finds the files and their imports', () => {
    expect(FILES.length).toBeGreaterThan(50);
    expect(RELATIVE.length).toBeGreaterThan(100);
  });

  it('every file is in a known layer', () => {
    expect(FILES.filter((f) => !(layerOf(f) in MAY_IMPORT) || (!relative(SRC, f).includes(sep) && layerOf(f) !== 'errors')).map((f) => relative(ROOT, f))).toEqual([]);
  });

  it('no import points against the layers', () => {
    const against = RELATIVE.flatMap((i) => {
      const target = resolve(dirname(i.file), i.spec).replace(/\.js$/, '.ts');
      if (!target.startsWith(SRC + sep)) return [`${where(i)}: outside src/ (bench/ and test/ are never imported by src/)`];
      const from = layerOf(i.file);
      const to = layerOf(target);
      if (from === to || MAY_IMPORT[from]?.includes(to)) return [];
      return [`${where(i)}: ${from} may not import ${to}`];
    });
    expect(against).toEqual([]);
  });

  it('src/ imports no package the build output could lack: no devDependency', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { devDependencies?: Record<string, string> };
    const dev = new Set(Object.keys(pkg.devDependencies ?? {}));
    const bare = IMPORTS.filter((i) => !i.spec.startsWith('.') && !i.spec.startsWith('node:'));
    expect(bare.filter((i) => dev.has(i.spec.startsWith('@') ? i.spec.split('/').slice(0, 2).join('/') : i.spec.split('/')[0]!)).map(where)).toEqual([]);
  });

  it('auth and server never see the daemon-wide option bag; the server never looks for pool overload', () => {
    const offenders = FILES.filter((f) => ['auth', 'server'].includes(layerOf(f)))
      .filter((f) => layerOf(f) === 'auth' ? /\bDaemonOptions\b/.test(readFileSync(f, 'utf8')) : /\bDaemonOptions\b|PoolFullError|'POOL_FULL'/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(ROOT, f));
    expect(offenders).toEqual([]);
  });

  it('each backend folder has an index.ts exporting one definition, and the registry lists every folder', () => {
    const backends = join(SRC, 'auth', 'backends');
    const folders = readdirSync(backends).filter((n) => statSync(join(backends, n)).isDirectory()).sort();
    expect(folders).toEqual(['getpwent', 'kerberos5', 'ldap', 'pam', 'rimap', 'sasldb', 'shadow']);
    const registry = readFileSync(join(SRC, 'auth', 'registry.ts'), 'utf8');
    for (const f of folders) {
      const index = readFileSync(join(backends, f, 'index.ts'), 'utf8');
      expect(index.match(/^export const \w+: BackendDefinition</gm), f).toHaveLength(1);
      expect(registry, f).toContain(`from './backends/${f}/index.js'`);
    }
  });
});
