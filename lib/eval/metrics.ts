/**
 * Ranking metrics of the leave-one-out protocol: each user's held-out
 * positive is ranked against the user's candidates (sampled negatives, or
 * every item the user has not trained on); HR@K, NDCG@K at each cutoff K
 * and the mean reciprocal rank are averaged over users. A negative scoring
 * equal to the positive ranks above it, so ties never flatter the model.
 *
 * @module
 */

import { SettingError } from "../errors.ts";

/**
 * The 0-based rank of the positive among `negs[0..count)`: the number of
 * negatives whose score is not below `pos`. A tie counts against the
 * positive, and so does NaN (a NaN positive ranks last; a NaN negative
 * ranks above the positive).
 *
 * @param pos The positive's score.
 * @param negs The negatives' scores.
 * @param options `count` (default `negs.length`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rankOfPositive } from "./metrics.ts";
 * const negs = Float32Array.of(0.1, 0.5, 0.9);
 * assert.ok(rankOfPositive(0.7, negs) === 1);
 * assert.ok(rankOfPositive(0.5, negs) === 2); // the tie ranks first
 * ```
 */
export function rankOfPositive(
  pos: number,
  negs: Float32Array,
  options: { count?: number } = {},
): number {
  const count = options.count ?? negs.length;
  if (!Number.isInteger(count) || count < 0 || count > negs.length) {
    throw new RangeError(`Cannot rank the positive: count ${count} with ${negs.length} negatives`);
  }
  let rank = 0;
  for (let j = 0; j < count; j++) if (!(negs[j] < pos)) rank++;
  return rank;
}

/**
 * Hit at `k`: 1 when the 0-based `rank` is below `k`, else 0.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hitAt } from "./metrics.ts";
 * assert.ok(hitAt(9) === 1 && hitAt(10) === 0 && hitAt(2, 2) === 0);
 * ```
 */
export function hitAt(rank: number, k = 10): number {
  return rank < k ? 1 : 0;
}

/**
 * NDCG at `k` with one relevant item: `1 / log2(rank + 2)` when the 0-based
 * `rank` is below `k`, else 0.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ndcgAt } from "./metrics.ts";
 * assert.ok(ndcgAt(0) === 1 && ndcgAt(1) === 1 / Math.log2(3) && ndcgAt(10) === 0);
 * ```
 */
export function ndcgAt(rank: number, k = 10): number {
  return rank < k ? 1 / Math.log2(rank + 2) : 0;
}

/** HR and NDCG at one cutoff K. */
export interface CutoffMetrics {
  /** The cutoff K. */
  k: number;
  /** Mean hit rate at K (= recall at K with one held-out item). */
  hr: number;
  /** Mean NDCG at K. */
  ndcg: number;
}

/** Averages over the users seen so far. */
export interface RankingSummary {
  /** Mean hit rate at the first cutoff. */
  hr: number;
  /** Mean NDCG at the first cutoff. */
  ndcg: number;
  /** Users counted. */
  users: number;
  /** Mean reciprocal rank `1 / (rank + 1)` over the whole ranked list. */
  mrr: number;
  /** HR and NDCG at every cutoff, in the order asked. */
  byK: CutoffMetrics[];
}

/**
 * Checks a list of cutoffs: at least one, each an integer ≥ 1, none twice.
 * @throws {SettingError} for `eval_k`, saying what is wrong.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkCutoffs } from "./metrics.ts";
 * assert.deepEqual(checkCutoffs([5, 10, 20]), [5, 10, 20]);
 * assert.throws(() => checkCutoffs([10, 10]), /10 twice/);
 * ```
 */
export function checkCutoffs(ks: readonly number[]): readonly number[] {
  if (ks.length === 0) {
    throw new SettingError("eval_k", "Cannot rank at no cutoff: give at least one K, e.g. 10");
  }
  for (let i = 0; i < ks.length; i++) {
    const k = ks[i];
    if (!Number.isSafeInteger(k) || k < 1) {
      throw new SettingError("eval_k", `Cannot rank at K = ${k}: each K must be an integer ≥ 1`);
    }
    if (ks.indexOf(k) !== i) {
      throw new SettingError("eval_k", `Cannot rank at K = ${ks.join(",")}: ${k} twice`);
    }
  }
  return ks;
}

