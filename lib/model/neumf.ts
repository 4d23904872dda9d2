/**
 * NeuMF (He et al. 2017): a GMF branch (user ⊙ item embeddings of
 * `numFactors`) and an MLP branch (user and item embeddings of `layers[0]/2`
 * each, concatenated, then ReLU dense layers `layers[1..]`), concatenated as
 * `[gmf, mlp]` into one output unit whose value is the logit. `kind: "GMF"`
 * or `"MLP"` keeps one branch only.
 *
 * Parameters (a {@linkcode Parameters} set, in this order):
 * `mf_user_embedding [numUsers×numFactors]`, `mf_item_embedding`,
 * `mlp_user_embedding [numUsers×layers[0]/2]`, `mlp_item_embedding`,
 * `dense_<l>_kernel [layers[l]×layers[l+1]]`, `dense_<l>_bias`, …,
 * `output_kernel [H×1]`, `output_bias [1]` (H = numFactors + layers[last]
 * for NeuMF). Kernels are `[inputs × outputs]`, `y = x·W + b`.
 *
 * Initialisation, all from one {@linkcode Prng}, in that order: embeddings
 * N(0, initStddev²) (default 0.01, the paper's), dense kernels Glorot-uniform (Keras' default, as
 * the TF reference), the output kernel LeCun-uniform (as the TF reference),
 * biases 0.
 *
 * Loss: mean sigmoid binary cross-entropy on the logits (or another
 * pointwise loss), plus the L2 penalty of the embedding rows the batch
 * looked up, as a per-example term averaged like the loss:
 * `(1/B)·Σ_b [mfReg·(‖P[u_b]‖² + ‖Q[i_b]‖²) + mlpReg·(‖U[u_b]‖² + ‖V[i_b]‖²)]`
 * (a row looked up k times counts k times; rows not in the batch are not
 * penalised, so the gradient stays row-sparse). Both coefficients default to 0.
 * A pairwise loss (`bpr`) on B triples (u, i, j) runs one forward and one
 * backward pass over the 2B rows `users‖users, items‖negItems`; its L2 term
 * counts each triple's user rows once and both item rows:
 * `(1/B)·Σ_b [mfReg·(‖P[u_b]‖² + ‖Q[i_b]‖² + ‖Q[j_b]‖²) + mlpReg·(…)]`.
 *
 * @module
 */

import type { GemmArgs } from "../kernels/gemm.ts";
import type { Kernels, MemoryPlan, ScoreRowsOptions } from "../kernels/kernels.ts";
import { Parameters, type ParameterSpec } from "../kernels/parameters.ts";
import { tsKernels } from "../kernels/ts_kernels.ts";
import { Prng } from "../random/prng.ts";
import { Dense } from "./dense.ts";
import { fillGlorotUniform, fillLecunUniform, fillNormal } from "./init.ts";
import type { TrainingLoss } from "./loss.ts";
import type { Batch, Model, ModelConfig, PretrainedPart, Stepper, TrainingBatch } from "./model.ts";
import type { ScoreGraph, ScoreStep, ScoreTensor } from "./score_graph.ts";
import { type TrainingRows, TrainingRowsBuilder } from "./_training_rows.ts";

/** Which branches the model has: the three `--model` names this file builds. */
export const NEUMF_KINDS = ["GMF", "MLP", "NeuMF"] as const;

/** One of {@linkcode NEUMF_KINDS}. */
export type NeuMFKind = typeof NEUMF_KINDS[number];

/** Constructor options of {@linkcode NeuMF}. */
export interface NeuMFOptions {
  /** Number of users (ids 0..numUsers-1). */
  numUsers: number;
  /** Number of items (ids 0..numItems-1). */
  numItems: number;
  /** Branches (default "NeuMF"). */
  kind?: NeuMFKind | undefined;
  /** GMF embedding size (default 8). */
  numFactors?: number | undefined;
  /** MLP sizes: `layers[0]` is the concatenated embedding size (even), the rest are ReLU layers (default [64, 32, 16, 8]). */
  layers?: readonly number[] | undefined;
  /** L2 coefficient of the GMF embedding rows looked up (default 0). */
  mfRegularization?: number | undefined;
  /** L2 coefficient of the MLP embedding rows looked up (default 0). */
  mlpRegularization?: number | undefined;
  /** Standard deviation of the embeddings' normal initialisation (default 0.01). */
  initStddev?: number | undefined;
  /** Rows the training buffers hold; bigger batches grow them (default 256). */
  maxBatchSize?: number | undefined;
  /** Source of the initial weights (default `new Prng(0)`). */
  prng?: Prng | undefined;
  /** The kernel set (default the TypeScript one); the model's memory is its. */
  kernels?: Kernels | undefined;
}

/** The resolved configuration of a {@linkcode NeuMF}. */
export interface NeuMFConfig extends ModelConfig {
  /** Branches. */
  readonly kind: NeuMFKind;
  /** GMF embedding size. */
  readonly numFactors: number;
  /** MLP sizes. */
  readonly layers: readonly number[];
  /** L2 coefficient of the GMF rows. */
  readonly mfRegularization: number;
  /** L2 coefficient of the MLP rows. */
  readonly mlpRegularization: number;
  /** Standard deviation of the embeddings' initialisation. */
  readonly initStddev: number;
}

/** Per-batch work buffers, all `capacity` rows. */
interface _Buffers {
  capacity: number;
  mfUser: Float32Array;
  mfItem: Float32Array;
  mfGrad: Float32Array;
  mlpInput: Float32Array;
  mlpInputGrad: Float32Array;
  acts: Float32Array[];
  actGrads: Float32Array[];
  head: Float32Array;
  headGrad: Float32Array;
  logits: Float32Array;
  logitGrad: Float32Array;
}

/**
 * A NeuMF / GMF / MLP model with its work buffers (its optimizer is built outside, in lib/optim).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NeuMF } from "./neumf.ts";
 * import { Prng } from "../random/prng.ts";
 * import { Sgd } from "../optim/sgd.ts";
 * const model = new NeuMF({ numUsers: 3, numItems: 4, layers: [8, 4], prng: new Prng(1) });
 * const batch = {
 *   users: Int32Array.of(0, 1, 2), items: Int32Array.of(1, 2, 3),
 *   labels: Int8Array.of(1, 0, 1), count: 3,
 * };
 * const first = model.trainStep(batch, { optimizer: new Sgd(model.parameters) });
 * assert.ok(first > 0.6 && first < 0.8); // ≈ ln 2 at init
 * const logits = new Float32Array(3);
 * model.predict(batch, logits);
 * const fast = new Float32Array(1);
 * model.scoreUserItems(1, Int32Array.of(2), { out: fast });
 * assert.ok(Math.abs(fast[0] - logits[1]) < 1e-5);
 * ```
 */
