import { inspect } from 'node:util';

const REDACTED = '[secret]';

/**
 * A password as bytes. It cannot be turned into text by accident: String(), JSON, template literals,
 * util.inspect and pino all see "[secret]". Backends take the bytes with `expose()`.
 */
export class Secret {
  readonly #bytes: Buffer;

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

  /** Overwrites the bytes; call when the request is answered. */
  wipe(): void {
    this.#bytes.fill(0);
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
