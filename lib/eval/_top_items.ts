/**
 * A bounded selection of a user's best items for catalogue coverage: the
 * `k` highest (score, item) pairs seen, higher score first, equal scores to
 * the lower item id, in O(log k) per accepted pair (a heap whose root is the
 * worst kept pair) instead of a sort of every candidate.
 *
 * @module
 */

/**
 * The best `k` items offered so far. A NaN score counts as −∞. Reused across
 * users through {@linkcode TopItems.reset}; allocates nothing per offer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TopItems } from "./_top_items.ts";
 * const top = new TopItems(3);
 * top.reset(2);
 * for (const [score, item] of [[0.5, 7], [0.9, 3], [0.5, 2], [NaN, 1]]) top.offer(score, item);
 * assert.deepEqual([...top.sorted()], [3, 2]); // 0.9, then the tie 0.5 to the lower id
 * ```
 */
export class TopItems {
  /** The most items a selection can keep. */
  readonly capacity: number;
  #scores: Float64Array;
  #items: Int32Array;
  #k = 0;
  #size = 0;

  /** @param capacity The largest `k` a {@linkcode TopItems.reset} may ask for. */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`Cannot keep the top ${capacity} items: expected an integer ≥ 1`);
    }
    this.capacity = capacity;
    this.#scores = new Float64Array(capacity);
    this.#items = new Int32Array(capacity);
  }

  /** Empties the selection, which then keeps the best `k` (≤ capacity). */
  reset(k: number): void {
    if (!Number.isInteger(k) || k < 1 || k > this.capacity) {
      throw new RangeError(`Cannot keep the top ${k} items: expected 1..${this.capacity}`);
    }
    this.#k = k;
    this.#size = 0;
  }

  /** Items kept. */
  get size(): number {
    return this.#size;
  }

  /**
   * The score an offer must exceed to be kept when the selection is full
   * (an equal score is kept only with a lower item id than the worst kept);
   * −∞ while it is not full.
   */
  get threshold(): number {
    return this.#size < this.#k ? -Infinity : this.#scores[0];
  }

  /** Offers `item` with `score`; keeps it if it is among the best `k` so far. */
  offer(score: number, item: number): void {
    const s = score === score ? score : -Infinity;
    if (this.#size < this.#k) {
      this.#siftUp(this.#size++, s, item);
    } else if (s > this.#scores[0] || (s === this.#scores[0] && item < this.#items[0])) {
      this.#siftDown(this.#size, s, item);
    }
  }

  /**
   * The kept items, best first. The selection is consumed: call
   * {@linkcode TopItems.reset} before offering again.
   * @returns A view of the internal array (valid until the next reset).
   */
  sorted(): Int32Array {
    const scores = this.#scores;
    const items = this.#items;
    // Heap sort: the worst moves to the end each time, leaving the best first.
    for (let end = this.#size - 1; end > 0; end--) {
      const s = scores[0];
      const i = items[0];
      this.#siftDown(end, scores[end], items[end]);
      scores[end] = s;
      items[end] = i;
    }
    return items.subarray(0, this.#size);
  }

  /** Whether (sa, ia) ranks below (sb, ib). */
  static #worse(sa: number, ia: number, sb: number, ib: number): boolean {
    return sa < sb || (sa === sb && ia > ib);
  }

  /** Places (s, item) at `at` of a heap of `at + 1` entries, moving it up. */
  #siftUp(at: number, s: number, item: number): void {
    const scores = this.#scores;
    const items = this.#items;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (!TopItems.#worse(s, item, scores[parent], items[parent])) break;
      scores[at] = scores[parent];
      items[at] = items[parent];
      at = parent;
    }
    scores[at] = s;
    items[at] = item;
  }

  /** Replaces the root of a heap of `size` entries by (s, item), moving it down. */
  #siftDown(size: number, s: number, item: number): void {
    const scores = this.#scores;
    const items = this.#items;
    let at = 0;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= size) break;
      if (
        child + 1 < size &&
        TopItems.#worse(scores[child + 1], items[child + 1], scores[child], items[child])
      ) child++;
      if (!TopItems.#worse(scores[child], items[child], s, item)) break;
      scores[at] = scores[child];
      items[at] = items[child];
      at = child;
    }
    scores[at] = s;
    items[at] = item;
  }
}
