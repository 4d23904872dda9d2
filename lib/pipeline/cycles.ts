/**
 * Cycles: `epochs_per_cycle` epochs cut into batches of exactly
 * `train_batch_size`, written as shards plus `ready.json`.
 *
 * With spillover, the examples left over at the end of a cycle are carried to
 * the front of the next one, and the last cycle ends with a short batch;
 * without it, every cycle ends with its own short batch. No example is ever
 * dropped. Every cycle is a pure function of (seed, cycle index) and the
 * carry, and the carry into cycle k is the tail of the epochs before it, so a
 * generator can start at any cycle.
 *
 * @module
 */

import { join } from "node:path";
import { SHARD_SCHEMAS, type ShardSchema } from "../flags/specs.ts";
import type { ExampleColumns } from "./epoch_kernels.ts";
import { encodeShardInto, shardByteLength } from "./shards.ts";
import { type FileWriter, writeFileAtomic } from "../io/atomic_write.ts";

/** Rows per shard, rounded down to whole batches. */
export const SHARD_TARGET_ROWS = 1 << 20;
/** Shards being written at once. */
const _WRITES_IN_FLIGHT = 2;

/** The arithmetic of a run's cycles. */
export interface CyclePlan {
  /** Examples per epoch. */
  epochSize: number;
  epochsPerCycle: number;
  numCycles: number;
  batchSize: number;
  spillover: boolean;
  /** The epochs' (and shards') schema; default pairs. */
  schema?: ShardSchema | undefined;
}

/** What `ready.json` holds. */
export interface ReadyManifest {
  cycle: number;
  /** The shards' schema (a ready.json without it means pairs). */
  schema: ShardSchema;
  batch_size: number;
  batch_count: number;
  example_count: number;
  shards: string[];
  shard_rows: number[];
}

/**
 * Examples carried into cycle `cycle` from the cycles before it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { carryInto } from "./cycles.ts";
 * const plan = { epochSize: 10, epochsPerCycle: 1, numCycles: 3, batchSize: 4, spillover: true };
 * assert.ok(carryInto(plan, 0) === 0 && carryInto(plan, 1) === 2 && carryInto(plan, 2) === 0);
 * ```
 */
export function carryInto(plan: CyclePlan, cycle: number): number {
  if (!plan.spillover) return 0;
  const perCycle = plan.epochSize * plan.epochsPerCycle;
  // (cycle * perCycle) mod batchSize without overflowing 2^53.
  return ((cycle % plan.batchSize) * (perCycle % plan.batchSize)) % plan.batchSize;
}

/**
 * The examples and batches cycle `cycle` publishes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cycleCounts } from "./cycles.ts";
 * const plan = { epochSize: 10, epochsPerCycle: 1, numCycles: 3, batchSize: 4, spillover: true };
 * const counts = [0, 1, 2].map((c) => cycleCounts(plan, c));
 * assert.ok(counts.map((c) => c.examples).join() === "8,12,10");
 * assert.ok(counts.map((c) => c.batches).join() === "2,3,3");
 * ```
 */
export function cycleCounts(plan: CyclePlan, cycle: number): { examples: number; batches: number } {
  const available = carryInto(plan, cycle) + plan.epochSize * plan.epochsPerCycle;
  const last = cycle === plan.numCycles - 1;
  const examples = plan.spillover && !last ? available - (available % plan.batchSize) : available;
  return { examples, batches: Math.ceil(examples / plan.batchSize) };
}

/** Gives the columns of a global epoch; the result may be reused afterwards. */
export type EpochSource = (epoch: number) => Promise<ExampleColumns>;

function _sliceColumns(c: ExampleColumns, start: number, end: number): ExampleColumns {
  const users = c.users.slice(start, end);
  const items = c.items.slice(start, end);
  return c.labels !== undefined
    ? { users, items, labels: c.labels.slice(start, end) }
    : { users, items, negItems: c.negItems.slice(start, end) };
}

/**
 * Zeroed columns of `n` examples of `schema`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptyColumns } from "./cycles.ts";
 * assert.ok(emptyColumns("pairs", 2).labels?.length === 2);
 * assert.ok(emptyColumns("triples", 0).negItems?.length === 0);
 * ```
 */
