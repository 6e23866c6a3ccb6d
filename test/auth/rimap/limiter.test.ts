import { expect, test } from 'vitest';
import { ConnectionLimiter } from '../../../src/auth/backends/rimap/limiter.js';

test('at most max slots; waiters are served in order; a full queue fails fast', async () => {
  const l = new ConnectionLimiter(2, 2);
  const never = new AbortController().signal;
  const a = await l.acquire(never);
  const b = await l.acquire(never);
  const order: string[] = [];
  const c = l.acquire(never).then((r) => (order.push('c'), r));
  const d = l.acquire(never).then((r) => (order.push('d'), r));
  await expect(l.acquire(never)).rejects.toMatchObject({ code: 'SASLD_ERR_RIMAP', reason: 'overloaded' });
  expect([l.active, l.waiting]).toEqual([2, 2]);
  a();
  a(); // a second release is ignored
  const rc = await c;
  expect([l.active, l.waiting]).toEqual([2, 1]);
  b();
  const rd = await d;
  expect(order).toEqual(['c', 'd']);
  rc();
  rd();
  expect([l.active, l.waiting]).toEqual([0, 0]);
});

test('an aborted waiter leaves the queue and does not take a slot', async () => {
  const l = new ConnectionLimiter(1, 5);
  const never = new AbortController().signal;
  const release = await l.acquire(never);
  const ctl = new AbortController();
  const waiting = l.acquire(ctl.signal);
  ctl.abort();
  await expect(waiting).rejects.toMatchObject({ code: 'SASLD_ERR_RIMAP', reason: 'aborted' });
  expect(l.waiting).toBe(0);
  release();
  expect(l.active).toBe(0);
  await expect(l.acquire(ctl.signal)).rejects.toMatchObject({ code: 'SASLD_ERR_RIMAP', reason: 'aborted' });
});