export class NeuMF implements Model {
  /** The resolved configuration. */
  readonly config: NeuMFConfig;
  /** Every trainable tensor, by name. */
  readonly parameters: Parameters;
  /** The kernel set. */
  readonly kernels: Kernels;

  readonly #gmf: boolean;
  readonly #mlp: boolean;
  readonly #nf: number;
  readonly #half: number;
  readonly #mlpOut: number;
  readonly #headSize: number;
  readonly #dense: Dense[];
  readonly #output: Dense;
  readonly #mfUserTable: Float32Array;
  readonly #mfItemTable: Float32Array;
  readonly #mfUserGrad: Float32Array;
  readonly #mfItemGrad: Float32Array;
  readonly #mlpUserTable: Float32Array;
  readonly #mlpItemTable: Float32Array;
  readonly #mlpUserGrad: Float32Array;
  readonly #mlpItemGrad: Float32Array;
  #buf: _Buffers;
  readonly #rows = new TrainingRowsBuilder();
  #gradsDirty = false;
  readonly #alloc: (length: number) => Float32Array;

  // Fast evaluation path.
  #version = 0;
  #evalVersion = -1;
  #itemPart: Float32Array = new Float32Array(0);
  /** Per item `[GMF row | itemPart row]` (NeuMF only), so scoring reads one row. */
  #jointItems: Float32Array = new Float32Array(0);
  #jointWidth = 0;
  #score: ScoreRowsOptions;
  #userPart: Float32Array;
  #userPartGemm: GemmArgs;
  /** The user's GMF row times the output layer's GMF weights. */
  #userWeights: Float32Array;
  /** `logits += last activation · output weights of the MLP columns`. */
  #outputGemm: GemmArgs;
  #evalBuf: _Buffers | null = null;
  /** Buffers of {@linkcode NeuMF.scoreUsersAll}, made on first use. */
  #all: _AllBuffers | null = null;

