/**
 * The `synthetic` data set: interactions generated in-process from a seed,
 * with latent user/item structure a model can learn, Zipf-like item
 * popularity and MovieLens-like (heavy-tailed) per-user counts.
 *
 * Model: user and item factors `p_u`, `q_i` ~ N(0, I) of dimension
 * {@linkcode SYNTHETIC_DIM}; affinity `a_ui = p_u·q_i / √dim`; popularity
 * `π_i ∝ 1 / rank_i` (ranks a random permutation). User u picks its `n_u`
 * items without replacement with probability ∝ `exp(T·a_ui) · π_i`
 * (Gumbel-top-k), then interacts with them in a random order (increasing
 * timestamps), so the held-out latest item is one of them at random.
 *
 * @module
 */

import { Prng, shuffle } from "../random/prng.ts";
import type { RawInteractions } from "./types.ts";

/** PRNG stream index of the synthetic data set ("SYNT"). */
export const SYNTHETIC_STREAM = 0x53594e54;
/** Dimension of the latent factors. */
export const SYNTHETIC_DIM = 8;
/** Weight `T` of the affinity against log-popularity when users pick items. */
export const SYNTHETIC_TEMPERATURE = 3;
/** Exponent of the Zipf-like popularity. */
export const SYNTHETIC_ZIPF_EXPONENT = 1;

/** Options of {@linkcode generateSynthetic}. */
export interface SyntheticOptions {
  /** Seed of the run. */
  seed: number;
  /** Users (raw ids 1..numUsers); default 1500. */
  numUsers?: number | undefined;
  /** Items (raw ids 1..numItems); default 1500, at least 4. */
  numItems?: number | undefined;
  /**
   * Mean interactions per user, at least 2; default 40. Each user gets
   * `min(20, mean)` plus a lognormal extra, capped at numItems / 2 (so the
   * actual mean is lower when the cap bites).
   */
  meanRatingsPerUser?: number | undefined;
}

/** The generated interactions together with the model that generated them. */
export interface SyntheticTruth {
  /** The interactions, users in order, each user's rows in time order. */
  interactions: RawInteractions;
  /** Factor dimension. */
  dim: number;
  /** Affinity weight `T`. */
  temperature: number;
  /** Row `u` (`dim` values) belongs to raw user `u + 1`. */
  userFactors: Float64Array;
  /** Row `i` (`dim` values) belongs to raw item `i + 1`. */
  itemFactors: Float64Array;
  /** `log π_i` of raw item `i + 1` (unnormalised). */
  itemLogPopularity: Float64Array;
}

/**
 * Generates the synthetic interactions (raw ids 1-based). Same options →
 * same rows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSynthetic } from "./synthetic.ts";
 * const raw = generateSynthetic({ seed: 1, numUsers: 50, numItems: 200 });
 * assert.ok(raw.length > 50 * 20 && raw.users[0] === 1);
 * ```
 */
export function generateSynthetic(options: SyntheticOptions): RawInteractions {
  return generateSyntheticTruth(options).interactions;
}

/**
 * Like {@linkcode generateSynthetic}, also returning the latent factors and
 * popularity, e.g. to score an oracle ranking with {@linkcode syntheticScore}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSyntheticTruth, syntheticScore } from "./synthetic.ts";
 * const truth = generateSyntheticTruth({ seed: 1, numUsers: 20, numItems: 100 });
 * assert.ok(Number.isFinite(syntheticScore(truth, 1, 100)));
 * ```
 */
