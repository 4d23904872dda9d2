/**
 * A warm start on a data set that has grown (`--init_from`): a new model,
 * built for the new data and freshly initialised from the run's seed, takes
 * over what a trained checkpoint knows.
 *
 * - Users and items are matched by raw id (the ids of the data's own
 *   files), not by dense id: the new data set numbers them afresh. Every
 *   per-user tensor (a sparse tensor of row group `"user"`) gets the
 *   checkpoint's row for each user the checkpoint knows; likewise every
 *   per-item tensor (row group `"item"`). New users and items keep their
 *   fresh rows.
 * - Every dense tensor (layers, biases, the output) is copied whole.
 * - Adam's moments (`adam`, `lazy_adam`) are carried the same way: the
 *   checkpoint's for known rows and dense tensors, zero for new rows. The
 *   step count is carried too, so the known rows and dense tensors continue
 *   with the bias correction their moments were built under. Adam keeps one
 *   step count for all tensors, so the new rows' zero moments are corrected
 *   as a late step's (barely at all): their first updates are up to a few
 *   times the learning rate while their second moment builds up, instead
 *   of about the learning rate as in a fresh run. Plain SGD has no state;
 *   neither has a checkpoint trained with it, so an Adam run from one
 *   starts with zero moments at step 0.
 *
 * The model's kind and every setting of its config other than its user and
 * item counts must match the checkpoint's. Which tensors are per-user or
 * per-item rows comes from the model's `Parameters` (their row groups), so
 * this file names no concrete model.
 *
 * @module
 */

import { RawIdIndex, type RawIds } from "../data/raw_ids.ts";
import { SettingError } from "../errors.ts";
import type { Model, ModelConfig } from "../model/model.ts";
import type { Optimizer, OptimizerKind } from "../optim/optimizer.ts";
import type { LoadedModelCheckpoint } from "./model_checkpoint.ts";

/** One named tensor of a model (`Parameters` entries). */
type _Entry = Model["parameters"]["entries"][number];

/** The row group of per-user tensors (the models' convention, see `ParameterSpec.rowGroup`). */
const _USER_ROWS = "user";
/** The row group of per-item tensors. */
const _ITEM_ROWS = "item";
/** Config entries a warm start may change. */
const _GROWING = new Set(["numUsers", "numItems"]);

/** What {@linkcode initFromCheckpoint} did, for the log. */
export interface InitFromSummary {
  /** The checkpoint's model folder. */
  dir: string;
  /** Epochs the checkpoint had trained. */
  epoch: number;
  /** Users of the new data the checkpoint knows, of all of them. */
  users: { known: number; total: number };
  /** Items of the new data the checkpoint knows, of all of them. */
  items: { known: number; total: number };
  /** The optimizer state: carried (moments and step) or fresh. */
  optimizer: {
    /** Whether the checkpoint's moments and step count were carried. */
    carried: boolean;
    /** The step count the optimizer continues from (0 when fresh). */
    step: number;
    /** The checkpoint's optimizer. */
    from: OptimizerKind;
  };
}

/**
 * Checks that a checkpoint's model can start a run whose model has
 * `config`: the same kind, and every config entry but the user and item
 * counts equal.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkInitFrom } from "./init_from.ts";
 * const held = { kind: "NeuMF", numUsers: 5, numItems: 9, numFactors: 8, layers: [16, 8] };
 * const checkpoint = { dir: "old", meta: { model: held } };
 * const grown = { ...held, numUsers: 7, numItems: 12 };
 * checkInitFrom(checkpoint, grown); // fine
 * const wider = { ...held, numFactors: 16 };
 * assert.throws(
 *   () => checkInitFrom(checkpoint, wider),
 *   (e: Error) =>
 *     e.name === "SettingError" &&
 *     e.message.startsWith(
 *       "Cannot start from old: it holds a NeuMF with 8 factors, this run asks for 16 factors",
 *     ),
 * );
 * ```
 * @throws {SettingError} (setting "init_from") naming every entry that differs.
 */
