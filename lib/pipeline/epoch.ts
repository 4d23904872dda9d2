/**
 * One epoch of training examples, the whole epoch shuffled, in one of two
 * shard schemas:
 * - `pairs`: every positive once (label 1) and `numNeg` fresh negatives per
 *   positive (label 0);
 * - `triples`: every positive `numNeg` times, each time with its own fresh
 *   negative, as (user, positive, negative).
 *
 * Negatives are `exact` (uniform among the items the user has no training
 * positive for) or `uniform` (among all items). The epoch is a pure
 * function of (seed, epoch index); the work is split into tasks over fixed
 * blocks of users and shuffle buckets (see `epoch_kernels.ts`) that any
 * number of workers can run in any order.
 *
 * @module
 */

import {
  type ColumnsOf,
  countBuckets,
  type ExampleColumns,
  examplesPerPositive,
  fillBuckets,
  type Positives,
  shuffleBucket,
  shuffleTripleBucket,
  STREAM_BUCKETS,
  STREAM_NEGATIVES,
  STREAM_SHUFFLE,
} from "./epoch_kernels.ts";
import type { NegativeSampling, ShardSchema } from "../flags/specs.ts";
import { Prng } from "../random/prng.ts";

/** Target examples per block of users (blocks hold whole users). */
export const BLOCK_SIZE = 1 << 18;
/** At most this many blocks: larger epochs get larger blocks. */
const _MAX_BLOCKS = 1024;
/**
 * Most examples per shuffle bucket on average (1 MiB packed): buckets are
 * a power of two in number, so their mean size is between half this and
 * this. Fewer, larger buckets make phase 2's scattered writes cheaper and
 * phase 3's shuffles dearer; this is the measured sweet spot.
 */
export const BUCKET_SIZE = 1 << 17;
const _MAX_BUCKETS = 1 << 16;

/** What an epoch holds, and its fixed partition into tasks. */
export interface EpochLayout<S extends ShardSchema = ShardSchema> {
  numUsers: number;
  numItems: number;
  numNeg: number;
  /** Labelled pairs or triples. */
  schema: S;
  /** How negatives are drawn. */
  negativeSampling: NegativeSampling;
  /** Examples per epoch: positives × (1 + numNeg) for pairs, × numNeg for triples. */
  size: number;
  numBlocks: number;
  /** First user of each block, then numUsers (length numBlocks + 1). */
  blockUsers: Int32Array;
  /** A power of two. */
  numBuckets: number;
}

/** Options of {@linkcode epochLayout}. */
export interface EpochLayoutOptions<S extends ShardSchema> {
  numItems: number;
  numNeg: number;
  /** Labelled pairs (default) or triples (which need numNeg ≥ 1). */
  schema?: S | undefined;
  /** `exact` (default) or `uniform` negatives. */
  negativeSampling?: NegativeSampling | undefined;
}

/**
 * The layout of an epoch over `positives`: blocks of whole users of about
 * {@linkcode BLOCK_SIZE} examples, a power of two of buckets of at most
 * {@linkcode BUCKET_SIZE} examples on average.
 * It depends on the data only, never on the number of workers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { epochLayout } from "./epoch.ts";
 * const positives = { offsets: Int32Array.of(0, 2, 3), items: Int32Array.of(0, 1, 2) };
 * const layout = epochLayout(positives, { numItems: 4, numNeg: 4 });
 * assert.ok(layout.size === 15 && layout.numBuckets === 1 && layout.numBlocks === 1);
 * const triples = epochLayout(positives, { numItems: 4, numNeg: 4, schema: "triples" });
 * assert.ok(triples.size === 12 && triples.schema === "triples");
 * ```
 */
export function epochLayout<S extends ShardSchema = "pairs">(
  positives: Positives,
  options: EpochLayoutOptions<S>,
): EpochLayout<S> {
  const offsets = positives.offsets;
  const numUsers = offsets.length - 1;
  const schema = (options.schema ?? "pairs") as S;
  if (schema === "triples" && !(options.numNeg >= 1)) {
    throw new RangeError(
      `Cannot make triples with ${options.numNeg} negatives per positive: need at least 1`,
    );
  }
  const multiplier = examplesPerPositive(schema, options.numNeg);
  const size = positives.items.length * multiplier;
  if (size > 2 ** 31 - 1) {
    throw new RangeError(`Cannot make epochs of ${size} examples: at most 2^31 - 1 fit`);
  }
  if (options.numItems > 2 ** 31) {
    throw new RangeError(`Cannot make epochs over ${options.numItems} items: at most 2^31 fit`);
  }
  const blockSize = Math.max(BLOCK_SIZE, Math.ceil(size / _MAX_BLOCKS));
  const starts = [0];
  for (let u = 0, examples = 0; u < numUsers; u++) {
    examples += (offsets[u + 1] - offsets[u]) * multiplier;
    if (examples >= blockSize && u + 1 < numUsers) {
      starts.push(u + 1);
      examples = 0;
    }
  }
  starts.push(numUsers);
  let numBuckets = 1;
  while (numBuckets * BUCKET_SIZE < size && numBuckets < _MAX_BUCKETS) numBuckets *= 2;
  return {
    numUsers,
    numItems: options.numItems,
    numNeg: options.numNeg,
    schema,
    negativeSampling: options.negativeSampling ?? "exact",
    size,
    numBlocks: starts.length - 1,
    blockUsers: Int32Array.from(starts),
    numBuckets,
  };
}

