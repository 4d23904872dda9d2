/**
 * Which element ranges a row-sparse optimizer step visits: every dense
 * tensor whole (adjacent ones merged into one range), and of each sparse
 * (embedding) tensor only the rows its {@linkcode TouchedRows} set recorded.
 * Shared by `LazyAdam` and `Sgd`.
 *
 * @module
 */

import type { Parameters } from "../kernels/parameters.ts";
import type { TouchedRows } from "../kernels/touched_rows.ts";

/** The ranges of one step; built once per optimizer. */
export interface UpdatePlan {
  /** Dense element ranges `[start, end)` of the flat buffers. */
  dense: { start: number; end: number }[];
  /** Sparse tensors: flat offset, row length and their touched-row set. */
  sparse: { offset: number; rowLength: number; touched: TouchedRows }[];
  /** The distinct touched-row sets (cleared after each step). */
  sets: TouchedRows[];
}

/**
 * The plan for `params`: sparse tensors named in `touched` are visited by
 * row, every other tensor whole.
 * @param params The tensors to update.
 * @param touched The touched-row set of every sparse tensor, by name.
 * @param options `who`: the optimizer's name for error messages.
 * @throws {RangeError} when a name is not a sparse tensor, a sparse tensor
 *   has no set, or a set is smaller than its tensor.
 */
export function updatePlan(
  params: Parameters,
  touched: ReadonlyMap<string, TouchedRows>,
  options: { who: string },
): UpdatePlan {
  const who = options.who;
  for (const name of touched.keys()) {
    if (!params.has(name) || !params.get(name).sparse) {
      throw new RangeError(`Cannot build ${who}: '${name}' is not a sparse tensor`);
    }
  }
  const plan: UpdatePlan = { dense: [], sparse: [], sets: [] };
  for (const e of params.entries) {
    if (!e.sparse) {
      const last = plan.dense.at(-1);
      if (last !== undefined && last.end === e.offset) last.end = e.offset + e.length;
      else plan.dense.push({ start: e.offset, end: e.offset + e.length });
      continue;
    }
    const set = touched.get(e.name);
    if (set === undefined) {
      throw new RangeError(`Cannot build ${who}: sparse tensor '${e.name}' has no touched-row set`);
    }
    if (set.rows.length < e.rows) {
      throw new RangeError(
        `Cannot build ${who}: the touched-row set of '${e.name}' holds ${set.rows.length} rows, the tensor ${e.rows}`,
      );
    }
    plan.sparse.push({ offset: e.offset, rowLength: e.rowLength, touched: set });
    if (!plan.sets.includes(set)) plan.sets.push(set);
  }
  return plan;
}

/**
 * Calls `update(start, end)` for every range of `plan` (dense ranges first,
 * then each touched row), then clears the touched-row sets.
 */
export function forEachPlannedRange(
  plan: UpdatePlan,
  update: (start: number, end: number) => void,
): void {
  for (const { start, end } of plan.dense) update(start, end);
  for (const { offset, rowLength, touched } of plan.sparse) {
    const rows = touched.rows;
    for (let r = 0, n = touched.count; r < n; r++) {
      const start = offset + rows[r] * rowLength;
      update(start, start + rowLength);
    }
  }
  for (const set of plan.sets) set.clear();
}
