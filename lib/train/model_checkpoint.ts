/**
 * What a trainer checkpoint holds and how a model is rebuilt from it:
 * weights, optimizer state, progress, the PRNG state, the metrics so far,
 * and the data set's id maps and seen items (so `recommend` and `export`
 * need no data files).
 *
 * Id maps: integer raw ids are the `f64` arrays `user_ids` and `item_ids`
 * (as in every checkpoint before string ids, so numeric runs write the same
 * bytes). String raw ids are `user_id_bytes` (`u8`: the UTF-8 text of every
 * id, one after another) with `user_id_offsets` (`u32`, numUsers + 1: where
 * each id's bytes begin, then the total), and likewise `item_id_bytes` and
 * `item_id_offsets`. The format `version` stays 1: an ncf from before
 * string ids refuses such a checkpoint, saying it cannot read an array of
 * type "u8".
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { isStringIds, type RawIds } from "../data/raw_ids.ts";
import type { Dataset } from "../data/types.ts";
import { SettingError } from "../errors.ts";
import type { Model, ModelConfig } from "../model/model.ts";
import { buildModel } from "../model/registry.ts";
import type { Optimizer, OptimizerState } from "../optim/optimizer.ts";
import type { OptimizerKind } from "../optim/optimizers.ts";
import {
  CHECKPOINT_FILE,
  type CheckpointArray,
  type CheckpointData,
  loadCheckpoint,
  saveCheckpoint,
} from "./checkpoint_file.ts";
import type { FileWriter } from "../io/atomic_write.ts";
import type { BackendChoice } from "../flags/specs.ts";

/**
 * The model checkpoint format's version: what `meta.version` says. An ncf
 * refuses a checkpoint of a larger version with a message to upgrade,
 * rather than misreading it.
 */
export const MODEL_CHECKPOINT_VERSION = 1;

/** HR, NDCG and coverage at one cutoff K. */
export interface CutoffRecord {
  k: number;
  hr: number;
  ndcg: number;
  coverage?: number | undefined;
}

/** One evaluation's record (flattened, a line of `--metrics_file`). */
export interface EvalRecord {
  epoch: number;
  /** 1-based, as epochs. */
  cycle: number;
  /** HR at the first K, of the test item, by the run's protocol. */
  hr: number;
  ndcg: number;
  loss: number;
  train_examples_per_sec: number;
  eval_seconds: number;
  wall_seconds: number;
  /** `sampled` or `full` (absent in checkpoints from before the protocols). */
  protocol?: string | undefined;
  /** Mean reciprocal rank of the test item over the whole ranked list. */
  mrr?: number | undefined;
  /** Every cutoff of `--eval_k`. */
  byK?: CutoffRecord[] | undefined;
  /** With `--validation`: the validation item's metrics (they select the best epoch). */
  valid?: { hr: number; ndcg: number; mrr: number; byK: CutoffRecord[] } | undefined;
}

/**
 * The HR@K that selects the best epoch: the validation item's with
 * `--validation`, else the test item's (the paper's protocol).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { selectionHr } from "./model_checkpoint.ts";
 * assert.equal(selectionHr({ hr: 0.5 }), 0.5);
 * assert.equal(selectionHr({ hr: 0.5, valid: { hr: 0.4, ndcg: 0.2, mrr: 0.1, byK: [] } }), 0.4);
 * ```
 */
export function selectionHr(record: Pick<EvalRecord, "hr" | "valid">): number {
  return record.valid?.hr ?? record.hr;
}

/** The JSON part of a model checkpoint. */
export interface ModelCheckpointMeta {
  format: "ncf-model";
  /** {@linkcode MODEL_CHECKPOINT_VERSION} when written; a reader refuses a larger one. */
  version: number;
  /** The model's config (its `kind`, sizes and hyper-parameters), as the registry rebuilds it. */
  model: ModelConfig & Record<string, unknown>;
  optimizer: {
    kind: OptimizerKind;
    step: number;
    learningRate: number;
    /** Adam's hyper-parameters (absent for SGD). */
    beta1?: number;
    beta2?: number;
    epsilon?: number;
  };
  run: {
    seed: number;
    dataset: string;
    /** A hash of the data split, to refuse resuming on other data. */
    dataFingerprint: string;
    cyclesDone: number;
    epochsDone: number;
    epochsBetweenEvals: number;
    trainEpochs: number;
    batchSize: number;
    numNeg: number;
    spillover: boolean;
    /** Whether early stopping ended the run. */
    finished: boolean;
    /** Backend name and OpenBLAS threads of the run (absent in older checkpoints). */
    backend?: string;
    blasThreads?: number;
  };
  /** The model's own PRNG state (its initialisation stream). */
  prngState: number[];
  /** Every evaluation so far. */
  history: EvalRecord[];
}