export function checkInitFrom(
  checkpoint: { dir: string; meta: { model: ModelConfig } },
  config: ModelConfig,
): void {
  const held = checkpoint.meta.model as unknown as Record<string, unknown>;
  const wanted = config as unknown as Record<string, unknown>;
  const refuse = (state: string) =>
    new SettingError(
      "init_from",
      `Cannot start from ${checkpoint.dir}: ${state}; a warm start keeps the model's kind and ` +
        "every size and setting (only its users and items may grow): train this model from " +
        "scratch, or ask for the checkpoint's settings",
    );
  if (held.kind !== wanted.kind) {
    throw refuse(`it holds a ${held.kind} model, this run asks for a ${wanted.kind}`);
  }
  const keys = [...new Set([...Object.keys(held), ...Object.keys(wanted)])]
    .filter((key) => key !== "kind" && !_GROWING.has(key));
  const differing = keys.filter((key) => JSON.stringify(held[key]) !== JSON.stringify(wanted[key]));
  if (differing.length === 0) return;
  const describe = (source: Record<string, unknown>) =>
    differing.map((key) => _describeSetting(key, source[key])).join(", ");
  throw refuse(
    `it holds a ${held.kind} with ${describe(held)}, this run asks for ${describe(wanted)}`,
  );
}

/**
 * Starts `target.model` (built for the new data, freshly initialised) and
 * its optimizer from `checkpoint`, matching users and items by raw id (see
 * the module doc), and refreshes the model's evaluation caches.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Parameters } from "../kernels/parameters.ts";
 * import type { Model } from "../model/model.ts";
 * import { Sgd } from "../optim/sgd.ts";
 * import { initFromCheckpoint } from "./init_from.ts";
 * import type { LoadedModelCheckpoint } from "./model_checkpoint.ts";
 * // One per-user table of 1 column and a dense bias; the old data had users 7 and 9.
 * const parameters = new Parameters([
 *   { name: "user_table", shape: [3, 1], sparse: true, rowGroup: "user" },
 *   { name: "bias", shape: [1] },
 * ]);
 * parameters.values.set([-1, -1, -1, 0]);
 * const model = {
 *   config: { kind: "toy", numUsers: 3, numItems: 0 },
 *   parameters,
 *   prepareEval() {},
 * } as unknown as Model;
 * const checkpoint = {
 *   dir: "old",
 *   meta: {
 *     model: { kind: "toy", numUsers: 2, numItems: 0 },
 *     optimizer: { kind: "sgd", step: 10 },
 *     run: { epochsDone: 4 },
 *   },
 *   data: { arrays: { "param/user_table": Float32Array.of(70, 90), "param/bias": Float32Array.of(5) } },
 *   maps: { userIds: Float64Array.of(7, 9), itemIds: new Float64Array(0) },
 * } as unknown as LoadedModelCheckpoint;
 * const summary = initFromCheckpoint({
 *   model,
 *   optimizer: new Sgd(parameters),
 *   userIds: Float64Array.of(9, 8, 7), // user 8 is new
 *   itemIds: new Float64Array(0),
 * }, checkpoint);
 * assert.deepEqual([...parameters.values], [90, -1, 70, 5]);
 * assert.deepEqual(summary.users, { known: 2, total: 3 });
 * ```
 * @throws {SettingError} (setting "init_from") when the configs differ (see
 *   {@linkcode checkInitFrom}); `SyntaxError` when a checkpoint tensor is
 *   missing or the wrong size; `RangeError` when the model has row tensors
 *   of a group that is neither users nor items.
 */
export function initFromCheckpoint(
  target: { model: Model; optimizer: Optimizer; userIds: RawIds; itemIds: RawIds },
  checkpoint: LoadedModelCheckpoint,
): InitFromSummary {
  const { model, optimizer } = target;
  checkInitFrom(checkpoint, model.config);
  const users = _rowMap(checkpoint.maps.userIds, target.userIds);
  const items = _rowMap(checkpoint.maps.itemIds, target.itemIds);
  const plans = model.parameters.entries.map((e) => _planTensor(e, checkpoint, { users, items }));
  for (const plan of plans) {
    _copyTensor(plan.entry.values, _source(checkpoint, "param", plan), plan);
  }
  const from = checkpoint.meta.optimizer.kind;
  const carried = optimizer.kind !== "sgd" && from !== "sgd";
  if (carried) {
    const state = optimizer.getState(); // a fresh optimizer's: zero moments
    for (const plan of plans) {
      _copyTensor(state.m[plan.entry.name], _source(checkpoint, "adam_m", plan), plan);
      _copyTensor(state.v[plan.entry.name], _source(checkpoint, "adam_v", plan), plan);
    }
    state.step = checkpoint.meta.optimizer.step;
    optimizer.setState(state);
  }
  model.prepareEval();
  return {
    dir: checkpoint.dir,
    epoch: checkpoint.meta.run.epochsDone,
    users: { known: users.known, total: users.map.length },
    items: { known: items.known, total: items.map.length },
    optimizer: { carried, step: carried ? optimizer.stepCount : 0, from },
  };
}

