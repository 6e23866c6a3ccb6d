import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReplyDecoder, encodeReply, isOkReply } from '../../src/protocol/index.js';
import { InvalidArgumentError } from '../../src/errors.js';

describe('replies', () => {
  it('encodes the exact bytes saslauthd sends', () => {
    expect(encodeReply('OK')).toEqual(Buffer.from([0, 2, 0x4f, 0x4b]));
    expect(encodeReply('NO Incorrect password')).toEqual(Buffer.concat([Buffer.from([0, 0x15]), Buffer.from('NO Incorrect password')]));
    expect(encodeReply('NO ')).toEqual(Buffer.from([0, 3, 0x4e, 0x4f, 0x20]));
  });

  it('refuses text that would break the frame or the client', () => {
    expect(() => encodeReply('NO a\nb')).toThrow(InvalidArgumentError);
    expect(() => encodeReply('NO \0')).toThrow(InvalidArgumentError);
    expect(() => encodeReply(`NO ${'x'.repeat(1000)}`)).toThrow(InvalidArgumentError);
  });

  it('judges success as libsasl2 does: first two bytes, case-sensitive', () => {
    expect(isOkReply('OK')).toBe(true);
    expect(isOkReply('OKAY')).toBe(true);
    expect(isOkReply('ok')).toBe(false);
    expect(isOkReply('NO OK')).toBe(false);
    expect(isOkReply('O')).toBe(false);
  });

  it('decodes a reply from any chunking, and flags lengths below 2', () => {
    const bytes = encodeReply('NO authentication failed');
    for (let i = 0; i <= bytes.length; i++) {
      const d = new ReplyDecoder();
      d.push(bytes.subarray(0, i));
      expect(d.push(bytes.subarray(i))).toEqual({ kind: 'reply', text: 'NO authentication failed' });
    }
    expect(new ReplyDecoder().push(Buffer.from([0, 1, 0x4f]))).toEqual({ kind: 'bad-length', length: 1 });
  });

  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        const r = new ReplyDecoder().push(b);
        expect(['need-more', 'reply', 'bad-length']).toContain(r.kind);
      }),
    );
  });
});
