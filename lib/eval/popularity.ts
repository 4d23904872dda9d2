/**
 * The most-popular-items baseline: every user gets the items with the most
 * training positives.
 *
 * @module
 */

import type { Dataset } from "../data/types.ts";
import type { Scorer } from "./evaluate.ts";

/**
 * A {@linkcode Scorer} that scores an item by its number of training
 * positives, the same for every user.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { popularityScorer } from "./popularity.ts";
 * const scorer = popularityScorer({ numItems: 3, trainItems: Int32Array.of(2, 2, 0) });
 * const out = new Float32Array(3);
 * scorer.scoreUserItems(0, Int32Array.of(0, 1, 2), { out });
 * assert.deepEqual([...out], [1, 0, 2]);
 * ```
 */
export function popularityScorer(dataset: Pick<Dataset, "numItems" | "trainItems">): Scorer {
  const counts = new Float32Array(dataset.numItems);
  for (const item of dataset.trainItems) counts[item]++;
  return {
    scoreUserItems(_user, items, { out, count }) {
      const n = count ?? items.length;
      for (let i = 0; i < n; i++) out[i] = counts[items[i]];
    },
  };
}
