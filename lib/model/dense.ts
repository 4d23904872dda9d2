/**
 * A fully connected layer over a batch, `y = x·W + b`, with the kernel `W`
 * stored `[inputs × outputs]` row-major (Keras' layout, so a kernel's first
 * rows belong to the first input features), and the ReLU activation as
 * separate in-place functions. Every product goes through a
 * {@linkcode Backend}; all buffers are the caller's, nothing is allocated per
 * batch. When the arrays live in a `WasmArena`, the ReLU and bias-gradient
 * passes run its WebAssembly SIMD kernels (bit-identical results).
 *
 * @module
 */

import { type Backend, type GemmArgs, tsBackend } from "../kernels/gemm.ts";
import { wasmArenaOf } from "../kernels/wasm_arena.ts";

/** The tensors of one dense layer (typically views from `Parameters`). */
export interface DenseParams {
  /** Input features. */
  inputs: number;
  /** Output units. */
  outputs: number;
  /** `[inputs × outputs]` row-major. */
  kernel: Float32Array;
  /** `[outputs]`. */
  bias: Float32Array;
  /** Gradient of the kernel, same layout. */
  kernelGrad: Float32Array;
  /** Gradient of the bias. */
  biasGrad: Float32Array;
}

function _gemmArgs(): GemmArgs {
  const empty = new Float32Array(0);
  return {
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
    beta: 0,
    c: empty,
    ldc: 1,
  };
}

/**
 * A dense layer bound to its tensors and a backend.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Dense } from "./dense.ts";
 * // 2 inputs → 1 output: y = 1·x0 + 2·x1 + 0.5
 * const layer = new Dense({
 *   inputs: 2, outputs: 1,
 *   kernel: Float32Array.of(1, 2), bias: Float32Array.of(0.5),
 *   kernelGrad: new Float32Array(2), biasGrad: new Float32Array(1),
 * });
 * const x = Float32Array.of(3, 4);
 * const y = new Float32Array(1);
 * layer.forward(x, y, { count: 1 });
 * assert.ok(y[0] === 11.5);
 * const dx = new Float32Array(2);
 * layer.backward(x, Float32Array.of(1), { count: 1, dx });
 * assert.ok(dx[1] === 2 && layer.params.kernelGrad[0] === 3);
 * ```
 */
export class Dense {
  /** The layer's tensors. */
  readonly params: DenseParams;
  /** The matrix-product kernel in use. */
  readonly backend: Backend;
  #forward = _gemmArgs();
  #kernelGrad = _gemmArgs();
  #inputGrad = _gemmArgs();
  #biasSum: Float64Array;

  /**
   * Binds a layer to its tensors.
   * @param params The layer's tensors; their lengths must match the sizes.
   * @param options `backend` (default {@linkcode tsBackend}).
   * @throws {RangeError} when a tensor's length does not match.
   */
  constructor(params: DenseParams, options: { backend?: Backend } = {}) {
    const { inputs, outputs } = params;
    if (!(Number.isInteger(inputs) && inputs >= 1 && Number.isInteger(outputs) && outputs >= 1)) {
      throw new RangeError(`Cannot build dense layer: ${inputs}→${outputs} units must be ≥ 1`);
    }
    const expect = (what: string, x: Float32Array, n: number) => {
      if (x.length !== n) {
        throw new RangeError(
          `Cannot build dense layer: ${what} has ${x.length} values, expected ${n}`,
        );
      }
    };
    expect("kernel", params.kernel, inputs * outputs);
    expect("kernelGrad", params.kernelGrad, inputs * outputs);
    expect("bias", params.bias, outputs);
    expect("biasGrad", params.biasGrad, outputs);
    this.params = params;
    this.backend = options.backend ?? tsBackend;
    this.#biasSum = new Float64Array(outputs);

    const f = this.#forward; // y[B×out] = x[B×in]·W[in×out] + y(=bias)
    f.n = outputs;
    f.k = inputs;
    f.lda = inputs;
    f.b = params.kernel;
    f.ldb = outputs;
    f.beta = 1;
    f.ldc = outputs;

    const g = this.#kernelGrad; // dW[in×out] = xᵀ·dy
    g.transA = true;
    g.m = inputs;
    g.n = outputs;
    g.lda = inputs;
    g.ldb = outputs;
    g.c = params.kernelGrad;
    g.ldc = outputs;

    const d = this.#inputGrad; // dx[B×in] = dy·Wᵀ
    d.transB = true;
    d.n = inputs;
    d.k = outputs;
    d.lda = outputs;
    d.b = params.kernel;
    d.ldb = outputs;
    d.ldc = inputs;
  }

  /** Input features. */
  get inputs(): number {
    return this.params.inputs;
  }

  /** Output units. */
  get outputs(): number {
    return this.params.outputs;
  }