/**
 * The line the trainer prints after a warm start.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatInitFrom } from "./init_from.ts";
 * assert.equal(
 *   formatInitFrom({
 *     dir: "runs/june",
 *     epoch: 20,
 *     users: { known: 5930, total: 6040 },
 *     items: { known: 3650, total: 3706 },
 *     optimizer: { carried: true, step: 76000, from: "adam" },
 *   }),
 *   "initialised from runs/june (epoch 20): 5,930 of 6,040 users and 3,650 of 3,706 items " +
 *     "known; 110 users and 56 items new; adam state carried (step 76,000)",
 * );
 * ```
 */
export function formatInitFrom(summary: InitFromSummary): string {
  const n = (x: number) => x.toLocaleString("en-US");
  const { users, items, optimizer } = summary;
  const state = optimizer.carried
    ? `${optimizer.from} state carried (step ${n(optimizer.step)})`
    : `optimizer state fresh (the checkpoint's is ${optimizer.from})`;
  return `initialised from ${summary.dir} (epoch ${summary.epoch}): ` +
    `${n(users.known)} of ${n(users.total)} users and ${n(items.known)} of ${n(items.total)} ` +
    `items known; ${n(users.total - users.known)} users and ${
      n(items.total - items.known)
    } items new; ${state}`;
}

/** For each new dense id, the checkpoint's dense id of the same raw id, or -1. */
interface _RowMap {
  map: Int32Array;
  known: number;
  /** Rows of the checkpoint. */
  rows: number;
}

function _rowMap(held: RawIds, now: RawIds): _RowMap {
  const index = new RawIdIndex(held);
  const map = new Int32Array(now.length);
  let known = 0;
  for (let i = 0; i < now.length; i++) {
    map[i] = index.find(now[i]);
    if (map[i] >= 0) known++;
  }
  return { map, known, rows: held.length };
}

/** How one tensor is carried over: whole (`rows` null) or row by row. */
interface _TensorPlan {
  entry: _Entry;
  rows: _RowMap | null;
  /** Values the checkpoint's tensor holds. */
  length: number;
}

function _planTensor(
  entry: _Entry,
  checkpoint: LoadedModelCheckpoint,
  maps: { users: _RowMap; items: _RowMap },
): _TensorPlan {
  if (!entry.sparse) return { entry, rows: null, length: entry.length };
  const rows = entry.rowGroup === _USER_ROWS
    ? maps.users
    : entry.rowGroup === _ITEM_ROWS
    ? maps.items
    : undefined;
  if (rows === undefined || entry.rows !== rows.map.length) {
    throw new RangeError(
      `Cannot start from ${checkpoint.dir}: the model's row tensor '${entry.name}' (row group ` +
        `'${entry.rowGroup}', ${entry.rows} rows) is neither one row per user nor one per item`,
    );
  }
  return { entry, rows, length: rows.rows * entry.rowLength };
}

/** The checkpoint's `prefix/<name>` tensor of a plan, checked for size. */
function _source(
  checkpoint: LoadedModelCheckpoint,
  prefix: "param" | "adam_m" | "adam_v",
  plan: _TensorPlan,
): Float32Array {
  const key = `${prefix}/${plan.entry.name}`;
  const a = checkpoint.data.arrays[key];
  if (!(a instanceof Float32Array) || a.length !== plan.length) {
    const has = a === undefined ? "missing" : `${a.length} values of ${a.constructor.name}`;
    throw new SyntaxError(
      `Cannot start from ${checkpoint.dir}: its tensor ${key} is ${has}, expected ${plan.length} ` +
        "float32 values; the checkpoint is damaged or was not written by ncf",
    );
  }
  return a;
}

/** Copies `src` into `dst`: whole, or each known row to its new place. */
function _copyTensor(dst: Float32Array, src: Float32Array, plan: _TensorPlan): void {
  if (plan.rows === null) {
    dst.set(src);
    return;
  }
  const width = plan.entry.rowLength;
  const map = plan.rows.map;
  for (let row = 0; row < map.length; row++) {
    const from = map[row];
    if (from < 0) continue;
    dst.set(src.subarray(from * width, (from + 1) * width), row * width);
  }
}

/** "8 factors", "layers 64,32,16,8", "mf regularization 0.01"; "no <key>" when absent. */
function _describeSetting(key: string, value: unknown): string {
  if (key === "numFactors" && typeof value === "number") return `${value} factors`;
  const words = key.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`);
  if (value === undefined) return `no ${words}`;
  return `${words} ${Array.isArray(value) ? value.join(",") : JSON.stringify(value)}`;
}
