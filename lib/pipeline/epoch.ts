/**
 * One epoch of training examples: every positive once, `numNeg` fresh
 * negatives per positive, the whole epoch shuffled. The epoch is a pure
 * function of (seed, epoch index); the work is split into tasks over fixed
 * blocks, chunks and buckets (see `epoch_kernels.ts`) that any number of
 * workers can run in any order.
 *
 * @module
 */

import {
  assignBuckets,
  type ExampleColumns,
  fillExamples,
  partPrng,
  type Positives,
  scatterChunk,
  shuffleRange,
  STREAM_BUCKETS,
  STREAM_NEGATIVES,
  STREAM_SHUFFLE,
} from "./epoch_kernels.ts";

/** Users per fill block: fixed, so the bytes never depend on the workers. */
export const USERS_PER_BLOCK = 512;
/** Examples per bucket-assignment chunk. */
export const CHUNK_SIZE = 1 << 16;
/** Target examples per shuffle bucket (about 300 KB of columns). */
export const BUCKET_SIZE = 1 << 15;
const _MAX_BUCKETS = 65535;

/** The fixed partition of an epoch into tasks. */
export interface EpochLayout {
  numUsers: number;
  numItems: number;
  numNeg: number;
  /** Examples per epoch: positives × (1 + numNeg). */
  size: number;
  numBlocks: number;
  numChunks: number;
  numBuckets: number;
}

/**
 * The layout of an epoch over `positives`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { epochLayout } from "./epoch.ts";
 * const positives = { offsets: Int32Array.of(0, 2, 3), items: Int32Array.of(0, 1, 2) };
 * const layout = epochLayout(positives, { numItems: 4, numNeg: 4 });
 * assert.ok(layout.size === 15 && layout.numBuckets === 1);
 * ```
 */
export function epochLayout(
  positives: Positives,
  options: { numItems: number; numNeg: number },
): EpochLayout {
  const numUsers = positives.offsets.length - 1;
  const size = positives.items.length * (1 + options.numNeg);
  if (size > 2 ** 31 - 1) {
    throw new RangeError(`Cannot make epochs of ${size} examples: at most 2^31 - 1 fit`);
  }
  return {
    numUsers,
    numItems: options.numItems,
    numNeg: options.numNeg,
    size,
    numBlocks: Math.ceil(numUsers / USERS_PER_BLOCK),
    numChunks: Math.ceil(size / CHUNK_SIZE),
    numBuckets: Math.max(1, Math.min(_MAX_BUCKETS, Math.ceil(size / BUCKET_SIZE))),
  };
}

/** Every buffer an epoch needs; reused from epoch to epoch. */
export interface EpochBuffers {
  positives: Positives;
  /** Canonical order (phase 1 output). */
  canonical: ExampleColumns;
  /** Shuffled order (the epoch). */
  shuffled: ExampleColumns;
  /** Bucket of each canonical example. */
  buckets: Uint16Array;
  /** Per chunk, per bucket: counts, then (after prefix sums) cursors. */
  cursors: Int32Array;
}

/**
 * Allocates the buffers of `layout`, shared (SharedArrayBuffer) so workers
 * can fill them. `positives` is copied into shared memory too.
 */
export function allocateEpochBuffers(positives: Positives, layout: EpochLayout): EpochBuffers {
  const n = layout.size;
  const columns = (): ExampleColumns => ({
    users: new Int32Array(new SharedArrayBuffer(n * 4)),
    items: new Int32Array(new SharedArrayBuffer(n * 4)),
    labels: new Int8Array(new SharedArrayBuffer(n)),
  });
  const shared = (a: Int32Array) => {
    const s = new Int32Array(new SharedArrayBuffer(a.length * 4));
    s.set(a);
    return s;
  };
  return {
    positives: { offsets: shared(positives.offsets), items: shared(positives.items) },
    canonical: columns(),
    shuffled: columns(),
    buckets: new Uint16Array(new SharedArrayBuffer(n * 2)),
    cursors: new Int32Array(new SharedArrayBuffer(layout.numChunks * layout.numBuckets * 4)),
  };
}

