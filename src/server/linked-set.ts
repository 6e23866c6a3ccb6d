/** The links a member of a LinkedSet carries itself; only the set writes them. */
export interface Linkable<T> {
  linkPrev: T | null;
  linkNext: T | null;
  linked: boolean;
}

/**
 * An insertion-ordered set whose members carry their own links: add and delete are O(1) and never
 * reallocate anything. Why not a Set: the daemon adds and deletes a connection per request, so a
 * Set's hash table is rebuilt every few requests as it grows and shrinks, and V8 keeps each
 * discarded table, linked to its successor and still holding the connections it held, until the
 * next full GC. Every scavenge in between found those chains alive and promoted them: 1.6 KB per
 * request, and scavenge pauses of 4-5 ms instead of 2.5 (issue 15, docs/performance.md).
 */
export class LinkedSet<T extends Linkable<T>> implements Iterable<T> {
  #head: T | null = null;
  #tail: T | null = null;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  add(item: T): void {
    if (item.linked) return;
    item.linked = true;
    item.linkPrev = this.#tail;
    item.linkNext = null;
    if (this.#tail === null) this.#head = item;
    else this.#tail.linkNext = item;
    this.#tail = item;
    this.#size++;
  }

  /** Removes `item`; false when it was not in the set. */
  delete(item: T): boolean {
    if (!item.linked) return false;
    const { linkPrev: prev, linkNext: next } = item;
    if (prev === null) this.#head = next;
    else prev.linkNext = next;
    if (next === null) this.#tail = prev;
    else next.linkPrev = prev;
    item.linked = false;
    item.linkPrev = null;
    item.linkNext = null;
    this.#size--;
    return true;
  }

  /** Oldest first. The current member may be deleted during the walk. */
  *[Symbol.iterator](): Iterator<T> {
    let item = this.#head;
    while (item !== null) {
      const next = item.linkNext;
      yield item;
      item = next;
    }
  }
}
