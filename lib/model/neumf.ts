/**
 * NeuMF (He et al. 2017): a GMF branch (user ⊙ item embeddings of
 * `numFactors`) and an MLP branch (user and item embeddings of `layers[0]/2`
 * each, concatenated, then ReLU dense layers `layers[1..]`), concatenated as
 * `[gmf, mlp]` into one output unit whose value is the logit. `model: "GMF"`
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
 * N(0, 0.01²) (the paper), dense kernels Glorot-uniform (Keras' default, as
 * the TF reference), the output kernel LeCun-uniform (as the TF reference),
 * biases 0.
 *
 * Loss: mean sigmoid binary cross-entropy on the logits, plus the L2
 * penalty of the embedding rows the batch looked up, as a per-example term
 * averaged like the loss:
 * `(1/B)·Σ_b [mfReg·(‖P[u_b]‖² + ‖Q[i_b]‖²) + mlpReg·(‖U[u_b]‖² + ‖V[i_b]‖²)]`
 * (a row looked up k times counts k times; rows not in the batch are not
 * penalised, so the gradient stays row-sparse). Both coefficients default to 0.
 *
 * @module
 */

import { Adam, LazyAdam, type Optimizer, type OptimizerKind } from "../optim/adam.ts";
import { type Backend, type GemmArgs, tsBackend } from "../kernels/gemm.ts";
import { Dense, reluBackward, reluForward } from "./dense.ts";
import { gatherRows, l2RowPenalty, scatterAddRows, TouchedRows } from "./embedding.ts";
import { fillGlorotUniform, fillLecunUniform, fillNormal } from "./init.ts";
import { sigmoidBinaryCrossEntropy } from "./loss.ts";
import { Parameters, type ParameterSpec } from "./parameters.ts";
import { Sgd } from "../optim/sgd.ts";
import { WasmArena, wasmArenaOf } from "../kernels/wasm_arena.ts";
import { Prng } from "../random/prng.ts";

/** Which branches the model has. */
export type ModelKind = "GMF" | "MLP" | "NeuMF";

/** Constructor options of {@linkcode NeuMF}. */
export interface NeuMFOptions {
  /** Number of users (ids 0..numUsers-1). */
  numUsers: number;
  /** Number of items (ids 0..numItems-1). */
  numItems: number;
  /** Branches (default "NeuMF"). */
  model?: ModelKind;
  /** GMF embedding size (default 8). */
  numFactors?: number;
  /** MLP sizes: `layers[0]` is the concatenated embedding size (even), the rest are ReLU layers (default [64, 32, 16, 8]). */
  layers?: readonly number[];
  /** L2 coefficient of the GMF embedding rows looked up (default 0). */
  mfRegularization?: number;
  /** L2 coefficient of the MLP embedding rows looked up (default 0). */
  mlpRegularization?: number;
  /**
   * "adam" (dense, default), "lazy_adam" (touched embedding rows only) or
   * "sgd" (plain SGD, as the paper fine-tunes pretrained NeuMF).
   */
  optimizer?: OptimizerKind;
  /** Step size (default 0.001). */
  learningRate?: number;
  /** Adam β1 (default 0.9). */
  beta1?: number;
  /** Adam β2 (default 0.999). */
  beta2?: number;
  /** Adam ε (default 1e-8). */
  epsilon?: number;
  /** Rows the training buffers hold; bigger batches grow them (default 256). */
  maxBatchSize?: number;
  /** Source of the initial weights (default `new Prng(0)`). */
  prng?: Prng;
  /** Matrix-product kernel (default {@linkcode tsBackend}). */
  backend?: Backend;
  /**
   * Keep parameters, moments and work buffers in a {@linkcode WasmArena} so
   * the WebAssembly SIMD kernels (Adam, ReLU, bias gradients, and the
   * `wasm` backend's products) run on them (default true; ignored where the
   * runtime lacks WebAssembly SIMD). The optimizer and element-wise results
   * are bit-identical either way.
   */
  wasmKernels?: boolean;
}

/** The resolved configuration of a {@linkcode NeuMF}. */
export interface NeuMFConfig {
  /** Number of users. */
  readonly numUsers: number;
  /** Number of items. */
  readonly numItems: number;
  /** Branches. */
  readonly model: ModelKind;
  /** GMF embedding size. */
  readonly numFactors: number;
  /** MLP sizes. */
  readonly layers: readonly number[];
  /** L2 coefficient of the GMF rows. */
  readonly mfRegularization: number;
  /** L2 coefficient of the MLP rows. */
  readonly mlpRegularization: number;
}

