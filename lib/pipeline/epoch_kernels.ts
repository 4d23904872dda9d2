/**
 * The hot loops of epoch generation, as small functions over typed arrays
 * and index ranges, so the main thread and the generator's workers run the
 * very same code on disjoint parts of one epoch.
 *
 * An epoch is made in four phases (see `epoch.ts`):
 * 1. `fillExamples`: each block of users writes its positives and freshly
 *    sampled negatives, in canonical order, at a fixed offset;
 * 2. `assignBuckets`: each chunk of the canonical order draws a random bucket
 *    per example and counts them;
 * 3. `scatterChunk`: each chunk copies its examples to their buckets;
 * 4. `shuffleRange`: each bucket is shuffled in place (Fisher–Yates).
 * A uniform random bucket per example followed by a uniform shuffle of every
 * bucket is a uniform permutation of the whole epoch; working bucket by bucket
 * keeps memory access local. Every random draw comes from a stream fixed by
 * (seed, epoch, block/chunk/bucket), never by which worker runs it, so the
 * bytes do not depend on the number of workers.
 *
 * @module
 */

import { Prng } from "../random/prng.ts";

/** Stream tags that keep the phases' random streams apart. */
export const STREAM_NEGATIVES = 1;
/** See {@linkcode STREAM_NEGATIVES}. */
export const STREAM_BUCKETS = 2;
/** See {@linkcode STREAM_NEGATIVES}. */
export const STREAM_SHUFFLE = 3;

/** Training positives as CSR rows (items ascending within each user). */
export interface Positives {
  /** Length numUsers + 1. */
  offsets: Int32Array;
  /** Every user's items, ascending. */
  items: Int32Array;
}

/** Columns of examples. */
export interface ExampleColumns {
  users: Int32Array;
  items: Int32Array;
  labels: Int8Array;
}

/**
 * The `r`-th (0-based) item of `0..numItems-1` that is not among the sorted
 * positives `items[start..end)`. Exact exclusion in O(log k), no rejection.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nthNonPositive } from "./epoch_kernels.ts";
 * const positives = Int32Array.of(1, 3); // items 0..4 minus {1,3} = 0, 2, 4
 * assert.ok(nthNonPositive(positives, 0, 2, 2) === 4);
 * ```
 */
export function nthNonPositive(items: Int32Array, start: number, end: number, r: number): number {
  // j = #{i : items[start + i] - i <= r}; items[i] - i is non-decreasing.
  let lo = 0;
  let hi = end - start;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (items[start + mid] - mid <= r) lo = mid + 1;
    else hi = mid;
  }
  return r + lo;
}

/**
 * Phase 1: writes the examples of users `[userStart, userEnd)` at
 * `outOffset`: each positive (label 1) followed by `numNeg` negatives
 * (label 0) drawn uniformly from the items the user has no positive for.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fillExamples } from "./epoch_kernels.ts";
 * import { Prng } from "../random/prng.ts";
 * const positives = { offsets: Int32Array.of(0, 1), items: Int32Array.of(0) };
 * const out = { users: new Int32Array(3), items: new Int32Array(3), labels: new Int8Array(3) };
 * fillExamples(positives, out, { userStart: 0, userEnd: 1, outOffset: 0, numItems: 3, numNeg: 2, prng: new Prng(1) });
 * assert.ok(out.labels.join() === "1,0,0" && out.items[1] !== 0);
 * ```
 */
export function fillExamples(
  positives: Positives,
  out: ExampleColumns,
  options: {
    userStart: number;
    userEnd: number;
    outOffset: number;
    numItems: number;
    numNeg: number;
    prng: Prng;
  },
): void {
  const { offsets, items } = positives;
  const { users: outUsers, items: outItems, labels: outLabels } = out;
  const { numItems, numNeg, prng } = options;
  let o = options.outOffset;
  for (let u = options.userStart; u < options.userEnd; u++) {
    const start = offsets[u];
    const end = offsets[u + 1];
    const candidates = numItems - (end - start);
    for (let p = start; p < end; p++) {
      outUsers[o] = u;
      outItems[o] = items[p];
      outLabels[o] = 1;
      o++;
      for (let n = 0; n < numNeg; n++) {
        outUsers[o] = u;
        outItems[o] = nthNonPositive(items, start, end, prng.nextInt(candidates));
        outLabels[o] = 0;
        o++;
      }
    }
  }
}

