import { readFileSync } from 'node:fs';
import { ConfigError } from '../../errors.js';

/** saslauthd's config file, used by ldap (and krb5/httpform upstream). */
export const DEFAULT_SASLAUTHD_CONF = '/etc/saslauthd.conf';

/** One `key: value` line, with where it came from. */
export interface ConfEntry {
  /** Lower-cased key. */
  readonly key: string;
  readonly value: string;
  readonly line: number;
}

/** A config problem, naming the file, the line and the key so an admin can go straight to it. */
export { ConfigError };

// saslauthd's cfile reader stops at about 4 KiB per line; we allow the same and say so instead of splitting.
const MAX_LINE = 4096;

/**
 * Parses saslauthd's `key: value` syntax: blank lines and `#` comments (after leading whitespace)
 * are skipped; the key is `[A-Za-z0-9_-]+`, lower-cased, immediately followed by `:`; the value is
 * the rest after leading whitespace. Unlike saslauthd we drop a trailing CR and trailing blanks, which
 * are editor accidents and would otherwise end up inside a password or a DN.
 */
export function parseSaslauthdConf(text: string, file: string): ConfEntry[] {
  const out: ConfEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i]!;
    if (raw.length > MAX_LINE) throw new ConfigError(file, lineNo, null, `line longer than ${MAX_LINE} characters`);
    const line = raw.replace(/[ \t\r]+$/, '');
    const trimmed = line.replace(/^[ \t]+/, '');
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const m = /^([A-Za-z0-9_-]+):/.exec(trimmed);
    if (!m) throw new ConfigError(file, lineNo, null, `expected 'key: value', got ${JSON.stringify(trimmed.slice(0, 60))}`);
    const key = m[1]!.toLowerCase();
    const value = trimmed.slice(m[0].length).replace(/^[ \t]+/, '');
    if (value === '') throw new ConfigError(file, lineNo, key, 'empty value');
    out.push({ key, value, line: lineNo });
  }
  return out;
}

/** Reads and parses a config file; an unreadable file is a ConfigError naming it. */
export function readSaslauthdConf(file: string): ConfEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ConfigError(file, null, null, `cannot read: ${err.code ?? err.message}`);
  }
  return parseSaslauthdConf(text, file);
}

export function parseBool(v: string): boolean | null {
  const s = v.toLowerCase();
  if (['yes', 'y', 'true', 't', 'on', '1'].includes(s)) return true;
  if (['no', 'n', 'false', 'f', 'off', '0'].includes(s)) return false;
  return null;
}
