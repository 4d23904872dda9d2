/**
 * The kernel set: the matrix product and every element-wise kernel a model
 * or an optimizer runs, behind one interface, so a backend is one object
 * chosen once from `--backend` (see `select_kernels.ts`). A backend may own
 * where tensors live: layers and optimizers ask {@linkcode Kernels.memory}
 * for their buffers (the WebAssembly sets hand out views of one
 * `WebAssembly.Memory`; a GPU set would hand out its own), and every kernel
 * accepts any `Float32Array`, running its fast path on buffers it owns.
 *
 * Every kernel but `sgemm` gives the same bits on every set, so the backend
 * changes the speed of a run, and its results only through the products.
 *
 * @module
 */

import type { GemmArgs } from "./gemm.ts";
import type { TouchedRows } from "./touched_rows.ts";

/** The kernel sets `--backend` may name (besides `auto`). */
export type KernelsName = "ts" | "wasm" | "blas";

/** Where a model's tensors live: a source of zeroed buffers. */
export interface TensorMemory {
  /** A zeroed `Float32Array` of `length`. */
  alloc(length: number): Float32Array;
}

/** How much a model will ask of {@linkcode Kernels.memory}. */
export interface MemoryPlan {
  /** Float32 values the model will allocate in all. */
  floats: number;
  /** Bytes of the kernels' reusable scratch (the widest dense tensor's transpose). */
  scratchBytes: number;
  /** Bytes of the reusable block that ids are copied into. */
  idsBytes: number;
}

/** Layout of the batch-side buffer of a gather or scatter. */
export interface RowBlockOptions {
  /** Row length of the table. */
  dim: number;
  /** Number of ids (batch rows) to process. */
  count: number;
  /** Stride between batch rows in the batch-side buffer (default `dim`). */
  stride?: number;
  /** Offset of the first element in the batch-side buffer (default 0). */
  offset?: number;
}

/** The float32 constants of one Adam step (see `lib/optim/adam.ts`). */
export interface AdamConstants {
  /** β1. */
  b1: number;
  /** β2. */
  b2: number;
  /** 1 − β1. */
  c1: number;
  /** 1 − β2. */
  c2: number;
  /** The step's bias-corrected rate `lr_t`. */
  lr: number;
  /** ε. */
  eps: number;
}

/**
 * The operands of the fused candidate-scoring kernel (NeuMF's evaluation
 * path): for candidate `c < count` with item `i = items[c]`,
 * `logits[c] = base + Σ_{j<nf} gmf[i·gmfStride + j]·uw[j]` (four float32
 * lanes, then their sum, then the tail) and, when `width` > 0, row `c` of
 * `act` (stride `width`) = `max(mlp[i·mlpStride + mlpOffset + j] + userPart[j], 0)`.
 */
export interface ScoreRowsOptions {
  /** Candidates to score. */
  count: number;
  /** Table of GMF item rows (may be the joint table). */
  gmf: Float32Array;
  /** Row stride of `gmf`. */
  gmfStride: number;
  /** GMF width (0: no GMF term). */
  nf: number;
  /** The user's GMF row times the output weights. */
  uw: Float32Array;
  /** The output bias. */
  base: number;
  /** Receives `count` logits. */
  logits: Float32Array;
  /** Table of the items' first-layer shares (may be the joint table). */
  mlp: Float32Array;
  /** Row stride of `mlp`. */
  mlpStride: number;
  /** Offset of the shares in each `mlp` row. */
  mlpOffset: number;
  /** First MLP layer width (0: no MLP term). */
  width: number;
  /** The user's share of the first layer (bias included). */
  userPart: Float32Array;
  /** Receives `count` rows of `width` first-layer activations. */
  act: Float32Array;
}

/**
 * The operands of the per-example matrix factorisation SGD kernel
 * ({@linkcode Kernels.mfSgd}; the arithmetic is spelled out in `mf_sgd.ts`):
 * `count` examples in order, each one logit (or two, for a pair), its loss
 * gradient, and an SGD update of every parameter it touched.
 */
export interface MfSgdOptions {
  /** User of each example. */
  users: Int32Array;
  /** Item of each example (the positive of a pair). */
  items: Int32Array;
  /** Labels in [0, 1] for the logistic loss, or null for pairs. */
  labels: Int8Array | Float32Array | null;
  /** Negative item of each pair for the BPR loss, or null for labelled examples. */
  negItems: Int32Array | null;
  /** Examples to run, from the first. */
  count: number;
  /** User factors, `factors` per row. */
  userTable: Float32Array;
  /** Item factors, `factors` per row. */
  itemTable: Float32Array;
  /** Factors per row (≥ 1). */
  factors: number;
  /** One bias per user. */
  userBias: Float32Array;
  /** One bias per item. */
  itemBias: Float32Array;
  /** The global bias, at index 0. */
  globalBias: Float32Array;
  /** The step size, a float32 value. */
  learningRate: number;
  /** The gradient's weight decay `2λ`, a float32 value. */
  reg: number;
  /** λ of the loss's L2 term (0: none). */
  penalty: number;
}

