/**
 * What a trainer checkpoint holds and how a model is rebuilt from it:
 * weights, optimizer state, progress, the PRNG state, the metrics so far,
 * and the data set's id maps and seen items (so `recommend` and `export`
 * need no data files).
 *
 * @module
 */

import type { Dataset } from "../data/types.ts";
import type { Model, ModelConfig } from "../model/model.ts";
import { buildModel } from "../model/registry.ts";
import type { Optimizer, OptimizerState } from "../optim/optimizer.ts";
import type { OptimizerKind } from "../optim/optimizers.ts";
import {
  type CheckpointArray,
  type CheckpointData,
  loadCheckpoint,
  saveCheckpoint,
} from "./checkpoint_file.ts";
import type { FileWriter } from "../io/atomic_write.ts";
import type { BackendChoice } from "../flags/specs.ts";

/** One evaluation's record (also a line of `--metrics_file`). */
export interface EvalRecord {
  epoch: number;
  cycle: number;
  hr: number;
  ndcg: number;
  loss: number;
  train_examples_per_sec: number;
  eval_seconds: number;
  wall_seconds: number;
}

/** The JSON part of a model checkpoint. */
export interface ModelCheckpointMeta {
  format: "ncf-model";
  version: 1;
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
  userIds: Float64Array;
  itemIds: Float64Array;
  trainOffsets: Int32Array;
  trainItems: Int32Array;
  evalItems: Int32Array;
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
    writer?: FileWriter;
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
  Object.assign(arrays, {
    user_ids: ds.userIds,
    item_ids: ds.itemIds,
    train_offsets: ds.trainOffsets,
    train_items: ds.trainItems,
    eval_items: ds.evalItems,
  });
  const meta: ModelCheckpointMeta = {
    format: "ncf-model",
    version: 1,
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
}

/**
 * Reads and checks the checkpoint in `dir`.
 */
export async function loadModelCheckpoint(dir: string): Promise<LoadedModelCheckpoint> {
  const data = await loadCheckpoint<ModelCheckpointMeta>(dir);
  const meta = data.meta;
  if (meta?.format !== "ncf-model" || meta.version !== 1) {
    throw new SyntaxError(`Cannot read checkpoint in ${dir}: not an ncf model checkpoint`);
  }
  const a = data.arrays;
  const maps = {
    userIds: a.user_ids as Float64Array,
    itemIds: a.item_ids as Float64Array,
    trainOffsets: a.train_offsets as Int32Array,
    trainItems: a.train_items as Int32Array,
    evalItems: a.eval_items as Int32Array,
  };
  if (
    !(maps.userIds instanceof Float64Array) || maps.userIds.length !== meta.model.numUsers ||
    !(maps.itemIds instanceof Float64Array) || maps.itemIds.length !== meta.model.numItems ||
    !(maps.trainOffsets instanceof Int32Array) ||
    maps.trainOffsets.length !== meta.model.numUsers + 1 ||
    !(maps.trainItems instanceof Int32Array) || !(maps.evalItems instanceof Int32Array)
  ) {
    throw new SyntaxError(`Cannot read checkpoint in ${dir}: its id maps do not fit the model`);
  }
  return { meta, data, maps };
}

/**
 * Builds the checkpointed model with its weights (on the kernel set
 * `backend` selects; default "auto").
 */
export function modelFromCheckpoint(
  checkpoint: LoadedModelCheckpoint,
  options: { backend?: BackendChoice; blasThreads?: number; maxBatchSize?: number } = {},
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
