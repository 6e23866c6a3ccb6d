import { randomBytes } from 'node:crypto';
import { native } from './binding.js';

/**
 * An HMAC-SHA-256 key held as its two pad states, for the per-request digest of the password (the
 * credential cache and the penalty's password memory share one). Why not createHmac: its object,
 * three calls and OpenSSL's provider lookup cost 2.7 µs in a loop and 10-13 µs per request in the
 * daemon; this is one call of 0.35 µs (issue 15). The state never leaves this object.
 */
export class HmacKey {
  readonly #state = new Uint8Array(native.hmacSha256StateBytes);

  constructor(key: Uint8Array) {
    native.hmacSha256Prepare(key, this.#state);
  }

  /** 32 random bytes, drawn now and never written anywhere. */
  static random(): HmacKey {
    const bytes = randomBytes(32);
    const key = new HmacKey(bytes);
    bytes.fill(0);
    return key;
  }

  digest(data: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(32);
    native.hmacSha256(this.#state, data, out);
    return out;
  }
}
