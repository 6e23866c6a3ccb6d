import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { native } from '../native/binding.js';
import { NativeAddonMissingError } from '../errors.js';

/** The part of unix-dgram's socket we use (the package ships no types). */
interface UnixDgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, cb: (err?: Error & { code?: number | string }) => void): void;
  close(): void;
}

type UnixDgram = { createSocket(type: 'unix_dgram'): UnixDgramSocket };

/**
 * Why unix-dgram could not be loaded (its install script did not build it), or null. Kept, not
 * thrown at import, so the CLI can name the fix instead of printing a module-resolution stack.
 */
export let unixDgramLoadProblem: string | null = null;

function loadUnixDgram(): UnixDgram | null {
  try {
    return createRequire(import.meta.url)('unix-dgram') as UnixDgram;
  } catch (e) {
    const first = (e as Error).message.split('\n')[0] ?? String(e);
    // The `bindings` package's message goes on to list a dozen guessed paths.
    unixDgramLoadProblem = first.startsWith('Could not locate the bindings file')
      ? 'unix-dgram: its compiled part (build/Release/unix_dgram.node) is missing'
      : `unix-dgram: ${first}`;
    return null;
  }
}

const unixDgram = loadUnixDgram();

/** `sent`, `congested` (the receiver's queue is full: EAGAIN), or the errno name (ENOENT, ECONNREFUSED…). */
export type SendResult = 'sent' | 'congested' | string;

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([k, v]) => [v, k]));
const errnoName = (n: number): string => ERRNO_NAMES.get(Math.abs(n)) ?? `errno ${Math.abs(n)}`;

/**
 * Sends datagrams to one AF_UNIX address, never blocking. A filesystem path goes through unix-dgram
 * (one socket, reused); an abstract name, written `@name` as systemd does, goes through our addon,
 * because unix-dgram cannot give the kernel the exact length an abstract name needs.
 */
export class UnixDatagramSender {
  #socket: UnixDgramSocket | null = null;
  readonly #abstract: Buffer | null;

  constructor(readonly address: string) {
    this.#abstract = address.startsWith('@') ? Buffer.concat([Buffer.from([0]), Buffer.from(address.slice(1))]) : null;
  }

  get isAbstract(): boolean {
    return this.#abstract !== null;
  }

  send(data: Buffer): SendResult {
    if (this.#abstract !== null) {
      const r = native.sendUnixDatagram(this.#abstract, data);
      if (r === 0) return 'sent';
      return r === -constants.errno.EAGAIN ? 'congested' : errnoName(r);
    }
    if (unixDgram === null) throw new NativeAddonMissingError(`cannot send to ${this.address}: ${unixDgramLoadProblem ?? 'unix-dgram is not loaded'}`);
    this.#socket ??= unixDgram.createSocket('unix_dgram');
    let result: SendResult = 'sent';
    // unix-dgram calls back synchronously: the send has happened (or failed) when send() returns.
    this.#socket.send(data, 0, data.length, this.address, (err) => {
      if (!err) return;
      if (err.message === 'congestion') result = 'congested';
      else result = typeof err.code === 'number' ? errnoName(err.code) : String(err.code ?? err.message);
    });
    return result;
  }

  /** Closes the socket; the sender opens a new one if used again. */
  close(): void {
    const s = this.#socket;
    this.#socket = null;
    try {
      s?.close();
    } catch {
      // already closed
    }
  }
}
