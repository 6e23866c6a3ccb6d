import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AuthRequest, Authenticator, Outcome } from '../../src/auth/authenticator.js';
import { ok } from '../../src/auth/authenticator.js';
import { RequestHandler } from '../../src/server/request-handler.js';

// RequestHandler's per-request deadline (--auth-timeout), in process with fake timers: the outcome
// wins before the deadline, the deadline wins after it and aborts the request, and a backend that
// throws (at once or later) is a NO with no timer left behind. The deadline is one promise settled
// by whichever comes first (issue 15), so these pin down what Promise.race used to guarantee.

const raw = () => ({ login: Buffer.from('alice'), password: Buffer.from('pw'), service: Buffer.from('imap'), realm: Buffer.from(''), clientAddr: null });
const CONN = { id: 1 };
const FAILURE = 'NO internal mechanism failure';

class Scripted implements Authenticator {
  readonly name = 'scripted';
  signal: AbortSignal | null = null;
  constructor(private readonly run: (signal: AbortSignal) => Promise<Outcome>) {}
  authenticate(_req: AuthRequest, signal: AbortSignal): Promise<Outcome> {
    this.signal = signal;
    return this.run(signal);
  }
  describe(): string[] {
    return [];
  }
  async close(): Promise<void> {}
}

function handlerFor(a: Authenticator): { handler: RequestHandler; lines: { outcome?: string; code?: string; msg: string }[] } {
  const lines: { outcome?: string; code?: string; msg: string }[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as { msg: string }) });
  return { handler: new RequestHandler(a, { compatReplies: true, authTimeoutMs: 1000 }, log), lines };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('request deadline', () => {
  it('an outcome before the deadline is the answer, and clears the deadline timer', async () => {
    vi.useFakeTimers();
    const a = new Scripted(() => new Promise((resolve) => setTimeout(() => resolve(ok()), 999)));
    const { handler } = handlerFor(a);
    const reply = handler.handle(raw(), CONN, new AbortController());
    await vi.advanceTimersByTimeAsync(999);
    expect(await reply).toBe('OK');
    expect(vi.getTimerCount()).toBe(0);
    expect(a.signal?.aborted).toBe(false);
  });

  it('past the deadline: NO, logged as timeout, and the request is aborted', async () => {
    vi.useFakeTimers();
    const a = new Scripted(() => new Promise(() => {}));
    const { handler, lines } = handlerFor(a);
    const reply = handler.handle(raw(), CONN, new AbortController());
    await vi.advanceTimersByTimeAsync(1000);
    expect(await reply).toBe(FAILURE);
    expect(a.signal?.aborted).toBe(true);
    expect(lines.at(-1)).toMatchObject({ outcome: 'unavailable', code: 'timeout' });
  });

  it('a backend that throws at once is a NO with no timer left behind', async () => {
    vi.useFakeTimers();
    const a: Authenticator = {
      name: 'throws',
      authenticate: () => {
        throw new TypeError('sync bug');
      },
      describe: () => [],
      close: async () => {},
    };
    const { handler, lines } = handlerFor(a);
    expect(await handler.handle(raw(), CONN, new AbortController())).toBe(FAILURE);
    expect(vi.getTimerCount()).toBe(0);
    expect(lines.at(-1)).toMatchObject({ outcome: 'unavailable', code: 'backend-error' });
  });

  it('a backend whose promise rejects is a NO with no timer left behind', async () => {
    vi.useFakeTimers();
    const a = new Scripted(() => Promise.reject(new TypeError('async bug')));
    const { handler, lines } = handlerFor(a);
    expect(await handler.handle(raw(), CONN, new AbortController())).toBe(FAILURE);
    expect(vi.getTimerCount()).toBe(0);
    expect(lines.at(-1)).toMatchObject({ outcome: 'unavailable', code: 'backend-error' });
  });
});
