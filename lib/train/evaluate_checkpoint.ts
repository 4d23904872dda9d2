/**
 * `ncf evaluate`: a trained model's HR@10 and NDCG@10 without training.
 * The data comes from the run's saved flags (`<model_dir>/flags`), and must
 * still be the data the checkpoint was trained on; or from other data flags,
 * whose users and items are matched to the model's by their raw ids.
 *
 * @module
 */

import type { DataFlags } from "../flags/specs.ts";
import { SettingError } from "../errors.ts";
import type { Dataset } from "../data/types.ts";
import { RawIdIndex } from "../data/raw_ids.ts";
import {
  evaluateRanking,
  type EvaluationOptions,
  type EvaluationResult,
} from "../eval/evaluate.ts";
import { evaluationView } from "../data/validation_split.ts";
import type { Scorer } from "../eval/scorer.ts";
import type { BackendChoice } from "../flags/specs.ts";
import { loadDatasetFromFlags } from "./load_data.ts";
import {
  dataFingerprint,
  type EvalRecord,
  loadModelCheckpoint,
  modelFromCheckpoint,
} from "./model_checkpoint.ts";

/** Options of {@linkcode evaluateCheckpoint}. */
export interface EvaluateCheckpointOptions {
  /** The data flags: the run's saved ones, with what the user gave over them. */
  data: DataFlags;
  /**
   * True when the data is the run's own (then it must match the checkpoint's
   * fingerprint); false for other data, matched by raw ids.
   */
  sameData: boolean;
  /** The protocol and cut-offs (default: the paper's sampled protocol at K 10). */
  evaluation?: EvaluationOptions | undefined;
  /** The kernel set (default "auto"). */
  backend?: BackendChoice | undefined;
  /** Aborts loading. */
  signal?: AbortSignal | undefined;
  /** Receives data warnings. */
  onWarning?: ((message: string) => void) | undefined;
}

/** What {@linkcode evaluateCheckpoint} measured. */
export interface CheckpointEvaluation extends EvaluationResult {
  /** Epochs the checkpoint was trained for. */
  epoch: number;
  /** The metrics the run recorded for that epoch, when it has them. */
  recorded: EvalRecord | undefined;
  /** Users evaluated. */
  users: number;
  /** Users of the data that the model does not know (other data only). */
  skippedUsers: number;
}

/**
 * Evaluates the checkpoint in `modelDir` on the data `options.data` names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { evaluateCheckpoint } from "./evaluate_checkpoint.ts";
 * import { parseFlags } from "../flags/flags.ts";
 * import { DATA_FLAGS } from "../flags/specs.ts";
 * const data = parseFlags([], DATA_FLAGS).values;
 * await assert.rejects(
 *   () => evaluateCheckpoint("/nonexistent/model", { data, sameData: true }),
 *   /Cannot load a model from \/nonexistent\/model: it does not exist/,
 * );
 * ```
 */
export async function evaluateCheckpoint(
  modelDir: string,
  options: EvaluateCheckpointOptions,
): Promise<CheckpointEvaluation> {
  const checkpoint = await loadModelCheckpoint(modelDir, { setting: "model_dir" });
  const run = checkpoint.meta.run;
  const seed = options.data.seed ?? run.seed;
  const { dataset } = await loadDatasetFromFlags(options.data, {
    seed,
    signal: options.signal,
    onWarning: options.onWarning ?? (() => {}),
  });
  const model = modelFromCheckpoint(checkpoint, { backend: options.backend });
  const epoch = run.epochsDone;
  const recorded = checkpoint.meta.history.findLast((r) => r.epoch === epoch);
  if (options.sameData) {
    if (dataFingerprint(dataset) !== run.dataFingerprint) {
      throw new SettingError(
        "dataset",
        `Cannot evaluate ${modelDir} on its run's data: the data set or its split is no longer the one the checkpoint was trained on (was the file changed?)`,
      );
    }
    const result = evaluateRanking(model, evaluationView(dataset, "test"), options.evaluation);
    return { ...result, epoch, recorded, users: dataset.numUsers, skippedUsers: 0 };
  }
  const { view, scorer, skippedUsers } = _matchToModel(
    evaluationView(dataset, "test"),
    checkpoint.maps,
    model,
  );
  if (view.numUsers === 0) {
    throw new SettingError(
      "dataset",
      `Cannot evaluate ${modelDir} on ${options.data.dataset}: none of its users (with a held-out item) is known to the model`,
    );
  }
  const result = evaluateRanking(scorer, view, options.evaluation);
  return { ...result, epoch, recorded, users: view.numUsers, skippedUsers };
}

/**
 * The other data's evaluation in the model's ids: users the model knows whose
 * held-out item it knows; a negative it does not know scores -Infinity (it can
 * never outrank the held-out item).
 */
function _matchToModel(
  dataset: Dataset,
  maps: { userIds: Dataset["userIds"]; itemIds: Dataset["itemIds"] },
  model: Scorer,
): { view: Dataset; scorer: Scorer; skippedUsers: number } {
  const users = new RawIdIndex(maps.userIds);
  const items = new RawIdIndex(maps.itemIds);
  const itemToModel = new Int32Array(dataset.numItems);
  for (let i = 0; i < dataset.numItems; i++) itemToModel[i] = items.find(dataset.itemIds[i]);
  const kept: number[] = [];
  const userToModel: number[] = [];
  for (let u = 0; u < dataset.numUsers; u++) {
    const mu = users.find(dataset.userIds[u]);
    if (mu >= 0 && itemToModel[dataset.evalItems[u]] >= 0) {
      kept.push(u);
      userToModel.push(mu);
    }
  }
  const evalItems = new Int32Array(kept.length);
  const negOffsets = new Int32Array(kept.length + 1);
  for (let k = 0; k < kept.length; k++) {
    const u = kept[k];
    evalItems[k] = dataset.evalItems[u];
    negOffsets[k + 1] = negOffsets[k] + dataset.evalNegOffsets[u + 1] - dataset.evalNegOffsets[u];
  }
  const negatives = new Int32Array(negOffsets[kept.length]);
  for (let k = 0; k < kept.length; k++) {
    const u = kept[k];
    negatives.set(
      dataset.evalNegatives.subarray(dataset.evalNegOffsets[u], dataset.evalNegOffsets[u + 1]),
      negOffsets[k],
    );
  }
  const view: Dataset = {
    ...dataset,
    numUsers: kept.length,
    userIds: kept.map((u) => dataset.userIds[u]) as string[],
    trainOffsets: new Int32Array(kept.length + 1),
    trainItems: new Int32Array(0),
    evalItems,
    evalNegOffsets: negOffsets,
    evalNegatives: negatives,
  };
  let mapped = new Int32Array(0);
  let known = new Int32Array(0);
  let scores = new Float32Array(0);
  const scorer: Scorer = {
    scoreUserItems(user, candidates, o) {
      const count = o.count ?? candidates.length;
      if (mapped.length < count) {
        mapped = new Int32Array(count);
        known = new Int32Array(count);
        scores = new Float32Array(count);
      }
      let n = 0;
      for (let i = 0; i < count; i++) {
        const m = itemToModel[candidates[i]];
        if (m >= 0) (known[n] = i, mapped[n++] = m);
      }
      model.scoreUserItems(userToModel[user], mapped, { out: scores, count: n });
      o.out.fill(-Infinity, 0, count);
      for (let j = 0; j < n; j++) o.out[known[j]] = scores[j];
    },
  };
  return { view, scorer, skippedUsers: dataset.numUsers - kept.length };
}
