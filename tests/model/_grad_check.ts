/**
 * Central finite differences for gradient checks on float32 parameters.
 *
 * @module
 */

import assert from "node:assert/strict";

/** Options of {@linkcode assertGradient}. */
export interface GradCheckOptions {
  /** Perturbation (default 1e-3). */
  eps?: number;
  /** Relative tolerance (default 1e-2). */
  rtol?: number;
  /** Absolute tolerance (default 1e-4). */
  atol?: number;
  /** Indices to check (default all). */
  indices?: Iterable<number>;
  /** Name for messages. */
  label?: string;
}

/**
 * Asserts `analytic[i] ≈ (f(x+eps·e_i) − f(x−eps·e_i)) / 2eps` for the checked
 * indices, perturbing `values` in place (restored afterwards): each index
 * must satisfy `|num − ana| ≤ atol + rtol·max(|num|, |ana|)`.
 * Returns how many indices were checked.
 */
export function assertGradient(
  f: () => number,
  values: Float32Array,
  analytic: ArrayLike<number>,
  options: GradCheckOptions = {},
): number {
  const eps = options.eps ?? 1e-3;
  const rtol = options.rtol ?? 1e-2;
  const atol = options.atol ?? 1e-4;
  const label = options.label ?? "parameter";
  const indices = options.indices ?? values.keys();
  let checked = 0;
  for (const i of indices) {
    const original = values[i];
    values[i] = original + eps;
    const up = values[i];
    const plus = f();
    values[i] = original - eps;
    const down = values[i];
    const minus = f();
    values[i] = original;
    const numeric = (plus - minus) / (up - down); // the float32 step actually taken
    const ana = analytic[i];
    const err = Math.abs(numeric - ana);
    assert.ok(
      err <= atol + rtol * Math.max(Math.abs(numeric), Math.abs(ana)),
      `${label}[${i}]: analytic ${ana}, numeric ${numeric} (error ${err})`,
    );
    checked++;
  }
  return checked;
}