  /**
   * Builds and initialises a model and its work buffers.
   * @param options See {@linkcode NeuMFOptions}.
   * @throws {RangeError} on an impossible configuration.
   */
  constructor(options: NeuMFOptions) {
    const model = options.kind ?? "NeuMF";
    const numFactors = options.numFactors ?? 8;
    const layers = [...(options.layers ?? [64, 32, 16, 8])];
    const { numUsers, numItems } = options;
    const mfRegularization = options.mfRegularization ?? 0;
    const mlpRegularization = options.mlpRegularization ?? 0;
    const initStddev = options.initStddev ?? 0.01;
    const fail = (state: string) => {
      throw new RangeError(`Cannot build ${model} model: ${state}`);
    };
    if (model !== "GMF" && model !== "MLP" && model !== "NeuMF") fail(`unknown model '${model}'`);
    if (!Number.isInteger(numUsers) || numUsers < 1) {
      fail(`numUsers ${numUsers} is not an integer ≥ 1`);
    }
    if (!Number.isInteger(numItems) || numItems < 1) {
      fail(`numItems ${numItems} is not an integer ≥ 1`);
    }
    this.#gmf = model !== "MLP";
    this.#mlp = model !== "GMF";
    if (this.#gmf && (!Number.isInteger(numFactors) || numFactors < 1)) {
      fail(`numFactors ${numFactors} is not an integer ≥ 1`);
    }
    if (this.#mlp) {
      if (layers.length < 1 || layers.some((l) => !Number.isInteger(l) || l < 1)) {
        fail(`layers [${layers}] must be integers ≥ 1`);
      }
      if (layers[0] % 2 !== 0) fail(`layers[0] = ${layers[0]} must be even (user and item halves)`);
    }
    if (!(mfRegularization >= 0) || !(mlpRegularization >= 0)) {
      fail(`regularization ${mfRegularization}, ${mlpRegularization} must be ≥ 0`);
    }
    if (!(initStddev > 0 && Number.isFinite(initStddev))) {
      fail(`initStddev ${initStddev} must be a finite number > 0`);
    }
    this.config = {
      kind: model,
      numUsers,
      numItems,
      numFactors,
      layers: Object.freeze(layers),
      mfRegularization,
      mlpRegularization,
      initStddev,
    };
    this.kernels = options.kernels ?? tsKernels;
    this.#nf = this.#gmf ? numFactors : 0;
    this.#half = this.#mlp ? layers[0] / 2 : 0;
    this.#mlpOut = this.#mlp ? layers[layers.length - 1] : 0;
    this.#headSize = this.#nf + this.#mlpOut;

    const numDense = this.#mlp ? layers.length - 1 : 0;
    const specs: ParameterSpec[] = [];
    if (this.#gmf) {
      specs.push({ name: "mf_user_embedding", shape: [numUsers, numFactors], ..._USER_ROWS });
      specs.push({ name: "mf_item_embedding", shape: [numItems, numFactors], ..._ITEM_ROWS });
    }
    if (this.#mlp) {
      specs.push({ name: "mlp_user_embedding", shape: [numUsers, this.#half], ..._USER_ROWS });
      specs.push({ name: "mlp_item_embedding", shape: [numItems, this.#half], ..._ITEM_ROWS });
    }
    for (let l = 0; l < numDense; l++) {
      specs.push({ name: `dense_${l}_kernel`, shape: [layers[l], layers[l + 1]] });
      specs.push({ name: `dense_${l}_bias`, shape: [layers[l + 1]] });
    }
    specs.push({ name: "output_kernel", shape: [this.#headSize, 1] });
    specs.push({ name: "output_bias", shape: [1] });
    const capacity = options.maxBatchSize ?? 256;
    if (!Number.isInteger(capacity) || capacity < 1) {
      fail(`maxBatchSize ${capacity} is not an integer ≥ 1`);
    }
    const memory = this.kernels.memory(_memoryPlan(specs, capacity, this.#sizes()));
    this.#alloc = (length: number) => memory.alloc(length);
    const params = new Parameters(specs, { kernels: this.kernels, memory });
    this.parameters = params;

    const prng = options.prng ?? new Prng(0);
    for (const e of params.entries) {
      if (e.sparse) fillNormal(e.values, prng, { std: initStddev });
      else if (e.name === "output_kernel") fillLecunUniform(e.values, prng, { fanIn: e.shape[0] });
      else if (e.name.endsWith("_kernel")) {
        fillGlorotUniform(e.values, prng, { fanIn: e.shape[0], fanOut: e.shape[1] });
      } // biases stay 0
    }

    const empty = new Float32Array(0);
    const view = (name: string, grads: boolean) =>
      params.has(name) ? (grads ? params.get(name).grads : params.get(name).values) : empty;
    this.#mfUserTable = view("mf_user_embedding", false);
    this.#mfItemTable = view("mf_item_embedding", false);
    this.#mfUserGrad = view("mf_user_embedding", true);
    this.#mfItemGrad = view("mf_item_embedding", true);
    this.#mlpUserTable = view("mlp_user_embedding", false);
    this.#mlpItemTable = view("mlp_item_embedding", false);
    this.#mlpUserGrad = view("mlp_user_embedding", true);
    this.#mlpItemGrad = view("mlp_item_embedding", true);

    const denseOf = (prefix: string, inputs: number, outputs: number) =>
      new Dense({
        inputs,
        outputs,
        kernel: params.get(`${prefix}_kernel`).values,
        bias: params.get(`${prefix}_bias`).values,
        kernelGrad: params.get(`${prefix}_kernel`).grads,
        biasGrad: params.get(`${prefix}_bias`).grads,
      }, { kernels: this.kernels });
    this.#dense = [];
    for (let l = 0; l < numDense; l++) {
      this.#dense.push(denseOf(`dense_${l}`, layers[l], layers[l + 1]));
    }
    this.#output = denseOf("output", this.#headSize, 1);

    this.#buf = this.#allocate(capacity);

    const firstOut = numDense > 0 ? layers[1] : 0;
    this.#userPart = this.#alloc(firstOut);
    this.#userPartGemm = {
      transA: false,
      transB: false,
      m: 1,
      n: firstOut,
      k: this.#half,
      alpha: 1,
      a: empty,
      lda: Math.max(1, this.#half),
      b: numDense > 0 ? this.#dense[0].params.kernel : empty,
      ldb: Math.max(1, firstOut),
      beta: 1,
      c: this.#userPart,
      ldc: Math.max(1, firstOut),
    };
    this.#userWeights = this.#alloc(Math.max(1, this.#nf));
    this.#outputGemm = {
      transA: false,
      transB: false,
      m: 0,
      n: 1,
      k: Math.max(1, this.#mlpOut),
      alpha: 1,
      a: empty,
      lda: Math.max(1, this.#mlpOut),
      b: this.#output.params.kernel.subarray(this.#nf),
      ldb: 1,
      beta: 1,
      c: empty,
      ldc: 1,
    };
    this.#score = {
      count: 0,
      gmf: empty,
      gmfStride: Math.max(1, this.#nf),
      nf: this.#nf,
      uw: this.#userWeights,
      base: 0,
      logits: empty,
      mlp: empty,
      mlpStride: Math.max(1, firstOut),
      mlpOffset: 0,
      width: this.#mlp ? firstOut : 0,
      userPart: this.#mlp ? this.#userPart : this.#userWeights,
      act: empty,
    };
  }

  /** One line for logs: the branches' sizes and the parameter count. */
  describe(): string {
    const c = this.config;
    const parts = [];
    if (this.#gmf) parts.push(`${c.numFactors} factors`);
    if (this.#mlp) parts.push(`layers ${c.layers.join(",")}`);
    parts.push(`${this.parameters.size.toLocaleString("en-US")} parameters`);
    return `${c.kind}: ${parts.join(", ")}`;
  }

  /**
   * The NCF paper's pretraining: a NeuMF starts from a trained GMF and a
   * trained MLP of matching sizes: embeddings and hidden layers as they
   * are, the output kernel `[α·h_GMF; (1 − α)·h_MLP]` and bias
   * `α·b_GMF + (1 − α)·b_MLP`.
   * @param parts One GMF and one MLP, in either order.
   * @param options `alpha`: the GMF's weight in the output layer.
   * @throws {RangeError} naming the part that does not fit (its `label`).
   */
  initFromParts(parts: readonly PretrainedPart[], options: { alpha: number }): void {
    const config = this.config;
    if (config.kind !== "NeuMF") {
      throw new RangeError(`Cannot pretrain: the model is ${config.kind}, not NeuMF`);
    }
    const fail = (part: PretrainedPart | undefined, kind: string, why: string): never => {
      throw new RangeError(`Cannot pretrain from ${part?.label ?? `the ${kind}`}: ${why}`);
    };
    const find = (kind: NeuMFKind) => {
      const part = parts.find((p) => p.config.kind === kind);
      if (part === undefined) {
        return fail(
          part,
          kind,
          `no ${kind} among the parts (${parts.map((p) => p.config.kind).join(", ")})`,
        );
      }
      const c = part.config as NeuMFConfig;
      if (c.numUsers !== config.numUsers || c.numItems !== config.numItems) {
        fail(
          part,
          kind,
          `it has ${c.numUsers} users × ${c.numItems} items, the data ${config.numUsers} × ${config.numItems}`,
        );
      }
      return { part, config: c, tensor: (name: string) => part.tensors[name] };
    };
    const gmf = find("GMF");
    const mlp = find("MLP");
    if (gmf.config.numFactors !== config.numFactors) {
      fail(gmf.part, "GMF", `num_factors ${gmf.config.numFactors}, expected ${config.numFactors}`);
    }
    if (mlp.config.layers.join() !== config.layers.join()) {
      fail(mlp.part, "MLP", `layers ${mlp.config.layers}, expected ${config.layers}`);
    }
    const alpha = options.alpha;
    const values: Record<string, Float32Array> = {};
    for (const e of this.parameters.entries) {
      if (e.name.startsWith("mf_")) values[e.name] = gmf.tensor(e.name);
      else if (e.name.startsWith("mlp_") || e.name.startsWith("dense_")) {
        values[e.name] = mlp.tensor(e.name);
      }
    }
    const gmfKernel = gmf.tensor("output_kernel");
    const mlpKernel = mlp.tensor("output_kernel");
    const kernel = new Float32Array(gmfKernel.length + mlpKernel.length);
    for (let i = 0; i < gmfKernel.length; i++) kernel[i] = alpha * gmfKernel[i];
    for (let i = 0; i < mlpKernel.length; i++) {
      kernel[gmfKernel.length + i] = (1 - alpha) * mlpKernel[i];
    }
    values.output_kernel = kernel;
    values.output_bias = Float32Array.of(
      alpha * gmf.tensor("output_bias")[0] + (1 - alpha) * mlp.tensor("output_bias")[0],
    );
    this.parameters.restore(values);
    this.prepareEval();
  }

  /** What sizing the arena needs: floats per batch row of the work buffers, the first layer's width, items, GMF width. */
  #sizes(): { perRow: number; firstOut: number; numItems: number; nf: number } {
    const layers = this.config.layers;
    const numDense = this.#mlp ? layers.length - 1 : 0;
    let acts = 0;
    for (let l = 1; l <= numDense; l++) acts += layers[l];
    return {
      perRow: 3 * this.#nf + 4 * this.#half + 2 * acts + 2 * this.#headSize + 2,
      firstOut: numDense > 0 ? layers[1] : 0,
      numItems: this.config.numItems,
      nf: this.#nf,
    };
  }

  /**
   * Runs the MLP's dense + ReLU layers from layer `from` on `x` (the input of
   * that layer); returns the last activation (`x` itself when no layer runs).
   */
  #denseStack(x: Float32Array, buf: _Buffers, o: { from: number; count: number }): Float32Array {
    const count = o.count;
    for (let l = o.from; l < this.#dense.length; l++) {
      const layer = this.#dense[l];
      const y = buf.acts[l];
      layer.forward(x, y, { count });
      this.kernels.relu(y, count * layer.outputs);
      x = y;
    }
    return x;
  }

  #allocate(capacity: number): _Buffers {
    const layers = this.config.layers;
    const f = (n: number) => this.#alloc(capacity * n);
    return {
      capacity,
      mfUser: f(this.#nf),
      mfItem: f(this.#nf),
      mfGrad: f(this.#nf),
      mlpInput: f(2 * this.#half),
      mlpInputGrad: f(2 * this.#half),
      acts: this.#dense.map((_, l) => f(layers[l + 1])),
      actGrads: this.#dense.map((_, l) => f(layers[l + 1])),
      head: f(this.#headSize),
      headGrad: f(this.#headSize),
      logits: f(1),
      logitGrad: f(1),
    };
  }

  #checkBatch(action: string, batch: Batch): void {
    const { users, items, count } = batch;
    if (!Number.isInteger(count) || count < 1 || users.length < count || items.length < count) {
      throw new RangeError(
        `Cannot ${action}: count ${count} with ${users.length} users and ${items.length} items`,
      );
    }
  }

  /** Forward pass of rows `[0, count)` into `buf.logits`. */
  #forward(users: Int32Array, items: Int32Array, count: number, buf: _Buffers): void {
    const H = this.#headSize;
    const head = buf.head;
    if (this.#gmf) {
      const nf = this.#nf;
      const { mfUser, mfItem } = buf;
      const k = this.kernels;
      k.gatherRows(this.#mfUserTable, users, { dim: nf, count, out: mfUser });
      k.gatherRows(this.#mfItemTable, items, { dim: nf, count, out: mfItem });
      k.mulRows(mfUser, mfItem, { sx: nf, sy: nf, out: head, so: H, rows: count, cols: nf });
    }
    if (this.#mlp) {
      const half = this.#half;
      const x0 = buf.mlpInput;
      this.kernels.gatherRows(this.#mlpUserTable, users, {
        dim: half,
        count,
        out: x0,
        stride: 2 * half,
      });
      this.kernels.gatherRows(this.#mlpItemTable, items, {
        dim: half,
        count,
        out: x0,
        stride: 2 * half,
        offset: half,
      });
      const last = this.#denseStack(x0, buf, { from: 0, count });
      this.kernels.copyColumns(last, head, { count, width: this.#mlpOut, to: H, at: this.#nf });
    }
    this.#output.forward(head, buf.logits, { count });
  }

  /** The rows of a training batch under its loss, checked. */
  #resolve(batch: TrainingBatch, loss: TrainingLoss | undefined, action: string): TrainingRows {
    const rows = this.#rows.resolve(batch, loss, action);
    this.#checkBatch(action, { users: rows.users, items: rows.items, count: rows.rows });
    return rows;
  }

  /** The mean loss of the rows whose logits are in `buf.logits`; gradients into `grad` when given. */
  #lossOf(rows: TrainingRows, buf: _Buffers, grad: Float32Array | null): number {
    const k = this.kernels;
    return rows.pointwise !== null
      ? rows.pointwise.loss.compute(k, buf.logits, rows.pointwise.labels, {
        count: rows.count,
        grad,
      })
      : rows.pairwise!.compute(k, buf.logits, { count: rows.count, grad });
  }

  /** Forward + backward; leaves the gradients in `parameters.grads`. */
  #forwardBackward(batch: TrainingBatch, lossFn: TrainingLoss | undefined): number {
    const rows = this.#resolve(batch, lossFn, "train on batch");
    const { users, items } = rows;
    // Rows of the passes; the L2 term counts each example's user once, every item row.
    const count = rows.rows;
    const examples = rows.count;
    if (this.#buf.capacity < count) this.#buf = this.#allocate(count);
    const buf = this.#buf;
    const k = this.kernels;
    this.#forward(users, items, count, buf);
    let loss = this.#lossOf(rows, buf, buf.logitGrad);
    const H = this.#headSize;
    this.#output.backward(buf.head, buf.logitGrad, { count, dx: buf.headGrad });
    const dHead = buf.headGrad;
    const userTouched = this.parameters.touchedRows("user");
    const itemTouched = this.parameters.touchedRows("item");
    const { mfRegularization, mlpRegularization } = this.config;

    if (this.#gmf) {
      const nf = this.#nf;
      const { mfUser, mfItem, mfGrad } = buf;
      k.mulRows(dHead, mfItem, { sx: H, sy: nf, out: mfGrad, so: nf, rows: count, cols: nf });
      k.scatterAddRows(this.#mfUserGrad, users, {
        dim: nf,
        count,
        src: mfGrad,
        touched: userTouched,
      });
      k.mulRows(dHead, mfUser, { sx: H, sy: nf, out: mfGrad, so: nf, rows: count, cols: nf });
      k.scatterAddRows(this.#mfItemGrad, items, {
        dim: nf,
        count,
        src: mfGrad,
        touched: itemTouched,
      });
      if (mfRegularization > 0) {
        const gradScale = 2 * mfRegularization / examples;
        const sum = k.l2RowPenalty(this.#mfUserTable, users, {
          dim: nf,
          count: examples,
          gradScale,
          grads: this.#mfUserGrad,
        }) +
          k.l2RowPenalty(this.#mfItemTable, items, {
            dim: nf,
            count,
            gradScale,
            grads: this.#mfItemGrad,
          });
        loss += mfRegularization * sum / examples;
      }
    }

    if (this.#mlp) {
      const half = this.#half;
      const dense = this.#dense;
      const last = dense.length - 1;
      const top = last >= 0 ? buf.actGrads[last] : buf.mlpInputGrad;
      k.copyColumns(dHead, top, { count, width: this.#mlpOut, from: H, at: this.#nf });
      for (let l = last; l >= 0; l--) {
        const layer = dense[l];
        const dy = buf.actGrads[l];
        k.reluBackward(buf.acts[l], dy, count * layer.outputs);
        layer.backward(l > 0 ? buf.acts[l - 1] : buf.mlpInput, dy, {
          count,
          dx: l > 0 ? buf.actGrads[l - 1] : buf.mlpInputGrad,
        });
      }
      const dx0 = buf.mlpInputGrad;
      k.scatterAddRows(this.#mlpUserGrad, users, {
        dim: half,
        count,
        src: dx0,
        stride: 2 * half,
        touched: userTouched,
      });
      k.scatterAddRows(this.#mlpItemGrad, items, {
        dim: half,
        count,
        src: dx0,
        stride: 2 * half,
        offset: half,
        touched: itemTouched,
      });
      if (mlpRegularization > 0) {
        const gradScale = 2 * mlpRegularization / examples;
        const sum = k.l2RowPenalty(this.#mlpUserTable, users, {
          dim: half,
          count: examples,
          gradScale,
          grads: this.#mlpUserGrad,
        }) +
          k.l2RowPenalty(this.#mlpItemTable, items, {
            dim: half,
            count,
            gradScale,
            grads: this.#mlpItemGrad,
          });
        loss += mlpRegularization * sum / examples;
      }
    }
    return loss;
  }

  /**
   * One training step: forward, backward, `optimizer.step()`.
   * @param batch Labelled pairs (pointwise loss) or triples (pairwise loss).
   * @param options `optimizer` (built on this model's `parameters`); `loss`
   *   (default sigmoid binary cross-entropy for labelled pairs, `bpr` for
   *   triples).
   * @returns The batch's loss before the update (the loss plus the L2 term).
   * @throws {TypeError} when the batch is not of the loss's kind.
   * @throws {RangeError} on a bad count or an id outside the tables.
   */
  trainStep(
    batch: TrainingBatch,
    options: { optimizer: Stepper; loss?: TrainingLoss },
  ): number {
    if (this.#gradsDirty) this.#zeroGrads();
    const loss = this.#forwardBackward(batch, options.loss);
    options.optimizer.step();
    this.#version++;
    return loss;
  }

  /**
   * Forward and backward without an update: the gradient of
   * {@linkcode NeuMF.loss} is left in `parameters.grads` (earlier unapplied
   * gradients are discarded first). For tests and diagnostics.
   * @returns The batch's loss.
   */
  computeGradients(batch: TrainingBatch, options: { loss?: TrainingLoss } = {}): number {
    this.#zeroGrads();
    const loss = this.#forwardBackward(batch, options.loss);
    this.#gradsDirty = true;
    return loss;
  }

  #zeroGrads(): void {
    this.parameters.clearGrads();
    this.#gradsDirty = false;
  }

  /**
   * The loss of a batch (mean BCE plus the L2 term), forward only.
   */
  loss(batch: TrainingBatch, options: { loss?: TrainingLoss } = {}): number {
    const rows = this.#resolve(batch, options.loss, "compute the loss");
    const buf = this.#buffersFor(rows.rows);
    this.#forward(rows.users, rows.items, rows.rows, buf);
    const k = this.kernels;
    let loss = this.#lossOf(rows, buf, null);
    const { users, items, count } = rows;
    const n = rows.rows;
    const { mfRegularization, mlpRegularization } = this.config;
    if (this.#gmf && mfRegularization > 0) {
      const dim = this.#nf;
      loss += mfRegularization / count *
        (k.l2RowPenalty(this.#mfUserTable, users, { dim, count }) +
          k.l2RowPenalty(this.#mfItemTable, items, { dim, count: n }));
    }
    if (this.#mlp && mlpRegularization > 0) {
      const dim = this.#half;
      loss += mlpRegularization / count *
        (k.l2RowPenalty(this.#mlpUserTable, users, { dim, count }) +
          k.l2RowPenalty(this.#mlpItemTable, items, { dim, count: n }));
    }
    return loss;
  }

  #buffersFor(count: number): _Buffers {
    if (this.#buf.capacity < count) this.#buf = this.#allocate(count);
    return this.#buf;
  }

  /**
   * Writes the logit (not the probability; apply `sigmoid` from loss.ts for
   * that) of each pair into `out[0..count)`. Large batches are processed in
   * chunks of the buffer capacity.
   */
  predict(batch: Batch, out: Float32Array): void {
    this.#checkBatch("predict", batch);
    const { users, items, count } = batch;
    if (out.length < count) {
      throw new RangeError(`Cannot predict: out holds ${out.length} values, need ${count}`);
    }
    const buf = this.#buf;
    const step = buf.capacity;
    for (let start = 0; start < count; start += step) {
      const n = Math.min(step, count - start);
      this.#forward(
        start === 0 ? users : users.subarray(start),
        start === 0 ? items : items.subarray(start),
        n,
        buf,
      );
      out.set(buf.logits.subarray(0, n), start);
    }
  }

  /**
   * The score graph of {@linkcode NeuMF.predict}: the GMF branch
   * `gmf = P[user] * Q[item]`; the MLP branch `mlp_0 = [U[user], V[item]]`
   * through the dense layers in order, each followed by ReLU; the head
   * `[gmf, mlp_L]` (NeuMF; one branch alone for GMF and MLP) through the
   * output unit, whose only column is the logit.
   */
  scoreGraph(): ScoreGraph {
    return _scoreGraph(this.config);
  }

  /**
   * Precomputes each item's share of the first MLP layer
   * (`V[i]·W₀[half:, :]` for every item) for {@linkcode NeuMF.scoreUserItems}.
   * Called automatically after training steps; call it yourself after
   * changing parameters directly (e.g. restoring a checkpoint).
   */
  prepareEval(): void {
    if (this.#mlp && this.#dense.length > 0) {
      const out = this.config.layers[1];
      const numItems = this.config.numItems;
      if (this.#itemPart.length !== numItems * out) {
        this.#itemPart = this.#alloc(numItems * out);
      }
      const half = this.#half;
      this.kernels.sgemm({
        transA: false,
        transB: false,
        m: numItems,
        n: out,
        k: half,
        alpha: 1,
        a: this.#mlpItemTable,
        lda: half,
        b: this.#dense[0].params.kernel.subarray(half * out),
        ldb: out,
        beta: 0,
        c: this.#itemPart,
        ldc: out,
      });
    }
    this.#prepareJoint();
    this.#evalVersion = this.#version;
  }

  /** Fills the joint item rows (when both branches and a dense layer are there). */
  #prepareJoint(): void {
    if (!this.#gmf || !this.#mlp || this.#dense.length === 0) return;
    const nf = this.#nf;
    const width = this.config.layers[1];
    const numItems = this.config.numItems;
    this.#jointWidth = nf + width;
    if (this.#jointItems.length !== numItems * this.#jointWidth) {
      this.#jointItems = this.#alloc(numItems * this.#jointWidth);
    }
    const joint = this.#jointItems;
    const k = this.kernels;
    k.copyColumns(this.#mfItemTable, joint, {
      count: numItems,
      width: nf,
      to: this.#jointWidth,
      at: 0,
    });
    k.copyColumns(this.#itemPart, joint, {
      count: numItems,
      width,
      to: this.#jointWidth,
      at: nf,
    });
  }

  /** `bias₀ + user row · W₀[half:, :]`: the user's share of the first MLP layer. */
  #prepareUserPart(user: number): Float32Array {
    const half = this.#half;
    const userPart = this.#userPart;
    userPart.set(this.#dense[0].params.bias);
    const g = this.#userPartGemm;
    g.a = this.#mlpUserTable.subarray(user * half, (user + 1) * half);
    this.kernels.sgemm(g);
    return userPart;
  }

  /**
   * Scores `count` candidates into `buf.logits` with one read of each
   * candidate's item row (the kernel set's `scoreRows`): the output layer's
   * GMF weights are folded into the user's GMF row
   * (`Σ u_j·v_j·w_j = v · (u ⊙ w)`), the MLP starts from the cached
   * first-layer shares, and the output layer's MLP weights are applied to
   * the last activation. False (nothing done) for an MLP without dense layers.
   */
  #scoreFused(user: number, items: Int32Array, o: { count: number; buf: _Buffers }): boolean {
    const { count, buf } = o;
    if (this.#mlp && this.#dense.length === 0) return false;
    const nf = this.#nf;
    const kernel = this.#output.params.kernel;
    const uw = this.#userWeights;
    const mfUser = this.#mfUserTable;
    for (let j = 0, u = user * nf; j < nf; j++) uw[j] = mfUser[u + j] * kernel[j];
    if (this.#mlp) this.#prepareUserPart(user);
    const sc = this.#score;
    sc.count = count;
    sc.base = this.#output.params.bias[0];
    sc.logits = buf.logits;
    sc.act = this.#mlp ? buf.acts[0] : buf.logits;
    const joint = this.#gmf && this.#mlp;
    sc.gmf = joint ? this.#jointItems : this.#mfItemTable;
    sc.gmfStride = joint ? this.#jointWidth : Math.max(1, nf);
    sc.mlp = joint ? this.#jointItems : this.#itemPart;
    sc.mlpStride = joint ? this.#jointWidth : Math.max(1, sc.width);
    sc.mlpOffset = joint ? nf : 0;
    this.kernels.scoreRows(items, sc);
    if (this.#mlp) {
      const g = this.#outputGemm;
      g.m = count;
      g.a = this.#denseStack(sc.act, buf, { from: 1, count });
      g.c = buf.logits;
      this.kernels.sgemm(g);
    }
    return true;
  }

  /**
   * Logits of one user against `items[0..count)` into `out`, through the
   * cached item shares of the first MLP layer (see
   * {@linkcode NeuMF.prepareEval}); agrees with {@linkcode NeuMF.predict}
   * within float32 rounding (≤ 1e-5 on trained models in the tests).
   *
   * @param user The user id.
   * @param items Candidate item ids.
   * @param options `out` (receives `count` logits); `count` (default `items.length`).
   * @throws {RangeError} on an id outside the tables or a short array.
   */
  scoreUserItems(
    user: number,
    items: Int32Array,
    options: { out: Float32Array; count?: number },
  ): void {
    const count = options.count ?? items.length;
    const out = options.out;
    const { numUsers, numItems } = this.config;
    if (!Number.isInteger(user) || user < 0 || user >= numUsers) {
      throw new RangeError(`Cannot score items: user ${user} is outside [0, ${numUsers})`);
    }
    if (!Number.isInteger(count) || count < 0 || items.length < count || out.length < count) {
      throw new RangeError(
        `Cannot score items: count ${count} with ${items.length} items and ${out.length} outputs`,
      );
    }
    for (let c = 0; c < count; c++) {
      if (items[c] < 0 || items[c] >= numItems) {
        throw new RangeError(`Cannot score items: item ${items[c]} is outside [0, ${numItems})`);
      }
    }
    if (count === 0) return;
    if (this.#evalVersion !== this.#version) this.prepareEval();
    if (this.#evalBuf === null || this.#evalBuf.capacity < count) {
      // Beyond the sampled protocol's size, size for the whole catalogue at
      // once: the memory plan holds one such buffer, not a series of growths.
      const whole = count > _EVAL_CAPACITY ? numItems : 0;
      this.#evalBuf = this.#allocate(Math.max(count, whole, this.#evalBuf?.capacity ?? 0));
    }
    const buf = this.#evalBuf;
    if (!this.#scoreFused(user, items, { count, buf })) {
      // An MLP without dense layers (layers = [n]) feeds its embeddings
      // straight to the output layer.
      const H = this.#headSize;
      const head = buf.head;
      const nf = this.#nf;
      const half = this.#half;
      const mfUser = this.#mfUserTable;
      const mfItem = this.#mfItemTable;
      const mlpUser = this.#mlpUserTable;
      const mlpItem = this.#mlpItemTable;
      for (let c = 0; c < count; c++) {
        const d = c * H;
        const i = items[c];
        for (let j = 0; j < nf; j++) head[d + j] = mfUser[user * nf + j] * mfItem[i * nf + j];
        for (let j = 0; j < half; j++) {
          head[d + nf + j] = mlpUser[user * half + j];
          head[d + nf + half + j] = mlpItem[i * half + j];
        }
      }
      this.#output.forward(head, buf.logits, { count });
    }
    out.set(buf.logits.subarray(0, count));
  }

  /**
   * Logits of each of `users[0..count)` against every item, row-major into
   * `out[b·numItems + i]`: the full-ranking path. The GMF term of the whole
   * block is one product (`(u ⊙ w_gmf)·Qᵀ`); the MLP runs on tiles of
   * {@linkcode _ALL_TILE} items × up to {@linkcode _ALL_USERS} users: the
   * cached item shares of the first layer plus each user's share, ReLU
   * (`scoreRows`), then each further layer as one product over the tile's
   * rows, the last one feature-major so that the output unit is one product
   * per user. Agrees with {@linkcode NeuMF.scoreUserItems} within float32
   * rounding (the products group the sums differently); a user's bits
   * depend only on the weights, the kernel set and the users of its call.
   *
   * @param users User ids.
   * @param options `out` (at least `count × numItems`); `count` (default `users.length`).
   * @throws {RangeError} on an id outside the table or a short array.
   */
  scoreUsersAll(users: Int32Array, options: { out: Float32Array; count?: number }): void {
    const count = options.count ?? users.length;
    const out = options.out;
    const { numUsers, numItems } = this.config;
    if (
      !Number.isInteger(count) || count < 0 || users.length < count || out.length < count * numItems
    ) {
      throw new RangeError(
        `Cannot score every item: count ${count} with ${users.length} users and ${out.length} outputs for ${numItems} items`,
      );
    }
    for (let b = 0; b < count; b++) {
      if (!(users[b] >= 0 && users[b] < numUsers)) {
        throw new RangeError(
          `Cannot score every item: user ${users[b]} is outside [0, ${numUsers})`,
        );
      }
    }
    if (count === 0) return;
    if (this.#evalVersion !== this.#version) this.prepareEval();
    if (this.#mlp && this.#dense.length === 0) {
      // An MLP without dense layers has no cached shares: the per-user path.
      const all = this.#allBuffers();
      for (let b = 0; b < count; b++) {
        this.scoreUserItems(users[b], all.ids, {
          out: out.subarray(b * numItems, (b + 1) * numItems),
          count: numItems,
        });
      }
      return;
    }
    const a = this.#allBuffers();
    const k = this.kernels;
    const nf = this.#nf;
    const outKernel = this.#output.params.kernel;
    out.fill(this.#output.params.bias[0], 0, count * numItems);
    if (this.#gmf) {
      // out[b, :] += (P[u_b] ⊙ w_gmf) · Qᵀ, for up to _ALL_GMF_USERS users at a time.
      const uw = a.uw;
      const g = a.gmfGemm;
      for (let b0 = 0; b0 < count; b0 += _ALL_GMF_USERS) {
        const nb = Math.min(_ALL_GMF_USERS, count - b0);
        for (let b = 0; b < nb; b++) {
          const row = users[b0 + b] * nf;
          for (let j = 0; j < nf; j++) uw[b * nf + j] = this.#mfUserTable[row + j] * outKernel[j];
        }
        g.m = nb;
        g.c = out.subarray(b0 * numItems);
        k.sgemm(g);
      }
    }
    if (!this.#mlp) return;
    const layers = this.config.layers;
    const w1 = layers[1];
    const dense = this.#dense;
    const last = dense.length - 1;
    const lastOut = layers[last + 1];
    // Each user's share of the first layer, bias included: U[u]·W₀[:half] + b₀.
    for (let b0 = 0; b0 < count; b0 += _ALL_USERS) {
      const nb = Math.min(_ALL_USERS, count - b0);
      for (let b = 0; b < nb; b++) {
        const up = this.#prepareUserPart(users[b0 + b]);
        a.userParts.set(up, b * w1);
      }
      for (let s = 0; s < numItems; s += _ALL_TILE) {
        const n = Math.min(_ALL_TILE, numItems - s);
        const rows = nb * n;
        const tile = this.#itemPart.subarray(s * w1, (s + n) * w1);
        for (let b = 0; b < nb; b++) {
          k.addReluRows(
            tile,
            a.userParts.subarray(b * w1, (b + 1) * w1),
            a.acts[0].subarray(b * n * w1),
            {
              count: n,
            },
          );
        }
        // Hidden layers 1..last-1, row-major: y = relu(x·W + b).
        for (let l = 1; l < last; l++) {
          const layer = dense[l];
          const y = a.acts[l];
          y.set(a.biasRows[l].subarray(0, rows * layer.outputs));
          const g = a.rowGemms[l];
          g.m = rows;
          k.sgemm(g);
          k.relu(y, rows * layer.outputs);
        }
        // The last hidden layer feature-major: yᵀ = relu(Wᵀ·xᵀ + b), lastOut × rows.
        let top = a.acts[0];
        let ldTop = w1; // row-major x: rows × w1, or feature-major yᵀ: lastOut × rows
        let featureMajor = false;
        if (last >= 1) {
          const layer = dense[last];
          const yT = a.lastT;
          const bias = layer.params.bias;
          for (let j = 0; j < lastOut; j++) yT.fill(bias[j], j * rows, (j + 1) * rows);
          const g = a.lastGemm;
          g.n = rows;
          g.ldc = rows;
          k.sgemm(g);
          k.relu(yT, rows * lastOut);
          top = yT;
          ldTop = rows;
          featureMajor = true;
        }
        // The output unit, per user: out[b, s..s+n) += w_mlp · top_bᵀ.
        const g = a.outGemm;
        g.n = n;
        g.k = lastOut;
        g.a = outKernel.subarray(nf);
        g.lda = lastOut;
        g.transB = !featureMajor;
        g.ldb = ldTop;
        g.ldc = n;
        for (let b = 0; b < nb; b++) {
          g.b = featureMajor ? top.subarray(b * n) : top.subarray(b * n * w1);
          g.c = out.subarray((b0 + b) * numItems + s);
          k.sgemm(g);
        }
      }
    }
  }

  /** The buffers of {@linkcode NeuMF.scoreUsersAll}, in the model's memory. */
  #allBuffers(): _AllBuffers {
    if (this.#all !== null) return this.#all;
    const numItems = this.config.numItems;
    const layers = this.config.layers;
    const nf = this.#nf;
    const dense = this.#dense;
    const rows = _ALL_USERS * _ALL_TILE;
    const idsF = this.#alloc(numItems);
    const ids = new Int32Array(idsF.buffer, idsF.byteOffset, numItems);
    for (let i = 0; i < numItems; i++) ids[i] = i;
    const empty = new Float32Array(0);
    const w1 = dense.length > 0 ? layers[1] : 0;
    const last = dense.length - 1;
    const acts = dense.map((_, l) =>
      (l < last || l === 0) ? this.#alloc(rows * layers[l + 1]) : empty
    );
    const biasRows = dense.map((layer, l) => {
      if (l === 0 || l >= last) return empty;
      const r = this.#alloc(rows * layer.outputs);
      this.kernels.broadcastRows(layer.params.bias, r, { count: rows });
      return r;
    });
    const gemm = (o: Partial<GemmArgs>): GemmArgs => ({
      transA: false,
      transB: false,
      m: 0,
      n: 0,
      k: 0,
      alpha: 1,
      a: empty,
      lda: 1,
      b: empty,
      ldb: 1,
      beta: 1,
      c: empty,
      ldc: 1,
      ...o,
    });
    const rowGemms = dense.map((layer, l) =>
      gemm({
        n: layer.outputs,
        k: layer.inputs,
        a: l > 0 ? acts[l - 1] : empty,
        lda: layer.inputs,
        b: layer.params.kernel,
        ldb: layer.outputs,
        c: acts[l],
        ldc: layer.outputs,
      })
    );
    const lastT = last >= 1 ? this.#alloc(rows * layers[last + 1]) : empty;
    const lastGemm = last >= 1
      ? gemm({
        transA: true,
        transB: true,
        m: layers[last + 1],
        k: layers[last],
        a: dense[last].params.kernel,
        lda: layers[last + 1],
        b: acts[last - 1],
        ldb: layers[last],
        c: lastT,
      })
      : gemm({});
    const uw = this.#alloc(Math.max(1, _ALL_GMF_USERS * nf));
    this.#all = {
      ids,
      uw,
      userParts: this.#alloc(_ALL_USERS * Math.max(1, w1)),
      acts,
      biasRows,
      rowGemms,
      lastT,
      lastGemm,
      outGemm: gemm({ m: 1 }),
      gmfGemm: gemm({
        transB: true,
        n: numItems,
        k: Math.max(1, nf),
        a: uw,
        lda: Math.max(1, nf),
        b: this.#mfItemTable,
        ldb: Math.max(1, nf),
        ldc: numItems,
      }),
      score: {
        count: 0,
        gmf: this.#itemPart,
        gmfStride: Math.max(1, w1),
        nf: 0,
        uw: this.#alloc(4),
        base: 0,
        logits: this.#alloc(_ALL_TILE),
        mlp: this.#itemPart,
        mlpStride: Math.max(1, w1),
        mlpOffset: 0,
        width: w1,
        userPart: empty,
        act: empty,
      },
    };
    return this.#all;
  }
}

/** The score graph of a NeuMF / GMF / MLP of `config` (see {@linkcode NeuMF.scoreGraph}). */
function _scoreGraph(config: NeuMFConfig): ScoreGraph {
  const { kind, numUsers, numItems, numFactors, layers } = config;
  const gmf = kind !== "MLP";
  const mlp = kind !== "GMF";
  const tensors: ScoreTensor[] = [];
  const steps: ScoreStep[] = [];
  const tensor = (name: string, shape: number[], role: ScoreTensor["role"], description: string) =>
    tensors.push({ name, shape, role, description });
  const heads: string[] = [];
  if (gmf) {
    tensor("mf_user_embedding", [numUsers, numFactors], "user_embedding", "GMF user factors");
    tensor("mf_item_embedding", [numItems, numFactors], "item_embedding", "GMF item factors");
  }
  if (mlp) {
    const half = layers[0] / 2;
    tensor("mlp_user_embedding", [numUsers, half], "user_embedding", "MLP user embeddings");
    tensor("mlp_item_embedding", [numItems, half], "item_embedding", "MLP item embeddings");
  }
  if (gmf) {
    steps.push({ op: "gather", out: "gmf_user", table: "mf_user_embedding", index: "user" });
    steps.push({ op: "gather", out: "gmf_item", table: "mf_item_embedding", index: "item" });
    steps.push({ op: "mul", out: "gmf", a: "gmf_user", b: "gmf_item" });
    heads.push("gmf");
  }
  if (mlp) {
    steps.push({ op: "gather", out: "mlp_user", table: "mlp_user_embedding", index: "user" });
    steps.push({ op: "gather", out: "mlp_item", table: "mlp_item_embedding", index: "item" });
    steps.push({ op: "concat", out: "mlp_0", a: "mlp_user", b: "mlp_item" });
    for (let l = 0; l + 1 < layers.length; l++) {
      const name = `dense_${l}`;
      tensor(
        `${name}_kernel`,
        [layers[l], layers[l + 1]],
        "dense_kernel",
        `MLP layer ${l + 1} of ${layers.length - 1} weights (ReLU after)`,
      );
      tensor(`${name}_bias`, [layers[l + 1]], "dense_bias", `MLP layer ${l + 1} bias`);
      const x = `mlp_${l}`;
      steps.push({
        op: "dense",
        out: `${name}_linear`,
        x,
        kernel: `${name}_kernel`,
        bias: `${name}_bias`,
      });
      steps.push({ op: "relu", out: `mlp_${l + 1}`, x: `${name}_linear` });
    }
    heads.push(`mlp_${layers.length - 1}`);
  }
  const headSize = (gmf ? numFactors : 0) + (mlp ? layers[layers.length - 1] : 0);
  const joined = heads.length === 2 ? "[gmf, mlp]" : heads[0] === "gmf" ? "gmf" : "mlp";
  tensor("output_kernel", [headSize, 1], "output_kernel", `output weights of ${joined}`);
  tensor("output_bias", [1], "output_bias", "output bias");
  let head = heads[0];
  if (heads.length === 2) {
    steps.push({ op: "concat", out: "head", a: heads[0], b: heads[1] });
    head = "head";
  }
  steps.push({
    op: "dense",
    out: "output",
    x: head,
    kernel: "output_kernel",
    bias: "output_bias",
  });
  steps.push({ op: "squeeze", out: "logit", x: "output" });
  const gmfText = `a GMF branch (user ⊙ item factors, ${numFactors} each)`;
  const hidden = layers.length > 2
    ? `dense layers of ${layers.slice(1).join(" → ")} units, each with ReLU`
    : layers.length === 2
    ? `a dense layer of ${layers[1]} units with ReLU`
    : "no hidden layer";
  const mlpText = `an MLP branch (user and item embeddings of ${layers[0] / 2} ` +
    `concatenated into ${layers[0]}, then ${hidden})`;
  const summary = kind === "NeuMF"
    ? `NeuMF (He et al. 2017): ${gmfText} and ${mlpText}, concatenated as [gmf, mlp] into one linear output unit whose value is the logit`
    : `${kind}: ${gmf ? gmfText : mlpText} into one linear output unit whose value is the logit`;
  return { summary, inputs: { user: numUsers, item: numItems }, tensors, steps, output: "logit" };
}

/** Row groups of the sparse tensors: user tables share one touched-row set, item tables another. */
const _USER_ROWS = { sparse: true, rowGroup: "user" } as const;
const _ITEM_ROWS = { sparse: true, rowGroup: "item" } as const;

/** Items per tile of {@linkcode NeuMF.scoreUsersAll}. */
const _ALL_TILE = 128;
/** Users per tile of {@linkcode NeuMF.scoreUsersAll}. */
const _ALL_USERS = 8;
/** Users per GMF product of {@linkcode NeuMF.scoreUsersAll}. */
const _ALL_GMF_USERS = 64;

/** The buffers of {@linkcode NeuMF.scoreUsersAll}. */
interface _AllBuffers {
  ids: Int32Array;
  uw: Float32Array;
  userParts: Float32Array;
  acts: Float32Array[];
  biasRows: Float32Array[];
  rowGemms: GemmArgs[];
  lastT: Float32Array;
  lastGemm: GemmArgs;
  outGemm: GemmArgs;
  gmfGemm: GemmArgs;
  score: ScoreRowsOptions;
}

/** Candidates per user the evaluation buffers are sized for. */
const _EVAL_CAPACITY = 1024;

/**
 * What the model asks of its kernel set's memory: values, gradients and
 * both Adam moments, training and evaluation buffers, the evaluation cache,
 * and the kernels' scratch.
 */
function _memoryPlan(
  specs: ParameterSpec[],
  capacity: number,
  sizes: { perRow: number; firstOut: number; numItems: number; nf: number },
): MemoryPlan {
  let numParams = 0;
  let widest = 1;
  for (const spec of specs) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    numParams += n;
    if (!spec.sparse) widest = Math.max(widest, n, 2 * spec.shape[spec.shape.length - 1]);
  }
  return {
    floats: 4 * numParams + (capacity + _EVAL_CAPACITY + sizes.numItems) * sizes.perRow +
      (sizes.numItems + 1) * (2 * sizes.firstOut + sizes.nf) + 64 * 16 +
      // scoreUsersAll: the ids, two tiles of every layer, the GMF and user shares.
      sizes.numItems + 2 * _ALL_USERS * _ALL_TILE * sizes.perRow + _ALL_GMF_USERS * sizes.nf +
      _ALL_USERS * sizes.firstOut + _ALL_TILE + 64,
    scratchBytes: widest * 4 + 64,
    idsBytes: Math.max(capacity, _EVAL_CAPACITY, sizes.numItems) * 4 + 64,
  };
}
