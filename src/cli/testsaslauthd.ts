import { Command } from 'commander';
import { ClientError, sendRequest } from '../client/saslauthd-client.js';
import { DEFAULT_RUN_DIR } from './daemon-options.js';
import { isOkReply } from '../protocol/index.js';
import { integer } from './parse-values.js';

const USAGE = 'testsaslauthd-ts: usage: testsaslauthd-ts -u username -p password\n' +
  '              [-r realm] [-s servicename] [-f socket path] [-R repeat] [-a client address] [--verbose]\n' +
  '              [--timeout ms]\n';

/** Exit codes. OK, NO and USAGE are testsaslauthd's; a monitoring check tells NO from "no daemon there" by NOT_ASKED. */
export const EXIT = { OK: 0, USAGE: 1, NOT_ASKED: 2, NO: 255 } as const;

/**
 * testsaslauthd with the same flags and output, and its exit codes for an answer (0 when the last
 * try got OK, 255 when it got NO, 1 for usage); 2 when the last try could not ask the daemon at
 * all (no socket, connection refused, timeout, a garbled reply), where testsaslauthd also says 255.
 * Plus -a (send the fifth field), --verbose (reply text and latency) and --timeout.
 */
export async function main(argv: readonly string[]): Promise<number> {
  const program = new Command('testsaslauthd-ts')
    .helpOption(false)
    .option('-u <user>')
    .option('-p <password>')
    .option('-r <realm>', '', '')
    .option('-s <service>', '', 'imap')
    .option('-f <path>', '', `${DEFAULT_RUN_DIR}/mux`)
    .option('-R <repeat>', '', integer(1), 1)
    .option('-a <address>')
    .option('--verbose')
    .option('--timeout <ms>', '', integer(1), 30_000)
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: () => {} });
  try {
    program.parse(argv as string[], { from: 'user' });
  } catch {
    process.stderr.write(USAGE);
    return EXIT.USAGE;
  }
  const o = program.opts<Record<string, string | number | boolean | undefined>>();
  if (o['u'] === undefined || o['p'] === undefined || program.args.length > 0) {
    process.stderr.write(USAGE);
    return EXIT.USAGE;
  }
  const path = o['f'] as string;
  let last: number = EXIT.NOT_ASKED;
  for (let i = 0; i < (o['R'] as number); i++) {
    process.stdout.write(`${i}: `);
    const started = performance.now();
    try {
      const text = await sendRequest(
        path,
        { login: o['u'] as string, password: o['p'] as string, service: o['s'] as string, realm: o['r'] as string, clientAddr: o['a'] as string | undefined },
        { timeoutMs: o['timeout'] as number },
      );
      const ok = isOkReply(text);
      last = ok ? EXIT.OK : EXIT.NO;
      process.stdout.write(ok ? 'OK "Success."\n' : 'NO "authentication failed"\n');
      if (o['verbose']) {
        process.stdout.write(`   reply: ${JSON.stringify(text)} (${(performance.now() - started).toFixed(3)} ms)\n`);
      }
    } catch (e) {
      last = EXIT.NOT_ASKED;
      process.stderr.write(`testsaslauthd-ts: could not ask the daemon at ${path}: ${e instanceof ClientError ? e.message : String(e)}\n`);
    }
  }
  return last;
}