/**
 * One backend's kernels. Arrays are row-major `Float32Array`s; sizes are
 * element counts; nothing is allocated per call.
 */
export interface Kernels {
  /** The backend's name ("ts", "wasm", "blas"). */
  readonly name: KernelsName;
  /** What runs the products and the element-wise kernels, for logs. */
  readonly description: string;
  /** Memory for a model sized by `plan` (its views feed this set's fast paths). */
  memory(plan: MemoryPlan): TensorMemory;
  /** `C = alpha·op(A)·op(B) + beta·C` (see {@linkcode GemmArgs}). */
  sgemm(args: GemmArgs): void;
  /** Copies `row` (length `width`) into each of the first `count` rows of `out`. */
  broadcastRows(row: Float32Array, out: Float32Array, options: { count: number }): void;
  /** Column sums of `dy[count×width]` (float64) into `biasGrad` (added with `accumulate`). */
  biasGrad(
    dy: Float32Array,
    biasGrad: Float32Array,
    options: { count: number; accumulate: boolean },
  ): void;
  /** ReLU in place over `values[0..length)`. */
  relu(values: Float32Array, length: number): void;
  /** Zeroes `grads[i]` where `activations[i]` is not positive, `i < length`. */
  reluBackward(activations: Float32Array, grads: Float32Array, length: number): void;
  /** Copies `table[ids[b]]` into `out[offset + b·stride …]` for `b < count`. */
  gatherRows(
    table: Float32Array,
    ids: Int32Array,
    options: RowBlockOptions & { out: Float32Array },
  ): void;
  /** Adds `src[offset + b·stride …]` to `grads[ids[b]]`, recording rows in `touched`. */
  scatterAddRows(
    grads: Float32Array,
    ids: Int32Array,
    options: RowBlockOptions & { src: Float32Array; touched?: TouchedRows | null },
  ): void;
  /** `Σ_b ‖table[ids[b]]‖²`; adds `gradScale·table[ids[b]]` to `grads[ids[b]]` when given. */
  l2RowPenalty(
    table: Float32Array,
    ids: Int32Array,
    options: { dim: number; count: number; grads?: Float32Array | null; gradScale?: number },
  ): number;
  /** `out[r·so + c] = x[r·sx + c]·y[r·sy + c]` for `r < rows`, `c < cols`. */
  mulRows(
    x: Float32Array,
    y: Float32Array,
    options: { sx: number; sy: number; out: Float32Array; so: number; rows: number; cols: number },
  ): void;
  /**
   * Copies a `count × width` block between a packed matrix and columns
   * `[at, at+width)` of a matrix with row stride `to` (or, with `from`, back).
   */
  copyColumns(
    src: Float32Array,
    dst: Float32Array,
    options: { count: number; width: number; at: number; to?: number; from?: number },
  ): void;
  /**
   * `out[r·w + j] = max(src[r·w + j] + row[j], 0)` (NaN to 0) for `r < count`,
   * `w = row.length`: the first MLP layer of a tile of items for one user.
   */
  addReluRows(
    src: Float32Array,
    row: Float32Array,
    out: Float32Array,
    options: { count: number },
  ): void;
  /** The fused candidate scoring (see {@linkcode ScoreRowsOptions}). */
  scoreRows(items: Int32Array, options: ScoreRowsOptions): void;
  /** One Adam update of `[start, end)` in float32; zeroes those gradients. */
  adamUpdate(
    values: Float32Array,
    grads: Float32Array,
    options: {
      m: Float32Array;
      v: Float32Array;
      start: number;
      end: number;
      constants: AdamConstants;
    },
  ): void;
  /** `θ ← θ − lr·g` over `[start, end)` in float32 (`lr` already float32); zeroes those gradients. */
  sgdUpdate(
    values: Float32Array,
    grads: Float32Array,
    options: { start: number; end: number; lr: number },
  ): void;
  /**
   * Per-example SGD of a biased matrix factorisation over `count` examples
   * (see {@linkcode MfSgdOptions} and `mf_sgd.ts`); updates the tables and
   * biases in place.
   * @returns The sum of the examples' losses, each before its update.
   * @throws {RangeError} on an id outside the tables or short arrays.
   */
  mfSgd(options: MfSgdOptions): number;
  /**
   * Mean sigmoid binary cross-entropy of `count` logits against labels in
   * [0, 1], accumulated in float64; writes `(σ(z) − y)/count` into `grad`.
   */
  sigmoidCrossEntropy(
    logits: Float32Array,
    labels: Int8Array | Float32Array,
    options: { count: number; grad?: Float32Array | null },
  ): number;
}
