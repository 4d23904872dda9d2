/**
 * A fully connected layer over a batch, `y = x·W + b`, with the kernel `W`
 * stored `[inputs × outputs]` row-major (Keras' layout, so a kernel's first
 * rows belong to the first input features), and the ReLU activation as
 * kernels of the set. Every product and element-wise pass goes through a
 * {@linkcode Kernels} set; all buffers are the caller's, nothing is
 * allocated per batch.
 *
 * @module
 */

import type { GemmArgs } from "../kernels/gemm.ts";
import type { Kernels } from "../kernels/kernels.ts";
import { tsKernels } from "../kernels/ts_kernels.ts";

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
  /** The kernel set in use. */
  readonly kernels: Kernels;
  #forward = _gemmArgs();
  #kernelGrad = _gemmArgs();
  #inputGrad = _gemmArgs();
  #bias = { count: 0, accumulate: false };

  /**
   * Binds a layer to its tensors.
   * @param params The layer's tensors; their lengths must match the sizes.
   * @param options `kernels` (default the TypeScript set).
   * @throws {RangeError} when a tensor's length does not match.
   */
  constructor(params: DenseParams, options: { kernels?: Kernels } = {}) {
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
    this.kernels = options.kernels ?? tsKernels;

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
    this.kernels.broadcastRows(bias, y, options);
    const f = this.#forward;
    f.m = count;
    f.a = x;
    f.c = y;
    this.kernels.sgemm(f);
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
    const accumulate = options.accumulate ?? false;
    const g = this.#kernelGrad;
    g.k = count;
    g.a = x;
    g.b = dy;
    g.beta = accumulate ? 1 : 0;
    this.kernels.sgemm(g);
    const b = this.#bias;
    b.count = count;
    b.accumulate = accumulate;
    this.kernels.biasGrad(dy, this.params.biasGrad, b);

    const dx = options.dx ?? null;
    if (dx !== null) {
      const d = this.#inputGrad;
      d.m = count;
      d.a = dy;
      d.c = dx;
      d.beta = 0;
      this.kernels.sgemm(d);
    }
  }
}
