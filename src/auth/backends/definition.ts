import type { Logger } from 'pino';
import type { Crypt } from '../../native/crypt.js';
import type { Authenticator } from '../authenticator.js';
import { UsageError } from '../../errors.js';

/** A flag's value once parsed: text, a whole number, a switch, or null for "not set". */
export type FlagValue = string | number | boolean | null;

/** Flag values by key (`passwd-file`), every key of the backend's table present (defaults filled in). */
export type FlagValues = Readonly<Record<string, FlagValue>>;

/**
 * One command-line flag a backend owns. Its key is the long flag (`--passwd-file`) and the KEY of
 * `--link-option BACKEND.KEY=VALUE`, so one table serves the command line, help, per-backend
 * overrides and the `--check` listing.
 */
export interface BackendFlag {
  /** Long name without the dashes (`passwd-file`). */
  readonly key: string;
  /** Placeholder shown in help (`<path>`); absent: a yes/no switch. */
  readonly value?: string;
  /** Help text: what it sets, with its unit. */
  readonly help: string;
  /** Value when the flag is not given (null: unset). */
  readonly default: FlagValue;
  /** Parses and checks one value; throws a UsageError saying what is wrong. Absent: the text as given. */
  readonly parse?: (raw: string) => FlagValue;
}

/** Daemon-wide settings a backend may read besides its own flags. */
export interface SharedSettings {
  /** `-O` (or `--link-option NAME.o=`): the backend's option (host, config file, database), or null. */
  readonly mechOption: string | null;
  /** `-n`: authentications decided at once; pam starts this many helpers, kerberos5 runs this many calls. */
  readonly concurrency: number;
}

/** What a backend's create() may use. */
export interface BackendDeps {
  /** The crypt(3) pool, sized by `-n`. */
  readonly crypt: Crypt;
  /** A logger already bound to the backend's name. */
  readonly log: Logger;
}

/**
 * Everything about one backend in one value: its name (`-a NAME`), its own flags, a parser from
 * flag values to its typed options, and a factory. The registry lists these; the CLI builds its
 * flags, help and `--link-option` checks from them, and compose.ts builds instances with them.
 */
export interface BackendDefinition<O = unknown> {
  /** `-a` name. */
  readonly name: string;
  /** What `-O` means to this backend, for help; absent: it does not read `-O`. */
  readonly mechOption?: string;
  /** This backend's flags, in help order. */
  readonly flags: readonly BackendFlag[];
  /** Keys it reads from saslauthd.conf, for documentation (`ldap_servers`…); absent: none. */
  readonly configKeys?: readonly string[];
  /** Its typed options from flag values and the shared settings; throws naming the flag or file. */
  options(values: FlagValues, shared: SharedSettings): O;
  /** Builds an instance; fails at start-up, naming the problem, when it cannot work. */
  create(options: O, deps: BackendDeps): Promise<Authenticator>;
}

/** Whole numbers between min and max, for a flag's parse. */
export function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER): (raw: string) => number {
  return (raw) => {
    if (!/^-?\d+$/.test(raw)) throw new UsageError(`'${raw}' is not a whole number.`);
    const n = Number(raw);
    if (n < min || n > max) throw new UsageError(`'${raw}' must be between ${min} and ${max}.`);
    return n;
  };
}

/** One of a fixed list, for a flag's parse. */
export function oneOf<T extends string>(choices: readonly T[]): (raw: string) => T {
  return (raw) => {
    if (!(choices as readonly string[]).includes(raw)) throw new UsageError(`'${raw}' is not one of ${choices.join(', ')}.`);
    return raw as T;
  };
}

/** A switch given as text (`--link-option rimap.rimap-starttls=yes`). */
export function yesNo(raw: string): boolean {
  const v = raw.toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new UsageError(`needs yes or no, got '${raw}'`);
}

/** Every flag at its default: what a backend gets when the command line says nothing. */
export function defaultValues(def: BackendDefinition): Record<string, FlagValue> {
  return Object.fromEntries(def.flags.map((f) => [f.key, f.default]));
}
