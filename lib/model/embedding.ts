/**
 * Embedding tables: gather the rows of a batch's ids, scatter-add their
 * gradients back (densely, or recording the touched rows for a lazy
 * optimizer), and the per-lookup L2 penalty. A table is a row-major
 * `Float32Array` of `rows × dim`; batch-side buffers may be strided so two
 * tables can fill the halves of one concatenated input. When the table and
 * the batch-side buffer live in one `WasmArena`, gathers and scatters run
 * its WebAssembly kernels (bit-identical results).
 *
 * @module
 */

import { wasmArenaOf } from "../kernels/wasm_arena.ts";

/**
 * The distinct rows of one table a batch touched, in first-touch order.
 * Marking is O(1) and `clear()` is O(1) (an epoch stamp per row).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TouchedRows } from "./embedding.ts";
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

/** Layout of the batch-side buffer of a gather or scatter. */
export interface RowBlockOptions {
  /** Row length of the table. */
  dim: number;
  /** Number of ids (batch rows) to process. */
  count: number;
  /** Stride between batch rows in the batch-side buffer (default `dim`). */
  stride?: number;
  /** Offset of the first element in the batch-side buffer (default 0). */
  offset?: number;
}

function _checkIds(action: string, ids: Int32Array, count: number, rows: number): void {
  if (ids.length < count) {
    throw new RangeError(`Cannot ${action}: ${count} ids requested, the array holds ${ids.length}`);
  }
  for (let b = 0; b < count; b++) {
    const id = ids[b];
    if (id < 0 || id >= rows) {
      throw new RangeError(
        `Cannot ${action}: id ${id} at position ${b} is outside the table's ${rows} rows`,
      );
    }
  }
}

/**
 * Copies `table[ids[b]]` into `out[offset + b·stride …]` for `b < count`.
 *
 * @throws {RangeError} when an id is outside the table.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gatherRows } from "./embedding.ts";
 * const table = Float32Array.of(0, 1, 10, 11, 20, 21); // 3 rows of 2
 * const out = new Float32Array(4);
 * gatherRows(table, Int32Array.of(2, 0), { dim: 2, count: 2, out });
 * assert.ok(out.join() === "20,21,0,1");
 * ```
 */
export function gatherRows(
  table: Float32Array,
  ids: Int32Array,
  options: RowBlockOptions & { out: Float32Array },
): void {
  const { dim, count, out } = options;
  const stride = options.stride ?? dim;
  const offset = options.offset ?? 0;
  _checkIds("gather embedding rows", ids, count, table.length / dim);
  const arena = wasmArenaOf(table);
  if (
    arena !== undefined && count > 0 && wasmArenaOf(out) === arena &&
    out.length >= offset + (count - 1) * stride + dim
  ) {
    const at = arena.ids(ids, count);
    if (at !== null) {
      arena.kernels.gather(
        table.byteOffset,
        at,
        count,
        dim * 4,
        out.byteOffset + offset * 4,
        stride * 4,
      );
      return;
    }
  }
  for (let b = 0; b < count; b++) {
    const src = ids[b] * dim;
    const dst = offset + b * stride;
    for (let d = 0; d < dim; d++) out[dst + d] = table[src + d];
  }
}

/**
 * Adds `src[offset + b·stride …]` to `grads[ids[b]]` for `b < count`
 * (repeated ids accumulate). With `touched`, also records each row there,
 * for a lazy optimizer.
 *
 * @throws {RangeError} when an id is outside the table.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scatterAddRows, TouchedRows } from "./embedding.ts";
 * const grads = new Float32Array(6); // 3 rows of 2
 * const touched = new TouchedRows(3);
 * scatterAddRows(grads, Int32Array.of(1, 1), {
 *   dim: 2, count: 2, src: Float32Array.of(1, 2, 3, 4), touched,
 * });
 * assert.ok(grads.join() === "0,0,4,6,0,0" && touched.count === 1);
 * ```
 */
export function scatterAddRows(
  grads: Float32Array,
  ids: Int32Array,
  options: RowBlockOptions & { src: Float32Array; touched?: TouchedRows | null },
): void {
  const { dim, count, src } = options;
  const stride = options.stride ?? dim;
  const offset = options.offset ?? 0;
  _checkIds("scatter embedding gradients", ids, count, grads.length / dim);
  const arena = wasmArenaOf(grads);
  const at = arena !== undefined && count > 0 && wasmArenaOf(src) === arena &&
      src.length >= offset + (count - 1) * stride + dim
    ? arena.ids(ids, count)
    : null;
  if (at !== null) {
    arena!.kernels.scatter_add(
      grads.byteOffset,
      at,
      count,
      dim * 4,
      src.byteOffset + offset * 4,
      stride * 4,
    );
  } else {
    for (let b = 0; b < count; b++) {
      const dst = ids[b] * dim;
      const from = offset + b * stride;
      for (let d = 0; d < dim; d++) grads[dst + d] += src[from + d];
    }
  }
  const touched = options.touched ?? null;
  if (touched !== null) { for (let b = 0; b < count; b++) touched.mark(ids[b]); }
}

/**
 * The L2 penalty of a batch's lookups: returns `Σ_b ‖table[ids[b]]‖²` (a
 * row looked up twice counts twice) and, when `grads` is given, adds
 * `gradScale · table[ids[b]]` to `grads[ids[b]]` for each lookup (so
 * `gradScale = 2·c` is the gradient of `c` times the returned sum).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { l2RowPenalty } from "./embedding.ts";
 * const table = Float32Array.of(1, 2, 3, 4); // 2 rows of 2
 * const grads = new Float32Array(4);
 * const s = l2RowPenalty(table, Int32Array.of(1, 1), { dim: 2, count: 2, grads, gradScale: 0.5 });
 * assert.ok(s === 50 && grads.join() === "0,0,3,4");
 * ```
 */
export function l2RowPenalty(
  table: Float32Array,
  ids: Int32Array,
  options: { dim: number; count: number; grads?: Float32Array | null; gradScale?: number },
): number {
  const { dim, count } = options;
  const grads = options.grads ?? null;
  const scale = options.gradScale ?? 0;
  _checkIds("compute the embedding penalty", ids, count, table.length / dim);
  let sum = 0;
  for (let b = 0; b < count; b++) {
    const base = ids[b] * dim;
    for (let d = 0; d < dim; d++) {
      const w = table[base + d];
      sum += w * w;
    }
    if (grads !== null && scale !== 0) {
      for (let d = 0; d < dim; d++) grads[base + d] += scale * table[base + d];
    }
  }
  return sum;
}
