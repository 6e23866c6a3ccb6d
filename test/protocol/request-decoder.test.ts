import { describe, expect, it } from 'vitest';
import { RequestDecoder, encodeRequest } from '../../src/protocol/index.js';

describe('RequestDecoder', () => {
  it('decodes the 24-byte v4 request seen on the wire', () => {
    const bytes = Buffer.from('00057361736c740007536563723374210004696d61700000', 'hex');
    const r = new RequestDecoder().push(bytes);
    expect(r.kind).toBe('request');
    if (r.kind !== 'request') return;
    expect(r.request.login.toString()).toBe('saslt');
    expect(r.request.password.toString()).toBe('Secr3t!');
    expect(r.request.service.toString()).toBe('imap');
    expect(r.request.realm.length).toBe(0);
    expect(r.request.clientAddr).toBeNull();
    expect(encodeRequest(['saslt', 'Secr3t!', 'imap', ''])).toEqual(bytes);
  });
});