export function generateSyntheticTruth(options: SyntheticOptions): SyntheticTruth {
  const seed = options.seed;
  const numUsers = options.numUsers ?? 1500;
  const numItems = options.numItems ?? 1500;
  const mean = options.meanRatingsPerUser ?? 40;
  if (!Number.isSafeInteger(numUsers) || numUsers < 1) {
    throw new RangeError(
      `Cannot generate synthetic data: numUsers ${numUsers} is not an integer ≥ 1`,
    );
  }
  if (!Number.isSafeInteger(numItems) || numItems < 4) {
    throw new RangeError(
      `Cannot generate synthetic data: numItems ${numItems} is not an integer ≥ 4`,
    );
  }
  if (!(mean >= 2 && Number.isFinite(mean))) {
    throw new RangeError(
      `Cannot generate synthetic data: meanRatingsPerUser ${mean} is not a number ≥ 2`,
    );
  }
  const dim = SYNTHETIC_DIM;
  const temperature = SYNTHETIC_TEMPERATURE;

  const factorPrng = new Prng(seed, SYNTHETIC_STREAM, 0);
  const userFactors = new Float64Array(numUsers * dim);
  for (let k = 0; k < userFactors.length; k++) userFactors[k] = factorPrng.nextGaussian();
  const itemFactors = new Float64Array(numItems * dim);
  for (let k = 0; k < itemFactors.length; k++) itemFactors[k] = factorPrng.nextGaussian();

  const rank = new Int32Array(numItems);
  for (let i = 0; i < numItems; i++) rank[i] = i;
  shuffle(rank, new Prng(seed, SYNTHETIC_STREAM, 1));
  const itemLogPopularity = new Float64Array(numItems);
  for (let i = 0; i < numItems; i++) {
    itemLogPopularity[i] = -SYNTHETIC_ZIPF_EXPONENT * Math.log(rank[i] + 1);
  }

  const counts = _counts(numUsers, numItems, mean, new Prng(seed, SYNTHETIC_STREAM, 2));
  let total = 0;
  for (let u = 0; u < numUsers; u++) total += counts[u];

  const users = new Float64Array(total);
  const items = new Float64Array(total);
  const timestamps = new Float64Array(total);
  const prng = new Prng(seed, SYNTHETIC_STREAM, 3);
  const keys = new Float64Array(numItems);
  const sorted = new Float64Array(numItems);
  const chosen = new Int32Array(numItems);
  const scale = temperature / Math.sqrt(dim);
  let row = 0;
  for (let u = 0; u < numUsers; u++) {
    // Gumbel-top-k: the k largest of log-weight + Gumbel noise are a
    // weighted sample without replacement.
    for (let i = 0; i < numItems; i++) {
      const uniform = (prng.nextUint32() + 0.5) / 4294967296;
      const affinity = _dot(userFactors, u * dim, itemFactors, i * dim, dim);
      keys[i] = scale * affinity + itemLogPopularity[i] - Math.log(-Math.log(uniform));
    }
    const k = counts[u];
    sorted.set(keys);
    sorted.sort();
    const threshold = sorted[numItems - k];
    let m = 0;
    for (let i = 0; i < numItems && m < k; i++) if (keys[i] >= threshold) chosen[m++] = i;
    const picks = chosen.subarray(0, m);
    shuffle(picks, prng);
    let time = 946684800 + prng.nextInt(3 * 365 * 86400);
    for (let j = 0; j < m; j++) {
      time += 1 + prng.nextInt(30 * 86400);
      users[row] = u + 1;
      items[row] = picks[j] + 1;
      timestamps[row] = time;
      row++;
    }
  }
  return {
    interactions: { users, items, timestamps, length: row },
    dim,
    temperature,
    userFactors,
    itemFactors,
    itemLogPopularity,
  };
}

/**
 * The generating model's log-weight of raw item `item` for raw user `user`
 * (`T·a_ui + log π_i`): ranking by it is the best possible recommender.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSyntheticTruth, syntheticScore } from "./synthetic.ts";
 * const truth = generateSyntheticTruth({ seed: 3, numUsers: 10, numItems: 50 });
 * assert.ok(syntheticScore(truth, 2, 7) === syntheticScore(truth, 2, 7));
 * ```
 */
export function syntheticScore(truth: SyntheticTruth, user: number, item: number): number {
  const { dim } = truth;
  const affinity = _dot(
    truth.userFactors,
    (user - 1) * dim,
    truth.itemFactors,
    (item - 1) * dim,
    dim,
  );
  return (truth.temperature / Math.sqrt(dim)) * affinity + truth.itemLogPopularity[item - 1];
}

/** Per-user counts: min(20, mean) + a lognormal extra (σ = 1) of mean `mean − base`, capped. */
function _counts(numUsers: number, numItems: number, mean: number, prng: Prng): Int32Array {
  const base = Math.min(20, Math.floor(mean));
  const extraMean = mean - base;
  const sigma = 1;
  const mu = extraMean > 0 ? Math.log(extraMean) - sigma * sigma / 2 : 0;
  const cap = Math.floor(numItems / 2);
  const counts = new Int32Array(numUsers);
  for (let u = 0; u < numUsers; u++) {
    const extra = extraMean > 0 ? Math.round(Math.exp(mu + sigma * prng.nextGaussian())) : 0;
    counts[u] = Math.min(base + extra, cap);
  }
  return counts;
}

function _dot(a: Float64Array, aAt: number, b: Float64Array, bAt: number, dim: number): number {
  let s = 0;
  for (let d = 0; d < dim; d++) s += a[aAt + d] * b[bAt + d];
  return s;
}
