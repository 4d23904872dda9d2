/**
 * `ncf recommend`: a trained model's top-k items for one user, among the
 * items the user has not interacted with, in the data set's original ids.
 *
 * @module
 */

import type { BackendChoice } from "../flags/specs.ts";
import { sigmoid } from "../model/loss.ts";
import { SettingError } from "../errors.ts";
import { loadModelCheckpoint, modelFromCheckpoint } from "../train/model_checkpoint.ts";

/** One recommended item. */
export interface Recommendation {
  /** The item's original id. */
  item: number;
  /** The model's probability of an interaction. */
  score: number;
}

/**
 * The top `k` unseen items for the user whose original id is `user`.
 * An unknown user is a `UsageError` naming `--user`.
 */
export async function recommend(
  modelDir: string,
  user: string,
  options: { k?: number; backend?: BackendChoice } = {},
): Promise<Recommendation[]> {
  const k = options.k ?? 10;
  const checkpoint = await loadModelCheckpoint(modelDir);
  const { userIds, itemIds, trainOffsets, trainItems, evalItems } = checkpoint.maps;
  const raw = Number(user);
  const dense = /^[+-]?\d+$/.test(user.trim()) ? userIds.indexOf(raw) : -1;
  if (dense < 0) {
    throw new SettingError(
      "user",
      `Cannot recommend for user ${user}: no such user in the model's data`,
    );
  }
  const model = modelFromCheckpoint(checkpoint, { backend: options.backend });
  const numItems = itemIds.length;
  const seen = new Uint8Array(numItems);
  for (let p = trainOffsets[dense]; p < trainOffsets[dense + 1]; p++) seen[trainItems[p]] = 1;
  seen[evalItems[dense]] = 1;
  const candidates = new Int32Array(numItems);
  let count = 0;
  for (let i = 0; i < numItems; i++) if (seen[i] === 0) candidates[count++] = i;
  const scores = new Float32Array(count);
  model.scoreUserItems(dense, candidates, { out: scores, count });
  const order = Array.from({ length: count }, (_, i) => i);
  order.sort((a, b) => scores[b] - scores[a] || candidates[a] - candidates[b]);
  return order.slice(0, k).map((i) => ({
    item: itemIds[candidates[i]],
    score: sigmoid(scores[i]),
  }));
}
