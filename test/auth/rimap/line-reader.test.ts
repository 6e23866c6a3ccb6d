import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { LineReader, LineTooLongError } from '../../../src/auth/backends/rimap/line-reader.js';

function drain(r: LineReader): string[] {
  const out: string[] = [];
  for (let l = r.next(); l !== null; l = r.next()) out.push(l.toString('latin1'));
  return out;
}

function feed(chunks: Buffer[], max?: number): string[] {
  const r = new LineReader(max);
  const out: string[] = [];
  for (const c of chunks) {
    r.push(c);
    out.push(...drain(r));
  }
  return out;
}

const STREAM = Buffer.from('* OK hi\r\n* 1 FETCH (BODY {4}\r\na\r\nb)\r\nA1 OK done\r\n* BARE LF\n', 'latin1');
const LINES = ['* OK hi', '* 1 FETCH (BODY {4}\r\na\r\nb)', 'A1 OK done', '* BARE LF'];

describe('LineReader', () => {
  test('lines, an inlined literal with CRLF inside, bare LF', () => {
    expect(feed([STREAM])).toEqual(LINES);
  });

  test('every split of the stream gives the same lines', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: STREAM.length }), { maxLength: 6 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let prev = 0;
        for (const p of [...points, STREAM.length]) {
          chunks.push(STREAM.subarray(prev, p));
          prev = p;
        }
        expect(feed(chunks)).toEqual(LINES);
      }),
    );
  });

  test('a line or literal beyond the limit throws, even without a newline', () => {
    expect(() => feed([Buffer.alloc(100, 0x61)], 64)).toThrow(LineTooLongError);
    expect(() => feed([Buffer.from('* x {1000}\r\n')], 64)).toThrow(LineTooLongError);
  });

  test('random bytes never crash it (only LineTooLongError)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 10 }), (chunks) => {
        try {
          feed(chunks.map((c) => Buffer.from(c)), 256);
        } catch (e) {
          expect(e).toBeInstanceOf(LineTooLongError);
        }
      }),
    );
  });

  test('pending counts what is buffered', () => {
    const r = new LineReader();
    r.push(Buffer.from('A1 OK go\r\nextra'));
    expect(r.next()!.toString()).toBe('A1 OK go');
    expect(r.pending).toBe(5);
  });
});
