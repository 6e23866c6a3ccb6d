import { connect } from 'node:net';
import { ReplyDecoder, encodeRequest } from '../protocol/index.js';
import { ClientError } from '../errors.js';

export interface ClientRequest {
  readonly login: string | Uint8Array;
  readonly password: string | Uint8Array;
  readonly service: string | Uint8Array;
  readonly realm: string | Uint8Array;
  /** Sends the fifth (v5) field when not undefined. */
  readonly clientAddr?: string | Uint8Array | undefined;
}

export { ClientError };

export interface ClientOptions {
  /** Milliseconds for the whole exchange (Default: 30000). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** One request over the saslauthd socket, as libsasl2 does it: one write, read the counted reply, close. */
export function sendRequest(path: string, req: ClientRequest, opts: ClientOptions = {}): Promise<string> {
  const fields = [req.login, req.password, req.service, req.realm];
  if (req.clientAddr !== undefined) fields.push(req.clientAddr);
  return exchange(path, encodeRequest(fields), opts);
}

/** Sends raw bytes and reads one reply: for tests of malformed input. */
export function exchange(path: string, bytes: Uint8Array, opts: ClientOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const decoder = new ReplyDecoder();
    const socket = connect({ path });
    let settled = false;
    const finish = (err: ClientError | null, text?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve(text ?? '');
    };
    const onAbort = (): void => finish(new ClientError('TIMEOUT', 'aborted'));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => finish(new ClientError('TIMEOUT', 'no reply in time')), opts.timeoutMs ?? 30_000);
    let connected = false;
    socket.once('connect', () => {
      connected = true;
      socket.write(bytes);
    });
    socket.on('data', (chunk: Buffer) => {
      const r = decoder.push(chunk);
      if (r.kind === 'reply') finish(null, r.text);
      else if (r.kind === 'bad-length') finish(new ClientError('BAD_RESPONSE', 'bad response from saslauthd'));
    });
    socket.on('end', () => finish(new ClientError('SIZE_READ', 'size read failed')));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      finish(connected ? new ClientError('READ', `read failed: ${e.message}`) : new ClientError('CONNECT', `connect() : ${strerror(e)}`));
    });
  });
}

function strerror(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ENOENT':
      return 'No such file or directory';
    case 'ECONNREFUSED':
      return 'Connection refused';
    case 'EACCES':
      return 'Permission denied';
    default:
      return e.message;
  }
}
