/**
 * IMAP response framing: bytes in, whole response lines out (CRLF removed, any `{n}` literal the
 * server sends inlined), leftovers kept. Pure: no sockets, timers or logs.
 */
import { LineTooLongError } from '../../../errors.js';
export { LineTooLongError };

const CR = 0x0d;
const LF = 0x0a;
const LITERAL_AT_END = /\{(\d{1,9})\+?\}$/;

export class LineReader {
  #buf: Buffer = Buffer.alloc(0);
  /** Bytes of the line being assembled when it spans literals. */
  #parts: Buffer[] = [];
  #partsLen = 0;
  /** Literal bytes still to take verbatim before looking for the next CRLF. */
  #literalLeft = 0;

  constructor(
    /** Longest response (line plus literals) accepted, in bytes (Default: 65536). */
    readonly maxLine = 65536,
  ) {}

  push(chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
  }

  /** Bytes received but not yet returned as a line. */
  get pending(): number {
    return this.#buf.length + this.#partsLen;
  }

  /** The next whole line, or null when more bytes are needed. Throws LineTooLongError. */
  next(): Buffer | null {
    for (;;) {
      if (this.#literalLeft > 0) {
        if (this.#buf.length === 0) return null;
        const take = Math.min(this.#literalLeft, this.#buf.length);
        this.#append(this.#buf.subarray(0, take));
        this.#buf = this.#buf.subarray(take);
        this.#literalLeft -= take;
        if (this.#literalLeft > 0) return null;
      }
      const lf = this.#buf.indexOf(LF);
      if (lf < 0) {
        if (this.#partsLen + this.#buf.length > this.maxLine) throw new LineTooLongError(`response longer than ${this.maxLine} bytes`);
        return null;
      }
      const end = lf > 0 && this.#buf[lf - 1] === CR ? lf - 1 : lf;
      const piece = this.#buf.subarray(0, end);
      this.#buf = this.#buf.subarray(lf + 1);
      this.#append(piece);
      const m = LITERAL_AT_END.exec(piece.toString('latin1'));
      if (m) {
        const n = Number(m[1]);
        if (this.#partsLen + 2 + n > this.maxLine) throw new LineTooLongError(`literal of ${n} bytes exceeds ${this.maxLine}`);
        this.#append(Buffer.from('\r\n'));
        this.#literalLeft = n;
        continue;
      }
      const line = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts);
      this.#parts = [];
      this.#partsLen = 0;
      return line;
    }
  }

  #append(b: Buffer): void {
    this.#partsLen += b.length;
    if (this.#partsLen > this.maxLine) throw new LineTooLongError(`response longer than ${this.maxLine} bytes`);
    this.#parts.push(b);
  }
}
