import { readFileSync } from 'node:fs';
import { EnvFileError } from '../errors.js';

/** Debian's /etc/default/saslauthd variables that make up the command line. */
export const ENV_FILE_VARIABLES = ['MECHANISMS', 'MECH_OPTIONS', 'THREADS', 'OPTIONS'] as const;
export type EnvFileVariables = Partial<Record<(typeof ENV_FILE_VARIABLES)[number], string>>;

export { EnvFileError };

/**
 * Splits a value into words as sh would for `$OPTIONS` inside quotes-aware assignment parsing:
 * blanks separate words, '…' and "…" group, backslash escapes. No expansion of $ or globs.
 */
export function splitWords(text: string, where = 'value'): string[] {
  const words: string[] = [];
  let cur: string | null = null;
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === ' ' || c === '\t' || c === '\n') {
      if (cur !== null) words.push(cur);
      cur = null;
      i++;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new EnvFileError(`unterminated ' in ${where}`);
      cur = (cur ?? '') + text.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      let j = i + 1;
      let s = '';
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === '\\' && j + 1 < text.length && '"\\$`'.includes(text[j + 1] as string)) j++;
        s += text[j];
      }
      if (j >= text.length) throw new EnvFileError(`unterminated " in ${where}`);
      cur = (cur ?? '') + s;
      i = j + 1;
    } else if (c === '\\' && i + 1 < text.length) {
      cur = (cur ?? '') + text[i + 1];
      i += 2;
    } else {
      cur = (cur ?? '') + c;
      i++;
    }
  }
  if (cur !== null) words.push(cur);
  return words;
}

/**
 * Parses a Debian-style defaults file (`NAME="value"` lines, `#` comments, optional `export`), the
 * format both the init script's `. /etc/default/saslauthd` and systemd's EnvironmentFile= read.
 * Only the four variables that build the command line are returned; others (START, DESC…) are ignored.
 */
export function parseEnvFile(text: string, file = 'config file'): EnvFileVariables {
  const out: EnvFileVariables = {};
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = (lines[n] as string).trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new EnvFileError(`${file} line ${n + 1}: expected NAME=value`);
    const name = m[1] as string;
    const words = splitWords(m[2] as string, `${file} line ${n + 1}`);
    if ((ENV_FILE_VARIABLES as readonly string[]).includes(name)) out[name as keyof EnvFileVariables] = words.join(' ');
  }
  return out;
}

/**
 * The saslauthd arguments the file stands for, in the order Debian's init script builds them:
 * `-a $MECHANISMS [-O $MECH_OPTIONS] $OPTIONS -n $THREADS`. Variables the file does not set are
 * taken from `env` (systemd's EnvironmentFile= / Environment=); a missing file counts as empty.
 */
export function argsFromEnvFile(path: string, env: NodeJS.ProcessEnv = process.env): string[] {
  let vars: EnvFileVariables = {};
  try {
    vars = parseEnvFile(readFileSync(path, 'utf8'), path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw e instanceof EnvFileError ? e : new EnvFileError(`cannot read ${path}: ${(e as Error).message}`);
    }
  }
  const get = (k: keyof EnvFileVariables): string => (vars[k] ?? env[k] ?? '').trim();
  const args: string[] = [];
  if (get('MECHANISMS') !== '') args.push('-a', get('MECHANISMS').split(/\s+/).join(','));
  if (get('MECH_OPTIONS') !== '') args.push('-O', get('MECH_OPTIONS'));
  // `$OPTIONS` is expanded unquoted by the init script: split on blanks, no quote processing.
  args.push(...get('OPTIONS').split(/\s+/).filter((w) => w !== ''));
  if (get('THREADS') !== '') args.push('-n', get('THREADS'));
  return args;
}
