/**
 * The models by `--model` name: one registry line per model, mapping the
 * name to a builder. Everything outside `lib/model/` builds, rebuilds and
 * lists models through this file, never through a concrete model.
 *
 * Adding a model: write `lib/model/<name>.ts` implementing `Model`
 * (model.ts), add its line to {@linkcode _REGISTRY}, and its tests.
 *
 * @module
 */

import type { Kernels } from "../kernels/kernels.ts";
import { type BackendChoice, selectKernels } from "../kernels/select_kernels.ts";
import type { Prng } from "../random/prng.ts";
import { MF, type MFConfig } from "./mf.ts";
import type { Model, ModelConfig, ModelSpec } from "./model.ts";
import { NeuMF, type NeuMFConfig, type NeuMFKind } from "./neumf.ts";

/** The hyper-parameters a model may take from the trainer's flags. */
export interface ModelHyperParameters {
  /** Users of the data. */
  numUsers: number;
  /** Items of the data. */
  numItems: number;
  /** Embedding size of the factor (GMF) branch. */
  numFactors: number;
  /** MLP layer sizes (the first is the concatenated embeddings). */
  layers: readonly number[];
  /** L2 weight of the factor embedding rows a batch looks up. */
  mfRegularization: number;
  /** L2 weight of the MLP embedding rows a batch looks up. */
  mlpRegularization: number;
  /** Standard deviation of the embeddings' normal initialisation (default 0.01, the paper's). */
  initStddev?: number | undefined;
}

/** The embeddings' initial standard deviation when none is given (the NCF paper's). */
const _INIT_STDDEV = 0.01;

/** How a model is built. */
export interface BuildOptions {
  /** The kernel set (default: chosen from `backend`). */
  kernels?: Kernels | undefined;
  /** `--backend`, when `kernels` is not given (default "auto"). */
  backend?: BackendChoice | undefined;
  /** OpenBLAS threads of the blas set (default 1). */
  blasThreads?: number | undefined;
  /** Source of the initial weights. */
  prng?: Prng | undefined;
  /** Rows the training buffers hold at first (default 256). */
  maxBatchSize?: number | undefined;
}

/** One registry line. */
interface _Entry {
  /** One line for `--help`. */
  summary: string;
  /** The serialisable config of the flags' hyper-parameters. */
  config(hyper: ModelHyperParameters): ModelConfig;
  /** A model of `config`, freshly initialised. */
  build(config: ModelConfig, kernels: Kernels, options: BuildOptions): Model;
  /** The kinds of the trained parts it can start from (`--pretrain_*`), if any. */
  pretrainedFrom?: readonly string[];
}

function _neumf(kind: NeuMFKind, summary: string, pretrainedFrom?: readonly string[]): _Entry {
  return {
    summary,
    config: (h) => ({
      kind,
      numUsers: h.numUsers,
      numItems: h.numItems,
      numFactors: h.numFactors,
      layers: [...h.layers],
      mfRegularization: h.mfRegularization,
      mlpRegularization: h.mlpRegularization,
      initStddev: h.initStddev ?? _INIT_STDDEV,
    }),
    build: (config, kernels, o) => {
      const c = config as NeuMFConfig;
      return new NeuMF({
        kind,
        numUsers: c.numUsers,
        numItems: c.numItems,
        numFactors: c.numFactors,
        layers: c.layers,
        mfRegularization: c.mfRegularization,
        mlpRegularization: c.mlpRegularization,
        // Checkpoints written before the setting existed lack it: the paper's 0.01.
        initStddev: c.initStddev ?? _INIT_STDDEV,
        kernels,
        ...(o.prng === undefined ? {} : { prng: o.prng }),
        ...(o.maxBatchSize === undefined ? {} : { maxBatchSize: o.maxBatchSize }),
      });
    },
    ...(pretrainedFrom === undefined ? {} : { pretrainedFrom }),
  };
}

/** The MF line: a dot product with biases, its own per-example SGD path. */
const _MF_ENTRY: _Entry = {
  summary: "matrix factorisation with biases: b + b_u + b_i + ⟨p_u, q_i⟩ (Rendle et al. 2020)",
  config: (h): MFConfig => ({
    kind: "MF",
    numUsers: h.numUsers,
    numItems: h.numItems,
    numFactors: h.numFactors,
    mfRegularization: h.mfRegularization,
    initStddev: h.initStddev ?? _INIT_STDDEV,
  }),
  build: (config, kernels, o) => {
    const c = config as MFConfig;
    return new MF({
      numUsers: c.numUsers,
      numItems: c.numItems,
      numFactors: c.numFactors,
      mfRegularization: c.mfRegularization,
      initStddev: c.initStddev ?? _INIT_STDDEV,
      kernels,
      ...(o.prng === undefined ? {} : { prng: o.prng }),
      ...(o.maxBatchSize === undefined ? {} : { maxBatchSize: o.maxBatchSize }),
    });
  },
};

