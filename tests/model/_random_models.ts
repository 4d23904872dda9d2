/**
 * Small models of every kind with O(1) random weights (biases included), and
 * random (user, item) pairs: what the score-graph and export tests score.
 */

import type { Model } from "../../lib/model/model.ts";
import { buildModel, modelConfig } from "../../lib/model/registry.ts";
import { Prng } from "../../lib/random/prng.ts";

/** One model of each kind, and the edge shapes of the NeuMF family. */
export const RANDOM_MODEL_CASES = [
  { label: "NeuMF", kind: "NeuMF", numFactors: 4, layers: [8, 6, 3] },
  { label: "GMF", kind: "GMF", numFactors: 5, layers: [8] },
  { label: "MLP", kind: "MLP", numFactors: 4, layers: [10, 6, 4, 2] },
  { label: "MF", kind: "MF", numFactors: 6, layers: [8] },
  { label: "NeuMF without hidden layers", kind: "NeuMF", numFactors: 3, layers: [6] },
  { label: "MLP without hidden layers", kind: "MLP", numFactors: 3, layers: [4] },
] as const;

/**
 * A `kind` model of `numUsers` × `numItems` (default 7 × 9) whose every
 * tensor holds O(1) Gaussian values from `seed` (0.3 for biases), so that
 * no term is negligible.
 */
export function randomModel(
  c: { kind: string; numFactors: number; layers: readonly number[] },
  options: { seed: number; numUsers?: number; numItems?: number },
): Model {
  const config = modelConfig(c.kind, {
    numUsers: options.numUsers ?? 7,
    numItems: options.numItems ?? 9,
    numFactors: c.numFactors,
    layers: c.layers,
    mfRegularization: 0,
    mlpRegularization: 0,
  });
  const model = buildModel(config, { backend: "ts", maxBatchSize: 16 });
  const prng = new Prng(options.seed);
  for (const e of model.parameters.entries) {
    const scale = e.name.endsWith("_bias") ? 0.3 : 0.8;
    for (let i = 0; i < e.length; i++) e.values[i] = scale * prng.nextGaussian();
  }
  model.prepareEval();
  return model;
}

/** `count` random pairs of `model`'s users and items (every user and item at least once when count allows). */
export function randomPairs(
  model: Model,
  options: { count: number; seed: number },
): { users: Int32Array; items: Int32Array } {
  const { count } = options;
  const prng = new Prng(options.seed);
  const { numUsers, numItems } = model.config;
  const users = Int32Array.from(
    { length: count },
    (_, k) => k < numUsers ? k : prng.nextInt(numUsers),
  );
  const items = Int32Array.from(
    { length: count },
    (_, k) => k < numItems ? k : prng.nextInt(numItems),
  );
  return { users, items };
}

/** The model's logits of `pairs` (`predict`). */
export function predictPairs(
  model: Model,
  pairs: { users: Int32Array; items: Int32Array },
): Float32Array {
  const out = new Float32Array(pairs.users.length);
  model.predict({ ...pairs, count: pairs.users.length }, out);
  return out;
}
