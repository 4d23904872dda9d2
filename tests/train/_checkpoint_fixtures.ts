/** A tiny data set and run record for model-checkpoint tests. */

import type { Dataset } from "../../lib/data/types.ts";
import type { ModelCheckpointMeta } from "../../lib/train/model_checkpoint.ts";

/** `users` users (ids 100…) and `items` items (ids 200…), one positive each. */
export function tinyDataset(users: number, items: number): Dataset {
  return {
    numUsers: users,
    numItems: items,
    userIds: Float64Array.from({ length: users }, (_, i) => 100 + i),
    itemIds: Float64Array.from({ length: items }, (_, i) => 200 + i),
    trainOffsets: Int32Array.from({ length: users + 1 }, (_, i) => i),
    trainItems: Int32Array.from({ length: users }, (_, i) => i),
    evalItems: Int32Array.from({ length: users }, (_, i) => i + 1),
    evalNegOffsets: new Int32Array(users + 1),
    evalNegatives: new Int32Array(0),
    numEvalCappedUsers: 0,
  };
}

/** The run record of a checkpoint taken after one epoch. */
export const TINY_RUN: ModelCheckpointMeta["run"] = {
  seed: 1,
  dataset: "test",
  dataFingerprint: "x",
  cyclesDone: 1,
  epochsDone: 1,
  epochsBetweenEvals: 1,
  trainEpochs: 1,
  batchSize: 4,
  numNeg: 1,
  spillover: true,
  finished: false,
};
