/**
 * MF: matrix factorisation with biases, `y(u,i) = b + b_u + b_i + ⟨p_u, q_i⟩`
 * — the dot-product model Rendle, Krichene, Zhang & Anderson (RecSys 2020)
 * found to beat NeuMF under NCF's own protocol. Their `--embedding_dim d` is
 * `d − 1` factors here (the biases are the rest).
 *
 * Parameters (in this order): `mf_user_embedding [numUsers×numFactors]`,
 * `mf_item_embedding [numItems×numFactors]`, `user_bias [numUsers]`,
 * `item_bias [numItems]` (sparse: the user tables share the "user"
 * touched-row group, the item tables "item"), `global_bias [1]`.
 * Initialisation: the embeddings N(0, initStddev²) from one {@linkcode Prng},
 * users then items; the biases 0.
 *
 * Arithmetic (float32, the same bits on every kernel set): the logit is
 * `z = f(f(f(b + b_u) + dot(p_u, q_i)) + b_i)` with `dot` the four-lane
 * order of `dotLanes` (kernels/mf_sgd.ts) — training, `predict`,
 * `scoreUserItems` and `scoreUserAll` all compute exactly this. The loss
 * gradient of each row is accumulated in float32 in row order
 * (`grad ← f(grad + f(g·other))`, biases `f(grad + g)`; a triple's two rows
 * together, its user row taking `f(f(grad + f(g⁺·q_i)) + f(g⁻·q_j))` and
 * `b`, `b_u` the exact zero `f(g⁺ + g⁻)`), then the L2 term of every lookup
 * (`grad ← f(grad + f(r·w))`, `r = f(2λ/count)`; the global bias once with
 * `f(2λ)`). A one-example step with `Sgd` is thus the `mfSgd` kernel's
 * arithmetic exactly (see {@linkcode MF.trainSequential}).
 *
 * Loss: the mean pointwise (`bce`) or pairwise (`bpr`) loss plus L2 on what
 * the batch touched, averaged like the loss (Rendle et al.'s `r·w` is λ =
 * r/2): `λ·(1/B)·Σ_b (‖p_u‖² + b_u² + ‖q_i‖² + b_i² [+ ‖q_j‖² + b_j²]) + λ·b²`.
 *
 * @module
 */

import type { Kernels, MemoryPlan, MfSgdOptions, ScoreRowsOptions } from "../kernels/kernels.ts";
import type { GemmArgs } from "../kernels/gemm.ts";
import { dotLanes, MF_SGD_SCRATCH_BYTES } from "../kernels/mf_sgd.ts";
import { Parameters, type ParameterSpec } from "../kernels/parameters.ts";
import { checkRowIds, tsKernels } from "../kernels/ts_kernels.ts";
import { Prng } from "../random/prng.ts";
import { fillNormal } from "./init.ts";
import { binaryCrossEntropy, bprLoss, isPairwiseLoss, type TrainingLoss } from "./loss.ts";
import type {
  Batch,
  LabeledBatch,
  Model,
  ModelConfig,
  PairBatch,
  SequentialOptions,
  Stepper,
  TrainingBatch,
} from "./model.ts";
import { resolveLoss, type TrainingRows, TrainingRowsBuilder } from "./_training_rows.ts";
import type { ScoreGraph } from "./score_graph.ts";

/** Constructor options of {@linkcode MF}. */
export interface MFOptions {
  /** Number of users (ids 0..numUsers-1). */
  numUsers: number;
  /** Number of items (ids 0..numItems-1). */
  numItems: number;
  /** Factors per embedding row (default 8). */
  numFactors?: number | undefined;
  /** λ of the L2 penalty on the embedding rows and biases a step touches (default 0). */
  mfRegularization?: number | undefined;
  /** Standard deviation of the embeddings' normal initialisation (default 0.01). */
  initStddev?: number | undefined;
  /** Rows the training buffers hold at first; bigger batches grow them (default 256). */
  maxBatchSize?: number | undefined;
  /** Source of the initial weights (default `new Prng(0)`). */
  prng?: Prng | undefined;
  /** The kernel set (default the TypeScript one); the model's memory is its. */
  kernels?: Kernels | undefined;
}

/** The resolved configuration of an {@linkcode MF}. */
export interface MFConfig extends ModelConfig {
  /** Always "MF". */
  readonly kind: "MF";
  /** Factors per embedding row. */
  readonly numFactors: number;
  /** λ of the L2 penalty. */
  readonly mfRegularization: number;
  /** Standard deviation of the embeddings' initialisation. */
  readonly initStddev: number;
}

