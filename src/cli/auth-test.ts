import type { AuthRequest, Outcome } from '../auth/authenticator.js';
import { buildAuthenticator } from '../auth/compose.js';
import { Secret } from '../auth/secret.js';
import { createLogger } from '../log/logger.js';
import { escapeLogLine } from '../log/escape.js';
import { Crypt } from '../native/crypt.js';
import { replyText } from '../server/reply-text.js';
import { validateRequest } from '../protocol/validate.js';
import { daemonProgram, parseDaemonArgs } from './daemon-args.js';
import { readPassword } from './read-password.js';
import { splitTestArgs } from './test-args.js';
import { missingNativeParts } from './native-check.js';
import { DeadlineError, UnreachableError } from '../errors.js';

/**
 * `--test` exit codes: testsaslauthd's 0 (OK) and 255 (NO), 1 for a usage error as everywhere,
 * and one more for "no verdict" (a server down, a timeout, a configuration that does not build), so
 * a script can tell "this password is wrong" from "this could not be checked".
 */
export const TEST_EXIT = { ok: 0, usage: 1, undecided: 2, no: 255 } as const;

/**
 * `saslauthd-ts --test -u USER [-p PASS] -s SERVICE -r REALM [daemon flags]`: one request through
 * the chain the daemon would build from the same flags (compose.ts), in this process, printing each
 * step. The password is never printed; without -p it is read with echo off (or from stdin).
 */
export async function runAuthTest(argv: readonly string[]): Promise<number> {
  const out = (s: string): void => void process.stdout.write(`${s}\n`);
  let split;
  let cmd;
  try {
    split = splitTestArgs(argv, daemonProgram());
    cmd = parseDaemonArgs(split.daemonArgv);
  } catch (e) {
    if ((e as { code?: string }).code === 'commander.helpDisplayed') return 0;
    process.stderr.write(`saslauthd-ts: ${(e as Error).message}\nTry 'saslauthd-ts --help'.\n`);
    return TEST_EXIT.usage;
  }
  if (cmd.kind !== 'run') {
    process.stderr.write('saslauthd-ts: --test needs -a BACKENDS\n');
    return TEST_EXIT.usage;
  }
  const missing = missingNativeParts();
  if (missing !== null) {
    process.stderr.write(`saslauthd-ts: ${missing}\n`);
    return TEST_EXIT.undecided;
  }
  const r = split.request;
  let password: Buffer;
  try {
    password = r.password !== null ? Buffer.from(r.password, 'utf8') : await readPassword(`Password for ${r.user}: `);
  } catch (e) {
    process.stderr.write(`saslauthd-ts: ${(e as Error).message}\n`);
    return TEST_EXIT.usage;
  }
  // The daemon refuses these before any backend sees them; so does --test, with the daemon's reason.
  const v = validateRequest({
    login: Buffer.from(r.user, 'utf8'),
    password,
    service: Buffer.from(r.service, 'utf8'),
    realm: Buffer.from(r.realm, 'utf8'),
    clientAddr: r.clientAddr === null ? null : Buffer.from(r.clientAddr, 'utf8'),
  });
  if (!v.ok) {
    password.fill(0);
    out(`result: NO: the daemon refuses this request before any backend: ${v.reason} in ${v.field}`);
    return TEST_EXIT.no;
  }
  const o = cmd.options;
  // Backends' warnings (a plaintext rimap server, a skipped shadow line) are worth seeing here.
  const log = createLogger({ level: 'warn', format: o.logFormat, syslogSocket: null });
  const crypt = new Crypt(o.concurrency);
  const started = performance.now();
  const ms = (): string => (performance.now() - started).toFixed(1).padStart(8);
  out(`saslauthd-ts --test: login '${escapeLogLine(r.user)}', service '${escapeLogLine(r.service)}', realm '${escapeLogLine(r.realm)}'${r.clientAddr !== null ? `, client ${escapeLogLine(r.clientAddr)}` : ''} (password not shown)`);
  if (o.failDelayMs > 0) {
    out(`note: --fail-delay and the penalty are not applied here (the daemon delays each NO by ${o.failDelayMs} ms or more)`);
  }
  if (o.cache) out('note: the credential cache (-c) starts empty here: every request is a miss');
  let authenticator;
  try {
    // One request in a fresh process: the penalty would only add its delay, so it is left out.
    authenticator = await buildAuthenticator({ ...o, failDelayMs: 0 }, { crypt, log });
  } catch (e) {
    password.fill(0);
    out(`result: could not decide: the configuration does not start: ${(e as Error).message}`);
    return TEST_EXIT.undecided;
  }
  const secret = new Secret(password);
  const req: AuthRequest = {
    login: r.user,
    password: secret,
    service: r.service,
    realm: r.realm,
    clientAddr: r.clientAddr,
    trace: (who, text) => out(`${ms()} ms  ${who.padEnd(8)} ${escapeLogLine(text)}`),
  };
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(new DeadlineError('--auth-timeout passed')), o.authTimeoutMs);
  let outcome: Outcome;
  try {
    outcome = await Promise.race([
      authenticator.authenticate(req, ctl.signal),
      new Promise<Outcome>((resolve) =>
        ctl.signal.addEventListener('abort', () => resolve({ kind: 'unavailable', code: 'timeout', reason: `no answer within --auth-timeout ${o.authTimeoutMs} ms`, compat: 'NO internal mechanism failure' }), { once: true }),
      ),
    ]);
  } catch (e) {
    outcome = { kind: 'unavailable', code: 'backend-error', reason: `backend threw: ${(e as Error).message}`, compat: 'NO internal mechanism failure' };
  } finally {
    clearTimeout(timer);
    secret.wipe();
  }
  await authenticator.close();
  const reply = `the daemon would reply "${replyText(outcome, o.compatReplies)}"`;
  switch (outcome.kind) {
    case 'ok':
      out(`result: OK in ${ms().trim()} ms; ${reply}`);
      return TEST_EXIT.ok;
    case 'rejected':
      out(`result: NO (${outcome.code}): ${escapeLogLine(outcome.reason)}; ${reply}`);
      return TEST_EXIT.no;
    case 'unavailable':
      out(`result: could not decide (${outcome.code}): ${escapeLogLine(outcome.reason)}; ${reply}`);
      return TEST_EXIT.undecided;
    default: {
      const never: never = outcome;
      throw new UnreachableError(`unhandled outcome ${String(never)}`);
    }
  }
}
