/**
 * Adam optimizers over a {@linkcode Parameters} set, in the TensorFlow/Keras
 * formulation (as the TF NCF reference's `tf.train.AdamOptimizer` and
 * `LazyAdamOptimizer`):
 *
 * ```
 * t      ← t + 1
 * m      ← β1·m + (1 − β1)·g
 * v      ← β2·v + (1 − β2)·g²
 * lr_t   = lr·√(1 − β2^t) / (1 − β1^t)
 * θ      ← θ − lr_t·m / (√v + ε)
 * ```
 *
 * (PyTorch adds ε to the bias-corrected `√v̂` instead; the two differ only
 * in how ε is scaled.) `lr_t` is computed in float64; the per-element
 * update is float32 arithmetic throughout (as PyTorch's and TensorFlow's
 * CPU kernels), each operation rounded to float32 in the order written
 * above, with `β1`, `β2`, `1 − β1`, `1 − β2`, `lr_t` and `ε` rounded to
 * float32 first. Moments whose magnitude falls below the smallest normal
 * float32 are flushed to zero.
 *
 * When the parameters live in a {@linkcode WasmArena} (see
 * `Parameters`' `allocate` option), the moments are allocated there too and
 * the update runs the WebAssembly SIMD kernel (four elements at a time);
 * the TypeScript loop rounds with `Math.fround` after every operation, so
 * both give the same bits.
 *
 * `Adam` updates every parameter every step (rows a batch did not touch
 * still move, with g = 0). `LazyAdam` updates only the rows of the sparse
 * (embedding) tensors that the batch touched — their moments included; the
 * other rows and their moments stay exactly as they were — and every dense
 * tensor as `Adam` does. Both consume the gradients: after `step()` every
 * gradient is zero again.
 *
 * @module
 */

import type { TouchedRows } from "../model/embedding.ts";
import type { Parameters } from "../model/parameters.ts";
import { forEachPlannedRange, type UpdatePlan, updatePlan } from "./_update_plan.ts";
import { type WasmArena, wasmArenaOf, type WasmKernels } from "../kernels/wasm_arena.ts";

/** Hyper-parameters, with the paper's / Keras' defaults. */
export interface AdamOptions {
  /** Step size (default 0.001). */
  learningRate?: number;
  /** First-moment decay (default 0.9). */
  beta1?: number;
  /** Second-moment decay (default 0.999). */
  beta2?: number;
  /** Denominator guard (default 1e-8). */
  epsilon?: number;
}

/** The optimizers: Adam, LazyAdam, and plain SGD (`lib/model/sgd.ts`). */
export type OptimizerKind = "adam" | "lazy_adam" | "sgd";

/** An optimizer's resumable state (copies; safe to serialise). */
export interface OptimizerState {
  /** Which optimizer wrote it. */
  kind: OptimizerKind;
  /** Steps taken so far (the `t` of Adam's bias correction). */
  step: number;
  /** First moments, by parameter name (empty for SGD). */
  m: Record<string, Float32Array>;
  /** Second moments, by parameter name (empty for SGD). */
  v: Record<string, Float32Array>;
}

/** What the model needs from an optimizer. */
export interface Optimizer {
  /** Which optimizer this is. */
  readonly kind: OptimizerKind;
  /** Step size; may be changed between steps. */
  learningRate: number;
  /** Steps taken so far. */
  readonly stepCount: number;
  /** Adam's first-moment decay (absent for SGD). */
  readonly beta1?: number;
  /** Adam's second-moment decay (absent for SGD). */
  readonly beta2?: number;
  /** Adam's denominator guard (absent for SGD). */
  readonly epsilon?: number;
  /** Applies the accumulated gradients, then zeroes them. */
  step(): void;
  /** A copy of the state, for checkpoints. */
  getState(): OptimizerState;
  /** Restores a state from {@linkcode Optimizer.getState}. */
  setState(state: OptimizerState): void;
}

/** Smallest normal float32; moments below it are flushed to zero. */
const _FLT_MIN = 1.1754943508222875e-38;

/**
 * One Adam update over `[start, end)` of the flat buffers in float32
 * arithmetic (every operation rounded by `Math.fround`, constants already
 * float32); zeroes the gradients.
 */
function _adamRange(
  values: Float32Array,
  grads: Float32Array,
  m: Float32Array,
  v: Float32Array,
  start: number,
  end: number,
  k: _Constants,
): void {
  const f = Math.fround;
  const { b1, b2, c1, c2, lr, eps } = k;
  for (let i = start; i < end; i++) {
    const g = grads[i];
    grads[i] = 0;
    let mi = f(f(b1 * m[i]) + f(c1 * g));
    let vi = f(f(b2 * v[i]) + f(f(c2 * g) * g));
    // Flush float32 subnormals to zero (as TF's CPU kernels do): they hit slow paths.
    if (mi < _FLT_MIN && mi > -_FLT_MIN) mi = 0;
    if (vi < _FLT_MIN) vi = 0;
    m[i] = mi;
    v[i] = vi;
    values[i] = values[i] - f(f(lr * mi) / f(f(Math.sqrt(vi)) + eps));
  }
}

