/**
 * Plain stochastic gradient descent, `θ ← θ − lr·g`, in float32 arithmetic
 * (`lr` rounded to float32, the product rounded, then the difference) — the
 * optimizer the NCF paper fine-tunes a pretrained NeuMF with (its Keras
 * code's `SGD(lr)`: no momentum, no decay).
 *
 * SGD keeps no per-parameter state, so updating only the embedding rows a
 * batch touched is exact, not an approximation: a row outside the batch has
 * a zero gradient and would not move. Given `touched` sets it does just that
 * (the model passes them); without, it sweeps every parameter. Both give the
 * same bits.
 *
 * @module
 */

import type { Parameters } from "../kernels/parameters.ts";
import type { Optimizer, OptimizerState } from "./optimizer.ts";
import { forEachPlannedRange, type UpdatePlan, updatePlan } from "./_update_plan.ts";

/** Options of {@linkcode Sgd}. */
export interface SgdOptions {
  /** Step size (default 0.001, the paper's). */
  learningRate?: number | undefined;
  /**
   * Visit only the rows of the sparse tensors that a batch touched (default
   * true; false sweeps every parameter). Both give the same bits.
   */
  lazy?: boolean | undefined;
}

/**
 * Plain SGD.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Parameters } from "../kernels/parameters.ts";
 * import { Sgd } from "./sgd.ts";
 * const p = new Parameters([{ name: "w", shape: [2] }]);
 * p.values.set([1, 1]);
 * const sgd = new Sgd(p, { learningRate: 0.5 });
 * p.grads.set([2, -1]);
 * sgd.step();
 * assert.deepEqual([...p.values], [0, 1.5]);
 * assert.deepEqual([...p.grads], [0, 0]);
 * ```
 */
export class Sgd implements Optimizer {
  /** Always `"sgd"`. */
  readonly kind = "sgd" as const;
  /** Step size; may be changed between steps. */
  learningRate: number;
  #params: Parameters;
  #plan: UpdatePlan;
  #t = 0;
  #range = { start: 0, end: 0, lr: 0 };
  #update = (start: number, end: number) => {
    const r = this.#range;
    r.start = start;
    r.end = end;
    this.#params.kernels.sgdUpdate(this.#params.values, this.#params.grads, r);
  };

  /**
   * @param params The tensors to train (their `grads` are consumed).
   * @param options See {@linkcode SgdOptions}.
   * @throws {RangeError} on a negative or non-finite learning rate.
   */
  constructor(params: Parameters, options: SgdOptions = {}) {
    this.learningRate = options.learningRate ?? 0.001;
    if (!(this.learningRate >= 0 && Number.isFinite(this.learningRate))) {
      throw new RangeError(`Cannot build Sgd: learningRate = ${this.learningRate} is out of range`);
    }
    this.#params = params;
    this.#plan = options.lazy === false
      ? { dense: [{ start: 0, end: params.size }], sparse: [], sets: [] }
      : updatePlan(params, params.trackTouchedRows(), { who: "Sgd" });
  }

  /** Steps taken so far. */
  get stepCount(): number {
    return this.#t;
  }

  /** One update (of the touched rows and every dense tensor); zeroes those gradients. */
  step(): void {
    this.#t++;
    this.#range.lr = Math.fround(this.learningRate);
    forEachPlannedRange(this.#plan, this.#update);
  }

  /** The step count (SGD has no moments: `m` and `v` are empty). */
  getState(): OptimizerState {
    return { kind: "sgd", step: this.#t, m: {}, v: {} };
  }

  /**
   * Restores the step count of an SGD state.
   * @throws {RangeError} on another optimizer's state or a bad step.
   */
  setState(state: OptimizerState): void {
    if (state.kind !== "sgd") {
      throw new RangeError(`Cannot restore sgd state: it is a ${state.kind} state`);
    }
    if (!Number.isSafeInteger(state.step) || state.step < 0) {
      throw new RangeError(`Cannot restore sgd state: step ${state.step} is not an integer ≥ 0`);
    }
    this.#t = state.step;
  }
}