/**
 * Accumulates HR@K and NDCG@K at each cutoff, and the mean reciprocal rank,
 * over users. Users are counted per rank, and each mean is summed in rank
 * order, so the result does not depend on the order users (or merged
 * accumulators) arrive in.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RankingMetrics } from "./metrics.ts";
 * const m = new RankingMetrics({ ks: [10, 1] });
 * m.add(0);  // hit, NDCG 1, reciprocal rank 1
 * m.add(20); // miss, reciprocal rank 1/21
 * const { hr, ndcg, users, mrr, byK } = m.summary();
 * assert.ok(hr === 0.5 && ndcg === 0.5 && users === 2);
 * assert.ok(Math.abs(mrr - (1 + 1 / 21) / 2) < 1e-15);
 * assert.deepEqual(byK, [{ k: 10, hr: 0.5, ndcg: 0.5 }, { k: 1, hr: 0.5, ndcg: 0.5 }]);
 * ```
 */
export class RankingMetrics {
  /** The first cutoff (the one `hr` and `ndcg` report). */
  readonly k: number;
  /** Every cutoff, in the order given. */
  readonly ks: readonly number[];
  #counts: Float64Array = new Float64Array(16); // users per rank
  #users = 0;

  /**
   * An empty accumulator.
   * @param options `ks`: the cutoffs (default `[k]`); `k`: the one cutoff
   *   when `ks` is absent (default 10).
   * @throws {SettingError} for `eval_k` on a bad cutoff (see {@linkcode checkCutoffs}).
   */
  constructor(options: { k?: number | undefined; ks?: readonly number[] | undefined } = {}) {
    this.ks = Object.freeze([...checkCutoffs(options.ks ?? [options.k ?? 10])]);
    this.k = this.ks[0];
  }

  /** Counts one user whose positive has 0-based `rank`. */
  add(rank: number): void {
    if (!Number.isInteger(rank) || rank < 0) {
      throw new RangeError(`Cannot add a rank: ${rank} is not an integer ≥ 0`);
    }
    this.#grow(rank + 1);
    this.#counts[rank]++;
    this.#users++;
  }

  /** Adds the users counted by `other` (same cutoffs). */
  merge(other: RankingMetrics): void {
    if (other.ks.join() !== this.ks.join()) {
      throw new RangeError(
        `Cannot merge ranking metrics: K = ${other.ks.join(",")}, expected ${this.ks.join(",")}`,
      );
    }
    this.#grow(other.#counts.length);
    for (let r = 0; r < other.#counts.length; r++) this.#counts[r] += other.#counts[r];
    this.#users += other.#users;
  }

  /** Users counted so far. */
  get users(): number {
    return this.#users;
  }

  /** The means (NaN with no users). */
  summary(): RankingSummary {
    const n = this.#users;
    const counts = this.#counts;
    const byK = this.ks.map((k) => {
      let hits = 0;
      let ndcg = 0;
      for (let r = 0; r < Math.min(k, counts.length); r++) {
        hits += counts[r];
        ndcg += counts[r] * ndcgAt(r, k);
      }
      return { k, hr: n === 0 ? NaN : hits / n, ndcg: n === 0 ? NaN : ndcg / n };
    });
    let rr = 0;
    for (let r = 0; r < counts.length; r++) rr += counts[r] / (r + 1);
    return { hr: byK[0].hr, ndcg: byK[0].ndcg, users: n, mrr: n === 0 ? NaN : rr / n, byK };
  }

  #grow(length: number): void {
    if (length <= this.#counts.length) return;
    const counts = new Float64Array(Math.max(length, 2 * this.#counts.length));
    counts.set(this.#counts);
    this.#counts = counts;
  }
}
