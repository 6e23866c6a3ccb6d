import { run, type RunResult } from './run.js';

export interface TryOptions {
  readonly realm?: string;
  readonly service?: string;
}

/** Debian's testsaslauthd (sasl2-bin): the reference client. */
export function testsaslauthd(socket: string, user: string, password: string, o: TryOptions = {}): Promise<RunResult> {
  const args = ['-u', user, '-p', password, '-f', socket];
  if (o.realm !== undefined) args.push('-r', o.realm);
  if (o.service !== undefined) args.push('-s', o.service);
  return run('/usr/sbin/testsaslauthd', args);
}

/** Just the verdict: 'OK' or 'NO' (throws on anything else, e.g. a connection error). */
export async function verdict(socket: string, user: string, password: string, o: TryOptions = {}): Promise<'OK' | 'NO'> {
  const r = await testsaslauthd(socket, user, password, o);
  if (r.code === 0 && r.stdout === '0: OK "Success."\n') return 'OK';
  if (r.code === 255 && r.stdout === '0: NO "authentication failed"\n') return 'NO';
  throw new Error(`unexpected testsaslauthd result: code=${r.code} stdout=${JSON.stringify(r.stdout)} stderr=${JSON.stringify(r.stderr)}`);
}
