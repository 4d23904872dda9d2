/**
 * What an optimizer is to the trainer and to checkpoints: it applies the
 * gradients accumulated in a `Parameters` set and can save and restore its
 * state. Optimizers are built from flags by `optimizers.ts`, outside the
 * model, and run the kernels of the tensors they update.
 *
 * @module
 */

/** `--optimizer` names, in the order help lists them (each built by `optimizers.ts`). */
export const OPTIMIZERS = ["adam", "lazy_adam", "sgd"] as const;

/** One of {@linkcode OPTIMIZERS}. */
export type OptimizerKind = typeof OPTIMIZERS[number];

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

/** What a training step needs from an optimizer. */
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