/**
 * A 64-bit FNV-1a-style fingerprint of a data set's split (sizes, training
 * positives, held-out items, evaluation negatives), as hex.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dataFingerprint } from "./model_checkpoint.ts";
 * const ds = {
 *   numUsers: 1, numItems: 3, trainOffsets: Int32Array.of(0, 1), trainItems: Int32Array.of(2),
 *   evalItems: Int32Array.of(0), evalNegOffsets: Int32Array.of(0, 1), evalNegatives: Int32Array.of(1),
 * };
 * assert.equal(dataFingerprint(ds), dataFingerprint({ ...ds }));
 * assert.notEqual(dataFingerprint(ds), dataFingerprint({ ...ds, evalNegatives: Int32Array.of(2) }));
 * ```
 */
export function dataFingerprint(
  ds: Pick<
    Dataset,
    | "numUsers"
    | "numItems"
    | "trainOffsets"
    | "trainItems"
    | "evalItems"
    | "evalNegOffsets"
    | "evalNegatives"
  >,
): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  const mix = (x: number) => {
    a = Math.imul(a ^ x, 0x01000193);
    b = Math.imul(b ^ (x + 0x9e3779b9), 0x85ebca6b);
  };
  mix(ds.numUsers);
  mix(ds.numItems);
  for (
    const arr of [ds.trainOffsets, ds.trainItems, ds.evalItems, ds.evalNegOffsets, ds.evalNegatives]
  ) {
    mix(arr.length);
    for (let i = 0; i < arr.length; i++) mix(arr[i]);
  }
  return (a >>> 0).toString(16).padStart(8, "0") + (b >>> 0).toString(16).padStart(8, "0");
}

/** The data a checkpoint keeps for `recommend` and `export`. */
export interface CheckpointDataMaps {
  /** Raw id of each dense user id (integers, or strings as written in the data). */
  userIds: RawIds;
  /** Raw id of each dense item id (integers, or strings as written in the data). */
  itemIds: RawIds;
  /** CSR offsets into `trainItems`, numUsers + 1. */
  trainOffsets: Int32Array;
  /** Each user's training items. */
  trainItems: Int32Array;
  /** Each user's held-out item. */
  evalItems: Int32Array;
}

/** The checkpoint arrays of one id map (`kind` "user" or "item"); see the module doc. */
function _idArrays(kind: "user" | "item", ids: RawIds): Record<string, CheckpointArray> {
  if (!isStringIds(ids)) return { [`${kind}_ids`]: ids };
  const encoder = new TextEncoder();
  const offsets = new Uint32Array(ids.length + 1);
  let total = 0;
  for (let i = 0; i < ids.length; i++) {
    total += encoder.encode(ids[i]).length;
    offsets[i + 1] = total;
  }
  const bytes = new Uint8Array(total);
  for (let i = 0; i < ids.length; i++) encoder.encodeInto(ids[i], bytes.subarray(offsets[i]));
  return { [`${kind}_id_bytes`]: bytes, [`${kind}_id_offsets`]: offsets };
}

/**
 * The id map `kind` of checkpoint `arrays`, checked to hold `count` ids;
 * `undefined` when it is missing or malformed.
 */
function _readIds(
  arrays: Record<string, CheckpointArray>,
  kind: "user" | "item",
  count: number,
): RawIds | undefined {
  const numeric = arrays[`${kind}_ids`];
  if (numeric !== undefined) {
    return numeric instanceof Float64Array && numeric.length === count ? numeric : undefined;
  }
  const bytes = arrays[`${kind}_id_bytes`];
  const offsets = arrays[`${kind}_id_offsets`];
  if (
    !(bytes instanceof Uint8Array) || !(offsets instanceof Uint32Array) ||
    offsets.length !== count + 1 || offsets[0] !== 0 || offsets[count] !== bytes.length
  ) {
    return undefined;
  }
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const ids: string[] = new Array(count);
  try {
    for (let i = 0; i < count; i++) {
      if (offsets[i + 1] < offsets[i]) return undefined;
      ids[i] = decoder.decode(bytes.subarray(offsets[i], offsets[i + 1]));
    }
  } catch {
    return undefined; // not UTF-8
  }
  return ids;
}

/**
 * Writes the checkpoint of `model` and its optimizer into `dir` atomically.
 */
