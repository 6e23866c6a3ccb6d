import { FIELD_NAMES, MAX_FIELD_BYTES, type FieldName } from './limits.js';

/** The fields of one request exactly as framed on the wire (v4: four fields, v5: plus client address). */
export interface RawRequest {
  readonly login: Buffer;
  readonly password: Buffer;
  readonly service: Buffer;
  readonly realm: Buffer;
  /** Present only when the client sent the fifth field (cyrus-sasl master, some third parties). */
  readonly clientAddr: Buffer | null;
}

export type DecodeResult =
  /** Fewer than four whole fields so far. */
  | { readonly kind: 'need-more' }
  /** Four fields are whole and part of a fifth is buffered: wait briefly, then call `settle()`. */
  | { readonly kind: 'maybe-fifth' }
  | { readonly kind: 'request'; readonly request: RawRequest }
  /** A length prefix above MAX_FIELD_BYTES; saslauthd answers at once without reading the field. */
  | { readonly kind: 'too-long'; readonly field: FieldName; readonly length: number };

const NEED_MORE: DecodeResult = { kind: 'need-more' };
const MAYBE_FIFTH: DecodeResult = { kind: 'maybe-fifth' };

/** Largest request worth buffering: five full fields with their prefixes. The rest is ignored. */
const MAX_BUFFERED = FIELD_NAMES.length * (2 + MAX_FIELD_BYTES);

/**
 * Incremental decoder for one saslauthd request: any chunking of the same bytes gives the same
 * result. Pure: no I/O, no timers. Once it has returned `request` or `too-long` it is finished and
 * keeps returning that result; bytes after the request are ignored, as saslauthd 2.1.28 does.
 */
export class RequestDecoder {
  #buf: Buffer = Buffer.alloc(0);
  #offset = 0;
  readonly #fields: Buffer[] = [];
  #final: DecodeResult | null = null;

  push(chunk: Uint8Array): DecodeResult {
    if (this.#final) return this.#final;
    const room = MAX_BUFFERED - this.#buf.length;
    if (room > 0 && chunk.length > 0) {
      const take = chunk.length > room ? chunk.subarray(0, room) : chunk;
      this.#buf = Buffer.concat([this.#buf, take]);
    }
    return this.#step();
  }

  /** No more bytes are coming in time (grace expired or EOF): a request whole after four fields is served as v4. */
  settle(): DecodeResult {
    if (this.#final) return this.#final;
    if (this.#fields.length >= 4) return this.#finish(null);
    return NEED_MORE;
  }

  /** Overwrites buffered bytes (they hold the password) once the caller is done with the request. */
  wipe(): void {
    this.#buf.fill(0);
  }

  #step(): DecodeResult {
    while (this.#fields.length < 4) {
      const field = this.#readField(this.#fields.length);
      if (field === null) return NEED_MORE;
      if ('kind' in field) return (this.#final = field);
      this.#fields.push(field);
    }
    const left = this.#buf.length - this.#offset;
    if (left === 0) return this.#finish(null); // a v4 client is never kept waiting for a fifth field
    if (left === 1) return MAYBE_FIFTH;
    const length = this.#buf.readUInt16BE(this.#offset);
    if (length > MAX_FIELD_BYTES) return this.#finish(null); // not a fifth field: trailing junk
    if (left - 2 < length) return MAYBE_FIFTH;
    return this.#finish(this.#field(this.#offset + 2, length));
  }

  #readField(index: number): Buffer | DecodeResult | null {
    if (this.#buf.length - this.#offset < 2) return null;
    const length = this.#buf.readUInt16BE(this.#offset);
    if (length > MAX_FIELD_BYTES) {
      return { kind: 'too-long', field: FIELD_NAMES[index] ?? 'login', length };
    }
    if (this.#buf.length - this.#offset - 2 < length) return null;
    const field = this.#field(this.#offset + 2, length);
    this.#offset += 2 + length;
    return field;
  }

  /**
   * A view, not a copy: the buffer is this decoder's own (push() concatenates into a new one), so
   * the view cannot change under the caller, and zeroing the password's view zeroes the buffered
   * bytes it came from. A copy per field was two Buffer objects and a pool slice each (issue 15).
   */
  #field(start: number, length: number): Buffer {
    return this.#buf.subarray(start, start + length);
  }

  #finish(clientAddr: Buffer | null): DecodeResult {
    const [login, password, service, realm] = this.#fields as [Buffer, Buffer, Buffer, Buffer];
    this.#final = { kind: 'request', request: { login, password, service, realm, clientAddr } };
    return this.#final;
  }
}
