/**
 * The training losses on logits, pluggable into a model's training step:
 * pointwise (`bce`, on labelled pairs) and pairwise (`bpr`, on (user,
 * positive, negative) triples), {@linkcode lossByName} to pick one by its
 * `--loss` name, and the logistic function. `bce`'s arithmetic is a kernel
 * (`sigmoidCrossEntropy` of the kernel set); `bpr`'s is TypeScript over the
 * logits; either way every backend gives the same bits.
 *
 * @module
 */

import type { Kernels } from "../kernels/kernels.ts";

/**
 * The training losses: `bce` (pointwise sigmoid cross-entropy on labelled
 * pairs, the paper's) and `bpr` (pairwise, −log σ(y(u,i) − y(u,j)) on
 * (user, positive, negative) triples). The first is the default.
 */
export const LOSSES = ["bce", "bpr"] as const;

/** One training loss's name. */
export type LossKind = typeof LOSSES[number];

/** A loss of logits against labels, averaged over the batch. */
export interface PointwiseLoss {
  /** Its name in logs. */
  readonly name: string;
  /** Absent or false: a pointwise loss (see {@linkcode PairwiseLoss}). */
  readonly pairwise?: false | undefined;
  /**
   * The mean loss of `count` logits; writes `∂loss/∂logit` into `grad` when given.
   * @throws {RangeError} when `count < 1` or an array is too short.
   */
  compute(
    kernels: Kernels,
    logits: Float32Array,
    labels: Int8Array | Float32Array,
    options: { count: number; grad?: Float32Array | null },
  ): number;
}

/**
 * Mean sigmoid binary cross-entropy on logits:
 * `(1/count)·Σ [max(z,0) − z·y + log(1 + e^−|z|)]`, float64 sum, gradient
 * `(σ(z) − y)/count` (the paper's and the TF reference's loss).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { binaryCrossEntropy } from "./loss.ts";
 * import { tsKernels } from "../kernels/ts_kernels.ts";
 * const grad = new Float32Array(2);
 * const loss = binaryCrossEntropy.compute(tsKernels, Float32Array.of(0, 0), Int8Array.of(1, 0), {
 *   count: 2, grad,
 * });
 * assert.ok(Math.abs(loss - Math.LN2) < 1e-12);
 * assert.ok(grad[0] === -0.25 && grad[1] === 0.25);
 * ```
 */
export const binaryCrossEntropy: PointwiseLoss = {
  name: "bce",
  compute(kernels, logits, labels, options) {
    return kernels.sigmoidCrossEntropy(logits, labels, options);
  },
};

/**
 * A loss of pairs of logits (a positive's and a negative's, for the same
 * user), averaged over the pairs. The logits of `count` pairs are laid out
 * positives first: `logits[k]` is pair `k`'s positive, `logits[count + k]`
 * its negative (one forward pass over the doubled batch
 * `users‖users, items‖negItems`).
 */
export interface PairwiseLoss {
  /** Its name in logs. */
  readonly name: string;
  /** Always true: tells it from a {@linkcode PointwiseLoss}. */
  readonly pairwise: true;
  /**
   * The mean loss of `count` pairs of `logits[0..2·count)`; writes
   * `∂loss/∂logit` of all `2·count` logits into `grad` when given.
   * @throws {RangeError} when `count < 1` or an array is too short.
   */
  compute(
    kernels: Kernels,
    logits: Float32Array,
    options: { count: number; grad?: Float32Array | null },
  ): number;
}

/** A loss a model trains with: pointwise on labelled pairs, or pairwise on triples. */
export type TrainingLoss = PointwiseLoss | PairwiseLoss;

/**
 * Whether `loss` is pairwise (it takes a `PairBatch`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { binaryCrossEntropy, bprLoss, isPairwiseLoss } from "./loss.ts";
 * assert.ok(isPairwiseLoss(bprLoss) && !isPairwiseLoss(binaryCrossEntropy));
 * ```
 */
export function isPairwiseLoss(loss: TrainingLoss): loss is PairwiseLoss {
  return loss.pairwise === true;
}

/**
 * Bayesian personalised ranking (Rendle et al. 2009): the mean over pairs
 * of `−log σ(d)`, `d = z⁺ − z⁻` (float64 of the float32 logits), computed
 * as the softplus `max(−d, 0) + log(1 + e^−|d|)` (no overflow), summed in
 * float64. The gradient of pair `k` is `g = −σ(−d)/count` on its positive
 * logit and `−g` (exactly) on its negative, each rounded to float32.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bprLoss } from "./loss.ts";
 * import { tsKernels } from "../kernels/ts_kernels.ts";
 * const grad = new Float32Array(2);
 * // One pair, positive logit 1, negative logit 1: d = 0.
 * const loss = bprLoss.compute(tsKernels, Float32Array.of(1, 1), { count: 1, grad });
 * assert.ok(Math.abs(loss - Math.LN2) < 1e-12);
 * assert.deepEqual([...grad], [-0.5, 0.5]);
 * ```
 */
export const bprLoss: PairwiseLoss = {
  name: "bpr",
  pairwise: true,
  compute(_kernels, logits, options) {
    const count = options.count;
    const grad = options.grad ?? null;
    if (!Number.isInteger(count) || count < 1 || logits.length < 2 * count) {
      throw new RangeError(
        `Cannot compute the bpr loss: count ${count} pairs need ${
          2 * count
        } logits, there are ${logits.length}`,
      );
    }
    if (grad !== null && grad.length < 2 * count) {
      throw new RangeError(
        `Cannot compute the bpr loss: grad holds ${grad.length} values, need ${2 * count}`,
      );
    }
    const inv = 1 / count;
    let sum = 0;
    for (let k = 0; k < count; k++) {
      const d = logits[k] - logits[count + k];
      const e = Math.exp(-Math.abs(d)); // in (0, 1]
      sum += (d < 0 ? -d : 0) + Math.log1p(e);
      if (grad !== null) {
        const s = d >= 0 ? e / (1 + e) : 1 / (1 + e); // σ(−d)
        grad[k] = -s * inv;
        grad[count + k] = s * inv;
      }
    }
    return sum / count;
  },
};

/**
 * The loss object of a `--loss` name: `bce` → {@linkcode binaryCrossEntropy},
 * `bpr` → {@linkcode bprLoss}.
 * @throws {RangeError} on another name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { binaryCrossEntropy, bprLoss, lossByName } from "./loss.ts";
 * assert.equal(lossByName("bce"), binaryCrossEntropy);
 * assert.equal(lossByName("bpr"), bprLoss);
 * ```
 */
export function lossByName(kind: LossKind): TrainingLoss {
  switch (kind) {
    case "bce":
      return binaryCrossEntropy;
    case "bpr":
      return bprLoss;
    default:
      throw new RangeError(`Cannot find loss '${kind}': the losses are ${LOSSES.join(", ")}`);
  }
}

/**
 * The logistic function `1 / (1 + e^-z)`, without overflow.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sigmoid } from "./loss.ts";
 * assert.ok(sigmoid(0) === 0.5 && sigmoid(-1000) === 0 && sigmoid(1000) === 1);
 * ```
 */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}
