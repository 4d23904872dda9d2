/**
 * The leave-one-out evaluation: each user's held-out item is ranked by any
 * {@linkcode Scorer} against the user's evaluation negatives (`sampled`, the
 * NCF paper's protocol) or against every item the user has no training
 * interaction with (`full`).
 *
 * @module
 */

import type { Dataset } from "../data/types.ts";
import {
  coverageMarks,
  type CutoffResult,
  type EvaluationOptions,
  type EvaluationResult,
  evaluationResult,
  resolveEvaluation,
  scansUseWasm,
} from "./_evaluation_result.ts";
import { rankScratch, rankUsers } from "./_rank_users.ts";
import type { Scorer } from "./scorer.ts";

export type { CutoffResult, EvaluationOptions, EvaluationResult, Scorer };

/**
 * HR@K and NDCG@K at each cutoff (default K = 10 only), the mean reciprocal
 * rank, and on request catalogue coverage@K, over every user of `dataset`.
 * A negative scoring equal to the positive ranks above it.
 *
 * `sampled` (default) ranks each held-out item against the user's
 * evaluation negatives; `full` against every item the user has no training
 * interaction with (all items minus the user's training items; the held-out
 * item is the positive). For `full` the scorer's
 * {@linkcode Scorer.scoreUsersAll} or {@linkcode Scorer.scoreUserAll} is used
 * when it has one.
 *
 * @param scorer The model (or baseline) to rank with.
 * @param dataset The users, their held-out items, negatives and training rows.
 * @param options `protocol`, `ks`, `coverage` (see {@linkcode EvaluationOptions}).
 * @throws {SettingError} for `eval_protocol` or `eval_k` on a value that cannot work.
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
 * const full = evaluateRanking(oracle, dataset, { protocol: "full", ks: [1, 5], coverage: true });
 * assert.equal(full.mrr, 1);
 * assert.deepEqual(full.byK.map((m) => m.hr), [1, 1]);
 * assert.ok(full.byK[0].coverage! > 0 && full.byK[0].coverage! <= 1);
 * ```
 */
export function evaluateRanking(
  scorer: Scorer,
  dataset: Dataset,
  options: EvaluationOptions = {},
): EvaluationResult {
  const started = performance.now();
  const resolved = resolveEvaluation(options);
  const ranks = new Int32Array(dataset.numUsers);
  const covered = coverageMarks(resolved, dataset.numItems);
  rankUsers(scorer, dataset, {
    from: 0,
    to: dataset.numUsers,
    ranks,
    scratch: rankScratch(dataset, { wasm: scansUseWasm(scorer) }),
    protocol: resolved.protocol,
    coverage: covered === null ? null : { ks: resolved.ks, covered },
  });
  return evaluationResult(resolved, { ranks, covered, numItems: dataset.numItems, started });
}
