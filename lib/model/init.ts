/**
 * Weight initialisers, drawing only from a {@linkcode Prng} so the same seed
 * gives the same parameters.
 *
 * @module
 */

import type { Prng } from "../random/prng.ts";

/**
 * Fills `values` with independent N(mean, std²) draws, in index order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Prng } from "../random/prng.ts";
 * import { fillNormal } from "./init.ts";
 * const w = new Float32Array(4);
 * fillNormal(w, new Prng(1), { std: 0.01 });
 * assert.ok(w.every((x) => Math.abs(x) < 0.1));
 * ```
 */
export function fillNormal(
  values: Float32Array,
  prng: Prng,
  options: { std: number; mean?: number },
): void {
  const mean = options.mean ?? 0;
  const std = options.std;
  for (let i = 0; i < values.length; i++) values[i] = mean + std * prng.nextGaussian();
}

/**
 * Fills `values` with U(-limit, limit) draws, in index order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Prng } from "../random/prng.ts";
 * import { fillUniform } from "./init.ts";
 * const w = new Float32Array(4);
 * fillUniform(w, new Prng(1), { limit: 0.5 });
 * assert.ok(w.every((x) => Math.abs(x) <= 0.5));
 * ```
 */
export function fillUniform(values: Float32Array, prng: Prng, options: { limit: number }): void {
  const limit = options.limit;
  for (let i = 0; i < values.length; i++) values[i] = (2 * prng.nextFloat() - 1) * limit;
}

/**
 * Glorot (Xavier) uniform, as Keras' default kernel initialiser:
 * U(-l, l) with `l = sqrt(6 / (fanIn + fanOut))`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Prng } from "../random/prng.ts";
 * import { fillGlorotUniform } from "./init.ts";
 * const w = new Float32Array(64 * 32);
 * fillGlorotUniform(w, new Prng(1), { fanIn: 64, fanOut: 32 });
 * assert.ok(w.every((x) => Math.abs(x) <= Math.sqrt(6 / 96)));
 * ```
 */
export function fillGlorotUniform(
  values: Float32Array,
  prng: Prng,
  options: { fanIn: number; fanOut: number },
): void {
  fillUniform(values, prng, { limit: Math.sqrt(6 / (options.fanIn + options.fanOut)) });
}

/**
 * LeCun uniform, as Keras' `lecun_uniform`: U(-l, l) with
 * `l = sqrt(3 / fanIn)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Prng } from "../random/prng.ts";
 * import { fillLecunUniform } from "./init.ts";
 * const w = new Float32Array(16);
 * fillLecunUniform(w, new Prng(1), { fanIn: 16 });
 * assert.ok(w.every((x) => Math.abs(x) <= Math.sqrt(3 / 16)));
 * ```
 */
export function fillLecunUniform(
  values: Float32Array,
  prng: Prng,
  options: { fanIn: number },
): void {
  fillUniform(values, prng, { limit: Math.sqrt(3 / options.fanIn) });
}
