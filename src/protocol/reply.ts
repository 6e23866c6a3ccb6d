import { MAX_REPLY_BYTES } from './limits.js';
import { InvalidArgumentError } from '../errors.js';

/** One counted string: 2-byte big-endian length, then ASCII text (no NUL, no newline). */
export function encodeReply(text: string): Buffer {
  const body = Buffer.from(text, 'latin1');
  if (body.length > MAX_REPLY_BYTES) throw new InvalidArgumentError(`reply longer than ${MAX_REPLY_BYTES} bytes`);
  if (/[\0\r\n]/.test(text)) throw new InvalidArgumentError('reply contains NUL or a line break');
  const out = Buffer.alloc(2 + body.length);
  out.writeUInt16BE(body.length, 0);
  body.copy(out, 2);
  return out;
}

/** libsasl2 and testsaslauthd look at the first two bytes only, case-sensitively. */
export function isOkReply(text: string): boolean {
  return text.startsWith('OK');
}

export type ReplyDecodeResult =
  | { readonly kind: 'need-more' }
  | { readonly kind: 'reply'; readonly text: string }
  /** A length below 2 (libsasl2: "bad response from saslauthd"). */
  | { readonly kind: 'bad-length'; readonly length: number };

/** Client side: decodes the daemon's one reply from any chunking. */
export class ReplyDecoder {
  #buf: Buffer = Buffer.alloc(0);

  push(chunk: Uint8Array): ReplyDecodeResult {
    this.#buf = Buffer.concat([this.#buf, chunk]);
    if (this.#buf.length < 2) return { kind: 'need-more' };
    const length = this.#buf.readUInt16BE(0);
    if (length < 2) return { kind: 'bad-length', length };
    if (this.#buf.length < 2 + length) return { kind: 'need-more' };
    return { kind: 'reply', text: this.#buf.subarray(2, 2 + length).toString('latin1') };
  }
}
