/**
 * Top-k selection: the positions of the `k` highest scores, best first,
 * ties by position ascending, in O(n log k) with a bounded heap instead of a
 * full sort. The order is exactly a stable sort's by score descending.
 *
 * @module
 */

/** Whether position `a` ranks below position `b`: a lower score, or the same score later. */
function _worse(scores: ArrayLike<number>, a: number, b: number): boolean {
  const sa = scores[a];
  const sb = scores[b];
  return sa < sb || (sa === sb && a > b);
}

/** Moves `heap[at]` down a heap whose root is its worst entry. */
function _siftDown(scores: ArrayLike<number>, heap: Int32Array, size: number, at: number): void {
  const item = heap[at];
  for (;;) {
    let child = 2 * at + 1;
    if (child >= size) break;
    if (child + 1 < size && _worse(scores, heap[child + 1], heap[child])) child++;
    if (!_worse(scores, heap[child], item)) break;
    heap[at] = heap[child];
    at = child;
  }
  heap[at] = item;
}

/** Moves `heap[at]` up a heap whose root is its worst entry. */
function _siftUp(scores: ArrayLike<number>, heap: Int32Array, at: number): void {
  const item = heap[at];
  while (at > 0) {
    const parent = (at - 1) >> 1;
    if (!_worse(scores, item, heap[parent])) break;
    heap[at] = heap[parent];
    at = parent;
  }
  heap[at] = item;
}

/**
 * The positions of the `k` highest of `scores[0..count)`, best first; equal
 * scores by position ascending (so for candidates listed in ascending id
 * order, ties go to the lower id). Fewer than `k` when `count` is smaller.
 * Scores must not be NaN.
 *
 * @param scores The scores.
 * @param k How many to keep (an integer ≥ 0).
 * @param options `count`: how many scores to consider (default all);
 *   `out`: where to write the positions (at least `k` long; reused across
 *   calls to avoid allocation; default a new array).
 * @returns `out` up to the number of positions written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { topK } from "./top_k.ts";
 * const scores = Float32Array.of(0.1, 0.9, 0.5, 0.9, -1);
 * assert.deepEqual([...topK(scores, 3)], [1, 3, 2]);
 * assert.deepEqual([...topK(scores, 9, { count: 2 })], [1, 0]);
 * ```
 */
export function topK(
  scores: ArrayLike<number>,
  k: number,
  options: { count?: number | undefined; out?: Int32Array | undefined } = {},
): Int32Array {
  const count = options.count ?? scores.length;
  if (!Number.isInteger(k) || k < 0) {
    throw new RangeError(`Cannot select the top ${k} scores: k must be an integer ≥ 0`);
  }
  if (!Number.isInteger(count) || count < 0 || count > scores.length) {
    throw new RangeError(
      `Cannot select among ${count} scores: there are ${scores.length}`,
    );
  }
  const out = options.out ?? new Int32Array(k);
  if (out.length < k) {
    throw new RangeError(`Cannot select the top ${k} scores into an array of ${out.length}`);
  }
  // A heap of the best `size` positions so far, its worst at the root.
  let size = 0;
  for (let i = 0; i < count; i++) {
    if (size < k) {
      out[size] = i;
      _siftUp(scores, out, size++);
    } else if (size > 0 && _worse(scores, out[0], i)) {
      out[0] = i;
      _siftDown(scores, out, size, 0);
    }
  }
  // Heap sort in place: the worst goes to the end each time, leaving best first.
  for (let end = size - 1; end > 0; end--) {
    const worst = out[0];
    out[0] = out[end];
    out[end] = worst;
    _siftDown(scores, out, end, 0);
  }
  return out.subarray(0, size);
}
