import { createHmac } from 'node:crypto';
import { HmacKey } from '../../src/native/hmac-key.js';
import { inspect } from 'node:util';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Secret } from '../../src/auth/secret.js';

const PW = 'hunter2-ÄÖ-very-secret';

describe('Secret', () => {
  it('no conversion to text reveals the password', () => {
    const s = Secret.fromString(PW);
    const renderings = [
      String(s), `${s}`, s + '', s.toString(), JSON.stringify(s), JSON.stringify({ password: s }),
      inspect(s), inspect({ s }, { showHidden: true, depth: 5 }), inspect(s, { customInspect: false, showHidden: true }),
      Object.keys(s).join(), JSON.stringify(Object.entries(s)), String([s]), `${[s, s].join(',')}`,
    ];
    for (const r of renderings) expect(r).not.toContain('hunter2');
    expect(String(s)).toBe('[secret]');
    expect(JSON.stringify(s)).toBe('"[secret]"');
  });

  it('pino logs it as [secret] under any key', () => {
    const lines: string[] = [];
    const log = pino({ level: 'trace' }, { write: (l: string) => lines.push(l) });
    const s = Secret.fromString(PW);
    log.info({ pw: s, nested: { deeper: s }, list: [s] }, `value ${s}`);
    log.info(s as unknown as object);
    expect(lines.join('')).not.toContain('hunter2');
    expect(lines.join('')).toContain('[secret]');
  });

  it('expose() gives the bytes and wipe() zeroes them', () => {
    const s = Secret.fromString(PW);
    expect(s.expose().toString('utf8')).toBe(PW);
    const bytes = s.expose();
    s.wipe();
    expect(bytes.every((b) => b === 0)).toBe(true);
  });
});

describe('Secret.keyedDigest', () => {
  it('is HMAC-SHA-256 under the key, computed once per key, forgotten by wipe()', () => {
    const k1 = new HmacKey(Buffer.alloc(32, 1));
    const k2 = new HmacKey(Buffer.alloc(32, 2));
    const s = Secret.fromString(PW);
    const d1 = s.keyedDigest(k1);
    expect(d1).toEqual(createHmac('sha256', Buffer.alloc(32, 1)).update(PW).digest());
    // The same object again: the cache and the penalty's memory share one computation per request.
    expect(s.keyedDigest(k1)).toBe(d1);
    expect(s.keyedDigest(k2)).toEqual(createHmac('sha256', Buffer.alloc(32, 2)).update(PW).digest());
    s.wipe();
    expect(s.keyedDigest(k1)).not.toEqual(d1);
  });
});
