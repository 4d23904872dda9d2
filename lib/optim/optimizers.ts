/**
 * The optimizers by `--optimizer` name, and the one function that builds
 * one from its hyper-parameters: the list the flags offer is this table's.
 *
 * @module
 */

import type { Parameters } from "../kernels/parameters.ts";
import { Adam, LazyAdam } from "./adam.ts";
import { type Optimizer, type OptimizerKind, OPTIMIZERS } from "./optimizer.ts";
import { Sgd } from "./sgd.ts";

export { type OptimizerKind, OPTIMIZERS };

/** Hyper-parameters of every optimizer (each takes what it uses). */
export interface OptimizerOptions {
  /** Step size (default 0.001). */
  learningRate?: number | undefined;
  /** Adam's first-moment decay (default 0.9). */
  beta1?: number | undefined;
  /** Adam's second-moment decay (default 0.999). */
  beta2?: number | undefined;
  /** Adam's denominator guard (default 1e-8). */
  epsilon?: number | undefined;
}

const _BUILDERS: Record<OptimizerKind, (p: Parameters, o: OptimizerOptions) => Optimizer> = {
  adam: (p, o) => new Adam(p, o),
  lazy_adam: (p, o) => new LazyAdam(p, o),
  sgd: (p, o) => new Sgd(p, o),
};

/**
 * The optimizer `kind` over `parameters` (it runs their kernel set).
 *
 * @throws {RangeError} on an unknown kind or an out-of-range hyper-parameter.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Parameters } from "../kernels/parameters.ts";
 * import { buildOptimizer } from "./optimizers.ts";
 * const p = new Parameters([{ name: "w", shape: [1] }]);
 * const sgd = buildOptimizer("sgd", p, { learningRate: 0.5 });
 * p.grads[0] = 2;
 * sgd.step();
 * assert.equal(p.values[0], -1);
 * ```
 */
export function buildOptimizer(
  kind: OptimizerKind,
  parameters: Parameters,
  options: OptimizerOptions = {},
): Optimizer {
  const build = _BUILDERS[kind];
  if (build === undefined) {
    throw new RangeError(
      `Cannot build optimizer '${kind}': the optimizers are ${OPTIMIZERS.join(", ")}`,
    );
  }
  return build(parameters, options);
}
