/**
 * Fold-in: scores for a user the model never saw, from the items they
 * interacted with, without retraining. A copy of the model with a single
 * user row shares every item-side weight of the checkpoint (frozen); a few
 * seeded Adam steps on that one user row, with the given items as positives
 * and sampled negatives, fit the new user's representation, which then
 * scores the catalogue like any trained user's.
 *
 * @module
 */

import type { Model, ModelConfig } from "../model/model.ts";
import { buildModel } from "../model/registry.ts";
import type { BackendChoice } from "../flags/specs.ts";
import { Prng } from "../random/prng.ts";

/** Options of {@linkcode FoldIn}. */
export interface FoldInOptions {
  /** Kernel set of the one-user model (default "auto"). */
  backend?: BackendChoice | undefined;
  /** Optimizer steps per fold-in (default 30). */
  steps?: number | undefined;
  /** Adam's step size on the user row (default 0.05). */
  learningRate?: number | undefined;
  /** Sampled negatives per positive in each step (default 4). */
  negatives?: number | undefined;
  /** Seed of the negatives (default 1): the same items always give the same scores. */
  seed?: number | undefined;
}

/**
 * A trained model's fold-in: fits a new user from their items and scores
 * every item for them. One instance serves any number of calls (each
 * starts afresh from the mean user); calls are synchronous, so it can be
 * shared by concurrent requests of one thread.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildModel, modelConfig } from "../model/registry.ts";
 * import { FoldIn } from "./fold_in.ts";
 * const trained = buildModel(modelConfig("GMF", {
 *   numUsers: 3, numItems: 5, numFactors: 4, layers: [8, 4], mfRegularization: 0,
 *   mlpRegularization: 0,
 * }), { backend: "ts" });
 * const tensors = Object.fromEntries(trained.parameters.entries.map((e) => [e.name, e.values]));
 * const foldIn = new FoldIn(trained.config, tensors, { backend: "ts" });
 * const scores = foldIn.fit(Int32Array.of(1, 3));
 * assert.equal(scores.length, 5);
 * assert.deepEqual(foldIn.fit(Int32Array.of(1, 3)), scores); // deterministic
 * ```
 */
export class FoldIn {
  readonly #model: Model;
  readonly #userEntries: Model["parameters"]["entries"][number][];
  /** The starting row of each user tensor: the mean of the trained users' rows. */
  readonly #start: Float32Array[];
  readonly #m: Float32Array[];
  readonly #v: Float32Array[];
  readonly #steps: number;
  readonly #learningRate: number;
  readonly #negatives: number;
  readonly #seed: number;
  readonly #numItems: number;
  readonly #all: Int32Array;
  readonly #scores: Float32Array;
  readonly #posted: Uint8Array;

  /**
   * @param config The trained model's config (its `kind` and sizes).
   * @param tensors The trained model's tensors by name (a checkpoint's `param/…`).
   * @throws {RangeError} when a tensor is missing or the wrong size.
   */
  constructor(
    config: ModelConfig,
    tensors: Readonly<Record<string, Float32Array>>,
    options: FoldInOptions = {},
  ) {
    this.#steps = options.steps ?? 30;
    this.#learningRate = options.learningRate ?? 0.05;
    this.#negatives = options.negatives ?? 4;
    this.#seed = options.seed ?? 1;
    this.#numItems = config.numItems;
    this.#model = buildModel({ ...config, numUsers: 1 }, { backend: options.backend });
    const values: Record<string, Float32Array> = {};
    this.#userEntries = [];
    this.#start = [];
    for (const e of this.#model.parameters.entries) {
      const trained = tensors[e.name];
      const users = e.rowGroup === "user" ? config.numUsers : 1;
      if (trained === undefined || trained.length !== e.length * users) {
        throw new RangeError(
          `Cannot fold in new users: the trained model's tensor '${e.name}' is missing or the wrong size`,
        );
      }
      if (e.rowGroup !== "user") {
        values[e.name] = trained;
        continue;
      }
      const mean = new Float64Array(e.rowLength);
      for (let u = 0; u < config.numUsers; u++) {
        for (let j = 0; j < e.rowLength; j++) mean[j] += trained[u * e.rowLength + j];
      }
      const start = Float32Array.from(mean, (x) => x / Math.max(1, config.numUsers));
      values[e.name] = start;
      this.#userEntries.push(e);
      this.#start.push(start);
    }
    this.#model.parameters.restore(values);
    this.#model.prepareEval();
    this.#m = this.#start.map((s) => new Float32Array(s.length));
    this.#v = this.#start.map((s) => new Float32Array(s.length));
    this.#all = Int32Array.from({ length: config.numItems }, (_, i) => i);
    this.#scores = new Float32Array(config.numItems);
    this.#posted = new Uint8Array(config.numItems);
  }

  /**
   * Fits a new user to the dense item ids `items` (their positives; order
   * and repeats do not matter) and returns every item's logit for them
   * (`out[i]` for item `i`; a buffer reused by the next call).
   * @throws {RangeError} when an item id is out of range or no item is given.
   */
  fit(items: Int32Array): Float32Array {
    const numItems = this.#numItems;
    const posted = this.#posted;
    posted.fill(0);
    let positives = 0;
    for (const i of items) {
      if (!(i >= 0 && i < numItems)) {
        throw new RangeError(`Cannot fold in a user: item ${i} is not in 0..${numItems - 1}`);
      }
      if (posted[i] === 0) positives++;
      posted[i] = 1;
    }
    if (positives === 0) throw new RangeError("Cannot fold in a user: no items given");
    const unposted = numItems - positives;
    const perPositive = unposted === 0 ? 0 : this.#negatives;
    const count = positives * (1 + perPositive);
    const batch = {
      users: new Int32Array(count),
      items: new Int32Array(count),
      labels: new Int8Array(count),
      count,
    };
    let n = 0;
    for (let i = 0; i < numItems; i++) {
      if (posted[i] === 0) continue;
      batch.items[n] = i;
      batch.labels[n++] = 1;
    }
    for (let e = 0; e < this.#userEntries.length; e++) {
      this.#userEntries[e].values.set(this.#start[e]);
      this.#m[e].fill(0);
      this.#v[e].fill(0);
    }
    const prng = new Prng(this.#seed);
    const stepper = this.#stepper();
    this.#model.parameters.clearGrads();
    for (let step = 0; step < this.#steps; step++) {
      for (let j = positives; j < count; j++) {
        let item: number;
        do item = prng.nextInt(numItems); while (posted[item] === 1);
        batch.items[j] = item;
      }
      this.#model.trainStep(batch, { optimizer: stepper });
    }
    this.#model.scoreUserItems(0, this.#all, { out: this.#scores });
    return this.#scores;
  }

  /** Adam on the user rows alone; every other gradient is dropped (item weights stay frozen). */
  #stepper(): { step(): void } {
    const lr = this.#learningRate;
    const beta1 = 0.9;
    const beta2 = 0.999;
    const epsilon = 1e-8;
    let t = 0;
    return {
      step: () => {
        t++;
        const a = lr * Math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t);
        for (let e = 0; e < this.#userEntries.length; e++) {
          const { values, grads } = this.#userEntries[e];
          const m = this.#m[e];
          const v = this.#v[e];
          for (let j = 0; j < values.length; j++) {
            const g = grads[j];
            m[j] = beta1 * m[j] + (1 - beta1) * g;
            v[j] = beta2 * v[j] + (1 - beta2) * g * g;
            values[j] -= a * m[j] / (Math.sqrt(v[j]) + epsilon);
          }
        }
        this.#model.parameters.clearGrads();
      },
    };
  }
}