export function emptyColumns(schema: ShardSchema, n: number): ExampleColumns {
  const users = new Int32Array(n);
  const items = new Int32Array(n);
  return schema === "triples"
    ? { users, items, negItems: new Int32Array(n) }
    : { users, items, labels: new Int8Array(n) };
}

/** Copies examples `[start, end)` of `from` into `to` at `at`; both of one schema. */
function _copyColumns(
  to: ExampleColumns,
  at: number,
  from: ExampleColumns,
  range: { start: number; end: number },
): void {
  const { start, end } = range;
  to.users.set(from.users.subarray(start, end), at);
  to.items.set(from.items.subarray(start, end), at);
  if (to.labels !== undefined) to.labels.set(from.labels!.subarray(start, end), at);
  else to.negItems.set(from.negItems!.subarray(start, end), at);
}

/** Throws unless `columns` are of `schema` (a source of the wrong kind). */
function _checkSchema(columns: ExampleColumns, schema: ShardSchema, what: string): void {
  const found = columns.labels !== undefined ? "pairs" : "triples";
  if (found !== schema) {
    throw new TypeError(`Cannot write cycles of ${schema}: ${what} holds ${found}`);
  }
}

/**
 * Rebuilds the carry into `cycle` by regenerating the tail of the epochs
 * before it (used when a generator starts at `start_cycle` > 0).
 */
export async function regenerateCarry(
  plan: CyclePlan,
  cycle: number,
  source: EpochSource,
): Promise<ExampleColumns> {
  const needed = carryInto(plan, cycle);
  const schema = plan.schema ?? "pairs";
  const carry = emptyColumns(schema, needed);
  let filled = 0; // from the end
  let epoch = cycle * plan.epochsPerCycle - 1;
  while (filled < needed) {
    const columns = await source(epoch);
    _checkSchema(columns, schema, `epoch ${epoch}`);
    const take = Math.min(needed - filled, plan.epochSize);
    const from = plan.epochSize - take;
    const to = needed - filled - take;
    _copyColumns(carry, to, columns, { start: from, end: plan.epochSize });
    filled += take;
    epoch--;
  }
  return carry;
}

/** Options of {@linkcode writeCycle}. */
export interface WriteCycleOptions {
  plan: CyclePlan;
  /** Examples carried in from the cycle before (empty for cycle 0). */
  carry: ExampleColumns;
  /** Makes a global epoch. */
  source: EpochSource;
  /** The file-writing seam (a full disk in tests). */
  writer?: FileWriter | undefined;
  /** Called between shards, e.g. to check that the run is still alive. */
  checkpoint?: () => void | Promise<void>;
}

/**
 * Writes cycle `cycle` into the existing folder `dir`: shards (of
 * `plan.schema`) published by rename, then `ready.json` last. Returns the
 * carry into the next cycle.
 *
 * Whole shards are encoded straight from the epochs' columns (one copy) and
 * up to two are written at once; when a write fails, the others end first,
 * then the first failure in shard order is thrown and `ready.json` is not
 * written.
 */
