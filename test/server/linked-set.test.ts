import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Linkable, LinkedSet } from '../../src/server/linked-set.js';

class Item implements Linkable<Item> {
  linkPrev: Item | null = null;
  linkNext: Item | null = null;
  linked = false;
  constructor(readonly n: number) {}
}

const order = (s: LinkedSet<Item>): number[] => [...s].map((i) => i.n);

describe('LinkedSet (the server\'s open connections)', () => {
  it('keeps insertion order, ignores a second add, and reports deletes as Set does', () => {
    const s = new LinkedSet<Item>();
    const [a, b, c] = [new Item(1), new Item(2), new Item(3)];
    s.add(a);
    s.add(b);
    s.add(c);
    s.add(b);
    expect(order(s)).toEqual([1, 2, 3]);
    expect(s.delete(b)).toBe(true);
    expect(s.delete(b)).toBe(false);
    expect(order(s)).toEqual([1, 3]);
    expect(s.size).toBe(2);
    expect(s.delete(a) && s.delete(c)).toBe(true);
    expect(order(s)).toEqual([]);
    expect(s.size).toBe(0);
    s.add(b);
    expect(order(s)).toEqual([2]);
    expect([b.linkPrev, b.linkNext]).toEqual([null, null]);
  });

  it('lets the walk delete the member it is on (eviction at the cap does)', () => {
    const s = new LinkedSet<Item>();
    const items = [1, 2, 3, 4].map((n) => new Item(n));
    for (const i of items) s.add(i);
    const seen: number[] = [];
    for (const i of s) {
      seen.push(i.n);
      if (i.n % 2 === 0) s.delete(i);
    }
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(order(s)).toEqual([1, 3]);
  });

  it('behaves as a Set under any sequence of adds and deletes', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 7 })), { maxLength: 200 }), (ops) => {
        const items = Array.from({ length: 8 }, (_, n) => new Item(n));
        const s = new LinkedSet<Item>();
        const ref = new Set<Item>();
        for (const [add, k] of ops) {
          const item = items[k]!;
          if (add) {
            s.add(item);
            ref.add(item);
          } else {
            expect(s.delete(item)).toBe(ref.delete(item));
          }
          expect(s.size).toBe(ref.size);
        }
        expect(order(s)).toEqual([...ref].map((i) => i.n));
      }),
      { numRuns: 500 },
    );
  });
});
