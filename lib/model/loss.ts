/**
 * Pointwise losses on logits, pluggable into a model's training step, and
 * the logistic function. The arithmetic is a kernel (`sigmoidCrossEntropy`
 * of the kernel set), so every backend gives the same bits.
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
