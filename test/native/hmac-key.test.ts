import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { native } from '../../src/native/binding.js';
import { HmacKey } from '../../src/native/hmac-key.js';

// The addon's HMAC-SHA-256 against Node's createHmac (OpenSSL's EVP HMAC): same bytes for every key
// and message length, around SHA-256's 64-byte block where the padding and the key hashing change.
describe('HmacKey', () => {
  it('equals createHmac at the block edges of key and message', () => {
    for (const kl of [0, 1, 31, 32, 63, 64, 65, 128, 300]) {
      const keyBytes = Buffer.alloc(kl, kl + 1);
      const key = new HmacKey(keyBytes);
      for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 256, 1000]) {
        const data = Buffer.alloc(n, n & 0xff);
        expect(key.digest(data).toString('hex'), `key ${kl}, data ${n}`).toBe(createHmac('sha256', keyBytes).update(data).digest('hex'));
      }
    }
  });

  it('equals createHmac for arbitrary keys and messages', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 600 }), (k, d) => {
        expect(new HmacKey(k).digest(d).equals(createHmac('sha256', k).update(d).digest())).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps its key: two keys give two digests, random keys differ', () => {
    const a = new HmacKey(Buffer.alloc(32, 1));
    const b = new HmacKey(Buffer.alloc(32, 2));
    const pw = Buffer.from('pw');
    expect(a.digest(pw).equals(b.digest(pw))).toBe(false);
    expect(a.digest(pw).equals(a.digest(pw))).toBe(true);
    expect(HmacKey.random().digest(pw).equals(HmacKey.random().digest(pw))).toBe(false);
  });

  it('refuses a state or output of the wrong size instead of writing past it', () => {
    const state = new Uint8Array(native.hmacSha256StateBytes);
    native.hmacSha256Prepare(Buffer.from('k'), state);
    expect(() => native.hmacSha256(state, Buffer.from('x'), new Uint8Array(31))).toThrow(/wrong size/);
    expect(() => native.hmacSha256(state.subarray(1), Buffer.from('x'), new Uint8Array(32))).toThrow(/wrong size/);
    expect(() => native.hmacSha256Prepare(Buffer.from('k'), new Uint8Array(8))).toThrow(/wrong size/);
    // Another TypedArray's length counts elements, not bytes: refused rather than misread.
    expect(() => native.hmacSha256(state, Buffer.from('x'), new Float64Array(32) as unknown as Uint8Array)).toThrow(/Uint8Array/);
    expect(() => native.hmacSha256Prepare(new Uint16Array(4) as unknown as Uint8Array, state)).toThrow(/Uint8Array/);
  });
});
