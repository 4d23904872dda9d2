/**
 * Linear-time grouping of interaction rows by (user, item) with two counting
 * sorts, the building block of the preprocessing and the NCF reader.
 *
 * @module
 */

/** Rows grouped by user: `order[offsets[u]..offsets[u+1])` are user u's rows. */
export interface GroupedRows {
  /** Row indices, by user, by ascending item within a user, in row order within a (user, item). */
  order: Int32Array;
  /** CSR offsets into `order`, length numUsers + 1. */
  offsets: Int32Array;
}

/**
 * Sorts row indices by (user, item, row) in O(rows + users + items): a
 * counting sort by item, then a stable counting sort by user. `user` and
 * `item` hold dense ids below `numUsers` and `numItems`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { groupRows } from "./group_rows.ts";
 * const { order, offsets } = groupRows(Int32Array.of(1, 0, 1, 0), 2, Int32Array.of(5, 3, 2, 3), 6);
 * assert.ok(order.join() === "1,3,2,0" && offsets.join() === "0,2,4");
 * ```
 */
export function groupRows(
  user: Int32Array,
  numUsers: number,
  item: Int32Array,
  numItems: number,
): GroupedRows {
  const n = user.length;
  const byItem = new Int32Array(n);
  {
    const next = new Int32Array(numItems + 1);
    for (let r = 0; r < n; r++) next[item[r] + 1]++;
    for (let i = 0; i < numItems; i++) next[i + 1] += next[i];
    for (let r = 0; r < n; r++) byItem[next[item[r]]++] = r;
  }
  const offsets = new Int32Array(numUsers + 1);
  for (let r = 0; r < n; r++) offsets[user[r] + 1]++;
  for (let u = 0; u < numUsers; u++) offsets[u + 1] += offsets[u];
  const next = offsets.slice(0, numUsers);
  const order = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const r = byItem[k];
    order[next[user[r]]++] = r;
  }
  return { order, offsets };
}
