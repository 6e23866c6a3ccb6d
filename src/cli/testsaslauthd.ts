import { Command } from 'commander';
import { ClientError, sendRequest } from '../client/saslauthd-client.js';
import { DEFAULT_RUN_DIR } from './daemon-options.js';
import { isOkReply } from '../protocol/index.js';
import { integer } from './parse-values.js';

const USAGE = 'testsaslauthd-ts: usage: testsaslauthd-ts -u username -p password\n' +
  '              [-r realm] [-s servicename] [-f socket path] [-R repeat] [-a client address] [--verbose]\n' +
  '              [--timeout ms]\n';

/**
 * testsaslauthd with the same flags, output and exit codes (0 when the last try succeeded, 255
 * otherwise, 1 for usage), plus -a (send the fifth field) and --verbose (reply text and latency).
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
    return 1;
  }
  const o = program.opts<Record<string, string | number | boolean | undefined>>();
  if (o['u'] === undefined || o['p'] === undefined || program.args.length > 0) {
    process.stderr.write(USAGE);
    return 1;
  }
  let lastOk = false;
  for (let i = 0; i < (o['R'] as number); i++) {
    process.stdout.write(`${i}: `);
    const started = performance.now();
    try {
      const text = await sendRequest(
        o['f'] as string,
        { login: o['u'] as string, password: o['p'] as string, service: o['s'] as string, realm: o['r'] as string, clientAddr: o['a'] as string | undefined },
        { timeoutMs: o['timeout'] as number },
      );
      lastOk = isOkReply(text);
      process.stdout.write(lastOk ? 'OK "Success."\n' : 'NO "authentication failed"\n');
      if (o['verbose']) {
        process.stdout.write(`   reply: ${JSON.stringify(text)} (${(performance.now() - started).toFixed(3)} ms)\n`);
      }
    } catch (e) {
      lastOk = false;
      process.stderr.write(`${e instanceof ClientError ? e.message : String(e)}\n`);
    }
  }
  return lastOk ? 0 : 255;
}