/**
 * Phase 2: draws a bucket in `[0, numBuckets)` for each example of
 * `[start, end)` into `buckets`, and counts them into `counts`
 * (length numBuckets, zeroed by the caller).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { assignBuckets } from "./epoch_kernels.ts";
 * import { Prng } from "../random/prng.ts";
 * const buckets = new Uint16Array(10);
 * const counts = new Int32Array(4);
 * assignBuckets(buckets, counts, { start: 0, end: 10, prng: new Prng(3) });
 * assert.ok(counts.reduce((a, b) => a + b) === 10);
 * ```
 */
export function assignBuckets(
  buckets: Uint16Array,
  counts: Int32Array,
  options: { start: number; end: number; prng: Prng },
): void {
  const numBuckets = counts.length;
  const prng = options.prng;
  for (let i = options.start; i < options.end; i++) {
    const b = prng.nextInt(numBuckets);
    buckets[i] = b;
    counts[b]++;
  }
}

/**
 * Phase 3: copies examples `[start, end)` of `from` to `to`, each at
 * `cursor[bucket]++` (the caller sets `cursor` to this chunk's first slot in
 * each bucket).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scatterChunk } from "./epoch_kernels.ts";
 * const from = { users: Int32Array.of(1, 2), items: Int32Array.of(3, 4), labels: Int8Array.of(1, 0) };
 * const to = { users: new Int32Array(2), items: new Int32Array(2), labels: new Int8Array(2) };
 * scatterChunk(from, to, { buckets: Uint16Array.of(1, 0), cursor: Int32Array.of(0, 1), start: 0, end: 2 });
 * assert.ok(to.users.join() === "2,1");
 * ```
 */
export function scatterChunk(
  from: ExampleColumns,
  to: ExampleColumns,
  options: { buckets: Uint16Array; cursor: Int32Array; start: number; end: number },
): void {
  const { buckets, cursor } = options;
  const fu = from.users, fi = from.items, fl = from.labels;
  const tu = to.users, ti = to.items, tl = to.labels;
  for (let i = options.start; i < options.end; i++) {
    const d = cursor[buckets[i]]++;
    tu[d] = fu[i];
    ti[d] = fi[i];
    tl[d] = fl[i];
  }
}

/**
 * Phase 4: shuffles examples `[start, end)` in place (Fisher–Yates).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shuffleRange } from "./epoch_kernels.ts";
 * import { Prng } from "../random/prng.ts";
 * const c = { users: Int32Array.of(0, 1, 2), items: Int32Array.of(0, 1, 2), labels: new Int8Array(3) };
 * shuffleRange(c, { start: 0, end: 3, prng: new Prng(2) });
 * assert.ok(c.users.join() === c.items.join());
 * ```
 */
export function shuffleRange(
  columns: ExampleColumns,
  options: { start: number; end: number; prng: Prng },
): void {
  const { users, items, labels } = columns;
  const { start, prng } = options;
  for (let i = options.end - 1; i > start; i--) {
    const j = start + prng.nextInt(i - start + 1);
    const u = users[i];
    users[i] = users[j];
    users[j] = u;
    const it = items[i];
    items[i] = items[j];
    items[j] = it;
    const l = labels[i];
    labels[i] = labels[j];
    labels[j] = l;
  }
}

/** Creates the PRNG of one part of one epoch. */
export function partPrng(seed: number, stream: number, epoch: number, part: number): Prng {
  return new Prng(seed, stream, epoch, part);
}
