import { readFileSync } from 'node:fs';

/**
 * The settings of a systemd unit file: key → values in order, as systemd reads them (comments and
 * blank lines skipped, an empty assignment resets the list, section names dropped: our units never
 * repeat a key across sections).
 */
export function readUnit(path: string): ReadonlyMap<string, readonly string[]> {
  const out = new Map<string, string[]>();
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';') || line.startsWith('[')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) throw new Error(`${path}: not a key=value line: ${line}`);
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (value === '') out.set(key, []);
    else out.set(key, [...(out.get(key) ?? []), value]);
  }
  return out;
}

/** The one value of `key`; throws when it is missing or repeated. */
export function single(unit: ReadonlyMap<string, readonly string[]>, key: string): string {
  const v = unit.get(key);
  if (v?.length !== 1) throw new Error(`expected exactly one ${key}=, found ${JSON.stringify(v ?? [])}`);
  return v[0] as string;
}

/** The value of `key` if set once, else undefined. */
export function optional(unit: ReadonlyMap<string, readonly string[]>, key: string): string | undefined {
  const v = unit.get(key);
  return v && v.length > 0 ? single(unit, key) : undefined;
}

/** CapabilityBoundingSet=CAP_A CAP_B as setpriv's --bounding-set argument (-all,+a,+b); null when unset. */
export function setprivBoundingSet(unit: ReadonlyMap<string, readonly string[]>): string | null {
  const v = unit.get('CapabilityBoundingSet');
  if (!v || v.length === 0) return null;
  const caps = v.join(' ').split(/\s+/).filter((c) => c !== '');
  if (caps.some((c) => c.startsWith('~'))) throw new Error('inverted CapabilityBoundingSet= is not emulated');
  return ['-all', ...caps.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`)].join(',');
}