  /**
   * `y[count×outputs] = x[count×inputs]·W + b` (no activation).
   * @param x Input rows, row-major.
   * @param y Output rows, overwritten.
   * @param options `count`: rows in the batch.
   */
  forward(x: Float32Array, y: Float32Array, options: { count: number }): void {
    const count = options.count;
    const out = this.params.outputs;
    const bias = this.params.bias;
    if (y.length < count * out) {
      throw new RangeError(
        `Cannot run dense forward: y holds ${y.length} values, need ${count * out}`,
      );
    }
    const arena = wasmArenaOf(y);
    if (arena !== undefined && wasmArenaOf(bias) === arena && count > 0) {
      arena.kernels.copy_rows(bias.byteOffset, 0, y.byteOffset, out * 4, count, out * 4);
    } else {
      for (let r = 0; r < count; r++) y.set(bias, r * out);
    }
    const f = this.#forward;
    f.m = count;
    f.a = x;
    f.c = y;
    this.backend.sgemm(f);
  }

  /**
   * Back-propagates `dy` (the loss gradient w.r.t. this layer's output,
   * after any activation's backward): writes the kernel and bias gradients
   * (`kernelGrad = xᵀ·dy`, `biasGrad = Σ_rows dy`) and, when `dx` is given,
   * the input gradient `dx = dy·Wᵀ`.
   *
   * @param x The input rows the forward pass saw.
   * @param dy Output gradient rows.
   * @param options `count`: rows; `dx` (default null: not computed);
   *   `accumulate` (default false): add to the parameter gradients instead
   *   of overwriting them.
   */
  backward(
    x: Float32Array,
    dy: Float32Array,
    options: { count: number; dx?: Float32Array | null; accumulate?: boolean },
  ): void {
    const count = options.count;
    const out = this.params.outputs;
    const accumulate = options.accumulate ?? false;
    const g = this.#kernelGrad;
    g.k = count;
    g.a = x;
    g.b = dy;
    g.beta = accumulate ? 1 : 0;
    this.backend.sgemm(g);

    const biasGrad = this.params.biasGrad;
    const arena = wasmArenaOf(dy);
    const scratch = arena !== undefined && wasmArenaOf(biasGrad) === arena &&
        dy.length >= count * out
      ? arena.scratch(out * 8)
      : null;
    if (scratch !== null) {
      arena!.kernels.bias_grad(
        dy.byteOffset,
        count,
        out,
        biasGrad.byteOffset,
        accumulate ? 1 : 0,
        scratch,
      );
    } else {
      const sums = this.#biasSum;
      sums.fill(0);
      for (let r = 0; r < count; r++) {
        const base = r * out;
        for (let j = 0; j < out; j++) sums[j] += dy[base + j];
      }
      if (accumulate) { for (let j = 0; j < out; j++) biasGrad[j] += sums[j]; }
      else for (let j = 0; j < out; j++) biasGrad[j] = sums[j];
    }

    const dx = options.dx ?? null;
    if (dx !== null) {
      const d = this.#inputGrad;
      d.m = count;
      d.a = dy;
      d.c = dx;
      d.beta = 0;
      this.backend.sgemm(d);
    }
  }
}

/**
 * ReLU in place: `values[i] = max(0, values[i])` for `i < length` (NaN stays NaN).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reluForward } from "./dense.ts";
 * const v = Float32Array.of(-1, 0, 2);
 * reluForward(v, 3);
 * assert.ok(v.join() === "0,0,2");
 * ```
 */
export function reluForward(values: Float32Array, length: number): void {
  const arena = wasmArenaOf(values);
  if (arena !== undefined && length <= values.length) {
    arena.kernels.relu(values.byteOffset, length);
    return;
  }
  for (let i = 0; i < length; i++) if (values[i] < 0) values[i] = 0;
}

/**
 * ReLU backward in place: zeroes `grads[i]` wherever the ReLU's output
 * `activations[i]` is not positive (the derivative at 0 is taken as 0).
 *
 * @param activations The ReLU's outputs.
 * @param grads Gradient w.r.t. those outputs; becomes the gradient w.r.t. its inputs.
 * @param options `length` (default `grads.length`): elements to process.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reluBackward } from "./dense.ts";
 * const dy = Float32Array.of(5, 6, 7);
 * reluBackward(Float32Array.of(0, 1, 0), dy);
 * assert.ok(dy.join() === "0,6,0");
 * ```
 */
export function reluBackward(
  activations: Float32Array,
  grads: Float32Array,
  options: { length?: number } = {},
): void {
  const length = options.length ?? grads.length;
  const arena = wasmArenaOf(grads);
  if (
    arena !== undefined && wasmArenaOf(activations) === arena && length <= grads.length &&
    length <= activations.length
  ) {
    arena.kernels.relu_backward(activations.byteOffset, grads.byteOffset, length);
    return;
  }
  for (let i = 0; i < length; i++) if (!(activations[i] > 0)) grads[i] = 0;
}
