/**
 * Ranking metrics of the leave-one-out protocol: the held-out positive is
 * ranked against the user's evaluation negatives; HR@k and NDCG@k are
 * averaged over users. A negative scoring equal to the positive ranks above
 * it, so ties never flatter the model.
 *
 * @module
 */

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

/** Averages over the users seen so far. */
export interface RankingSummary {
  /** Mean hit rate at k. */
  hr: number;
  /** Mean NDCG at k. */
  ndcg: number;
  /** Users counted. */
  users: number;
}

/**
 * Accumulates HR@k and NDCG@k over users. Hits are counted as integers and
 * NDCG terms summed per rank bucket, so the result does not depend on the
 * order users (or merged accumulators) arrive in.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RankingMetrics } from "./metrics.ts";
 * const m = new RankingMetrics();
 * m.add(0);  // hit, NDCG 1
 * m.add(20); // miss
 * const { hr, ndcg, users } = m.summary();
 * assert.ok(hr === 0.5 && ndcg === 0.5 && users === 2);
 * ```
 */
export class RankingMetrics {
  /** The cutoff k. */
  readonly k: number;
  #ranks: Float64Array; // users per rank < k
  #users = 0;

  /**
   * An empty accumulator.
   * @param options `k` (default 10).
   */
  constructor(options: { k?: number } = {}) {
    const k = options.k ?? 10;
    if (!Number.isInteger(k) || k < 1) {
      throw new RangeError(`Cannot build ranking metrics: k = ${k} is not an integer ≥ 1`);
    }
    this.k = k;
    this.#ranks = new Float64Array(k);
  }

  /** Counts one user whose positive has 0-based `rank`. */
  add(rank: number): void {
    if (!Number.isInteger(rank) || rank < 0) {
      throw new RangeError(`Cannot add a rank: ${rank} is not an integer ≥ 0`);
    }
    if (rank < this.k) this.#ranks[rank]++;
    this.#users++;
  }

  /** Adds the users counted by `other` (same k). */
  merge(other: RankingMetrics): void {
    if (other.k !== this.k) {
      throw new RangeError(`Cannot merge ranking metrics: k = ${other.k}, expected ${this.k}`);
    }
    for (let r = 0; r < this.k; r++) this.#ranks[r] += other.#ranks[r];
    this.#users += other.#users;
  }

  /** Users counted so far. */
  get users(): number {
    return this.#users;
  }

  /** Mean HR@k and NDCG@k (NaN with no users). */
  summary(): RankingSummary {
    let hits = 0;
    let ndcg = 0;
    for (let r = 0; r < this.k; r++) {
      hits += this.#ranks[r];
      ndcg += this.#ranks[r] * ndcgAt(r, this.k);
    }
    const n = this.#users;
    return { hr: n === 0 ? NaN : hits / n, ndcg: n === 0 ? NaN : ndcg / n, users: n };
  }
}