/** User–item pairs to score: the first `count` entries of each array. */
export interface Batch {
  /** User ids. */
  users: Int32Array;
  /** Item ids. */
  items: Int32Array;
  /** Number of pairs. */
  count: number;
}

/** A batch with labels (1 positive, 0 negative; floats in [0, 1] allowed). */
export interface LabeledBatch extends Batch {
  /** Label of each pair. */
  labels: Int8Array | Float32Array;
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
 * A NeuMF / GMF / MLP model with its optimizer and work buffers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NeuMF } from "./neumf.ts";
 * import { Prng } from "../random/prng.ts";
 * const model = new NeuMF({ numUsers: 3, numItems: 4, layers: [8, 4], prng: new Prng(1) });
 * const batch = {
 *   users: Int32Array.of(0, 1, 2), items: Int32Array.of(1, 2, 3),
 *   labels: Int8Array.of(1, 0, 1), count: 3,
 * };
 * const first = model.trainStep(batch);
 * assert.ok(first > 0.6 && first < 0.8); // ≈ ln 2 at init
 * const logits = new Float32Array(3);
 * model.predict(batch, logits);
 * const fast = new Float32Array(1);
 * model.scoreUserItems(1, Int32Array.of(2), { out: fast });
 * assert.ok(Math.abs(fast[0] - logits[1]) < 1e-5);
 * ```
 */
export class NeuMF {
  /** The resolved configuration. */
  readonly config: NeuMFConfig;
  /** Every trainable tensor, by name. */
  readonly parameters: Parameters;
  /** The optimizer (state for checkpoints via `getState`/`setState`). */
  readonly optimizer: Optimizer;
  /** The matrix-product kernel. */
  readonly backend: Backend;

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
  readonly #userTouched: TouchedRows | null;
  readonly #itemTouched: TouchedRows | null;
  #buf: _Buffers;
  #gradsDirty = false;
  readonly #alloc: (length: number) => Float32Array;
  readonly #arena: WasmArena | null;

  // Fast evaluation path.
  #version = 0;
  #evalVersion = -1;
  #itemPart: Float32Array = new Float32Array(0);
  /** Per item `[GMF row | itemPart row]` in the arena (NeuMF only), so scoring reads one row. */
  #jointItems: Float32Array = new Float32Array(0);
  #jointWidth = 0;
  #userPart: Float32Array;
  #userPartGemm: GemmArgs;
  /** The user's GMF row times the output layer's GMF weights. */
  #userWeights: Float32Array;
  /** `logits += last activation · output weights of the MLP columns`. */
  #outputGemm: GemmArgs;
  #evalBuf: _Buffers | null = null;

  /**
   * Builds and initialises a model, its optimizer and its work buffers.
   * @param options See {@linkcode NeuMFOptions}.
   * @throws {RangeError} on an impossible configuration.
   */
  constructor(options: NeuMFOptions) {
    const model = options.model ?? "NeuMF";
    const numFactors = options.numFactors ?? 8;
    const layers = [...(options.layers ?? [64, 32, 16, 8])];
    const { numUsers, numItems } = options;
    const mfRegularization = options.mfRegularization ?? 0;
    const mlpRegularization = options.mlpRegularization ?? 0;
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
    this.config = {
      numUsers,
      numItems,
      model,
      numFactors,
      layers: Object.freeze(layers),
      mfRegularization,
      mlpRegularization,
    };
    this.backend = options.backend ?? tsBackend;
    this.#nf = this.#gmf ? numFactors : 0;
    this.#half = this.#mlp ? layers[0] / 2 : 0;
    this.#mlpOut = this.#mlp ? layers[layers.length - 1] : 0;
    this.#headSize = this.#nf + this.#mlpOut;

    const numDense = this.#mlp ? layers.length - 1 : 0;
    const specs: ParameterSpec[] = [];
    if (this.#gmf) {
      specs.push({ name: "mf_user_embedding", shape: [numUsers, numFactors], sparse: true });
      specs.push({ name: "mf_item_embedding", shape: [numItems, numFactors], sparse: true });
    }
    if (this.#mlp) {
      specs.push({ name: "mlp_user_embedding", shape: [numUsers, this.#half], sparse: true });
      specs.push({ name: "mlp_item_embedding", shape: [numItems, this.#half], sparse: true });
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
    const arena = (options.wasmKernels ?? true) ? _makeArena(specs, capacity, this.#sizes()) : null;
    this.#arena = arena;
    this.#alloc = arena === null
      ? (length: number) => new Float32Array(length)
      : (length: number) => arena.alloc(length);
    const params = new Parameters(specs, { allocate: this.#alloc });
    this.parameters = params;

    const prng = options.prng ?? new Prng(0);
    for (const e of params.entries) {
      if (e.sparse) fillNormal(e.values, prng, { std: 0.01 });
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
      }, { backend: this.backend });
    this.#dense = [];
    for (let l = 0; l < numDense; l++) {
      this.#dense.push(denseOf(`dense_${l}`, layers[l], layers[l + 1]));
    }
    this.#output = denseOf("output", this.#headSize, 1);

    const adamOptions = {
      learningRate: options.learningRate,
      beta1: options.beta1,
      beta2: options.beta2,
      epsilon: options.epsilon,
    };
    const optimizer = options.optimizer ?? "adam";
    if (optimizer === "lazy_adam" || optimizer === "sgd") {
      this.#userTouched = new TouchedRows(numUsers);
      this.#itemTouched = new TouchedRows(numItems);
      const touched = new Map<string, TouchedRows>();
      for (const e of params.entries) {
        if (e.sparse) {
          touched.set(e.name, e.name.includes("_user_") ? this.#userTouched : this.#itemTouched);
        }
      }
      this.optimizer = optimizer === "sgd"
        ? new Sgd(params, { learningRate: options.learningRate, touched })
        : new LazyAdam(params, { ...adamOptions, touched });
    } else if (optimizer === "adam") {
      this.#userTouched = null;
      this.#itemTouched = null;
      this.optimizer = new Adam(params, adamOptions);
    } else {
      throw new RangeError(`Cannot build ${model} model: unknown optimizer '${optimizer}'`);
    }

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
      reluForward(y, count * layer.outputs);
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
      gatherRows(this.#mfUserTable, users, { dim: nf, count, out: mfUser });
      gatherRows(this.#mfItemTable, items, { dim: nf, count, out: mfItem });
      _mulRows(mfUser, nf, mfItem, nf, head, H, count, nf);
    }
    if (this.#mlp) {
      const half = this.#half;
      const x0 = buf.mlpInput;
      gatherRows(this.#mlpUserTable, users, { dim: half, count, out: x0, stride: 2 * half });
      gatherRows(this.#mlpItemTable, items, {
        dim: half,
        count,
        out: x0,
        stride: 2 * half,
        offset: half,
      });
      const last = this.#denseStack(x0, buf, { from: 0, count });
      _copyColumns(last, head, { count, width: this.#mlpOut, to: H, at: this.#nf });
    }
    this.#output.forward(head, buf.logits, { count });
  }

  /** Forward + backward; leaves the gradients in `parameters.grads`. */
  #forwardBackward(batch: LabeledBatch): number {
    const { users, items, labels, count } = batch;
    this.#checkBatch("train on batch", batch);
    if (this.#buf.capacity < count) this.#buf = this.#allocate(count);
    const buf = this.#buf;
    this.#forward(users, items, count, buf);
    let loss = sigmoidBinaryCrossEntropy(buf.logits, labels, { count, grad: buf.logitGrad });
    const H = this.#headSize;
    this.#output.backward(buf.head, buf.logitGrad, { count, dx: buf.headGrad });
    const dHead = buf.headGrad;
    const userTouched = this.#userTouched;
    const itemTouched = this.#itemTouched;
    const { mfRegularization, mlpRegularization } = this.config;

    if (this.#gmf) {
      const nf = this.#nf;
      const { mfUser, mfItem, mfGrad } = buf;
      _mulRows(dHead, H, mfItem, nf, mfGrad, nf, count, nf);
      scatterAddRows(this.#mfUserGrad, users, {
        dim: nf,
        count,
        src: mfGrad,
        touched: userTouched,
      });
      _mulRows(dHead, H, mfUser, nf, mfGrad, nf, count, nf);
      scatterAddRows(this.#mfItemGrad, items, {
        dim: nf,
        count,
        src: mfGrad,
        touched: itemTouched,
      });
      if (mfRegularization > 0) {
        const reg = { dim: nf, count, gradScale: 2 * mfRegularization / count };
        const sum = l2RowPenalty(this.#mfUserTable, users, { ...reg, grads: this.#mfUserGrad }) +
          l2RowPenalty(this.#mfItemTable, items, { ...reg, grads: this.#mfItemGrad });
        loss += mfRegularization * sum / count;
      }
    }

    if (this.#mlp) {
      const half = this.#half;
      const dense = this.#dense;
      const last = dense.length - 1;
      const top = last >= 0 ? buf.actGrads[last] : buf.mlpInputGrad;
      _copyColumns(dHead, top, { count, width: this.#mlpOut, from: H, at: this.#nf });
      for (let l = last; l >= 0; l--) {
        const layer = dense[l];
        const dy = buf.actGrads[l];
        reluBackward(buf.acts[l], dy, { length: count * layer.outputs });
        layer.backward(l > 0 ? buf.acts[l - 1] : buf.mlpInput, dy, {
          count,
          dx: l > 0 ? buf.actGrads[l - 1] : buf.mlpInputGrad,
        });
      }
      const dx0 = buf.mlpInputGrad;
      scatterAddRows(this.#mlpUserGrad, users, {
        dim: half,
        count,
        src: dx0,
        stride: 2 * half,
        touched: userTouched,
      });
      scatterAddRows(this.#mlpItemGrad, items, {
        dim: half,
        count,
        src: dx0,
        stride: 2 * half,
        offset: half,
        touched: itemTouched,
      });
      if (mlpRegularization > 0) {
        const reg = { dim: half, count, gradScale: 2 * mlpRegularization / count };
        const sum = l2RowPenalty(this.#mlpUserTable, users, { ...reg, grads: this.#mlpUserGrad }) +
          l2RowPenalty(this.#mlpItemTable, items, { ...reg, grads: this.#mlpItemGrad });
        loss += mlpRegularization * sum / count;
      }
    }
    return loss;
  }

  /**
   * One training step: forward, backward, optimizer update.
   * @returns The batch's loss before the update (mean BCE plus the L2 term).
   * @throws {RangeError} on a bad count or an id outside the tables.
   */
  trainStep(batch: LabeledBatch): number {
    if (this.#gradsDirty) this.#zeroGrads();
    const loss = this.#forwardBackward(batch);
    this.optimizer.step();
    this.#version++;
    return loss;
  }

  /**
   * Forward and backward without an update: the gradient of
   * {@linkcode NeuMF.loss} is left in `parameters.grads` (earlier unapplied
   * gradients are discarded first). For tests and diagnostics.
   * @returns The batch's loss.
   */
  computeGradients(batch: LabeledBatch): number {
    this.#zeroGrads();
    const loss = this.#forwardBackward(batch);
    this.#gradsDirty = true;
    return loss;
  }

  #zeroGrads(): void {
    this.parameters.grads.fill(0);
    this.#userTouched?.clear();
    this.#itemTouched?.clear();
    this.#gradsDirty = false;
  }

  /**
   * The loss of a batch (mean BCE plus the L2 term), forward only.
   */
  loss(batch: LabeledBatch): number {
    this.#checkBatch("compute the loss", batch);
    const buf = this.#buffersFor(batch.count);
    this.#forward(batch.users, batch.items, batch.count, buf);
    let loss = sigmoidBinaryCrossEntropy(buf.logits, batch.labels, { count: batch.count });
    const { users, items, count } = batch;
    const { mfRegularization, mlpRegularization } = this.config;
    if (this.#gmf && mfRegularization > 0) {
      const o = { dim: this.#nf, count };
      loss += mfRegularization / count *
        (l2RowPenalty(this.#mfUserTable, users, o) + l2RowPenalty(this.#mfItemTable, items, o));
    }
    if (this.#mlp && mlpRegularization > 0) {
      const o = { dim: this.#half, count };
      loss += mlpRegularization / count *
        (l2RowPenalty(this.#mlpUserTable, users, o) + l2RowPenalty(this.#mlpItemTable, items, o));
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
      this.backend.sgemm({
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

  /** Fills the joint item rows (when both branches and the arena are there). */
  #prepareJoint(): void {
    const arena = this.#arena;
    if (arena === null || !this.#gmf || !this.#mlp || this.#dense.length === 0) return;
    const nf = this.#nf;
    const width = this.config.layers[1];
    const numItems = this.config.numItems;
    this.#jointWidth = nf + width;
    if (this.#jointItems.length !== numItems * this.#jointWidth) {
      this.#jointItems = this.#alloc(numItems * this.#jointWidth);
    }
    const joint = this.#jointItems;
    if (!arena.owns(joint, this.#itemPart, this.#mfItemTable)) {
      this.#jointItems = new Float32Array(0);
      return;
    }
    const k = arena.kernels;
    const rowBytes = this.#jointWidth * 4;
    k.copy_rows(this.#mfItemTable.byteOffset, nf * 4, joint.byteOffset, rowBytes, numItems, nf * 4);
    k.copy_rows(
      this.#itemPart.byteOffset,
      width * 4,
      joint.byteOffset + nf * 4,
      rowBytes,
      numItems,
      width * 4,
    );
  }

  /** `bias₀ + user row · W₀[half:, :]`: the user's share of the first MLP layer. */
  #prepareUserPart(user: number): Float32Array {
    const half = this.#half;
    const userPart = this.#userPart;
    userPart.set(this.#dense[0].params.bias);
    const g = this.#userPartGemm;
    g.a = this.#mlpUserTable.subarray(user * half, (user + 1) * half);
    this.backend.sgemm(g);
    return userPart;
  }

  /**
   * Scores `count` candidates into `buf.logits` with one read of each
   * candidate's item row: the output layer's GMF weights are folded into the
   * user's GMF row (`Σ u_j·v_j·w_j = v · (u ⊙ w)`), the MLP starts from the
   * cached first-layer shares, and the output layer's MLP weights are applied
   * to the last activation. The WebAssembly kernel when the arena holds the
   * joint rows and `idsAt` (the ids' arena address) is given, else the same
   * float32 arithmetic in TypeScript. False (nothing done) for an MLP without
   * dense layers.
   */
  #scoreFused(
    user: number,
    items: Int32Array,
    o: { idsAt: number | null; count: number; buf: _Buffers },
  ): boolean {
    const { idsAt, count, buf } = o;
    if (this.#mlp && this.#dense.length === 0) return false;
    const nf = this.#nf;
    const kernel = this.#output.params.kernel;
    const base = this.#output.params.bias[0];
    const uw = this.#userWeights;
    const mfUser = this.#mfUserTable;
    for (let j = 0, u = user * nf; j < nf; j++) uw[j] = mfUser[u + j] * kernel[j];
    const width = this.#mlp ? this.#dense[0].outputs : 0;
    const userPart = this.#mlp ? this.#prepareUserPart(user) : uw;
    const act = this.#mlp ? buf.acts[0] : buf.logits;
    const arena = this.#arena;
    const table = !this.#mlp ? this.#mfItemTable : this.#gmf ? this.#jointItems : this.#itemPart;
    if (idsAt !== null && arena !== null && table.length > 0 && arena.owns(table, uw, act)) {
      arena.kernels.score_joint(
        table.byteOffset,
        idsAt,
        count,
        (!this.#mlp ? nf : this.#gmf ? this.#jointWidth : width) * 4,
        nf * 4,
        uw.byteOffset,
        base,
        buf.logits.byteOffset,
        width * 4,
        userPart.byteOffset,
        act.byteOffset,
        width * 4,
      );
    } else {
      _scoreRows(items, {
        count,
        gmf: this.#mfItemTable,
        nf,
        uw,
        base,
        logits: buf.logits,
        mlp: this.#itemPart,
        width,
        userPart,
        act,
      });
    }
    if (this.#mlp) {
      const g = this.#outputGemm;
      g.m = count;
      g.a = this.#denseStack(act, buf, { from: 1, count });
      g.c = buf.logits;
      this.backend.sgemm(g);
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
      this.#evalBuf = this.#allocate(Math.max(count, this.#evalBuf?.capacity ?? 0));
    }
    const buf = this.#evalBuf;
    const arena = this.#arena;
    const idsAt = arena !== null ? arena.ids(items, count) : null;
    if (!this.#scoreFused(user, items, { idsAt, count, buf })) {
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
}

/**
 * The TypeScript twin of the `score_joint` kernel, bit for bit: for each
 * candidate, `logits[c] = base + Σ gmf[item]·uw` summed in four float32
 * lanes, then the lanes' sum, then the tail; and row `c` of `act` =
 * max(mlp[item] + userPart, 0) when `width` > 0.
 */
function _scoreRows(
  items: Int32Array,
  o: {
    count: number;
    gmf: Float32Array;
    nf: number;
    uw: Float32Array;
    base: number;
    logits: Float32Array;
    mlp: Float32Array;
    width: number;
    userPart: Float32Array;
    act: Float32Array;
  },
): void {
  const { count, gmf, nf, uw, base, logits, mlp, width, userPart, act } = o;
  const f = Math.fround;
  const lanes = nf & ~3;
  for (let c = 0; c < count; c++) {
    const r = items[c] * nf;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    let p = 0;
    for (; p < lanes; p += 4) {
      s0 = f(s0 + f(gmf[r + p] * uw[p]));
      s1 = f(s1 + f(gmf[r + p + 1] * uw[p + 1]));
      s2 = f(s2 + f(gmf[r + p + 2] * uw[p + 2]));
      s3 = f(s3 + f(gmf[r + p + 3] * uw[p + 3]));
    }
    let t = f(f(s0 + s1) + f(s2 + s3));
    for (; p < nf; p++) t = f(t + f(gmf[r + p] * uw[p]));
    logits[c] = base + t;
    const m = items[c] * width;
    const d = c * width;
    for (let j = 0; j < width; j++) {
      const z = f(mlp[m + j] + userPart[j]);
      act[d + j] = z > 0 ? z : 0;
    }
  }
}

/** Candidates per user the evaluation buffers are sized for in the arena. */
const _EVAL_CAPACITY = 1024;

/**
 * An arena for everything a model allocates: values, gradients and both
 * Adam moments, training and evaluation buffers, the evaluation cache and
 * the kernels' scratch (reserved first). Null when WebAssembly SIMD is
 * unavailable or the model would not fit in 4 GiB.
 */
function _makeArena(
  specs: ParameterSpec[],
  capacity: number,
  sizes: { perRow: number; firstOut: number; numItems: number; nf: number },
): WasmArena | null {
  let numParams = 0;
  let widest = 1;
  for (const spec of specs) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    numParams += n;
    if (!spec.sparse) widest = Math.max(widest, n, 2 * spec.shape[spec.shape.length - 1]);
  }
  const scratch = widest * 4 + 64;
  const ids = Math.max(capacity, _EVAL_CAPACITY) * 4 + 64;
  const floats = 4 * numParams + (capacity + _EVAL_CAPACITY) * sizes.perRow +
    (sizes.numItems + 1) * (2 * sizes.firstOut + sizes.nf) + 64 * 16;
  const bytes = scratch + ids + 4 * floats + (1 << 20);
  if (bytes > 2 ** 32) return null;
  const arena = WasmArena.create({ bytes });
  arena?.scratch(scratch, 0);
  arena?.scratch(ids, 1);
  return arena;
}

/**
 * `out[r·so + c] = x[r·sx + c] · y[r·sy + c]` for `r < rows`, `c < cols`
 * (the WebAssembly kernel when all three live in one arena; same bits).
 */
function _mulRows(
  x: Float32Array,
  sx: number,
  y: Float32Array,
  sy: number,
  out: Float32Array,
  so: number,
  rows: number,
  cols: number,
): void {
  const arena = wasmArenaOf(out);
  if (arena !== undefined && wasmArenaOf(x) === arena && wasmArenaOf(y) === arena) {
    arena.kernels.mul_rows(
      x.byteOffset,
      sx * 4,
      y.byteOffset,
      sy * 4,
      out.byteOffset,
      so * 4,
      rows,
      cols * 4,
    );
    return;
  }
  for (let r = 0; r < rows; r++) {
    const a = r * sx;
    const b = r * sy;
    const o = r * so;
    for (let c = 0; c < cols; c++) out[o + c] = x[a + c] * y[b + c];
  }
}

/**
 * Copies a `count × width` block between a packed matrix and columns
 * `[at, at+width)` of a matrix with row stride `to` (or back, with `from`).
 */
function _copyColumns(
  src: Float32Array,
  dst: Float32Array,
  options: { count: number; width: number; at: number; to?: number; from?: number },
): void {
  const { count, width, at } = options;
  const arena = wasmArenaOf(src);
  if (arena !== undefined && wasmArenaOf(dst) === arena && count > 0) {
    const [s, ss, d, sd] = options.to !== undefined
      ? [src.byteOffset, width * 4, dst.byteOffset + at * 4, options.to * 4]
      : [src.byteOffset + at * 4, (options.from ?? width) * 4, dst.byteOffset, width * 4];
    arena.kernels.copy_rows(s, ss, d, sd, count, width * 4);
    return;
  }
  if (options.to !== undefined) {
    const to = options.to;
    for (let b = 0; b < count; b++) {
      const s = b * width;
      const d = b * to + at;
      for (let j = 0; j < width; j++) dst[d + j] = src[s + j];
    }
  } else {
    const from = options.from ?? width;
    for (let b = 0; b < count; b++) {
      const s = b * from + at;
      const d = b * width;
      for (let j = 0; j < width; j++) dst[d + j] = src[s + j];
    }
  }
}
