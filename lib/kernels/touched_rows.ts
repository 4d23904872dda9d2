/**
 * The rows of an embedding table that a batch touched, for optimizers that
 * update only those rows (and for the scatter kernels that record them).
 *
 * @module
 */

/**
 * The distinct rows of one table a batch touched, in first-touch order.
 * Marking is O(1) and `clear()` is O(1) (an epoch stamp per row).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TouchedRows } from "./touched_rows.ts";
 * const t = new TouchedRows(10);
 * t.mark(3); t.mark(7); t.mark(3);
 * assert.equal(t.count, 2);
 * assert.ok(t.rows[1] === 7 && t.has(3));
 * t.clear();
 * assert.equal(t.count, 0);
 * assert.ok(!t.has(3));
 * ```
 */
export class TouchedRows {
  /** Touched row ids; only the first {@linkcode TouchedRows.count} are valid. */
  readonly rows: Int32Array;
  #count = 0;
  #stamp: Uint32Array;
  #epoch = 1;

  /**
   * An empty set for a table of `numRows` rows.
   * @param numRows Rows in the table.
   */
  constructor(numRows: number) {
    this.rows = new Int32Array(numRows);
    this.#stamp = new Uint32Array(numRows);
  }

  /** Number of distinct rows touched since the last clear. */
  get count(): number {
    return this.#count;
  }

  /** Records `row` (a no-op if already recorded). */
  mark(row: number): void {
    if (this.#stamp[row] !== this.#epoch) {
      this.#stamp[row] = this.#epoch;
      this.rows[this.#count++] = row;
    }
  }

  /** Whether `row` was recorded since the last clear. */
  has(row: number): boolean {
    return this.#stamp[row] === this.#epoch;
  }

  /** Forgets every recorded row. */
  clear(): void {
    this.#count = 0;
    if (this.#epoch === 0xffffffff) {
      this.#stamp.fill(0);
      this.#epoch = 1;
    } else {
      this.#epoch++;
    }
  }
}
