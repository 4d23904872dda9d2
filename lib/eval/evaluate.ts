/**
 * The leave-one-out evaluation: each user's held-out item is ranked against
 * the user's evaluation negatives by any {@linkcode Scorer}.
 *
 * @module
 */

import type { Dataset } from "../data/types.ts";
import { RankingMetrics, type RankingSummary } from "./metrics.ts";
import { rankScratch, rankUsers } from "./_rank_users.ts";
import type { Scorer } from "./scorer.ts";

export type { Scorer };

/** What {@linkcode evaluateRanking} returns. */
export interface EvaluationResult extends RankingSummary {
  /** Wall time of the evaluation. */
  seconds: number;
}

/**
 * HR@k and NDCG@k over every user of `dataset` (default k 10). A negative
 * scoring equal to the positive ranks above it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { evaluateRanking } from "./evaluate.ts";
 * import { loadDataset } from "../data/load_dataset.ts";
 * const { dataset } = await loadDataset({
 *   dataset: "synthetic", seed: 1, syntheticUsers: 20, syntheticItems: 200, numEvalNegatives: 9,
 * });
 * // An oracle that knows each held-out item hits every time.
 * const oracle = {
 *   scoreUserItems(user: number, items: Int32Array, o: { out: Float32Array; count?: number }) {
 *     for (let i = 0; i < (o.count ?? items.length); i++) {
 *       o.out[i] = items[i] === dataset.evalItems[user] ? 1 : 0;
 *     }
 *   },
 * };
 * const result = evaluateRanking(oracle, dataset);
 * assert.equal(result.hr, 1);
 * assert.equal(result.ndcg, 1);
 * ```
 */
export function evaluateRanking(
  scorer: Scorer,
  dataset: Dataset,
  options: { k?: number } = {},
): EvaluationResult {
  const started = performance.now();
  const metrics = new RankingMetrics({ k: options.k ?? 10 });
  const ranks = new Int32Array(dataset.numUsers);
  rankUsers(scorer, dataset, {
    from: 0,
    to: dataset.numUsers,
    ranks,
    scratch: rankScratch(dataset),
  });
  for (const rank of ranks) metrics.add(rank);
  return { ...metrics.summary(), seconds: (performance.now() - started) / 1000 };
}