/** Every buffer an epoch needs; reused from epoch to epoch. */
export interface EpochBuffers<S extends ShardSchema = ShardSchema> {
  positives: Positives;
  /**
   * The examples bucket by bucket (phase 2 output), two int32 words each
   * (pairs) or three (triples).
   */
  packed: Int32Array;
  /** Shuffled order (the epoch). */
  shuffled: ColumnsOf<S>;
  /** Per block, per bucket: counts, then (after prefix sums) cursors. */
  cursors: Int32Array;
  /** Where each bucket starts, then the epoch size (length numBuckets + 1). */
  bucketStarts: Int32Array;
}

/**
 * Allocates the buffers of `layout`, shared (SharedArrayBuffer) so workers
 * can fill them. `positives` is copied into shared memory too.
 */
export function allocateEpochBuffers<S extends ShardSchema>(
  positives: Positives,
  layout: EpochLayout<S>,
): EpochBuffers<S> {
  const n = layout.size;
  const shared = (a: Int32Array) => {
    const s = new Int32Array(new SharedArrayBuffer(a.length * 4));
    s.set(a);
    return s;
  };
  const int32s = () => new Int32Array(new SharedArrayBuffer(n * 4));
  const triples = layout.schema === "triples";
  const shuffled: ExampleColumns = triples
    ? { users: int32s(), items: int32s(), negItems: int32s() }
    : { users: int32s(), items: int32s(), labels: new Int8Array(new SharedArrayBuffer(n)) };
  return {
    positives: { offsets: shared(positives.offsets), items: shared(positives.items) },
    packed: new Int32Array(new SharedArrayBuffer(n * (triples ? 12 : 8))),
    // The schema decided the columns' kind: ColumnsOf<S>.
    shuffled: shuffled as ColumnsOf<S>,
    cursors: new Int32Array(new SharedArrayBuffer(layout.numBlocks * layout.numBuckets * 4)),
    bucketStarts: new Int32Array(new SharedArrayBuffer((layout.numBuckets + 1) * 4)),
  };
}

/** One unit of epoch work. `[start, end)` counts blocks or buckets. */
export interface EpochTask {
  phase: "count" | "fill" | "shuffle";
  epoch: number;
  start: number;
  end: number;
}

/** What every task needs besides its own range. */
export interface EpochContext<S extends ShardSchema = ShardSchema> {
  layout: EpochLayout<S>;
  buffers: EpochBuffers<S>;
  seed: number;
}

/**
 * Runs one task. The same function runs inline and in workers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { allocateEpochBuffers, epochLayout, runEpochTask } from "./epoch.ts";
 * const positives = { offsets: Int32Array.of(0, 1), items: Int32Array.of(0) };
 * const layout = epochLayout(positives, { numItems: 3, numNeg: 1 });
 * const buffers = allocateEpochBuffers(positives, layout);
 * runEpochTask({ layout, buffers, seed: 1 }, { phase: "count", epoch: 0, start: 0, end: 1 });
 * assert.ok(buffers.cursors[0] === 2);
 * ```
 */
export function runEpochTask(context: EpochContext, task: EpochTask): void {
  const { layout, buffers, seed } = context;
  const { positives, packed, shuffled, cursors, bucketStarts } = buffers;
  const { blockUsers, numBuckets } = layout;
  const multiplier = examplesPerPositive(layout.schema, layout.numNeg);
  for (let part = task.start; part < task.end; part++) {
    switch (task.phase) {
      case "count": {
        const counts = cursors.subarray(part * numBuckets, (part + 1) * numBuckets);
        counts.fill(0);
        const offsets = positives.offsets;
        countBuckets(counts, {
          examples: (offsets[blockUsers[part + 1]] - offsets[blockUsers[part]]) * multiplier,
          prng: new Prng(seed, STREAM_BUCKETS, task.epoch, part),
        });
        break;
      }
      case "fill":
        fillBuckets(positives, packed, {
          userStart: blockUsers[part],
          userEnd: blockUsers[part + 1],
          numItems: layout.numItems,
          numNeg: layout.numNeg,
          cursor: cursors.subarray(part * numBuckets, (part + 1) * numBuckets),
          negativePrng: new Prng(seed, STREAM_NEGATIVES, task.epoch, part),
          bucketPrng: new Prng(seed, STREAM_BUCKETS, task.epoch, part),
          schema: layout.schema,
          sampling: layout.negativeSampling,
        });
        break;
      case "shuffle": {
        const range = {
          start: bucketStarts[part],
          end: bucketStarts[part + 1],
          prng: new Prng(seed, STREAM_SHUFFLE, task.epoch, part),
        };
        if (shuffled.labels === undefined) shuffleTripleBucket(packed, shuffled, range);
        else shuffleBucket(packed, shuffled, range);
        break;
      }
    }
  }
}