export async function saveModelCheckpoint(
  dir: string,
  trained: { model: Model; optimizer: Optimizer },
  options: {
    dataset: Dataset;
    run: ModelCheckpointMeta["run"];
    prngState: Uint32Array;
    history: EvalRecord[];
    writer?: FileWriter | undefined;
  },
): Promise<string> {
  const { model, optimizer } = trained;
  const { config, parameters } = model;
  const state = optimizer.getState();
  const arrays: Record<string, CheckpointArray> = {};
  for (const e of parameters.entries) {
    arrays[`param/${e.name}`] = e.values;
    if (optimizer.kind === "sgd") continue; // no moments
    arrays[`adam_m/${e.name}`] = state.m[e.name];
    arrays[`adam_v/${e.name}`] = state.v[e.name];
  }
  const ds = options.dataset;
  Object.assign(arrays, _idArrays("user", ds.userIds), _idArrays("item", ds.itemIds), {
    train_offsets: ds.trainOffsets,
    train_items: ds.trainItems,
    eval_items: ds.evalItems,
  });
  const meta: ModelCheckpointMeta = {
    format: "ncf-model",
    version: MODEL_CHECKPOINT_VERSION,
    model: JSON.parse(JSON.stringify(config)),
    optimizer: {
      kind: optimizer.kind,
      step: state.step,
      learningRate: optimizer.learningRate,
      ...(optimizer.beta1 === undefined ? {} : { beta1: optimizer.beta1 }),
      ...(optimizer.beta2 === undefined ? {} : { beta2: optimizer.beta2 }),
      ...(optimizer.epsilon === undefined ? {} : { epsilon: optimizer.epsilon }),
    },
    run: options.run,
    prngState: [...options.prngState],
    history: options.history,
  };
  return await saveCheckpoint(dir, { meta, arrays }, { writer: options.writer });
}

/** A loaded model checkpoint. */
export interface LoadedModelCheckpoint {
  meta: ModelCheckpointMeta;
  data: CheckpointData<ModelCheckpointMeta>;
  maps: CheckpointDataMaps;
  /** The model folder it was read from. */
  dir: string;
  /** The checkpoint file (`<dir>/checkpoint.ncf`). */
  path: string;
}

/** Options of {@linkcode loadModelCheckpoint}. */
export interface LoadModelCheckpointOptions {
  /**
   * The setting that named the folder (e.g. "model_dir"): a path that is no
   * model folder is then a `SettingError` naming it.
   */
  setting?: string | undefined;
}

/**
 * The model folder `path` names: the folder itself, or the folder of a
 * `checkpoint.ncf` named directly.
 * @throws {Deno.errors.NotFound} (or `SettingError` with `setting`) when
 *   `path` is missing, another file, or a folder without a checkpoint.
 */
async function _modelFolder(path: string, setting: string | undefined): Promise<string> {
  const refuse = (state: string) => {
    const message = `Cannot load a model from ${path}: ${state}; expected a trained model's ` +
      `folder (the model_dir given to the trainer), holding ${CHECKPOINT_FILE}`;
    return setting === undefined
      ? new Deno.errors.NotFound(message)
      : new SettingError(setting, message);
  };
  const info = await Deno.stat(path).catch((e) => {
    // NotADirectory: a file on the way, as in `<dir>/checkpoint.ncf/checkpoint.ncf`.
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
      throw refuse("it does not exist");
    }
    throw e;
  });
  if (info.isFile) {
    if (basename(path) === CHECKPOINT_FILE) return dirname(path);
    throw refuse("it is a file");
  }
  const checkpoint = await Deno.stat(join(path, CHECKPOINT_FILE)).catch((e) => {
    if (e instanceof Deno.errors.NotFound) throw refuse(`it holds no ${CHECKPOINT_FILE}`);
    throw e;
  });
  if (!checkpoint.isFile) throw refuse(`its ${CHECKPOINT_FILE} is not a file`);
  return path;
}

/**
 * Reads and checks the checkpoint of the model folder `path` (or of the
 * `checkpoint.ncf` file `path` names).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadModelCheckpoint } from "./model_checkpoint.ts";
 * const empty = await Deno.makeTempDir();
 * await assert.rejects(
 *   () => loadModelCheckpoint(empty, { setting: "model_dir" }),
 *   (e: Error) => e.name === "SettingError" && /it holds no checkpoint\.ncf/.test(e.message),
 * );
 * await Deno.remove(empty);
 * ```
 * @throws {Deno.errors.NotFound} (or `SettingError` naming `options.setting`)
 *   when `path` is no model folder; `SyntaxError` when the checkpoint is not
 *   a readable model checkpoint.
 */
