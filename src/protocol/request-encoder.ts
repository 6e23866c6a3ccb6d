import { InvalidArgumentError } from '../errors.js';
/** Frames fields as counted strings (what libsasl2 sends). Lengths up to 65535 can be framed on purpose for tests. */
export function encodeRequest(fields: ReadonlyArray<Uint8Array | string>): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields) {
    const body = typeof f === 'string' ? Buffer.from(f, 'utf8') : Buffer.from(f);
    if (body.length > 0xffff) throw new InvalidArgumentError('field longer than 65535 bytes cannot be framed');
    const len = Buffer.alloc(2);
    len.writeUInt16BE(body.length, 0);
    parts.push(len, body);
  }
  return Buffer.concat(parts);
}
