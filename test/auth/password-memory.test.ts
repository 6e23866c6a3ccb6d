import { HmacKey } from '../../src/native/hmac-key.js';
import { describe, expect, it } from 'vitest';
import { PasswordMemory } from '../../src/auth/password-memory.js';
import { Secret } from '../../src/auth/secret.js';

const memory = (key = new HmacKey(Buffer.alloc(32, 3))): PasswordMemory =>
  new PasswordMemory({ maxEntries: 16, failureTtlMs: 60_000, successTtlMs: 60_000, now: () => 1000, key });

describe('PasswordMemory', () => {
  it('a password that succeeded for one user vouches for no other user with the same password', () => {
    const m = memory();
    const pw = Secret.fromString('shared pw');
    m.noteSuccess('alice\0', m.digest('alice\0', pw));
    expect(m.succeededRecently('alice\0', m.digest('alice\0', pw))).toBe(true);
    expect(m.succeededRecently('bob\0', m.digest('bob\0', pw))).toBe(false);
    expect(m.succeededRecently('alice\0', m.digest('alice\0', Secret.fromString('other')))).toBe(false);
  });

  it('a failure is remembered per user and password', () => {
    const m = memory();
    const pw = Secret.fromString('guess');
    m.noteFailure('alice\0', m.digest('alice\0', pw));
    expect(m.failedRecently(m.digest('alice\0', pw))).toBe(true);
    expect(m.failedRecently(m.digest('bob\0', pw))).toBe(false);
  });

  it('holds no password and, under another key, recognises nothing', () => {
    const pw = Secret.fromString('shared pw');
    const a = memory();
    const b = memory(new HmacKey(Buffer.alloc(32, 4)));
    expect(a.digest('alice\0', pw)).not.toContain('shared');
    expect(a.digest('alice\0', pw)).not.toBe(b.digest('alice\0', Secret.fromString('shared pw')));
  });
});
