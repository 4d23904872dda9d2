/**
 * The validation hold-out (`--validation`): each user's second-latest
 * interaction is held out of training as well, the best epoch is selected on
 * it, and the test item (the latest) is reported for that epoch. This module
 * draws the validation negatives and builds the two evaluation views: in each
 * view the user's other held-out item counts as an interaction, so neither
 * protocol ever ranks one held-out item as a negative of the other.
 *
 * @module
 */

import { sampleEvalNegatives } from "./eval_negatives.ts";
import type { Dataset, ValidationSplit } from "./types.ts";

/** The PRNG stream of the validation negatives (the test negatives keep theirs). */
export const VALIDATION_NEGATIVES_STREAM = 0x56414c49;

/**
 * The PRNG stream that picks a user's validation row among rows tied at
 * their latest timestamp (the NCF split's training rows all carry 0).
 */
export const VALIDATION_PICK_STREAM = 0x50494b56;

/**
 * Each user's CSR row with one more item inserted in ascending order (an item
 * already in the row is not repeated).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { withExtraItem } from "./validation_split.ts";
 * const { offsets, items } = withExtraItem(Int32Array.of(0, 2, 3), Int32Array.of(1, 5, 2), Int32Array.of(3, 2));
 * assert.equal(offsets.join(), "0,3,4");
 * assert.equal(items.join(), "1,3,5,2");
 * ```
 */
export function withExtraItem(
  offsets: Int32Array,
  items: Int32Array,
  extra: Int32Array,
): { offsets: Int32Array; items: Int32Array } {
  const numUsers = offsets.length - 1;
  const out = new Int32Array(items.length + numUsers);
  const outOffsets = new Int32Array(numUsers + 1);
  let w = 0;
  for (let u = 0; u < numUsers; u++) {
    const x = extra[u];
    let placed = false;
    for (let k = offsets[u]; k < offsets[u + 1]; k++) {
      const it = items[k];
      if (!placed && x <= it) {
        if (x !== it) out[w++] = x;
        placed = true;
      }
      out[w++] = it;
    }
    if (!placed) out[w++] = x;
    outOffsets[u + 1] = w;
  }
  return { offsets: outOffsets, items: out.slice(0, w) };
}

/**
 * The validation split of a data set whose `validItems` were held out of its
 * training rows: validation negatives drawn from `seed` on their own stream,
 * excluding each user's training, test and validation items.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { drawValidation } from "./validation_split.ts";
 * const split = drawValidation({
 *   numUsers: 1, numItems: 8, trainOffsets: Int32Array.of(0, 2), trainItems: Int32Array.of(0, 1),
 *   evalItems: Int32Array.of(7),
 * }, Int32Array.of(6), { numEvalNegatives: 3, seed: 1 });
 * assert.equal(split.items[0], 6);
 * assert.equal(split.negatives.length, 3);
 * assert.ok([...split.negatives].every((i) => i >= 2 && i <= 5));
 * ```
 */
export function drawValidation(
  dataset: Pick<Dataset, "numUsers" | "numItems" | "trainOffsets" | "trainItems" | "evalItems">,
  validItems: Int32Array,
  options: { numEvalNegatives: number; seed: number },
): ValidationSplit {
  const known = withExtraItem(dataset.trainOffsets, dataset.trainItems, dataset.evalItems);
  const drawn = sampleEvalNegatives({
    numUsers: dataset.numUsers,
    numItems: dataset.numItems,
    trainOffsets: known.offsets,
    trainItems: known.items,
    evalItems: validItems,
  }, { ...options, stream: VALIDATION_NEGATIVES_STREAM });
  return {
    items: validItems,
    negOffsets: drawn.evalNegOffsets,
    negatives: drawn.evalNegatives,
    numCappedUsers: drawn.numEvalCappedUsers,
  };
}

/**
 * The data set as one evaluation sees it: `"test"` ranks the test item (the
 * validation item counting as the user's interaction), `"validation"` ranks
 * the validation item against its own negatives (the test item counting as an
 * interaction). Without a validation split, `"test"` is the data set itself.
 * Training rows of the view are for exclusion only: the generator trains on
 * the data set's own.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { evaluationView } from "./validation_split.ts";
 * const ds = {
 *   numUsers: 1, numItems: 6, userIds: Float64Array.of(1), itemIds: Float64Array.of(0, 1, 2, 3, 4, 5),
 *   trainOffsets: Int32Array.of(0, 1), trainItems: Int32Array.of(0), evalItems: Int32Array.of(5),
 *   evalNegOffsets: Int32Array.of(0, 1), evalNegatives: Int32Array.of(2), numEvalCappedUsers: 0,
 *   validation: { items: Int32Array.of(4), negOffsets: Int32Array.of(0, 1), negatives: Int32Array.of(3), numCappedUsers: 0 },
 * };
 * const valid = evaluationView(ds, "validation");
 * assert.equal(valid.evalItems[0], 4);
 * assert.equal(valid.trainItems.join(), "0,5");
 * assert.equal(evaluationView(ds, "test").trainItems.join(), "0,4");
 * ```
 */
export function evaluationView(dataset: Dataset, which: "test" | "validation"): Dataset {
  const v = dataset.validation;
  if (v === undefined) {
    if (which === "validation") {
      throw new RangeError("Cannot evaluate on validation: the data set has no validation split");
    }
    return dataset;
  }
  if (which === "test") {
    const known = withExtraItem(dataset.trainOffsets, dataset.trainItems, v.items);
    return { ...dataset, trainOffsets: known.offsets, trainItems: known.items };
  }
  const known = withExtraItem(dataset.trainOffsets, dataset.trainItems, dataset.evalItems);
  return {
    ...dataset,
    trainOffsets: known.offsets,
    trainItems: known.items,
    evalItems: v.items,
    evalNegOffsets: v.negOffsets,
    evalNegatives: v.negatives,
    numEvalCappedUsers: v.numCappedUsers,
  };
}
