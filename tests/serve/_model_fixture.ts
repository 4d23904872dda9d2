/** Small trained models saved as checkpoints, for the serve tests. */

import type { Dataset } from "../../lib/data/types.ts";
import type { Model } from "../../lib/model/model.ts";
import { NeuMF } from "../../lib/model/neumf.ts";
import { buildOptimizer } from "../../lib/optim/optimizers.ts";
import { Prng } from "../../lib/random/prng.ts";
import {
  type EvalRecord,
  type ModelCheckpointMeta,
  saveModelCheckpoint,
} from "../../lib/train/model_checkpoint.ts";

/** Users and items of {@linkcode smallDataset}. */
export const USERS = 6;
export const ITEMS = 12;

/** String ids of {@linkcode smallDataset} with `ids: "string"` (commas, quotes, non-ASCII). */
export const STRING_USER_IDS = ["u0", "émile", 'say "hi"', "a,b", "李", "u5"];
export const STRING_ITEM_IDS = Array.from({ length: ITEMS }, (_, i) => `item ${i},"${i}"`);

/**
 * 6 users and 12 items; user u trained on 2 + u items (u = 5 on all but one),
 * its held-out item the next one. Integer ids are 100 + u and 200 + i.
 */
export function smallDataset(ids: "integer" | "string"): Dataset {
  const offsets = [0];
  const items: number[] = [];
  const evalItems: number[] = [];
  for (let u = 0; u < USERS; u++) {
    const count = u === USERS - 1 ? ITEMS - 2 : 2 + u;
    const own = Array.from({ length: count }, (_, j) => (3 * u + j) % ITEMS).sort((a, b) => a - b);
    items.push(...own);
    offsets.push(items.length);
    evalItems.push((3 * u + count) % ITEMS);
  }
  return {
    numUsers: USERS,
    numItems: ITEMS,
    userIds: ids === "string"
      ? STRING_USER_IDS
      : Float64Array.from({ length: USERS }, (_, u) => 100 + u),
    itemIds: ids === "string"
      ? STRING_ITEM_IDS
      : Float64Array.from({ length: ITEMS }, (_, i) => 200 + i),
    trainOffsets: Int32Array.from(offsets),
    trainItems: Int32Array.from(items),
    evalItems: Int32Array.from(evalItems),
    evalNegOffsets: new Int32Array(USERS + 1),
    evalNegatives: new Int32Array(0),
    numEvalCappedUsers: 0,
  };
}

/** The run record of a checkpoint after `epochs` epochs. */
export function smallRun(epochs: number): ModelCheckpointMeta["run"] {
  return {
    seed: 7,
    dataset: "small",
    dataFingerprint: "x",
    cyclesDone: epochs,
    epochsDone: epochs,
    epochsBetweenEvals: 1,
    trainEpochs: 5,
    batchSize: 4,
    numNeg: 1,
    spillover: true,
    finished: false,
  };
}

/**
 * Trains a NeuMF on `dataset` for a few steps and saves it into `dir`.
 * @returns The trained model.
 */
export async function saveSmallModel(
  dir: string,
  dataset: Dataset,
  options: { history?: EvalRecord[]; epochs?: number } = {},
): Promise<NeuMF> {
  const model = new NeuMF({
    numUsers: dataset.numUsers,
    numItems: dataset.numItems,
    numFactors: 4,
    layers: [8, 4],
    prng: new Prng(11),
  });
  const optimizer = buildOptimizer("adam", model.parameters, { learningRate: 0.05 });
  for (let step = 0; step < 10; step++) {
    model.trainStep({
      users: Int32Array.of(step % USERS, (step + 1) % USERS, (step + 2) % USERS, 0),
      items: Int32Array.of(step % ITEMS, (step + 5) % ITEMS, (step + 7) % ITEMS, 3),
      labels: Int8Array.of(1, 0, 1, 0),
      count: 4,
    }, { optimizer });
  }
  await saveModelCheckpoint(dir, { model, optimizer }, {
    dataset,
    run: smallRun(options.epochs ?? 1),
    prngState: new Uint32Array(4),
    history: options.history ?? [],
  });
  return model;
}

/**
 * Saves `model` (of {@linkcode USERS} × {@linkcode ITEMS}, as it is: no
 * training) into `dir` as a checkpoint on `dataset`.
 */
export async function saveModel(dir: string, model: Model, dataset: Dataset): Promise<void> {
  const optimizer = buildOptimizer("sgd", model.parameters, { learningRate: 0.1 });
  await saveModelCheckpoint(dir, { model, optimizer }, {
    dataset,
    run: smallRun(1),
    prngState: new Uint32Array(4),
    history: [],
  });
}
