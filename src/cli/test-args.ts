import type { Command } from 'commander';
import { UsageError } from '../errors.js';

/** The request `--test` sends, in testsaslauthd's spelling (`-u -p -s -r -a`). */
export interface TestRequestArgs {
  readonly user: string;
  /** null: read it from the terminal (no echo) or stdin. */
  readonly password: string | null;
  readonly service: string;
  readonly realm: string;
  readonly clientAddr: string | null;
}

const TEST_FLAGS: Readonly<Record<string, keyof TestRequestArgs>> = { '-u': 'user', '-p': 'password', '-s': 'service', '-r': 'realm', '--client-addr': 'clientAddr' };

/**
 * Splits a `--test` command line into the daemon's flags and the request's. With `--test`, `-u -p -s
 * -r` mean what they mean to testsaslauthd (user, password, service, realm), so an admin can paste a
 * testsaslauthd line; the daemon's `-s` and `-r` are then written `--cache-size` and `--realm-concat`.
 * Only the command line is split: a `--config-file` (Debian's OPTIONS="-r") keeps the daemon's meanings.
 * The daemon's own flags that take a value keep it, so `-O -r` stays the option of -O.
 */
export function splitTestArgs(argv: readonly string[], program: Command): { daemonArgv: string[]; request: TestRequestArgs } {
  const takesValue = new Set<string>();
  for (const o of program.options) {
    if (!o.required && !o.optional) continue;
    if (o.short) takesValue.add(o.short);
    if (o.long) takesValue.add(o.long);
  }
  const found: Partial<Record<keyof TestRequestArgs, string>> = {};
  const daemonArgv: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const key = TEST_FLAGS[a];
    if (key !== undefined) {
      const v = argv[i + 1];
      if (v === undefined) throw new UsageError(`--test: ${a} needs a value`);
      found[key] = v;
      i++;
    } else if (a === '--test') {
      continue;
    } else {
      daemonArgv.push(a);
      if (takesValue.has(a) && i + 1 < argv.length) daemonArgv.push(argv[++i] as string);
    }
  }
  if (found.user === undefined) throw new UsageError('--test needs -u USER (and -s SERVICE, -r REALM as testsaslauthd takes them)');
  return {
    daemonArgv,
    request: {
      user: found.user,
      password: found.password ?? null,
      // testsaslauthd's defaults.
      service: found.service ?? 'imap',
      realm: found.realm ?? '',
      clientAddr: found.clientAddr ?? null,
    },
  };
}