/** One unit of epoch work. `[start, end)` counts blocks, chunks or buckets. */
export interface EpochTask {
  phase: "fill" | "assign" | "scatter" | "shuffle";
  epoch: number;
  start: number;
  end: number;
}

/** What every task needs besides its own range. */
export interface EpochContext {
  layout: EpochLayout;
  buffers: EpochBuffers;
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
 * runEpochTask({ layout, buffers, seed: 1 }, { phase: "fill", epoch: 0, start: 0, end: 1 });
 * assert.ok(buffers.canonical.labels.join() === "1,0");
 * ```
 */
export function runEpochTask(context: EpochContext, task: EpochTask): void {
  const { layout, buffers, seed } = context;
  const { positives, canonical, shuffled, buckets, cursors } = buffers;
  const multiplier = 1 + layout.numNeg;
  const nb = layout.numBuckets;
  for (let part = task.start; part < task.end; part++) {
    switch (task.phase) {
      case "fill": {
        const userStart = part * USERS_PER_BLOCK;
        const userEnd = Math.min(layout.numUsers, userStart + USERS_PER_BLOCK);
        fillExamples(positives, canonical, {
          userStart,
          userEnd,
          outOffset: positives.offsets[userStart] * multiplier,
          numItems: layout.numItems,
          numNeg: layout.numNeg,
          prng: partPrng(seed, STREAM_NEGATIVES, task.epoch, part),
        });
        break;
      }
      case "assign": {
        const counts = cursors.subarray(part * nb, (part + 1) * nb);
        counts.fill(0);
        assignBuckets(buckets, counts, {
          start: part * CHUNK_SIZE,
          end: Math.min(layout.size, (part + 1) * CHUNK_SIZE),
          prng: partPrng(seed, STREAM_BUCKETS, task.epoch, part),
        });
        break;
      }
      case "scatter":
        scatterChunk(canonical, shuffled, {
          buckets,
          cursor: cursors.subarray(part * nb, (part + 1) * nb),
          start: part * CHUNK_SIZE,
          end: Math.min(layout.size, (part + 1) * CHUNK_SIZE),
        });
        break;
      case "shuffle": {
        // After scatter, the cursor of the last chunk in bucket b is the end of
        // bucket b, and the end of bucket b - 1 is bucket b's start.
        const last = (layout.numChunks - 1) * nb;
        const start = part === 0 ? 0 : cursors[last + part - 1];
        shuffleRange(shuffled, {
          start,
          end: cursors[last + part],
          prng: partPrng(seed, STREAM_SHUFFLE, task.epoch, part),
        });
        break;
      }
    }
  }
}

/** Runs batches of epoch tasks, inline or on workers. */
export interface EpochRunner {
  /** Runs every task (in any order) and resolves when all are done. */
  run(tasks: EpochTask[]): Promise<void>;
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

/**
 * Makes epoch `epoch` (a global index: cycle × epochs_per_cycle + epoch in
 * cycle) into `context.buffers.shuffled` and returns those columns.
 */
export async function makeEpoch(
  context: EpochContext,
  runner: EpochRunner,
  epoch: number,
): Promise<ExampleColumns> {
  const { layout, buffers } = context;
  await runner.run(_tasks("fill", epoch, layout.numBlocks, 8));
  await runner.run(_tasks("assign", epoch, layout.numChunks, 16));
  _countsToCursors(buffers.cursors, layout);
  await runner.run(_tasks("scatter", epoch, layout.numChunks, 16));
  await runner.run(_tasks("shuffle", epoch, layout.numBuckets, 64));
  return buffers.shuffled;
}

/** Turns per-chunk bucket counts into each chunk's first slot per bucket. */
function _countsToCursors(cursors: Int32Array, layout: EpochLayout): void {
  const nb = layout.numBuckets;
  const nc = layout.numChunks;
  let position = 0;
  for (let b = 0; b < nb; b++) {
    for (let c = 0; c < nc; c++) {
      const i = c * nb + b;
      const count = cursors[i];
      cursors[i] = position;
      position += count;
    }
  }
}
