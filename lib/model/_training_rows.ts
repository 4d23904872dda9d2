/**
 * Resolves a training batch and its loss into the rows one forward pass
 * runs: a labelled batch's pairs as they are, a pair batch's `count`
 * triples as `2·count` rows `users‖users, items‖negItems` (positives first,
 * the layout a {@linkcode PairwiseLoss} reads). Shared by the models.
 *
 * @module
 */

import {
  binaryCrossEntropy,
  bprLoss,
  isPairwiseLoss,
  type PairwiseLoss,
  type PointwiseLoss,
  type TrainingLoss,
} from "./loss.ts";
import type { LabeledBatch, PairBatch, TrainingBatch } from "./model.ts";

/** The rows of one batch (views valid until the next `resolve`). */
export interface TrainingRows {
  /** User of each row. */
  users: Int32Array;
  /** Item of each row. */
  items: Int32Array;
  /** Rows of the forward pass (`count`, or `2·count` for pairs). */
  rows: number;
  /** Examples of the batch (pairs or triples). */
  count: number;
  /** The pointwise loss and the labels, or null for a pairwise loss. */
  pointwise: { loss: PointwiseLoss; labels: Int8Array | Float32Array } | null;
  /** The pairwise loss, or null. */
  pairwise: PairwiseLoss | null;
}

/** Names a batch's kind by its fields, for messages. */
function _kindOf(batch: TrainingBatch): string {
  const labels = (batch as Partial<LabeledBatch>).labels !== undefined;
  const neg = (batch as Partial<PairBatch>).negItems !== undefined;
  if (labels) return "a LabeledBatch (users, items, labels)";
  if (neg) return "a PairBatch (users, items, negItems)";
  return "neither (no labels, no negItems)";
}

/**
 * The loss a batch trains with: `loss` when given, else `bce` for a batch
 * with labels and `bpr` for one with only `negItems`.
 * @throws {TypeError} when the batch is not of the loss's kind.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveLoss } from "./_training_rows.ts";
 * const triples = { users: Int32Array.of(0), items: Int32Array.of(1), negItems: Int32Array.of(2), count: 1 };
 * assert.equal(resolveLoss(triples, undefined, "train").name, "bpr");
 * ```
 */
export function resolveLoss(
  batch: TrainingBatch,
  loss: TrainingLoss | undefined,
  action: string,
): TrainingLoss {
  const labels = (batch as Partial<LabeledBatch>).labels;
  const negItems = (batch as Partial<PairBatch>).negItems;
  const chosen = loss ??
    (labels === undefined && negItems !== undefined ? bprLoss : binaryCrossEntropy);
  if (isPairwiseLoss(chosen)) {
    if (!(negItems instanceof Int32Array)) {
      throw new TypeError(
        `Cannot ${action}: the loss '${chosen.name}' is pairwise and takes a PairBatch (users, items, negItems), the batch is ${
          _kindOf(batch)
        }`,
      );
    }
  } else if (labels === undefined) {
    throw new TypeError(
      `Cannot ${action}: the loss '${chosen.name}' is pointwise and takes a LabeledBatch (users, items, labels), the batch is ${
        _kindOf(batch)
      }`,
    );
  }
  return chosen;
}

/**
 * Builds {@linkcode TrainingRows}, reusing its id buffers for pairs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TrainingRowsBuilder } from "./_training_rows.ts";
 * import { bprLoss } from "./loss.ts";
 * const rows = new TrainingRowsBuilder().resolve({
 *   users: Int32Array.of(4, 5), items: Int32Array.of(1, 2), negItems: Int32Array.of(7, 8), count: 2,
 * }, bprLoss, "train");
 * assert.deepEqual([...rows.users.subarray(0, 4)], [4, 5, 4, 5]);
 * assert.deepEqual([...rows.items.subarray(0, 4)], [1, 2, 7, 8]);
 * ```
 */
export class TrainingRowsBuilder {
  #users = new Int32Array(0);
  #items = new Int32Array(0);
  #rows: TrainingRows = {
    users: this.#users,
    items: this.#items,
    rows: 0,
    count: 0,
    pointwise: null,
    pairwise: null,
  };

  /**
   * The rows of `batch` under `loss` (see {@linkcode resolveLoss}).
   * @throws {TypeError} when the batch is not of the loss's kind.
   * @throws {RangeError} when `negItems` holds fewer than `count` ids.
   */
  resolve(batch: TrainingBatch, loss: TrainingLoss | undefined, action: string): TrainingRows {
    const chosen = resolveLoss(batch, loss, action);
    const r = this.#rows;
    const count = batch.count;
    r.count = count;
    if (!isPairwiseLoss(chosen)) {
      r.users = batch.users;
      r.items = batch.items;
      r.rows = count;
      r.pointwise = { loss: chosen, labels: (batch as LabeledBatch).labels };
      r.pairwise = null;
      return r;
    }
    const { users, items, negItems } = batch as PairBatch;
    if (
      !Number.isInteger(count) || count < 1 || users.length < count || items.length < count ||
      negItems.length < count
    ) {
      throw new RangeError(
        `Cannot ${action}: count ${count} with ${users.length} users, ${items.length} items and ${negItems.length} negative items`,
      );
    }
    if (this.#users.length < 2 * count) {
      this.#users = new Int32Array(2 * count);
      this.#items = new Int32Array(2 * count);
    }
    const u = this.#users;
    const i = this.#items;
    for (let k = 0; k < count; k++) {
      u[k] = users[k];
      u[count + k] = users[k];
      i[k] = items[k];
      i[count + k] = negItems[k];
    }
    r.users = u;
    r.items = i;
    r.rows = 2 * count;
    r.pointwise = null;
    r.pairwise = chosen;
    return r;
  }
}