/** The float32 constants of one step. */
interface _Constants {
  b1: number;
  b2: number;
  c1: number;
  c2: number;
  lr: number;
  eps: number;
}

/** State and bookkeeping shared by both optimizers (composition, not inheritance). */
class _AdamCore {
  learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly params: Parameters;
  readonly m: Float32Array;
  readonly v: Float32Array;
  t = 0;
  /** The arena's kernels when values, grads, m and v all live in one arena. */
  readonly #kernels: WasmKernels | null = null;
  readonly #k: _Constants = { b1: 0, b2: 0, c1: 0, c2: 0, lr: 0, eps: 0 };

  constructor(params: Parameters, options: AdamOptions) {
    this.params = params;
    this.learningRate = options.learningRate ?? 0.001;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    const bad = [
      ["learningRate", this.learningRate, this.learningRate >= 0],
      ["beta1", this.beta1, this.beta1 >= 0 && this.beta1 < 1],
      ["beta2", this.beta2, this.beta2 >= 0 && this.beta2 < 1],
      ["epsilon", this.epsilon, this.epsilon >= 0],
    ].find(([, , ok]) => !ok);
    if (bad !== undefined) {
      throw new RangeError(`Cannot build Adam: ${bad[0]} = ${bad[1]} is out of range`);
    }
    const arena: WasmArena | undefined = wasmArenaOf(params.values);
    const allocate = (n: number) => arena?.alloc(n) ?? new Float32Array(n);
    this.m = allocate(params.size);
    this.v = allocate(params.size);
    if (arena?.owns(params.values, params.grads, this.m, this.v)) this.#kernels = arena.kernels;
  }

  /** Advances `t` and returns `lr_t` (float64). */
  nextRate(): number {
    this.t++;
    return this.learningRate * Math.sqrt(1 - Math.pow(this.beta2, this.t)) /
      (1 - Math.pow(this.beta1, this.t));
  }

  /** The float32 constants of a step with rate `lrT`. */
  constants(lrT: number): _Constants {
    const f = Math.fround;
    const k = this.#k;
    k.b1 = f(this.beta1);
    k.b2 = f(this.beta2);
    k.c1 = f(1 - this.beta1);
    k.c2 = f(1 - this.beta2);
    k.lr = f(lrT);
    k.eps = f(this.epsilon);
    return k;
  }

  /** One update of elements `[start, end)` with `constants(lrT)`; zeroes their gradients. */
  update(start: number, end: number, k: _Constants): void {
    const { values, grads } = this.params;
    const kernels = this.#kernels;
    if (kernels !== null) {
      const at = start * 4;
      kernels.adam(
        values.byteOffset + at,
        grads.byteOffset + at,
        this.m.byteOffset + at,
        this.v.byteOffset + at,
        end - start,
        k.b1,
        k.b2,
        k.c1,
        k.c2,
        k.lr,
        k.eps,
      );
    } else {
      _adamRange(values, grads, this.m, this.v, start, end, k);
    }
  }

  getState(kind: "adam" | "lazy_adam"): OptimizerState {
    const m: Record<string, Float32Array> = {};
    const v: Record<string, Float32Array> = {};
    for (const e of this.params.entries) {
      m[e.name] = this.m.slice(e.offset, e.offset + e.length);
      v[e.name] = this.v.slice(e.offset, e.offset + e.length);
    }
    return { kind, step: this.t, m, v };
  }

  setState(kind: "adam" | "lazy_adam", state: OptimizerState): void {
    if (state.kind === "sgd") {
      throw new RangeError(`Cannot restore ${kind} state: it is an sgd state, without moments`);
    }
    if (!Number.isSafeInteger(state.step) || state.step < 0) {
      throw new RangeError(
        `Cannot restore ${kind} state: step ${state.step} is not an integer ≥ 0`,
      );
    }
    for (const key of ["m", "v"] as const) {
      const byName = state[key];
      for (const name of Object.keys(byName)) {
        if (!this.params.has(name)) {
          throw new RangeError(`Cannot restore ${kind} state: unknown tensor '${name}' in ${key}`);
        }
      }
      for (const e of this.params.entries) {
        const src = byName[e.name];
        if (src === undefined || src.length !== e.length) {
          throw new RangeError(
            `Cannot restore ${kind} state: ${key} of '${e.name}' has ${
              src?.length ?? "no"
            } values, expected ${e.length}`,
          );
        }
      }
    }
    for (const e of this.params.entries) {
      this.m.set(state.m[e.name], e.offset);
      this.v.set(state.v[e.name], e.offset);
    }
    this.t = state.step;
  }
}

