/**
 * Our own parser for passwd(5) and shadow(5) files. Strict on purpose: a line that does not have
 * exactly the right number of fields, a number that is not a number, or a last line without its
 * newline (a file caught mid-write) is skipped and reported, so a damaged entry can only make a
 * user unknown, never drop an expiry date and let someone in.
 */
import { UserFileLineError as LineError } from '../../../errors.js';

export interface PasswdEntry {
  readonly name: string;
  readonly passwd: string;
  readonly uid: number;
  readonly gid: number;
  readonly gecos: string;
  readonly dir: string;
  readonly shell: string;
}

/** Day counts are days since 1970-01-01; null where the field is empty ("not set"). */
export interface ShadowEntry {
  readonly name: string;
  readonly hash: string;
  readonly lastChange: number | null;
  readonly minDays: number | null;
  readonly maxDays: number | null;
  readonly warnDays: number | null;
  readonly inactiveDays: number | null;
  readonly expireDay: number | null;
}

export interface ParseProblem {
  readonly line: number;
  readonly message: string;
}

export interface Parsed<T> {
  /** By user name; when a name repeats, the first entry wins (as getpwnam/getspnam do). */
  readonly entries: ReadonlyMap<string, T>;
  readonly problems: readonly ParseProblem[];
}

function lines(text: string, problems: ParseProblem[]): Array<[number, string]> {
  const raw = text.split('\n');
  const last = raw.pop();
  if (last !== undefined && last !== '') {
    problems.push({ line: raw.length + 1, message: 'last line has no newline (file being written?); ignored' });
  }
  const out: Array<[number, string]> = [];
  raw.forEach((l, i) => {
    // Blank lines, comments and NIS compat markers (+/-) carry no local user.
    if (l === '' || l.startsWith('#') || l.startsWith('+') || l.startsWith('-')) return;
    out.push([i + 1, l]);
  });
  return out;
}

function optionalDays(field: string, what: string): number | null {
  if (field === '') return null;
  if (!/^-?\d{1,9}$/.test(field)) throw new LineError(`${what} is not a number`);
  const n = Number(field);
  // -1 is how some tools write "not set".
  return n === -1 ? null : n < 0 ? throwLine(`${what} is negative`) : n;
}

function requiredId(field: string, what: string): number {
  if (!/^\d{1,10}$/.test(field)) throw new LineError(`${what} is not a number`);
  return Number(field);
}

function throwLine(message: string): never {
  throw new LineError(message);
}

function parseFile<T extends { name: string }>(
  text: string,
  fieldCount: number,
  build: (f: string[]) => T,
): Parsed<T> {
  const problems: ParseProblem[] = [];
  const entries = new Map<string, T>();
  for (const [n, l] of lines(text, problems)) {
    const f = l.split(':');
    try {
      if (f.length !== fieldCount) throw new LineError(`has ${f.length} fields, expected ${fieldCount}`);
      if (f[0] === '') throw new LineError('empty user name');
      const entry = build(f);
      if (entries.has(entry.name)) {
        problems.push({ line: n, message: `duplicate user ${entry.name}; the first entry is used` });
      } else {
        entries.set(entry.name, entry);
      }
    } catch (e) {
      if (!(e instanceof LineError)) throw e;
      problems.push({ line: n, message: e.message });
    }
  }
  return { entries, problems };
}

export function parsePasswd(text: string): Parsed<PasswdEntry> {
  return parseFile(text, 7, (f) => ({
    name: f[0]!,
    passwd: f[1]!,
    uid: requiredId(f[2]!, 'uid'),
    gid: requiredId(f[3]!, 'gid'),
    gecos: f[4]!,
    dir: f[5]!,
    shell: f[6]!,
  }));
}

export function parseShadow(text: string): Parsed<ShadowEntry> {
  return parseFile(text, 9, (f) => ({
    name: f[0]!,
    hash: f[1]!,
    lastChange: optionalDays(f[2]!, 'last change'),
    minDays: optionalDays(f[3]!, 'minimum age'),
    maxDays: optionalDays(f[4]!, 'maximum age'),
    warnDays: optionalDays(f[5]!, 'warning period'),
    inactiveDays: optionalDays(f[6]!, 'inactivity period'),
    expireDay: optionalDays(f[7]!, 'expiration date'),
  }));
}

export type AccountState =
  | { readonly state: 'valid' }
  | { readonly state: 'account-expired' }
  | { readonly state: 'password-expired' }
  | { readonly state: 'must-change' }
  | { readonly state: 'inactive' };

/**
 * Account and password ageing per shadow(5), with pam_unix's reading of the edge cases:
 * expire day 0 counts as expired (fail closed: shadow(5) calls 0 ambiguous), the account is
 * expired *on* its expire day, last change 0 means "must change at next login" (which a
 * non-interactive check cannot do), and past max + inact days the account is inactive.
 */
export function accountState(e: ShadowEntry, today: number): AccountState {
  if (e.expireDay !== null && today >= e.expireDay) return { state: 'account-expired' };
  if (e.lastChange === 0) return { state: 'must-change' };
  if (e.lastChange === null || e.maxDays === null || today < e.lastChange) return { state: 'valid' };
  const age = today - e.lastChange;
  if (age > e.maxDays) {
    if (e.inactiveDays !== null && age > e.maxDays + e.inactiveDays) return { state: 'inactive' };
    return { state: 'password-expired' };
  }
  return { state: 'valid' };
}

/** Whole days since the epoch, UTC, as shadow(5) counts them. */
export function daysSinceEpoch(nowMs: number): number {
  return Math.floor(nowMs / 86_400_000);
}
