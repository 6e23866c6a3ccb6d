import { afterEach, describe, expect, it, vi } from 'vitest';
import { RequestSignal, nativeSignal } from '../../src/auth/request-signal.js';

describe('RequestSignal', () => {
  afterEach(() => vi.restoreAllMocks());

  it('starts live and keeps the first abort reason', () => {
    const s = new RequestSignal();
    expect(s.aborted).toBe(false);
    expect(s.reason).toBeUndefined();
    expect(() => s.throwIfAborted()).not.toThrow();
    const first = new Error('client closed');
    s.abort(first);
    s.abort(new Error('deadline'));
    expect(s.aborted).toBe(true);
    expect(s.reason).toBe(first);
    expect(() => s.throwIfAborted()).toThrow(first);
  });

  it('aborts with an AbortError when given no reason, as AbortController does', () => {
    const s = new RequestSignal();
    s.abort();
    expect(s.reason).toBeInstanceOf(DOMException);
    expect((s.reason as DOMException).name).toBe('AbortError');
  });

  it('calls each listener once, in order, with an abort event; not removed ones, not late ones, not twice', () => {
    const s = new RequestSignal();
    const calls: string[] = [];
    const a = (e: Event): void => void calls.push(`a:${e.type}`);
    const b = (): void => void calls.push('b');
    const c = { handleEvent: (e: Event): void => void calls.push(`c:${e.type}`) };
    s.addEventListener('abort', a);
    s.addEventListener('abort', a); // EventTarget ignores the same listener twice
    s.addEventListener('abort', b, { once: true });
    s.addEventListener('abort', c);
    s.addEventListener('other', b);
    s.removeEventListener('abort', b);
    s.abort(new Error('x'));
    s.addEventListener('abort', b);
    s.abort(new Error('y'));
    expect(calls).toEqual(['a:abort', 'c:abort']);
  });

  it('does not call a listener that an earlier one removed during the abort, as EventTarget does not', () => {
    for (const make of [() => new RequestSignal(), () => new AbortController()]) {
      const c = make();
      const calls: string[] = [];
      const second = (): void => void calls.push('second');
      c.signal.addEventListener('abort', () => {
        calls.push('first');
        c.signal.removeEventListener('abort', second);
      });
      c.signal.addEventListener('abort', second);
      c.abort(new Error('x'));
      expect(calls).toEqual(['first']);
    }
  });

  it('still calls the other listeners when one throws, and reports the error as uncaught', () => {
    const s = new RequestSignal();
    const deferred: (() => void)[] = [];
    vi.spyOn(process, 'nextTick').mockImplementation(((fn: () => void) => void deferred.push(fn)) as typeof process.nextTick);
    const after = vi.fn();
    s.addEventListener('abort', () => {
      throw new Error('listener bug');
    });
    s.addEventListener('abort', after);
    s.abort(new Error('x'));
    expect(after).toHaveBeenCalledTimes(1);
    expect(deferred).toHaveLength(1);
    expect(() => deferred[0]!()).toThrow('listener bug');
  });

  it('gives Node APIs a real AbortSignal that follows it, made before or after the abort', () => {
    const before = new RequestSignal();
    const n1 = nativeSignal(before);
    expect(n1).toBeInstanceOf(AbortSignal);
    expect(n1.aborted).toBe(false);
    const reason = new Error('gone');
    before.abort(reason);
    expect(n1.aborted).toBe(true);
    expect(n1.reason).toBe(reason);

    const after = new RequestSignal();
    after.abort(reason);
    expect(nativeSignal(after).aborted).toBe(true);
    expect(nativeSignal(after).reason).toBe(reason);
    expect(nativeSignal(after)).toBe(nativeSignal(after));
  });

  it('passes a real AbortSignal through unchanged', () => {
    const c = new AbortController();
    expect(nativeSignal(c.signal)).toBe(c.signal);
  });

  it('stands where an AbortController is expected', () => {
    const s = new RequestSignal();
    expect(s.signal).toBe(s);
  });
});
