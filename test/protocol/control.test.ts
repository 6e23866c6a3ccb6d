import { describe, expect, it } from 'vitest';
import { encodeControl, parseControlRequest } from '../../src/protocol/control.js';

// issue 14 item 1: the control socket's one-line JSON requests; anything else is refused.

describe('control request parsing', () => {
  it('takes each command in its one shape', () => {
    expect(parseControlRequest('{"cmd":"status"}')).toEqual({ ok: true, request: { cmd: 'status' } });
    expect(parseControlRequest('{"cmd":"reload"}')).toEqual({ ok: true, request: { cmd: 'reload' } });
    expect(parseControlRequest('{"cmd":"penalty.list"}')).toEqual({ ok: true, request: { cmd: 'penalty.list' } });
    expect(parseControlRequest('{"cmd":"penalty.clear","target":{"all":true}}')).toEqual({ ok: true, request: { cmd: 'penalty.clear', target: { all: true } } });
    expect(parseControlRequest('{"cmd":"penalty.clear","target":{"user":"alice"}}')).toEqual({ ok: true, request: { cmd: 'penalty.clear', target: { user: 'alice' } } });
    expect(parseControlRequest('{"target":{"address":"192.0.2.1"},"cmd":"penalty.clear"}')).toEqual({ ok: true, request: { cmd: 'penalty.clear', target: { address: '192.0.2.1' } } });
    expect(parseControlRequest('{"cmd":"cache.flush"}')).toEqual({ ok: true, request: { cmd: 'cache.flush' } });
    expect(parseControlRequest('{"cmd":"cache.flush","user":"bob"}')).toEqual({ ok: true, request: { cmd: 'cache.flush', user: 'bob' } });
  });

  it('refuses anything else with a reason', () => {
    const bad = [
      'status',
      '',
      '[]',
      'null',
      '{"cmd":"shutdown"}',
      '{"cmd":1}',
      '{"cmd":"status","x":1}',
      '{"cmd":"penalty.clear"}',
      '{"cmd":"penalty.clear","target":{"all":false}}',
      '{"cmd":"penalty.clear","target":{"user":"a","all":true}}',
      '{"cmd":"penalty.clear","target":{"user":""}}',
      '{"cmd":"penalty.clear","target":{"user":"a\\nb"}}',
      `{"cmd":"cache.flush","user":"${'x'.repeat(257)}"}`,
      '{"cmd":"cache.flush","user":5}',
      '{"cmd":"__proto__"}',
    ];
    for (const line of bad) {
      const r = parseControlRequest(line);
      expect(r.ok, line).toBe(false);
      if (!r.ok) expect(r.reason.length).toBeGreaterThan(0);
    }
  });

  it('encodes one line', () => {
    expect(encodeControl({ ok: false, error: 'x\ny' })).toBe('{"ok":false,"error":"x\\ny"}\n');
  });
});
