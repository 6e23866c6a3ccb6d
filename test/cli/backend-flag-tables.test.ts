import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BACKENDS } from '../../src/auth/registry.js';
import { DAEMON_BIN, ROOT } from '../fixtures/paths.js';
import { run } from '../fixtures/run.js';

// issue 12 item 1: a backend's flags are declared once, in its definition's table
// (src/auth/backends/<name>/index.ts). --help is built from the tables; this test holds the man
// page and the help to them, flag by flag, with the help text and the default.

const roff = (s: string): string => s.replace(/\\/g, '\\\\').replace(/-/g, '\\-').replace(/'/g, '\\(aq');
const FLAGS = BACKENDS.flatMap((b) => b.flags.map((f) => ({ backend: b.name, ...f })));
const withDefault = (f: (typeof FLAGS)[number]): string =>
  `${f.help}${f.value !== undefined && f.default !== null ? ` (default: ${f.default})` : ''}`;

describe('backend flag tables', () => {
  it('cover the backend flags saslauthd-ts has always had, each key in one table only', () => {
    expect(FLAGS.map((f) => `${f.backend}:${f.key}`)).toEqual([
      'kerberos5:krb5-timeout',
      'pam:pam-service', 'pam:pam-timeout', 'pam:pam-fail-delay', 'pam:pam-queue',
      'shadow:passwd-file', 'shadow:shadow-file',
      'rimap:rimap-starttls', 'rimap:rimap-ca', 'rimap:rimap-insecure', 'rimap:rimap-auth', 'rimap:rimap-timeout',
      'rimap:rimap-connect-timeout', 'rimap:rimap-read-timeout', 'rimap:rimap-max-connections', 'rimap:rimap-max-queue',
      'rimap:rimap-spare-connections',
    ]);
  });

  it('--help shows each flag with the help text of its table', async () => {
    const r = await run(process.execPath, [DAEMON_BIN, '--help']);
    const help = r.stdout.replace(/\n\s{20,}/g, ' ');
    for (const f of FLAGS) {
      const head = `--${f.key}${f.value !== undefined ? ` ${f.value}` : ''}`;
      expect(help, f.key).toMatch(new RegExp(`^ {2}${head.replace(/[[\]]/g, '\\$&')} +${f.help.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'm'));
    }
  });

  it('the man page documents each flag as its table does: placeholder, text and default', () => {
    const page = readFileSync(join(ROOT, 'man', 'saslauthd-ts.8'), 'utf8');
    for (const f of FLAGS) {
      const tag = `\\fB${roff(`--${f.key}`)}\\fR${f.value !== undefined ? ` \\fI${f.value.replace(/[<>]/g, '')}\\fR` : ''}`;
      const text = withDefault(f);
      expect(page, f.key).toContain(`.TP\n${tag}\n${roff(text.charAt(0).toUpperCase() + text.slice(1))}.\n`);
    }
  });
});
