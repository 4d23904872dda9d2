/**
 * Ranks users' held-out items among their evaluation negatives: the loop
 * shared by the serial evaluation and the evaluation workers.
 *
 * @module
 */

import type { Dataset } from "../data/types.ts";
import type { Scorer } from "./scorer.ts";
import { rankOfPositive } from "./metrics.ts";

/** The parts of a data set the ranking reads. */
export type EvalTables = Pick<
  Dataset,
  "numUsers" | "evalItems" | "evalNegOffsets" | "evalNegatives"
>;

/** Candidate and score buffers sized for the widest user. */
export interface RankScratch {
  candidates: Int32Array;
  scores: Float32Array;
}

/** Buffers for {@linkcode rankUsers} over `tables`. */
export function rankScratch(tables: EvalTables): RankScratch {
  let widest = 0;
  const offsets = tables.evalNegOffsets;
  for (let u = 0; u < tables.numUsers; u++) {
    widest = Math.max(widest, offsets[u + 1] - offsets[u]);
  }
  return { candidates: new Int32Array(widest + 1), scores: new Float32Array(widest + 1) };
}

/**
 * Writes into `ranks[u]` the 0-based rank of user `u`'s held-out item among
 * the user's negatives (ties rank the negative first), for `from ≤ u < to`.
 */
export function rankUsers(
  scorer: Scorer,
  tables: EvalTables,
  o: { from: number; to: number; ranks: Int32Array; scratch: RankScratch },
): void {
  const { evalItems, evalNegOffsets, evalNegatives } = tables;
  const { candidates, scores } = o.scratch;
  const negativeScores = scores.subarray(1);
  for (let u = o.from; u < o.to; u++) {
    const start = evalNegOffsets[u];
    const count = evalNegOffsets[u + 1] - start;
    candidates[0] = evalItems[u];
    candidates.set(evalNegatives.subarray(start, start + count), 1);
    scorer.scoreUserItems(u, candidates, { out: scores, count: count + 1 });
    o.ranks[u] = rankOfPositive(scores[0], negativeScores, { count });
  }
}