export async function loadModelCheckpoint(
  path: string,
  options: LoadModelCheckpointOptions = {},
): Promise<LoadedModelCheckpoint> {
  const dir = await _modelFolder(path, options.setting);
  const data = await loadCheckpoint<ModelCheckpointMeta>(dir);
  const meta = data.meta;
  if (meta?.format !== "ncf-model" || !Number.isInteger(meta.version) || meta.version < 1) {
    throw new SyntaxError(`Cannot read checkpoint in ${dir}: not an ncf model checkpoint`);
  }
  if (meta.version > MODEL_CHECKPOINT_VERSION) {
    throw new SyntaxError(
      `Cannot read checkpoint in ${dir}: it is format version ${meta.version}, written by a newer ncf (this one reads version ${MODEL_CHECKPOINT_VERSION}); upgrade ncf to read it`,
    );
  }
  const bad = (what: string) =>
    new SyntaxError(`Cannot read checkpoint in ${dir}: its ${what} do not fit the model`);
  const a = data.arrays;
  const { numUsers, numItems } = meta.model;
  const userIds = _readIds(a, "user", numUsers);
  if (userIds === undefined) throw bad(`user ids (${numUsers} users)`);
  const itemIds = _readIds(a, "item", numItems);
  if (itemIds === undefined) throw bad(`item ids (${numItems} items)`);
  const maps = {
    userIds,
    itemIds,
    trainOffsets: a.train_offsets as Int32Array,
    trainItems: a.train_items as Int32Array,
    evalItems: a.eval_items as Int32Array,
  };
  if (
    !(maps.trainOffsets instanceof Int32Array) ||
    maps.trainOffsets.length !== numUsers + 1 ||
    !(maps.trainItems instanceof Int32Array) ||
    !(maps.evalItems instanceof Int32Array) || maps.evalItems.length !== numUsers
  ) {
    throw bad("id maps");
  }
  return { meta, data, maps, dir, path: join(dir, CHECKPOINT_FILE) };
}

/**
 * Builds the checkpointed model with its weights (on the kernel set
 * `backend` selects; default "auto").
 */
export function modelFromCheckpoint(
  checkpoint: LoadedModelCheckpoint,
  options: {
    backend?: BackendChoice | undefined;
    blasThreads?: number | undefined;
    maxBatchSize?: number | undefined;
  } = {},
): Model {
  const model = buildModel(checkpoint.meta.model, options);
  restoreModelState(model, checkpoint);
  return model;
}

/** The checkpoint tensor `key`, checked to hold `length` float32 values. */
function _tensor(checkpoint: LoadedModelCheckpoint, key: string, length: number): Float32Array {
  const a = checkpoint.data.arrays[key];
  if (!(a instanceof Float32Array) || a.length !== length) {
    throw new SyntaxError(
      `Cannot restore the model: checkpoint tensor ${key} is missing or the wrong size`,
    );
  }
  return a;
}

/**
 * Copies a checkpoint's weights into `model` (same architecture) and
 * refreshes its evaluation caches.
 */
export function restoreModelState(model: Model, checkpoint: LoadedModelCheckpoint): void {
  const values: Record<string, Float32Array> = {};
  for (const e of model.parameters.entries) {
    values[e.name] = _tensor(checkpoint, `param/${e.name}`, e.length);
  }
  model.parameters.restore(values);
  model.prepareEval();
}

/**
 * Copies a checkpoint's optimizer state (step count and moments) into
 * `optimizer`, built over `model`'s parameters.
 */
export function restoreOptimizerState(
  optimizer: Optimizer,
  model: Model,
  checkpoint: LoadedModelCheckpoint,
): void {
  const { meta } = checkpoint;
  const state: OptimizerState = {
    kind: meta.optimizer.kind,
    step: meta.optimizer.step,
    m: {},
    v: {},
  };
  if (state.kind !== "sgd") {
    for (const e of model.parameters.entries) {
      state.m[e.name] = _tensor(checkpoint, `adam_m/${e.name}`, e.length);
      state.v[e.name] = _tensor(checkpoint, `adam_v/${e.name}`, e.length);
    }
  }
  optimizer.setState(state);
}

/** The tensors of a checkpoint's model, by name (for models built from trained parts). */
export function checkpointTensors(checkpoint: LoadedModelCheckpoint): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const [key, a] of Object.entries(checkpoint.data.arrays)) {
    if (key.startsWith("param/") && a instanceof Float32Array) out[key.slice(6)] = a;
  }
  return out;
}