export async function writeCycle(
  cycle: number,
  dir: string,
  options: WriteCycleOptions,
): Promise<{ manifest: ReadyManifest; carry: ExampleColumns }> {
  const { plan, carry, source } = options;
  const schema = plan.schema ?? "pairs";
  _checkSchema(carry, schema, "the carry");
  const bs = plan.batchSize;
  const shardRows = Math.max(1, Math.floor(SHARD_TARGET_ROWS / bs)) * bs;
  // Whole shards are encoded straight from the epoch's columns; only the
  // rows that straddle an epoch (or cycle) boundary wait in `pending`.
  const pending = emptyColumns(schema, shardRows);
  // Up to _WRITES_IN_FLIGHT shards are written at once, each from its own
  // buffer (the oldest write is awaited before its buffer is reused).
  const files = Array.from(
    { length: _WRITES_IN_FLIGHT },
    () => new Uint8Array(shardByteLength(shardRows, schema)),
  );
  const writes: Promise<void>[] = [];
  const manifest: ReadyManifest = {
    cycle,
    schema,
    batch_size: bs,
    batch_count: 0,
    example_count: 0,
    shards: [],
    shard_rows: [],
  };
  let fill = 0;
  const flush = async (columns: ExampleColumns, start: number, rows: number) => {
    const index = manifest.shards.length;
    const name = `shard_${String(index).padStart(5, "0")}.arrow`;
    if (writes.length === _WRITES_IN_FLIGHT) await writes.shift();
    const bytes = encodeShardInto(files[index % _WRITES_IN_FLIGHT], columns, {
      start,
      end: start + rows,
    });
    const write = writeFileAtomic(join(dir, name), bytes, { writer: options.writer });
    write.catch(() => {}); // awaited in order below
    writes.push(write);
    manifest.shards.push(name);
    manifest.shard_rows.push(rows);
    manifest.example_count += rows;
    await options.checkpoint?.();
  };
  const keep = (columns: ExampleColumns, start: number, end: number) => {
    _copyColumns(pending, fill, columns, { start, end });
    fill += end - start;
  };
  const push = async (columns: ExampleColumns, length: number) => {
    let at = 0;
    if (fill > 0) {
      at = Math.min(shardRows - fill, length);
      keep(columns, 0, at);
      if (fill < shardRows) return;
      await flush(pending, 0, shardRows);
      fill = 0;
    }
    for (; length - at >= shardRows; at += shardRows) await flush(columns, at, shardRows);
    keep(columns, at, length);
  };
  const keepsCarry = plan.spillover && cycle < plan.numCycles - 1;
  let rest = 0;
  try {
    await push(carry, carry.users.length);
    for (let e = 0; e < plan.epochsPerCycle; e++) {
      const epoch = cycle * plan.epochsPerCycle + e;
      const columns = await source(epoch);
      _checkSchema(columns, schema, `epoch ${epoch}`);
      await push(columns, plan.epochSize);
    }
    rest = keepsCarry ? fill - (fill % bs) : fill;
    if (rest > 0) await flush(pending, 0, rest);
    while (writes.length > 0) await writes.shift();
  } finally {
    // On failure, let the other writes end (each cleans up after itself).
    await Promise.allSettled(writes);
  }
  const nextCarry = _sliceColumns(pending, rest, fill);
  manifest.batch_count = Math.ceil(manifest.example_count / bs);
  await writeFileAtomic(join(dir, "ready.json"), JSON.stringify(manifest, null, 2) + "\n", {
    writer: options.writer,
  });
  return { manifest, carry: nextCarry };
}

/**
 * Parses and checks a `ready.json`; errors name `path`. A manifest without
 * `schema` (written before triples existed) describes pairs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseReadyManifest } from "./cycles.ts";
 * const m = parseReadyManifest(
 *   '{"cycle":0,"batch_size":2,"batch_count":1,"example_count":2,"shards":["a"],"shard_rows":[2]}',
 *   "ready.json",
 * );
 * assert.ok(m.shards[0] === "a" && m.schema === "pairs");
 * ```
 */
export function parseReadyManifest(text: string, path: string): ReadyManifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new SyntaxError(`Cannot read ${path}: ${(e as Error).message}`);
  }
  const m = value as Omit<ReadyManifest, "schema"> & { schema?: unknown };
  const isCount = (x: unknown) => Number.isSafeInteger(x) && (x as number) >= 0;
  const ok = typeof m === "object" && m !== null && !Array.isArray(m) &&
    (m.schema === undefined || (SHARD_SCHEMAS as readonly unknown[]).includes(m.schema)) &&
    isCount(m.cycle) && isCount(m.batch_size) &&
    isCount(m.batch_count) && isCount(m.example_count) && Array.isArray(m.shards) &&
    Array.isArray(m.shard_rows) && m.shards.length === m.shard_rows.length &&
    m.shards.every((s) => typeof s === "string" && /^[\w.-]+$/.test(s)) &&
    m.shard_rows.every(isCount) &&
    m.shard_rows.reduce((a, b) => a + b, 0) === m.example_count;
  if (!ok) throw new SyntaxError(`Cannot read ${path}: not a valid ready.json`);
  return { ...m, schema: (m.schema ?? "pairs") as ShardSchema };
}