const _REGISTRY = {
  GMF: _neumf("GMF", "generalised matrix factorisation: user ⊙ item embeddings"),
  MLP: _neumf("MLP", "user and item embeddings through ReLU layers"),
  NeuMF: _neumf("NeuMF", "GMF and MLP fused into one output (He et al. 2017)", ["GMF", "MLP"]),
  MF: _MF_ENTRY,
} as const satisfies Record<string, _Entry>;

/** `--model` names, in the order help lists them. */
export const MODELS = Object.keys(_REGISTRY) as (keyof typeof _REGISTRY)[];

/** One of {@linkcode MODELS}. */
export type ModelKind = keyof typeof _REGISTRY;

/**
 * Whether `kind` names a model.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isModelKind } from "./registry.ts";
 * assert.ok(isModelKind("NeuMF") && !isModelKind("SVD"));
 * ```
 */
export function isModelKind(kind: unknown): kind is ModelKind {
  return typeof kind === "string" && Object.hasOwn(_REGISTRY, kind);
}

function _entry(kind: string): _Entry {
  if (!isModelKind(kind)) {
    throw new RangeError(`Cannot build model '${kind}': the models are ${MODELS.join(", ")}`);
  }
  return _REGISTRY[kind];
}

/**
 * The kinds of trained models `kind` can start from (the paper's
 * pretraining), or an empty list.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pretrainedPartsOf } from "./registry.ts";
 * assert.deepEqual(pretrainedPartsOf("NeuMF"), ["GMF", "MLP"]);
 * assert.deepEqual(pretrainedPartsOf("GMF"), []);
 * ```
 */
export function pretrainedPartsOf(kind: string): readonly string[] {
  return _entry(kind).pretrainedFrom ?? [];
}

/**
 * The serialisable config of a `kind` model with the flags' hyper-parameters.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { modelConfig } from "./registry.ts";
 * const c = modelConfig("GMF", {
 *   numUsers: 3, numItems: 4, numFactors: 8, layers: [16, 8], mfRegularization: 0,
 *   mlpRegularization: 0,
 * });
 * assert.equal(c.kind, "GMF");
 * ```
 */
export function modelConfig(kind: string, hyper: ModelHyperParameters): ModelConfig {
  return _entry(kind).config(hyper);
}

/**
 * A freshly initialised model of `config` on the kernel set of
 * `options.kernels`, or the one `--backend` `options.backend` selects.
 *
 * @throws {RangeError} on an unknown kind or an impossible configuration.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildModel, modelConfig } from "./registry.ts";
 * const config = modelConfig("NeuMF", {
 *   numUsers: 3, numItems: 4, numFactors: 4, layers: [8, 4], mfRegularization: 0,
 *   mlpRegularization: 0,
 * });
 * const model = buildModel(config, { backend: "ts" });
 * const out = new Float32Array(2);
 * model.scoreUserItems(0, Int32Array.of(1, 2), { out });
 * assert.ok(Number.isFinite(out[0]) && model.kernels.name === "ts");
 * ```
 */
export function buildModel(config: ModelConfig, options: BuildOptions = {}): Model {
  const entry = _entry(config.kind);
  const kernels = options.kernels ??
    selectKernels(options.backend ?? "auto", { blasThreads: options.blasThreads ?? 1 });
  return entry.build(config, kernels, options);
}

/**
 * Rebuilds a model from its spec (an evaluation worker's copy; the weights
 * are set afterwards).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildModel, modelConfig, modelSpec, rebuildModel } from "./registry.ts";
 * const config = modelConfig("MLP", {
 *   numUsers: 3, numItems: 4, numFactors: 4, layers: [8, 4], mfRegularization: 0,
 *   mlpRegularization: 0,
 * });
 * const model = buildModel(config, { backend: "ts" });
 * const copy = rebuildModel(modelSpec(model, { blasThreads: 1 }));
 * assert.deepEqual(copy.config, model.config);
 * ```
 */
export function rebuildModel(spec: ModelSpec, options: { maxBatchSize?: number } = {}): Model {
  return buildModel(spec.config, {
    backend: spec.backend,
    blasThreads: spec.blasThreads,
    maxBatchSize: options.maxBatchSize ?? 1,
  });
}

/**
 * The spec of `model` that {@linkcode rebuildModel} rebuilds it from.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildModel, modelConfig, modelSpec } from "./registry.ts";
 * const config = modelConfig("GMF", {
 *   numUsers: 3, numItems: 4, numFactors: 4, layers: [8], mfRegularization: 0,
 *   mlpRegularization: 0,
 * });
 * assert.equal(modelSpec(buildModel(config, { backend: "ts" }), { blasThreads: 1 }).backend, "ts");
 * ```
 */
export function modelSpec(model: Model, options: { blasThreads: number }): ModelSpec {
  return {
    config: JSON.parse(JSON.stringify(model.config)),
    backend: model.kernels.name,
    blasThreads: options.blasThreads,
  };
}