/**
 * Dense Adam: every parameter, every step.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Parameters } from "../model/parameters.ts";
 * import { Adam } from "./adam.ts";
 * const p = new Parameters([{ name: "w", shape: [1] }]);
 * const adam = new Adam(p, { learningRate: 0.1 });
 * p.grads[0] = 3;
 * adam.step(); // first step moves by ≈ lr against the gradient's sign
 * assert.ok(Math.abs(p.values[0] + 0.1) < 1e-6 && p.grads[0] === 0);
 * ```
 */
export class Adam implements Optimizer {
  /** Always `"adam"`. */
  readonly kind = "adam" as const;
  #core: _AdamCore;

  /**
   * Zeroed moments for every tensor of `params`.
   * @param params The tensors to train (their `grads` are consumed).
   * @param options Hyper-parameters; see {@linkcode AdamOptions}.
   * @throws {RangeError} on an out-of-range hyper-parameter.
   */
  constructor(params: Parameters, options: AdamOptions = {}) {
    this.#core = new _AdamCore(params, options);
  }

  /** First-moment decay. */
  get beta1(): number {
    return this.#core.beta1;
  }
  /** Second-moment decay. */
  get beta2(): number {
    return this.#core.beta2;
  }
  /** Denominator guard. */
  get epsilon(): number {
    return this.#core.epsilon;
  }

  /** Step size; may be changed between steps. */
  get learningRate(): number {
    return this.#core.learningRate;
  }
  set learningRate(value: number) {
    this.#core.learningRate = value;
  }

  /** Steps taken so far. */
  get stepCount(): number {
    return this.#core.t;
  }

  /** One update of every parameter; zeroes every gradient. */
  step(): void {
    const c = this.#core;
    c.update(0, c.params.size, c.constants(c.nextRate()));
  }

  /** A copy of the step count and moments, by tensor name. */
  getState(): OptimizerState {
    return this.#core.getState(this.kind);
  }

  /**
   * Restores a state from `getState()` of Adam or LazyAdam.
   * @throws {RangeError} on a missing, extra or mis-sized tensor or a bad step.
   */
  setState(state: OptimizerState): void {
    this.#core.setState(this.kind, state);
  }
}

/**
 * Lazy Adam: sparse (embedding) tensors update only the rows recorded in
 * their {@linkcode TouchedRows}; dense tensors update fully. `step()` also
 * clears the touched-row sets. Several tensors may share one set (e.g. two
 * user tables looked up with the same ids).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Parameters } from "../model/parameters.ts";
 * import { TouchedRows } from "../model/embedding.ts";
 * import { LazyAdam } from "./adam.ts";
 * const p = new Parameters([{ name: "emb", shape: [3, 1], sparse: true }]);
 * const touched = new TouchedRows(3);
 * const opt = new LazyAdam(p, { learningRate: 0.1, touched: new Map([["emb", touched]]) });
 * p.grads[1] = 1;
 * touched.mark(1);
 * opt.step();
 * assert.ok(p.values[0] === 0 && p.values[1] < 0 && touched.count === 0);
 * ```
 */
export class LazyAdam implements Optimizer {
  /** Always `"lazy_adam"`. */
  readonly kind = "lazy_adam" as const;
  #core: _AdamCore;
  #plan: UpdatePlan;
  #k: _Constants | null = null;
  #update = (start: number, end: number) => this.#core.update(start, end, this.#k!);

  /**
   * Zeroed moments for every tensor of `params`, bound to the touched-row sets.
   * @param params The tensors to train.
   * @param options Hyper-parameters, plus `touched`: the touched-row set of
   *   every sparse tensor, by name.
   * @throws {RangeError} when a sparse tensor has no set, or a set is too small.
   */
  constructor(
    params: Parameters,
    options: AdamOptions & { touched: ReadonlyMap<string, TouchedRows> },
  ) {
    this.#core = new _AdamCore(params, options);
    this.#plan = updatePlan(params, options.touched, { who: "LazyAdam" });
  }

  /** First-moment decay. */
  get beta1(): number {
    return this.#core.beta1;
  }
  /** Second-moment decay. */
  get beta2(): number {
    return this.#core.beta2;
  }
  /** Denominator guard. */
  get epsilon(): number {
    return this.#core.epsilon;
  }

  /** Step size; may be changed between steps. */
  get learningRate(): number {
    return this.#core.learningRate;
  }
  set learningRate(value: number) {
    this.#core.learningRate = value;
  }

  /** Steps taken so far. */
  get stepCount(): number {
    return this.#core.t;
  }

  /** One update of the touched rows and the dense tensors; zeroes their gradients. */
  step(): void {
    const c = this.#core;
    this.#k = c.constants(c.nextRate());
    forEachPlannedRange(this.#plan, this.#update);
  }

  /** A copy of the step count and moments, by tensor name. */
  getState(): OptimizerState {
    return this.#core.getState(this.kind);
  }

  /**
   * Restores a state from `getState()` of Adam or LazyAdam.
   * @throws {RangeError} on a missing, extra or mis-sized tensor or a bad step.
   */
  setState(state: OptimizerState): void {
    this.#core.setState(this.kind, state);
  }
}
