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
 * The moments are allocated in the parameters' memory and the update is
 * the kernel set's `adamUpdate` (the WebAssembly SIMD kernel four elements
 * at a time, or the TypeScript loop, which rounds with `Math.fround` after
 * every operation: both give the same bits).
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

import type { AdamConstants } from "../kernels/kernels.ts";
import type { Parameters } from "../kernels/parameters.ts";
import type { Optimizer, OptimizerState } from "./optimizer.ts";
import { forEachPlannedRange, type UpdatePlan, updatePlan } from "./_update_plan.ts";

/** Hyper-parameters, with the paper's / Keras' defaults. */
export interface AdamOptions {
  /** Step size (default 0.001). */
  learningRate?: number | undefined;
  /** First-moment decay (default 0.9). */
  beta1?: number | undefined;
  /** Second-moment decay (default 0.999). */
  beta2?: number | undefined;
  /** Denominator guard (default 1e-8). */
  epsilon?: number | undefined;
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
  readonly #k: AdamConstants = { b1: 0, b2: 0, c1: 0, c2: 0, lr: 0, eps: 0 };
  readonly #range: {
    m: Float32Array;
    v: Float32Array;
    start: number;
    end: number;
    constants: AdamConstants;
  } = { m: new Float32Array(0), v: new Float32Array(0), start: 0, end: 0, constants: this.#k };

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
    this.m = params.memory.alloc(params.size);
    this.v = params.memory.alloc(params.size);
    this.#range.m = this.m;
    this.#range.v = this.v;
  }

  /** Advances `t` and returns `lr_t` (float64). */
  nextRate(): number {
    this.t++;
    return this.learningRate * Math.sqrt(1 - Math.pow(this.beta2, this.t)) /
      (1 - Math.pow(this.beta1, this.t));
  }

  /** The float32 constants of a step with rate `lrT`. */
  constants(lrT: number): AdamConstants {
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
  update(start: number, end: number, k: AdamConstants): void {
    const r = this.#range;
    r.start = start;
    r.end = end;
    r.constants = k;
    this.params.kernels.adamUpdate(this.params.values, this.params.grads, r);
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
 * import { Parameters } from "../kernels/parameters.ts";
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
 * import { Parameters } from "../kernels/parameters.ts";
 * import { LazyAdam } from "./adam.ts";
 * const p = new Parameters([{ name: "emb", shape: [3, 1], sparse: true }]);
 * const opt = new LazyAdam(p, { learningRate: 0.1 });
 * const touched = p.touchedRows("emb")!;
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
  #k: AdamConstants | null = null;
  #update = (start: number, end: number) => this.#core.update(start, end, this.#k!);

  /**
   * Zeroed moments for every tensor of `params`; starts the tensors'
   * touched-row tracking (see `Parameters.trackTouchedRows`).
   * @param params The tensors to train.
   * @param options Hyper-parameters; see {@linkcode AdamOptions}.
   * @throws {RangeError} on an out-of-range hyper-parameter.
   */
  constructor(params: Parameters, options: AdamOptions = {}) {
    this.#core = new _AdamCore(params, options);
    this.#plan = updatePlan(params, params.trackTouchedRows(), { who: "LazyAdam" });
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
