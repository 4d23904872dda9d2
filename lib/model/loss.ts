/**
 * Sigmoid binary cross-entropy on logits, averaged over a batch, and its
 * gradient w.r.t. the logits; numerically stable for any logit.
 *
 * @module
 */

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

/**
 * Mean binary cross-entropy of `count` logits against labels in [0, 1]:
 * `(1/count)·Σ [max(z,0) − z·y + log(1 + e^−|z|)]`, accumulated in float64.
 * When `grad` is given, writes `∂loss/∂z_b = (σ(z_b) − y_b) / count` there.
 *
 * @param logits `z_b` for `b < count`.
 * @param labels `y_b` (0/1 as `Int8Array`, or any value in [0, 1] as `Float32Array`).
 * @param options `count` (rows, ≥ 1); `grad` (default null: not computed).
 * @returns The mean loss.
 * @throws {RangeError} when `count < 1` or an array is too short.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sigmoidBinaryCrossEntropy } from "./loss.ts";
 * const grad = new Float32Array(2);
 * const loss = sigmoidBinaryCrossEntropy(Float32Array.of(0, 0), Int8Array.of(1, 0), {
 *   count: 2, grad,
 * });
 * assert.ok(Math.abs(loss - Math.LN2) < 1e-12);
 * assert.ok(grad[0] === -0.25 && grad[1] === 0.25);
 * ```
 */
export function sigmoidBinaryCrossEntropy(
  logits: Float32Array,
  labels: Int8Array | Float32Array,
  options: { count: number; grad?: Float32Array | null },
): number {
  const count = options.count;
  const grad = options.grad ?? null;
  if (!(count >= 1) || logits.length < count || labels.length < count) {
    throw new RangeError(
      `Cannot compute the loss: count ${count} with ${logits.length} logits and ${labels.length} labels`,
    );
  }
  if (grad !== null && grad.length < count) {
    throw new RangeError(
      `Cannot compute the loss: grad holds ${grad.length} values, need ${count}`,
    );
  }
  const sum = labels instanceof Int8Array
    ? _bceInt8(logits, labels, count, grad)
    : _bceFloat(logits, labels, count, grad);
  return sum / count;
}

function _bceInt8(
  logits: Float32Array,
  labels: Int8Array,
  count: number,
  grad: Float32Array | null,
): number {
  let sum = 0;
  const inv = 1 / count;
  for (let b = 0; b < count; b++) {
    const z = logits[b];
    const y = labels[b];
    const e = Math.exp(-Math.abs(z)); // in (0, 1]
    sum += (z > 0 ? z : 0) - z * y + Math.log1p(e);
    if (grad !== null) {
      const p = z >= 0 ? 1 / (1 + e) : e / (1 + e);
      grad[b] = (p - y) * inv;
    }
  }
  return sum;
}

function _bceFloat(
  logits: Float32Array,
  labels: Float32Array,
  count: number,
  grad: Float32Array | null,
): number {
  let sum = 0;
  const inv = 1 / count;
  for (let b = 0; b < count; b++) {
    const z = logits[b];
    const y = labels[b];
    const e = Math.exp(-Math.abs(z));
    sum += (z > 0 ? z : 0) - z * y + Math.log1p(e);
    if (grad !== null) {
      const p = z >= 0 ? 1 / (1 + e) : e / (1 + e);
      grad[b] = (p - y) * inv;
    }
  }
  return sum;
}
