/**
 * Evaluation negatives: for each user, items the user never interacted with,
 * sampled once per run from the seed (DESIGN.md section 5).
 *
 * @module
 */

import { Prng } from "../random/prng.ts";

/** PRNG stream index of the evaluation negatives ("EVNG"). */
export const EVAL_NEGATIVES_STREAM = 0x45564e47;

/** The parts of a data set the sampler reads. */
export interface EvalNegativesInput {
  numUsers: number;
  numItems: number;
  /** CSR offsets into `trainItems`, length numUsers + 1. */
  trainOffsets: Int32Array;
  /** Each user's training items, strictly ascending within a user. */
  trainItems: Int32Array;
  /** The held-out item of each user. */
  evalItems: Int32Array;
}

/** Options of {@linkcode sampleEvalNegatives}. */
export interface EvalNegativesOptions {
  /** Negatives per user (an integer ≥ 0). */
  numEvalNegatives: number;
  /** Seed of the run. */
  seed: number;
  /** The PRNG stream (default {@linkcode EVAL_NEGATIVES_STREAM}; validation uses its own). */
  stream?: number | undefined;
}

/** The sampled negatives, in the `Dataset` CSR layout. */
export interface EvalNegatives {
  /** CSR offsets into `evalNegatives`, length numUsers + 1. */
  evalNegOffsets: Int32Array;
  /** Each user's negatives, distinct, in the order drawn. */
  evalNegatives: Int32Array;
  /** Users with fewer candidates than requested (they get all of them). */
  numEvalCappedUsers: number;
}

/**
 * Samples, for each user, `numEvalNegatives` distinct items that are neither
 * a training item nor the held-out item of that user, without replacement,
 * from `new Prng(seed, EVAL_NEGATIVES_STREAM)` (users in order, so the same
 * seed gives the same negatives). A user with fewer candidates gets all of
 * them, in ascending order, and counts as capped. Rejection sampling against
 * a marker array when candidates are plentiful (more than twice the request),
 * a partial Fisher–Yates shuffle of the candidate list otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sampleEvalNegatives } from "./eval_negatives.ts";
 * const negatives = sampleEvalNegatives({
 *   numUsers: 2,
 *   numItems: 6,
 *   trainOffsets: Int32Array.of(0, 2, 3),
 *   trainItems: Int32Array.of(0, 1, 2),
 *   evalItems: Int32Array.of(5, 4),
 * }, { numEvalNegatives: 3, seed: 1 });
 * assert.ok(negatives.evalNegOffsets[2] === 6);
 * assert.ok(!negatives.evalNegatives.subarray(0, 3).includes(5));
 * ```
 */
export function sampleEvalNegatives(
  dataset: EvalNegativesInput,
  options: EvalNegativesOptions,
): EvalNegatives {
  const { numUsers, numItems, trainOffsets, trainItems, evalItems } = dataset;
  const wanted = options.numEvalNegatives;
  if (!Number.isSafeInteger(wanted) || wanted < 0) {
    throw new RangeError(
      `Cannot sample evaluation negatives: ${wanted} is not a non-negative integer`,
    );
  }
  const prng = new Prng(options.seed, options.stream ?? EVAL_NEGATIVES_STREAM);

  // Pass 1: each user's number of candidates, hence the offsets.
  const offsets = new Int32Array(numUsers + 1);
  let capped = 0;
  let total = 0;
  for (let u = 0; u < numUsers; u++) {
    const start = trainOffsets[u];
    const end = trainOffsets[u + 1];
    const heldOutInTrain = _contains(trainItems, start, end, evalItems[u]);
    const candidates = numItems - (end - start) - (heldOutInTrain ? 0 : 1);
    let count = wanted;
    if (candidates < wanted) {
      count = candidates;
      capped++;
    }
    total += count;
    if (total > 0x7fffffff) {
      throw new RangeError(
        `Cannot sample evaluation negatives: ${numUsers} users × ${wanted} negatives exceed 2^31 - 1`,
      );
    }
    offsets[u + 1] = total;
  }

  // Pass 2: draw. In shared memory, so evaluation workers read the
  // negatives without a copy (they are the largest evaluation table).
  const negatives = new Int32Array(new SharedArrayBuffer(total * 4));
  const marker = new Int32Array(numItems); // marker[i] === u + 1: item i is taken for user u
  const pool = new Int32Array(numItems);
  for (let u = 0; u < numUsers; u++) {
    const stamp = u + 1;
    const start = trainOffsets[u];
    const end = trainOffsets[u + 1];
    for (let k = start; k < end; k++) marker[trainItems[k]] = stamp;
    marker[evalItems[u]] = stamp;
    const out = offsets[u];
    const count = offsets[u + 1] - out;
    const candidates = numItems - (end - start) -
      (_contains(trainItems, start, end, evalItems[u]) ? 0 : 1);
    if (candidates > 2 * count) {
      _rejection(prng, marker, stamp, numItems, negatives, out, count);
    } else {
      _partialShuffle(prng, marker, stamp, numItems, pool, negatives, out, count);
    }
  }
  return { evalNegOffsets: offsets, evalNegatives: negatives, numEvalCappedUsers: capped };
}

/** Draws `count` unmarked items uniformly, marking each one taken. */
function _rejection(
  prng: Prng,
  marker: Int32Array,
  stamp: number,
  numItems: number,
  out: Int32Array,
  at: number,
  count: number,
): void {
  for (let k = 0; k < count; k++) {
    let item = prng.nextInt(numItems);
    while (marker[item] === stamp) item = prng.nextInt(numItems);
    marker[item] = stamp;
    out[at + k] = item;
  }
}

/** Lists the unmarked items, then takes `count` of them by a partial Fisher–Yates shuffle. */
function _partialShuffle(
  prng: Prng,
  marker: Int32Array,
  stamp: number,
  numItems: number,
  pool: Int32Array,
  out: Int32Array,
  at: number,
  count: number,
): void {
  let size = 0;
  for (let item = 0; item < numItems; item++) {
    if (marker[item] !== stamp) pool[size++] = item;
  }
  if (count >= size) {
    out.set(pool.subarray(0, size), at); // capped (or exact): all candidates, ascending
    return;
  }
  for (let k = 0; k < count; k++) {
    const j = k + prng.nextInt(size - k);
    const t = pool[k];
    pool[k] = pool[j];
    pool[j] = t;
    out[at + k] = pool[k];
  }
}

/** Binary search in the ascending run `items[start..end)`. */
function _contains(items: Int32Array, start: number, end: number, item: number): boolean {
  let lo = start;
  let hi = end;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = items[mid];
    if (v === item) return true;
    if (v < item) lo = mid + 1;
    else hi = mid;
  }
  return false;
}
