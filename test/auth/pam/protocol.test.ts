import { describe, expect, it } from 'vitest';
import { outcomeOfReply } from '../../../src/auth/backends/pam/pam.js';
import { HelperProtocolError, HelperReplyDecoder, encodeHelperRequest } from '../../../src/auth/backends/pam/protocol.js';

function reply(stage: number, code: number, delay: number, text: string): Buffer {
  const t = Buffer.from(text);
  const b = Buffer.alloc(4 + 11 + t.length);
  b.writeUInt32BE(11 + t.length, 0);
  b.writeUInt8(stage, 4);
  b.writeInt32BE(code, 5);
  b.writeUInt32BE(delay, 9);
  b.writeUInt16BE(t.length, 13);
  t.copy(b, 15);
  return b;
}

describe('PAM helper protocol', () => {
  it('encodes a request as counted fields with the rhost flag last', () => {
    const f = encodeHelperRequest({ service: 'smtp', login: 'joe', password: Buffer.from('pw'), rhost: null });
    expect(f.toString('hex')).toBe(
      '00000012' + '0004' + Buffer.from('smtp').toString('hex') + '0003' + Buffer.from('joe').toString('hex') +
        '0002' + Buffer.from('pw').toString('hex') + '0000' + '00',
    );
    const g = encodeHelperRequest({ service: 's', login: 'u', password: Buffer.from('p'), rhost: '10.0.0.1' });
    expect(g.subarray(g.length - 11).toString('hex')).toBe('0008' + Buffer.from('10.0.0.1').toString('hex') + '01');
  });

  it('decodes replies however the bytes are split', () => {
    const bytes = Buffer.concat([reply(0, 0, 0, ''), reply(2, 7, 2_000_000, 'Authentication failure'), reply(3, 13, 0, 'User account has expired')]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const d = new HelperReplyDecoder();
      const got = [...d.push(bytes.subarray(0, cut)), ...d.push(bytes.subarray(cut))];
      expect(got).toEqual([
        { stage: 'ok', code: 0, delayUsec: 0, text: '' },
        { stage: 'auth', code: 7, delayUsec: 2_000_000, text: 'Authentication failure' },
        { stage: 'acct', code: 13, delayUsec: 0, text: 'User account has expired' },
      ]);
    }
  });

  it('decodes stage 4: pam_authenticate said yes without asking for the password, which is a rejection', () => {
    const [r] = new HelperReplyDecoder().push(reply(4, 0, 0, 'pam_authenticate returned success without asking for the password'));
    expect(r).toEqual({ stage: 'unasked', code: 0, delayUsec: 0, text: 'pam_authenticate returned success without asking for the password' });
    expect(outcomeOfReply(r!)).toEqual({
      outcome: {
        kind: 'rejected',
        code: 'not-authorized',
        reason: 'pam_authenticate returned success without asking for the password; refused',
        compat: 'NO PAM auth error',
      },
      authFailed: true,
    });
  });

  it('only an outage code lets a chain go on; any other PAM failure is a refusal', () => {
    const verdict = (stage: 'auth' | 'acct', code: number) => outcomeOfReply({ stage, code, delayUsec: 0, text: 'x' }).outcome;
    // CONV_ERR (a prompt our conversation cannot answer), SERVICE_ERR, SYSTEM_ERR, ABORT, OPEN_ERR.
    for (const code of [19, 3, 4, 26, 1]) {
      expect(verdict('auth', code)).toMatchObject({ kind: 'rejected', code: 'not-authorized' });
      expect(verdict('acct', code)).toMatchObject({ kind: 'rejected', code: 'not-authorized' });
    }
    // AUTHINFO_UNAVAIL (pam_ldap/pam_sss cannot reach their server) and BUF_ERR.
    for (const code of [9, 5]) {
      expect(verdict('auth', code)).toMatchObject({ kind: 'unavailable', code: 'backend-error' });
      expect(verdict('acct', code)).toMatchObject({ kind: 'unavailable', code: 'backend-error' });
    }
    expect(verdict('auth', 7)).toMatchObject({ kind: 'rejected', code: 'bad-password' });
  });

  it('refuses frames that are not ours', () => {
    expect(() => new HelperReplyDecoder().push(Buffer.from('hello world, this is a module writing to stdout'))).toThrow(HelperProtocolError);
    expect(() => new HelperReplyDecoder().push(reply(5, 0, 0, ''))).toThrow(HelperProtocolError);
    expect(() => new HelperReplyDecoder().push(reply(9, 0, 0, ''))).toThrow(HelperProtocolError);
    const bad = reply(0, 0, 0, 'x');
    bad.writeUInt16BE(5, 13);
    expect(() => new HelperReplyDecoder().push(bad)).toThrow(HelperProtocolError);
  });
});