/** Runs batches of epoch tasks, inline or on workers. */
export interface EpochRunner {
  /**
   * Runs every task (in any order) and resolves when all are done. One
   * batch at a time: a batch is only given once the one before resolved.
   */
  run(tasks: EpochTask[]): Promise<void>;
  /**
   * True when tasks run off the calling thread (workers), so that
   * {@linkcode makeEpoch} may start the next epoch while the caller is busy
   * with this one. Default false.
   */
  readonly background?: boolean;
}

/**
 * A runner that executes tasks on the calling thread.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { allocateEpochBuffers, epochLayout, inlineRunner, makeEpoch } from "./epoch.ts";
 * const positives = { offsets: Int32Array.of(0, 2), items: Int32Array.of(0, 3) };
 * const layout = epochLayout(positives, { numItems: 5, numNeg: 2 });
 * const context = { layout, buffers: allocateEpochBuffers(positives, layout), seed: 4 };
 * const epoch = await makeEpoch(context, inlineRunner(context), 0);
 * assert.ok(epoch.labels.reduce((a, b) => a + b, 0) === 2);
 * ```
 */
export function inlineRunner(context: EpochContext): EpochRunner {
  return {
    run: (tasks) => {
      for (const task of tasks) runEpochTask(context, task);
      return Promise.resolve();
    },
  };
}

/**
 * Splits `count` parts into tasks of about `grain` parts each.
 */
function _tasks(phase: EpochTask["phase"], epoch: number, count: number, grain: number) {
  const tasks: EpochTask[] = [];
  for (let start = 0; start < count; start += grain) {
    tasks.push({ phase, epoch, start, end: Math.min(count, start + grain) });
  }
  return tasks;
}

/** An epoch whose phases 1 and 2 were started ahead, per context. */
const _ahead = new WeakMap<EpochContext, { epoch: number; done: Promise<void> }>();

/** Phases 1 and 2 of `epoch`: `packed` holds its examples bucket by bucket. */
async function _countAndFill(context: EpochContext, runner: EpochRunner, epoch: number) {
  const { layout, buffers } = context;
  await runner.run(_tasks("count", epoch, layout.numBlocks, 2));
  _countsToCursors(buffers, layout);
  await runner.run(_tasks("fill", epoch, layout.numBlocks, 2));
}

/**
 * Makes epoch `epoch` (a global index: cycle × epochs_per_cycle + epoch in
 * cycle) into `context.buffers.shuffled` and returns those columns (pairs
 * or triples, as the layout's schema), which stay valid until the next call
 * for `context`. One call at a time per context.
 *
 * With a background runner (workers) and more than one core, it then starts
 * phases 1 and 2 of epoch `epoch + 1` (which do not touch the returned
 * columns), so they overlap whatever the caller does with this epoch (such
 * as writing shards); the next call waits for them, and uses them if it
 * asks for that epoch. The bytes are the same either way.
 */
export async function makeEpoch<S extends ShardSchema>(
  context: EpochContext<S>,
  runner: EpochRunner,
  epoch: number,
): Promise<ColumnsOf<S>> {
  const { layout, buffers } = context;
  const ahead = _ahead.get(context);
  _ahead.delete(context);
  if (ahead !== undefined) await ahead.done;
  if (ahead?.epoch !== epoch) await _countAndFill(context, runner, epoch);
  await runner.run(_tasks("shuffle", epoch, layout.numBuckets, 32));
  if (runner.background === true && navigator.hardwareConcurrency > 1) {
    const done = _countAndFill(context, runner, epoch + 1);
    // A failure surfaces at the next call; none may go unhandled meanwhile.
    done.catch(() => {});
    _ahead.set(context, { epoch: epoch + 1, done });
  }
  return buffers.shuffled;
}

/**
 * Turns per-block bucket counts into each block's first slot per bucket
 * (buckets in order, blocks in order within a bucket), and records where
 * each bucket starts.
 */
function _countsToCursors(buffers: EpochBuffers, layout: EpochLayout): void {
  const { cursors, bucketStarts } = buffers;
  const nb = layout.numBuckets;
  const blocks = layout.numBlocks;
  let position = 0;
  for (let b = 0; b < nb; b++) {
    bucketStarts[b] = position;
    for (let k = 0; k < blocks; k++) {
      const i = k * nb + b;
      const count = cursors[i];
      cursors[i] = position;
      position += count;
    }
  }
  bucketStarts[nb] = position;
}