/**
 * A biased matrix factorisation (see the module notes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MF } from "./mf.ts";
 * import { Prng } from "../random/prng.ts";
 * import { Sgd } from "../optim/sgd.ts";
 * const model = new MF({ numUsers: 3, numItems: 4, numFactors: 4, prng: new Prng(1) });
 * const batch = {
 *   users: Int32Array.of(0, 1, 2), items: Int32Array.of(1, 2, 3),
 *   labels: Int8Array.of(1, 0, 1), count: 3,
 * };
 * const first = model.trainStep(batch, { optimizer: new Sgd(model.parameters) });
 * assert.ok(Math.abs(first - Math.LN2) < 1e-3); // ≈ ln 2 at init
 * const logits = new Float32Array(3);
 * model.predict(batch, logits);
 * const fast = new Float32Array(1);
 * model.scoreUserItems(1, Int32Array.of(2), { out: fast });
 * assert.equal(fast[0], logits[1]); // the same bits
 * ```
 */
export class MF implements Model {
  /** The resolved configuration. */
  readonly config: MFConfig;
  /** Every trainable tensor, by name. */
  readonly parameters: Parameters;
  /** The kernel set. */
  readonly kernels: Kernels;

  readonly #nf: number;
  readonly #P: Float32Array;
  readonly #Q: Float32Array;
  readonly #bu: Float32Array;
  readonly #bi: Float32Array;
  readonly #b: Float32Array;
  readonly #gP: Float32Array;
  readonly #gQ: Float32Array;
  readonly #gbu: Float32Array;
  readonly #gbi: Float32Array;
  readonly #gb: Float32Array;
  readonly #rows = new TrainingRowsBuilder();
  #logits: Float32Array;
  #logitGrad: Float32Array;
  #gradsDirty = false;
  #version = 0;
  /** scoreUsersAll: `[q_i | b_i | 1]` per item, the user block `[p_u | 1 | b + b_u]`, its product. */
  #allItemsAug: Float32Array = new Float32Array(0);
  #allUsersAug: Float32Array = new Float32Array(0);
  #allVersion = -1;
  #allGemm: GemmArgs | null = null;
  /** Evaluation: logits of up to numItems candidates (kernel memory), all item ids, the operands. */
  readonly #evalLogits: Float32Array;
  readonly #allItems: Int32Array;
  readonly #score: ScoreRowsOptions;
  readonly #sgd: MfSgdOptions = {
    users: new Int32Array(0),
    items: new Int32Array(0),
    labels: null,
    negItems: null,
    count: 0,
    userTable: new Float32Array(0),
    itemTable: new Float32Array(0),
    factors: 1,
    userBias: new Float32Array(0),
    itemBias: new Float32Array(0),
    globalBias: new Float32Array(0),
    learningRate: 0,
    reg: 0,
    penalty: 0,
  };

  /**
   * Builds and initialises a model.
   * @param options See {@linkcode MFOptions}.
   * @throws {RangeError} on an impossible configuration.
   */
  constructor(options: MFOptions) {
    const { numUsers, numItems } = options;
    const numFactors = options.numFactors ?? 8;
    const mfRegularization = options.mfRegularization ?? 0;
    const initStddev = options.initStddev ?? 0.01;
    const capacity = options.maxBatchSize ?? 256;
    const fail = (state: string): never => {
      throw new RangeError(`Cannot build MF model: ${state}`);
    };
    if (!Number.isInteger(numUsers) || numUsers < 1) {
      fail(`numUsers ${numUsers} is not an integer ≥ 1`);
    }
    if (!Number.isInteger(numItems) || numItems < 1) {
      fail(`numItems ${numItems} is not an integer ≥ 1`);
    }
    if (!Number.isInteger(numFactors) || numFactors < 1) {
      fail(`numFactors ${numFactors} is not an integer ≥ 1`);
    }
    if (!(mfRegularization >= 0 && Number.isFinite(mfRegularization))) {
      fail(`mfRegularization ${mfRegularization} must be a finite number ≥ 0`);
    }
    if (!(initStddev > 0 && Number.isFinite(initStddev))) {
      fail(`initStddev ${initStddev} must be a finite number > 0`);
    }
    if (!Number.isInteger(capacity) || capacity < 1) {
      fail(`maxBatchSize ${capacity} is not an integer ≥ 1`);
    }
    this.config = { kind: "MF", numUsers, numItems, numFactors, mfRegularization, initStddev };
    this.kernels = options.kernels ?? tsKernels;
    this.#nf = numFactors;
    const specs: ParameterSpec[] = [
      { name: "mf_user_embedding", shape: [numUsers, numFactors], ..._USER_ROWS },
      { name: "mf_item_embedding", shape: [numItems, numFactors], ..._ITEM_ROWS },
      { name: "user_bias", shape: [numUsers], ..._USER_ROWS },
      { name: "item_bias", shape: [numItems], ..._ITEM_ROWS },
      { name: "global_bias", shape: [1] },
    ];
    const memory = this.kernels.memory(_memoryPlan(specs, { capacity, numItems }));
    const params = new Parameters(specs, { kernels: this.kernels, memory });
    this.parameters = params;
    const prng = options.prng ?? new Prng(0);
    fillNormal(params.get("mf_user_embedding").values, prng, { std: initStddev });
    fillNormal(params.get("mf_item_embedding").values, prng, { std: initStddev });
    const t = (name: string) => params.get(name);
    this.#P = t("mf_user_embedding").values;
    this.#Q = t("mf_item_embedding").values;
    this.#bu = t("user_bias").values;
    this.#bi = t("item_bias").values;
    this.#b = t("global_bias").values;
    this.#gP = t("mf_user_embedding").grads;
    this.#gQ = t("mf_item_embedding").grads;
    this.#gbu = t("user_bias").grads;
    this.#gbi = t("item_bias").grads;
    this.#gb = t("global_bias").grads;
    this.#logits = new Float32Array(2 * capacity);
    this.#logitGrad = new Float32Array(2 * capacity);
    this.#evalLogits = memory.alloc(numItems);
    const ids = memory.alloc(numItems);
    this.#allItems = new Int32Array(ids.buffer, ids.byteOffset, numItems);
    for (let i = 0; i < numItems; i++) this.#allItems[i] = i;
    this.#score = {
      count: 0,
      gmf: this.#Q,
      gmfStride: numFactors,
      nf: numFactors,
      uw: this.#P,
      base: 0,
      logits: this.#evalLogits,
      mlp: this.#evalLogits,
      mlpStride: 1,
      mlpOffset: 0,
      width: 0,
      userPart: this.#P,
      act: this.#evalLogits,
    };
    const s = this.#sgd;
    s.userTable = this.#P;
    s.itemTable = this.#Q;
    s.factors = numFactors;
    s.userBias = this.#bu;
    s.itemBias = this.#bi;
    s.globalBias = this.#b;
  }

  /** One line for logs: factors and the parameter count. */
  describe(): string {
    const c = this.config;
    return `MF: ${c.numFactors} factors + biases, ${
      this.parameters.size.toLocaleString("en-US")
    } parameters`;
  }

  /** Checks the ids of the first `rows` rows against the tables. */
  #checkRows(action: string, users: Int32Array, items: Int32Array, rows: number): void {
    const { numUsers, numItems } = this.config;
    if (!Number.isInteger(rows) || rows < 1 || users.length < rows || items.length < rows) {
      throw new RangeError(
        `Cannot ${action}: count ${rows} with ${users.length} users and ${items.length} items`,
      );
    }
    checkRowIds(action, users, { count: rows, rows: numUsers });
    checkRowIds(action, items, { count: rows, rows: numItems });
  }

  /** The rows of a training batch, checked, with logit buffers large enough. */
  #resolve(batch: TrainingBatch, loss: TrainingLoss | undefined, action: string): TrainingRows {
    const rows = this.#rows.resolve(batch, loss, action);
    this.#checkRows(action, rows.users, rows.items, rows.rows);
    if (rows.pointwise !== null && rows.pointwise.labels.length < rows.count) {
      throw new RangeError(
        `Cannot ${action}: count ${rows.count} with ${rows.pointwise.labels.length} labels`,
      );
    }
    if (this.#logits.length < rows.rows) {
      this.#logits = new Float32Array(rows.rows);
      this.#logitGrad = new Float32Array(rows.rows);
    }
    return rows;
  }

  /** Logits of rows `[0, count)` into `out` (the canonical arithmetic). */
  #forward(users: Int32Array, items: Int32Array, count: number, out: Float32Array): void {
    const f = Math.fround;
    const nf = this.#nf;
    const P = this.#P;
    const Q = this.#Q;
    const bu = this.#bu;
    const bi = this.#bi;
    const b = this.#b[0];
    for (let k = 0; k < count; k++) {
      const u = users[k];
      const i = items[k];
      out[k] = f(f(b + bu[u]) + dotLanes(P, u * nf, Q, i * nf, nf)) + bi[i];
    }
  }

  /** The mean loss of the resolved rows (logits computed), writing logit gradients when asked. */
  #lossOf(rows: TrainingRows, grad: Float32Array | null): number {
    const k = this.kernels;
    return rows.pointwise !== null
      ? rows.pointwise.loss.compute(k, this.#logits, rows.pointwise.labels, {
        count: rows.count,
        grad,
      })
      : rows.pairwise!.compute(k, this.#logits, { count: rows.count, grad });
  }

  /** `λ·(1/B)·Σ ‖touched rows‖² + λ·b²` in float64 (B examples). */
  #penalty(rows: TrainingRows): number {
    const lambda = this.config.mfRegularization;
    if (lambda === 0) return 0;
    const nf = this.#nf;
    const P = this.#P;
    const Q = this.#Q;
    const count = rows.count;
    let sum = 0;
    for (let k = 0; k < count; k++) {
      const u = rows.users[k];
      for (let d = 0, o = u * nf; d < nf; d++) sum += P[o + d] * P[o + d];
      sum += this.#bu[u] * this.#bu[u];
    }
    for (let k = 0; k < rows.rows; k++) {
      const i = rows.items[k];
      for (let d = 0, o = i * nf; d < nf; d++) sum += Q[o + d] * Q[o + d];
      sum += this.#bi[i] * this.#bi[i];
    }
    const b = this.#b[0];
    return lambda * sum / count + lambda * b * b;
  }

  /** Forward + backward; leaves the gradients in `parameters.grads`. */
  #forwardBackward(batch: TrainingBatch, loss: TrainingLoss | undefined): number {
    const rows = this.#resolve(batch, loss, "train on batch");
    const { users, items } = rows;
    const n = rows.rows;
    this.#forward(users, items, n, this.#logits);
    const grad = this.#logitGrad;
    const value = this.#lossOf(rows, grad) + this.#penalty(rows);
    const f = Math.fround;
    const nf = this.#nf;
    const P = this.#P;
    const Q = this.#Q;
    const gP = this.#gP;
    const gQ = this.#gQ;
    const gbu = this.#gbu;
    const gbi = this.#gbi;
    const userTouched = this.parameters.touchedRows("user");
    const itemTouched = this.parameters.touchedRows("item");
    let gb = this.#gb[0];
    if (rows.pairwise === null) {
      for (let k = 0; k < n; k++) {
        const g = grad[k];
        const u = users[k];
        const i = items[k];
        const po = u * nf;
        const qo = i * nf;
        for (let d = 0; d < nf; d++) {
          gP[po + d] = f(gP[po + d] + f(g * Q[qo + d]));
          gQ[qo + d] = f(gQ[qo + d] + f(g * P[po + d]));
        }
        gbu[u] = f(gbu[u] + g);
        gbi[i] = f(gbi[i] + g);
        gb = f(gb + g);
        userTouched?.mark(u);
        itemTouched?.mark(i);
      }
    } else {
      // Triple by triple: its two rows' terms in turn; b and b_u take the
      // pair's sum f(g⁺ + g⁻) = 0 (exactly: the pairwise loss's g⁻ = −g⁺).
      const count = rows.count;
      for (let k = 0; k < count; k++) {
        const gi = grad[k];
        const gj = grad[count + k];
        const u = users[k];
        const i = items[k];
        const j = items[count + k];
        const po = u * nf;
        const io = i * nf;
        const jo = j * nf;
        for (let d = 0; d < nf; d++) {
          const pd = P[po + d];
          gP[po + d] = f(f(gP[po + d] + f(gi * Q[io + d])) + f(gj * Q[jo + d]));
          gQ[io + d] = f(gQ[io + d] + f(gi * pd));
          gQ[jo + d] = f(gQ[jo + d] + f(gj * pd));
        }
        const gu = f(gi + gj);
        gbu[u] = f(gbu[u] + gu);
        gbi[i] = f(gbi[i] + gi);
        gbi[j] = f(gbi[j] + gj);
        gb = f(gb + gu);
        userTouched?.mark(u);
        itemTouched?.mark(i);
        itemTouched?.mark(j);
      }
    }
    // The L2 term of every lookup: users once per example, items once per row.
    const lambda = this.config.mfRegularization;
    const r = f(2 * lambda / rows.count);
    for (let k = 0; k < rows.count; k++) {
      const u = users[k];
      const po = u * nf;
      for (let d = 0; d < nf; d++) gP[po + d] = f(gP[po + d] + f(r * P[po + d]));
      gbu[u] = f(gbu[u] + f(r * this.#bu[u]));
    }
    for (let k = 0; k < n; k++) {
      const i = items[k];
      const qo = i * nf;
      for (let d = 0; d < nf; d++) gQ[qo + d] = f(gQ[qo + d] + f(r * Q[qo + d]));
      gbi[i] = f(gbi[i] + f(r * this.#bi[i]));
    }
    this.#gb[0] = f(gb + f(f(2 * lambda) * this.#b[0]));
    return value;
  }

  /**
   * One training step: forward, backward, `optimizer.step()`.
   * @param batch Labelled pairs (pointwise loss) or triples (pairwise loss).
   * @param options `optimizer` (built on this model's `parameters`); `loss`
   *   (default `bce` for labelled pairs, `bpr` for triples).
   * @returns The batch's loss before the update (with the L2 term).
   * @throws {TypeError} when the batch is not of the loss's kind.
   * @throws {RangeError} on a bad count or an id outside the tables.
   */
  trainStep(batch: TrainingBatch, options: { optimizer: Stepper; loss?: TrainingLoss }): number {
    if (this.#gradsDirty) this.#zeroGrads();
    const loss = this.#forwardBackward(batch, options.loss);
    options.optimizer.step();
    this.#version++;
    return loss;
  }

  /**
   * Forward and backward without an update: the gradient of
   * {@linkcode MF.loss} is left in `parameters.grads` (earlier unapplied
   * gradients are discarded first).
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

  /** The loss of a batch (the mean loss plus the L2 term), forward only. */
  loss(batch: TrainingBatch, options: { loss?: TrainingLoss } = {}): number {
    const rows = this.#resolve(batch, options.loss, "compute the loss");
    this.#forward(rows.users, rows.items, rows.rows, this.#logits);
    return this.#lossOf(rows, null) + this.#penalty(rows);
  }

  /**
   * Plain per-example SGD over a chunk, in the kernel set's `mfSgd` (a
   * WebAssembly SIMD loop on the wasm and blas sets): for each example in
   * order, the logit(s), the loss gradient and an immediate update of
   * everything it touched — both embedding rows, both biases (three for a
   * pair) and the global bias, each with its L2 term — as Rendle et al.'s
   * `mf_simple.py`. The result is bit for bit that of `count` calls of
   * {@linkcode MF.trainStep} on one-example batches with an `Sgd` of
   * `learningRate` (up to the sign of an all-zero gradient), and the
   * returned mean loss agrees with the mean of theirs within float64
   * rounding (the `log(1+e)` terms are summed as logs of products).
   * @param chunk Labelled pairs (`bce`) or triples (`bpr`).
   * @param options `learningRate`; `loss` (`bce` or `bpr`; default by the
   *   chunk's fields); `count` (default `chunk.count`).
   * @returns The mean loss of the examples, each before its update (0 for none).
   * @throws {TypeError} on a loss other than `bce` and `bpr`, or a chunk not of its kind.
   * @throws {RangeError} on a bad learning rate or count, or an id outside the tables.
   */
  trainSequential(chunk: TrainingBatch, options: SequentialOptions): number {
    const action = "train per example";
    const loss = resolveLoss(chunk, options.loss, action);
    if (loss !== binaryCrossEntropy && loss !== bprLoss) {
      throw new TypeError(
        `Cannot ${action}: the loss '${loss.name}' has no per-example kernel; use bce or bpr`,
      );
    }
    const lr = options.learningRate;
    if (!(lr >= 0 && Number.isFinite(lr))) {
      throw new RangeError(`Cannot ${action}: learningRate ${lr} is not a finite number ≥ 0`);
    }
    const count = options.count ?? chunk.count;
    if (!Number.isInteger(count) || count < 0 || count > chunk.count) {
      throw new RangeError(
        `Cannot ${action}: count ${count} is not an integer in [0, ${chunk.count}]`,
      );
    }
    if (this.#gradsDirty) this.#zeroGrads();
    const lambda = this.config.mfRegularization;
    const s = this.#sgd;
    s.users = chunk.users;
    s.items = chunk.items;
    s.labels = isPairwiseLoss(loss) ? null : (chunk as LabeledBatch).labels;
    s.negItems = isPairwiseLoss(loss) ? (chunk as PairBatch).negItems : null;
    s.count = count;
    s.learningRate = Math.fround(lr);
    s.reg = Math.fround(2 * lambda);
    s.penalty = lambda;
    let sum: number;
    try {
      sum = this.kernels.mfSgd(s);
    } finally {
      s.users = s.items = _NO_IDS;
      s.labels = s.negItems = null;
      this.#version++;
    }
    return count === 0 ? 0 : sum / count;
  }

  /** Writes the logit of each pair into `out[0..count)`. */
  predict(batch: Batch, out: Float32Array): void {
    const { users, items, count } = batch;
    this.#checkRows("predict", users, items, count);
    if (out.length < count) {
      throw new RangeError(`Cannot predict: out holds ${out.length} values, need ${count}`);
    }
    this.#forward(users, items, count, out);
  }

  /**
   * The score graph of {@linkcode MF.predict}: `((b + b_u) + ⟨p_u, q_i⟩) + b_i`,
   * in that order of additions.
   */
  scoreGraph(): ScoreGraph {
    const { numUsers, numItems, numFactors } = this.config;
    return {
      summary: `MF (Rendle et al. 2020): the dot product of ${numFactors} user and item ` +
        "factors plus a global, a user and an item bias; the sum is the logit",
      inputs: { user: numUsers, item: numItems },
      tensors: [
        {
          name: "mf_user_embedding",
          shape: [numUsers, numFactors],
          role: "user_embedding",
          description: "user factors p_u",
        },
        {
          name: "mf_item_embedding",
          shape: [numItems, numFactors],
          role: "item_embedding",
          description: "item factors q_i",
        },
        { name: "user_bias", shape: [numUsers], role: "user_bias", description: "user bias b_u" },
        { name: "item_bias", shape: [numItems], role: "item_bias", description: "item bias b_i" },
        { name: "global_bias", shape: [1], role: "global_bias", description: "global bias b" },
      ],
      steps: [
        { op: "gather", out: "p_u", table: "mf_user_embedding", index: "user" },
        { op: "gather", out: "q_i", table: "mf_item_embedding", index: "item" },
        { op: "mul", out: "pq", a: "p_u", b: "q_i" },
        { op: "sum", out: "dot", x: "pq" },
        { op: "gather", out: "b_u", table: "user_bias", index: "user" },
        { op: "gather", out: "b_i", table: "item_bias", index: "item" },
        { op: "add", out: "base", a: "global_bias", b: "b_u" },
        { op: "add", out: "base_dot", a: "base", b: "dot" },
        { op: "add", out: "logit", a: "base_dot", b: "b_i" },
      ],
      output: "logit",
    };
  }

  /** Nothing to cache: MF scores straight from its tables. */
  prepareEval(): void {
    this.#allVersion = -1;
  }

  /** Scores `count` items (at most numItems) for `user` into `out`. */
  #scoreInto(user: number, items: Int32Array, count: number, out: Float32Array, at: number): void {
    const nf = this.#nf;
    const sc = this.#score;
    sc.count = count;
    sc.uw = this.#P.subarray(user * nf, (user + 1) * nf);
    sc.userPart = sc.uw;
    sc.base = Math.fround(this.#b[0] + this.#bu[user]);
    this.kernels.scoreRows(items, sc);
    const logits = this.#evalLogits;
    const bi = this.#bi;
    for (let c = 0; c < count; c++) out[at + c] = logits[c] + bi[items[c]];
  }

  /**
   * Logits of one user against `items[0..count)` into `out`: the kernel
   * set's `scoreRows` (dot products and `b + b_u`), then the item biases —
   * the same bits as {@linkcode MF.predict}.
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
      if (!(items[c] >= 0 && items[c] < numItems)) {
        throw new RangeError(`Cannot score items: item ${items[c]} is outside [0, ${numItems})`);
      }
    }
    for (let start = 0; start < count; start += numItems) {
      const n = Math.min(numItems, count - start);
      this.#scoreInto(user, start === 0 ? items : items.subarray(start), n, out, start);
    }
  }

  /**
   * Logits of one user against every item into `out[0..numItems)`: the
   * same bits as {@linkcode MF.scoreUserItems} on the list of all items.
   * @throws {RangeError} on a user outside the table or a short `out`.
   */
  scoreUserAll(user: number, out: Float32Array): void {
    const { numUsers, numItems } = this.config;
    if (!Number.isInteger(user) || user < 0 || user >= numUsers) {
      throw new RangeError(`Cannot score items: user ${user} is outside [0, ${numUsers})`);
    }
    if (out.length < numItems) {
      throw new RangeError(`Cannot score items: out holds ${out.length} values, need ${numItems}`);
    }
    this.#scoreInto(user, this.#allItems, numItems, out, 0);
  }

  /**
   * Logits of each of `users[0..count)` against every item, row-major into
   * `out[b·numItems + i]`, as one matrix product per block of
   * {@linkcode _ALL_USERS} users: `[p_u | 1 | b + b_u] · [q_i | b_i | 1]ᵀ`.
   * Agrees with {@linkcode MF.scoreUserItems} within float32 rounding (the
   * product groups the sum differently).
   * @throws {RangeError} on an id outside the table or a short array.
   */
  scoreUsersAll(users: Int32Array, options: { out: Float32Array; count?: number }): void {
    const count = options.count ?? users.length;
    const out = options.out;
    const { numUsers, numItems } = this.config;
    if (
      !Number.isInteger(count) || count < 0 || users.length < count ||
      out.length < count * numItems
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
    const nf = this.#nf;
    const w = nf + 2;
    if (this.#allVersion !== this.#version || this.#allGemm === null) {
      if (this.#allItemsAug.length !== numItems * w) {
        this.#allItemsAug = new Float32Array(numItems * w);
        this.#allUsersAug = new Float32Array(_ALL_USERS * w);
      }
      const q = this.#allItemsAug;
      for (let i = 0; i < numItems; i++) {
        q.set(this.#Q.subarray(i * nf, (i + 1) * nf), i * w);
        q[i * w + nf] = this.#bi[i];
        q[i * w + nf + 1] = 1;
      }
      this.#allGemm = {
        transA: false,
        transB: true,
        m: 0,
        n: numItems,
        k: w,
        alpha: 1,
        a: this.#allUsersAug,
        lda: w,
        b: q,
        ldb: w,
        beta: 0,
        c: out,
        ldc: numItems,
      };
      this.#allVersion = this.#version;
    }
    const a = this.#allUsersAug;
    const g = this.#allGemm;
    for (let b0 = 0; b0 < count; b0 += _ALL_USERS) {
      const nb = Math.min(_ALL_USERS, count - b0);
      for (let b = 0; b < nb; b++) {
        const u = users[b0 + b];
        a.set(this.#P.subarray(u * nf, (u + 1) * nf), b * w);
        a[b * w + nf] = 1;
        a[b * w + nf + 1] = Math.fround(this.#b[0] + this.#bu[u]);
      }
      g.m = nb;
      g.c = out.subarray(b0 * numItems);
      this.kernels.sgemm(g);
    }
  }
}

/** Users per product of {@linkcode MF.scoreUsersAll}. */
const _ALL_USERS = 64;

/** Row groups of the sparse tensors: user tables share one touched-row set, item tables another. */
const _USER_ROWS = { sparse: true, rowGroup: "user" } as const;
const _ITEM_ROWS = { sparse: true, rowGroup: "item" } as const;
const _NO_IDS: Int32Array = new Int32Array(0);

/**
 * What the model asks of its kernel set's memory: values, gradients and
 * both Adam moments, the evaluation buffers, the per-example kernel's
 * staging and the candidate ids.
 */
function _memoryPlan(
  specs: ParameterSpec[],
  sizes: { capacity: number; numItems: number },
): MemoryPlan {
  let numParams = 0;
  for (const spec of specs) numParams += spec.shape.reduce((a, b) => a * b, 1);
  return {
    floats: 4 * numParams + 2 * sizes.numItems + 64 * 16,
    scratchBytes: MF_SGD_SCRATCH_BYTES,
    idsBytes: Math.max(2 * sizes.capacity, sizes.numItems) * 4 + 64,
  };
}
