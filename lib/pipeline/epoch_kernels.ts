/**
 * The hot loops of epoch generation, as small functions over typed arrays
 * and index ranges, so the main thread and the generator's workers run the
 * very same code on disjoint parts of one epoch.
 *
 * An epoch is made in three phases (see `epoch.ts`):
 * 1. `countBuckets`: each block of users draws a random shuffle bucket for
 *    each of its examples (in canonical order: each positive, then its
 *    negatives) and counts them per bucket;
 * 2. `fillBuckets`: each block replays the same bucket draws while it makes
 *    its examples — positives and freshly sampled negatives — and writes
 *    each straight into its bucket, packed as two int32 words (labelled
 *    pairs) or three (triples);
 * 3. `shuffleBucket` (pairs) or `shuffleTripleBucket` (triples): each bucket
 *    is shuffled in place (Fisher–Yates) and unpacked into the epoch's
 *    columns.
 * A uniform random bucket per example followed by a uniform shuffle of every
 * bucket is a uniform permutation of the whole epoch; working bucket by bucket
 * keeps memory access local. Every random draw comes from a stream fixed by
 * (seed, epoch, block/bucket), never by which worker runs it, so the bytes
 * do not depend on the number of workers.
 *
 * Random words are drawn in blocks ({@linkcode Prng.fillUint32}). Buckets
 * (a power of two in number) are the top bits of 16-bit halves of words;
 * other uniform integers below n come from {@linkcode wordBelow}. Both are
 * exactly uniform. Hot loops call nothing that V8 cannot inline: buffers are
 * refilled in an outer loop, which the inner loop leaves when one runs dry.
 *
 * @module
 */

import type { NegativeSampling, ShardSchema } from "../flags/specs.ts";
import type { Prng } from "../random/prng.ts";

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

/**
 * Columns of labelled pairs (shard schema `pairs`): each positive with
 * label 1, each negative with label 0.
 */
export interface PairColumns {
  users: Int32Array;
  items: Int32Array;
  /** 1 for a training positive, 0 for a sampled negative. */
  labels: Int8Array;
  /** Absent: pairs have no negative item column. */
  negItems?: undefined;
}

/**
 * Columns of triples (shard schema `triples`): a user, one of their training
 * positives and a sampled negative, for a pairwise loss.
 */
export interface TripleColumns {
  users: Int32Array;
  /** The training positive. */
  items: Int32Array;
  /** The sampled negative. */
  negItems: Int32Array;
  /** Absent: every triple pairs a positive with a negative. */
  labels?: undefined;
}

/**
 * Columns of examples: labelled pairs or triples. `negItems === undefined`
 * (or `labels !== undefined`) tells them apart.
 */
export type ExampleColumns = PairColumns | TripleColumns;

/** The columns of shard schema `S`. */
export type ColumnsOf<S extends ShardSchema> = S extends "triples" ? TripleColumns : PairColumns;

/**
 * Examples per training positive in an epoch: the positive and its `numNeg`
 * negatives (pairs), or `numNeg` triples.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { examplesPerPositive } from "./epoch_kernels.ts";
 * assert.ok(examplesPerPositive("pairs", 4) === 5 && examplesPerPositive("triples", 4) === 4);
 * ```
 */
export function examplesPerPositive(schema: ShardSchema, numNeg: number): number {
  return schema === "triples" ? numNeg : numNeg + 1;
}

const _TWO_POW_32 = 4294967296;
const _TWO_POW_MINUS_32 = 1 / 4294967296;
/** Words per refill of a kernel's random buffer. */
const _WORDS = 1024;
/** 16-bit halves per buffer of words. */
const _HALVES = 2 * _WORDS;
/**
 * A user's negatives are drawn by rejection while at least this share of all
 * items are candidates (at most 4 draws per negative expected); below it
 * (a user with more than 3/4 of all items), by bisection.
 */
const _REJECTION_MIN_SHARE = 0.25;
/** A packed example's label bit (the item is in the low 31 bits). */
const _LABEL_BIT = 0x80000000;

// Per-thread scratch (each worker has its own module instance).
const _wordsA = new Uint32Array(_WORDS);
const _wordsB = new Uint32Array(_WORDS);
let _seen = new Int32Array(0);

