import type { HmacKey } from '../native/hmac-key.js';
import { inspect } from 'node:util';

const REDACTED = '[secret]';

/**
 * A password as bytes. It cannot be turned into text by accident: String(), JSON, template literals,
 * util.inspect and pino all see "[secret]". Backends take the bytes with `expose()`.
 */
export class Secret {
  readonly #bytes: Buffer;
  /** The last keyedDigest, so a request digests its password once under a given key. */
  #mac: { readonly key: HmacKey; readonly digest: Buffer } | null = null;

  constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  static fromString(text: string): Secret {
    return new Secret(Buffer.from(text, 'utf8'));
  }

  /** The raw bytes, for the one call that needs them (crypt, bind, LOGIN). Do not keep the result. */
  expose(): Buffer {
    return this.#bytes;
  }

  get length(): number {
    return this.#bytes.length;
  }

  /**
   * HMAC-SHA-256 of the bytes under `key`, computed once per key and request: the credential cache
   * and the penalty's password memory are given the same key, so a request pays for one digest, not
   * two (issue 15). The result is shared: do not modify it.
   */
  keyedDigest(key: HmacKey): Buffer {
    if (this.#mac?.key !== key) this.#mac = { key, digest: key.digest(this.#bytes) };
    return this.#mac.digest;
  }

  /** Overwrites the bytes; call when the request is answered. */
  wipe(): void {
    this.#bytes.fill(0);
    this.#mac = null;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }
}
