import type { Command, Option } from 'commander';
import { BACKENDS } from '../auth/registry.js';
import { backendType } from '../auth/chain-spec.js';
import { type Finding, found } from '../auth/check-finding.js';
import type { DaemonOptions } from './daemon-options.js';

/** Flags that are actions, not settings: not part of the effective configuration. */
const ACTIONS = new Set(['help', 'version', 'check', 'test', 'flushCache']);
const OCTAL = new Set(['socketMode', 'runDirMode']);

/** `0777`, as an admin writes a mode (and as `--socket-mode` takes it). */
const octal = (n: number): string => `0${n.toString(8).padStart(3, '0')}`;

function shown(attr: string, v: unknown): string {
  if (v === undefined || v === null) return '(none)';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'number' && OCTAL.has(attr)) return octal(v);
  if (Array.isArray(v)) return v.length === 0 ? '(none)' : v.join(', ');
  return String(v);
}

/** The backend types named in -a and --route. */
const typesInUse = (o: DaemonOptions): Set<string> => new Set([...o.chain, ...o.routes.flatMap((r) => r.chain)].map((n) => backendType(n).toLowerCase()));

/** Which backend owns a flag, by commander's attribute name (`rimapStarttls` → rimap). */
function ownerOf(attr: string): string | null {
  for (const b of BACKENDS) for (const f of b.flags) if (camel(f.key) === attr) return b.name;
  return null;
}

const camel = (kebab: string): string => kebab.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

const given = (program: Command, attr: string): boolean => {
  const src = program.getOptionValueSource(attr);
  return src === 'cli' || src === 'env' || src === 'config';
};

/**
 * The whole effective configuration, one `flag = value` line per setting as `doveconf` prints it,
 * `*` marking a value that is not the default. Backend flags are listed for the backends in use.
 */
export function effectiveConfiguration(program: Command, o: DaemonOptions): string[] {
  const values = program.opts<Record<string, unknown>>();
  const inUse = typesInUse(o);
  const lines: string[] = [];
  for (const opt of program.options as readonly Option[]) {
    const attr = opt.attributeName();
    if (ACTIONS.has(attr)) continue;
    const owner = ownerOf(attr);
    if (owner !== null && !inUse.has(owner)) continue;
    let v: unknown = values[attr];
    let d: unknown = opt.defaultValue;
    if (opt.negate) {
      // `-l, --no-accept-lock-file`: shown as the switch the admin types.
      v = v === false;
      d = false;
    } else if (!opt.required && !opt.optional) {
      v ??= false;
      d ??= false;
    }
    if (attr === 'logLevel') [v, d] = [o.logLevel, 'info'];
    const differs = shown(attr, v) !== shown(attr, d);
    let text = shown(attr, v);
    if (attr === 'threads' && o.concurrency !== v) text += ` (runs as ${o.concurrency})`;
    const flag = opt.short ? `${opt.short}, ${opt.long}` : `    ${opt.long}`;
    lines.push(`${differs ? '*' : ' '} ${flag.padEnd(32)} = ${text}`);
  }
  for (const [name, over] of Object.entries(o.backendOverrides)) {
    for (const [k, v] of Object.entries(over)) lines.push(`*     --link-option ${name}.${k}`.padEnd(36) + ` = ${shown(k, v)}`);
  }
  return lines;
}

/**
 * Flags given on the command line (or in --config-file) that change nothing with this
 * configuration: they usually mean the admin believes something is on that is not.
 */
export function inapplicableFlags(program: Command, o: DaemonOptions): Finding[] {
  const out: Finding[] = [];
  const inUse = typesInUse(o);
  for (const b of BACKENDS) {
    if (inUse.has(b.name)) continue;
    for (const f of b.flags) {
      if (given(program, camel(f.key))) out.push(found.error(`--${f.key} is given but applies to -a ${b.name} only, and no ${b.name} backend is in -a or --route`));
    }
  }
  if (o.mechOption !== null && !BACKENDS.some((b) => b.mechOption !== undefined && inUse.has(b.name))) {
    const readers = BACKENDS.filter((b) => b.mechOption !== undefined).map((b) => b.name).join(', ');
    out.push(found.error(`-O ${o.mechOption} is given but no backend in use reads -O (${readers} do)`));
  }
  if (!o.cache) {
    for (const [attr, flag] of [['cacheTtl', '-t'], ['cacheSize', '-s']] as const) {
      if (given(program, attr)) out.push(found.error(`${flag} is given but the credential cache is off (no -c), so it has no effect`));
    }
  }
  if (o.failDelayMs === 0) {
    for (const [attr, flag] of [['penaltyMax', '--penalty-max'], ['penaltyScope', '--penalty-scope'], ['penaltyMaxHeld', '--penalty-max-held'], ['penaltyMaxTracked', '--penalty-max-tracked'], ['trustedAddr', '--trusted-addr']] as const) {
      if (given(program, attr)) out.push(found.warning(`${flag} has no effect: --fail-delay 0 turns the delay and the penalty off`));
    }
  } else if (o.penaltyScope === 'user' && o.trustedAddrs.length > 0) {
    out.push(found.warning('--trusted-addr has no effect with --penalty-scope user (there are no address counters)'));
  }
  if (o.group !== null && o.user === null) out.push(found.error('--group is given without --user'));
  return out;
}