/**
 * Maps a uniform 32-bit word `x` to a uniform integer in `[0, n)`, or -1 when
 * the word must be rejected (and another drawn): Lemire's multiply-shift,
 * `floor(x * n / 2^32)`, rejecting the words whose low product part
 * `x * n mod 2^32` falls below `2^32 mod n` (there are `2^32 mod n` of
 * them), so that every result has exactly `floor(2^32 / n)` words. The
 * product is exact: as one float when `n <= 2^21` (below 2^53), else from
 * 16-bit halves. A word is rejected with probability below `n / 2^32`.
 *
 * @param x An integer in [0, 2^32).
 * @param n An integer in [1, 2^32].
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { wordBelow } from "./epoch_kernels.ts";
 * assert.ok(wordBelow(0x80000001, 10) === 5);
 * assert.ok(wordBelow(0xffffffff, 10) === 9);
 * assert.ok(wordBelow(0x80000000, 10) === -1); // low part 0 < 2^32 mod 10 = 6
 * ```
 */
export function wordBelow(x: number, n: number): number {
  let r: number;
  let low: number;
  if (n <= 0x200000) {
    const m = x * n;
    r = Math.floor(m * _TWO_POW_MINUS_32);
    low = m - r * _TWO_POW_32;
  } else {
    // x * n = a * 2^16 + b = aHigh * 2^32 + t, every term below 2^53.
    const a = (x >>> 16) * n;
    const b = (x & 0xffff) * n;
    const aHigh = Math.floor(a / 65536);
    const t = (a - aHigh * 65536) * 65536 + b;
    const tHigh = Math.floor(t * _TWO_POW_MINUS_32);
    r = aHigh + tHigh;
    low = t - tHigh * _TWO_POW_32;
  }
  return low < n && low < _TWO_POW_32 % n ? -1 : r;
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

/** log2 of `n`, which must be a power of two in [1, 2^16]. */
function _bucketBits(n: number): number {
  const bits = Math.round(Math.log2(n));
  if (!(n >= 1 && n <= 65536 && 2 ** bits === n)) {
    throw new RangeError(`Cannot draw among ${n} buckets: need a power of two in [1, 2^16]`);
  }
  return bits;
}

/**
 * Phase 1: draws a bucket in `[0, counts.length)` (a power of two, at most
 * 2^16) for each of `examples` examples from `prng` and counts them into
 * `counts` (zeroed by the caller). {@linkcode fillBuckets} replays the same
 * draws. Each random word gives two buckets: the top bits of its low, then
 * of its high 16-bit half (exactly uniform, nothing rejected).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { countBuckets } from "./epoch_kernels.ts";
 * import { Prng } from "../random/prng.ts";
 * const counts = new Int32Array(4);
 * countBuckets(counts, { examples: 10, prng: new Prng(3) });
 * assert.ok(counts.reduce((a, b) => a + b) === 10);
 * ```
 */
export function countBuckets(counts: Int32Array, options: { examples: number; prng: Prng }): void {
  const shift = 16 - _bucketBits(counts.length);
  const { examples, prng } = options;
  const words = _wordsA;
  let i = 0;
  let w = _HALVES;
  // Refills happen outside the inner loop: a call inside it slows it down.
  while (i < examples) {
    if (w === _HALVES) {
      prng.fillUint32(words);
      w = 0;
    }
    const stop = Math.min(examples, i + _HALVES - w);
    for (; i < stop; i++, w++) {
      // Half w of the buffer: the low half of word w >> 1 when w is even.
      const word = words[w >>> 1];
      counts[((w & 1) === 0 ? word & 0xffff : word >>> 16) >>> shift]++;
    }
  }
}

/**
 * Phase 2: makes the examples of users `[userStart, userEnd)` in canonical
 * order and writes each into the bucket `bucketPrng` draws for it (the draws
 * of {@linkcode countBuckets}; `cursor.length` buckets), at
 * `cursor[bucket]++`:
 * - `schema: "pairs"` (default): each positive (label 1) followed by
 *   `numNeg` negatives (label 0), packed in `packed` as the two words
 *   `user, item | label << 31`;
 * - `schema: "triples"`: `numNeg` triples per positive, each with its own
 *   negative, packed as the three words `user, item, negative`.
 *
 * With `sampling: "exact"` (default) negatives are drawn uniformly from the
 * items the user has no positive for: by rejection (a uniform item, redrawn
 * while it is a positive: checked in a bitmap of the user's positives)
 * unless the user has more than 3/4 of all items; then the `r`-th
 * non-positive is found by bisection ({@linkcode nthNonPositive}). Both are
 * exact. With `sampling: "uniform"` they are drawn uniformly from all items,
 * the user's positives included (Rendle et al.'s `mf_simple.py`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fillBuckets } from "./epoch_kernels.ts";
 * import { Prng } from "../random/prng.ts";
 * const positives = { offsets: Int32Array.of(0, 1), items: Int32Array.of(0) };
 * const packed = new Int32Array(6);
 * fillBuckets(positives, packed, {
 *   userStart: 0, userEnd: 1, numItems: 3, numNeg: 2, cursor: Int32Array.of(0),
 *   negativePrng: new Prng(1), bucketPrng: new Prng(2),
 * });
 * assert.ok(packed.join() === `0,${0x80000000 | 0},0,${packed[3]},0,${packed[5]}`);
 * assert.ok(packed[3] !== 0 && packed[5] !== 0);
 * ```
 */
export function fillBuckets(
  positives: Positives,
  packed: Int32Array,
  options: {
    userStart: number;
    userEnd: number;
    numItems: number;
    numNeg: number;
    /** Per bucket: where this block's next example goes; advanced. */
    cursor: Int32Array;
    negativePrng: Prng;
    bucketPrng: Prng;
    /** Labelled pairs (default) or triples. */
    schema?: ShardSchema | undefined;
    /** Negatives among the user's non-positives (default) or among all items. */
    sampling?: NegativeSampling | undefined;
  },
): void {
  const { offsets, items } = positives;
  const { numItems, numNeg, cursor, negativePrng, bucketPrng, userEnd } = options;
  const shift = 16 - _bucketBits(cursor.length);
  const triples = options.schema === "triples";
  const exact = options.sampling !== "uniform";
  if (triples && numNeg < 1) {
    throw new RangeError(
      `Cannot make triples with ${numNeg} negatives per positive: need at least 1`,
    );
  }
  // Example k of a positive is the positive itself when k === positiveSlot.
  const perPositive = examplesPerPositive(triples ? "triples" : "pairs", numNeg);
  const positiveSlot = triples ? -1 : 0;
  const seenWords = (numItems + 31) >>> 5;
  if (_seen.length < seenWords) _seen = new Int32Array(seenWords);
  const seen = _seen;
  const negWords = _wordsA;
  const bucketWords = _wordsB;
  let nw = _WORDS;
  let bw = _HALVES;
  // The position: example k of positive p of user u.
  let u = options.userStart - 1;
  let start = 0;
  let end = 0;
  let p = 0;
  let k = 0;
  let candidates = 0;
  let bisect = false;
  let marked = false; // `seen` holds user u's positives
  // Refills happen in the outer loop only (a call inside the inner loop
  // slows it down): the inner loop leaves, keeping its place, when a buffer
  // runs dry.
  refill: for (;;) {
    if (nw === _WORDS) {
      negativePrng.fillUint32(negWords);
      nw = 0;
    }
    if (bw === _HALVES) {
      bucketPrng.fillUint32(bucketWords);
      bw = 0;
    }
    for (;;) {
      if (p === end) {
        if (marked) {
          for (let q = start; q < end; q++) seen[items[q] >>> 5] = 0;
          marked = false;
        }
        if (++u >= userEnd) break refill;
        start = offsets[u];
        end = offsets[u + 1];
        p = start;
        candidates = numItems - (end - start);
        if (exact && candidates <= 0 && numNeg > 0 && end > start) {
          throw new RangeError(
            `Cannot sample negatives for user ${u}: they have a positive for every item`,
          );
        }
        // Uniform sampling: rejection against an empty bitmap (nothing
        // rejected but the words wordBelow rejects).
        bisect = exact && candidates < numItems * _REJECTION_MIN_SHARE;
        if (exact && !bisect && numNeg > 0) {
          for (let q = start; q < end; q++) {
            const item = items[q];
            seen[item >>> 5] |= 1 << (item & 31);
          }
          marked = true;
        }
        continue;
      }
      if (bw === _HALVES) continue refill;
      let word: number;
      if (k === positiveSlot) {
        word = items[p] | _LABEL_BIT;
      } else if (bisect) {
        let r: number;
        do {
          if (nw === _WORDS) continue refill;
          r = wordBelow(negWords[nw++], candidates);
        } while (r < 0);
        word = nthNonPositive(items, start, end, r);
      } else {
        let item: number;
        do {
          if (nw === _WORDS) continue refill;
          item = wordBelow(negWords[nw++], numItems);
        } while (item < 0 || (seen[item >>> 5] & (1 << (item & 31))) !== 0);
        word = item;
      }
      const bucketWord = bucketWords[bw >>> 1];
      const b = ((bw & 1) === 0 ? bucketWord & 0xffff : bucketWord >>> 16) >>> shift;
      bw++;
      if (triples) {
        const d = 3 * cursor[b]++;
        packed[d] = u;
        packed[d + 1] = items[p];
        packed[d + 2] = word;
      } else {
        const d = 2 * cursor[b]++;
        packed[d] = u;
        packed[d + 1] = word;
      }
      if (++k === perPositive) {
        k = 0;
        p++;
      }
    }
  }
}

/**
 * Phase 3: shuffles the packed examples `[start, end)` in place
 * (Fisher–Yates) and unpacks them into `out` at the same positions.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shuffleBucket } from "./epoch_kernels.ts";
 * import { Prng } from "../random/prng.ts";
 * const packed = Int32Array.of(0, 0x80000000 | 0, 1, 1, 2, 2);
 * const out = { users: new Int32Array(3), items: new Int32Array(3), labels: new Int8Array(3) };
 * shuffleBucket(packed, out, { start: 0, end: 3, prng: new Prng(2) });
 * assert.ok([...out.users].sort().join() === "0,1,2");
 * assert.ok(out.labels[out.users.indexOf(0)] === 1 && out.items[out.users.indexOf(2)] === 2);
 * ```
 */
export function shuffleBucket(
  packed: Int32Array,
  out: PairColumns,
  options: { start: number; end: number; prng: Prng },
): void {
  const { start, end, prng } = options;
  const words = _wordsA;
  let i = end - 1;
  // Refills happen in the outer loop only (see fillBuckets).
  refill: while (i > start) {
    prng.fillUint32(words);
    let w = 0;
    while (i > start) {
      if (w === _WORDS) continue refill;
      const j = wordBelow(words[w++], i - start + 1);
      if (j < 0) continue;
      const a = 2 * i;
      const b = 2 * (start + j);
      const user = packed[a];
      const word = packed[a + 1];
      packed[a] = packed[b];
      packed[a + 1] = packed[b + 1];
      packed[b] = user;
      packed[b + 1] = word;
      i--;
    }
  }
  const { users, items, labels } = out;
  for (let k = start; k < end; k++) {
    users[k] = packed[2 * k];
    const word = packed[2 * k + 1];
    items[k] = word & 0x7fffffff;
    labels[k] = word >>> 31;
  }
}

/**
 * Phase 3 for triples: shuffles the packed triples `[start, end)` (three
 * words each) in place (Fisher–Yates, the draws of {@linkcode shuffleBucket})
 * and unpacks them into `out` at the same positions.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shuffleTripleBucket } from "./epoch_kernels.ts";
 * import { Prng } from "../random/prng.ts";
 * const packed = Int32Array.of(0, 10, 20, 1, 11, 21, 2, 12, 22);
 * const out = { users: new Int32Array(3), items: new Int32Array(3), negItems: new Int32Array(3) };
 * shuffleTripleBucket(packed, out, { start: 0, end: 3, prng: new Prng(2) });
 * assert.ok([...out.users].sort().join() === "0,1,2");
 * const at = out.users.indexOf(2);
 * assert.ok(out.items[at] === 12 && out.negItems[at] === 22);
 * ```
 */
export function shuffleTripleBucket(
  packed: Int32Array,
  out: TripleColumns,
  options: { start: number; end: number; prng: Prng },
): void {
  const { start, end, prng } = options;
  const words = _wordsA;
  let i = end - 1;
  // Refills happen in the outer loop only (see fillBuckets).
  refill: while (i > start) {
    prng.fillUint32(words);
    let w = 0;
    while (i > start) {
      if (w === _WORDS) continue refill;
      const j = wordBelow(words[w++], i - start + 1);
      if (j < 0) continue;
      const a = 3 * i;
      const b = 3 * (start + j);
      const user = packed[a];
      const item = packed[a + 1];
      const negative = packed[a + 2];
      packed[a] = packed[b];
      packed[a + 1] = packed[b + 1];
      packed[a + 2] = packed[b + 2];
      packed[b] = user;
      packed[b + 1] = item;
      packed[b + 2] = negative;
      i--;
    }
  }
  const { users, items, negItems } = out;
  for (let k = start; k < end; k++) {
    users[k] = packed[3 * k];
    items[k] = packed[3 * k + 1];
    negItems[k] = packed[3 * k + 2];
  }
}
