/**
 * Fold-in: scores for a user the model never saw, from the items they
 * interacted with, without retraining. A copy of the model with a single
 * user row shares every item-side weight of the checkpoint (frozen); seeded
 * Adam steps on that one user row, with the given items as positives and
 * sampled negatives, fit the new user's representation, which then scores
 * the catalogue like any trained user's.
 *
 * The defaults were tuned with `deno task bench:foldin` (bench/README.md) on
 * the NCF MovieLens-1M split, never on its test items: 120 steps of at most
 * 16 positives (each with 4 negatives), the step size decaying linearly from
 * 0.04 to 0, from the trained users' mean row, under a weak prior around it.
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
  /** Optimizer steps per fold-in (default 120). */
  steps?: number | undefined;
  /** Adam's step size on the user row at the first step (default 0.04). */
  learningRate?: number | undefined;
  /**
   * How the step size moves over the steps: `linear` (default) decays it to
   * 0 at the last step, so the row settles instead of jittering with the
   * sampled negatives; `constant` keeps it.
   */
  schedule?: "linear" | "constant" | undefined;
  /** Sampled negatives per positive in each step (default 4). */
  negatives?: number | undefined;
  /**
   * The most positives one step trains on (default 16): a user with more
   * takes them in turns, in a seeded order, so a step costs at most
   * `batchPositives × (1 + negatives)` examples whatever the user posted.
   */
  batchPositives?: number | undefined;
  /**
   * Weight λ of a Gaussian prior on the user row around its start (the
   * trained users' mean row): each step's mean loss gets
   * `λ‖row − start‖² / (positives × (1 + negatives))`, so the prior counts
   * like λ examples, which matters for a user with a few items and fades for
   * one with many (default 0.25; 0 turns it off).
   */
  prior?: number | undefined;
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
  readonly #linear: boolean;
  readonly #negatives: number;
  readonly #batchPositives: number;
  readonly #prior: number;
  readonly #seed: number;
  readonly #numItems: number;
  readonly #all: Int32Array;
  readonly #scores: Float32Array;
  readonly #posted: Uint8Array;
  /** The posted items, in the order steps take them. */
  readonly #order: Int32Array;
  /** One step's examples: the positives, then their negatives. */
  readonly #batch: { users: Int32Array; items: Int32Array; labels: Int8Array; count: number };

  /**
   * @param config The trained model's config (its `kind` and sizes).
   * @param tensors The trained model's tensors by name (a checkpoint's `param/…`).
   * @throws {RangeError} when a tensor is missing or the wrong size, or an
   *   option is out of range (steps, negatives and batchPositives are
   *   integers, at least 0, 0 and 1; learningRate and prior finite, ≥ 0).
   */
  constructor(
    config: ModelConfig,
    tensors: Readonly<Record<string, Float32Array>>,
    options: FoldInOptions = {},
  ) {
    this.#steps = _option("steps", options.steps ?? 120, { integer: true, min: 0 });
    this.#learningRate = _option("learningRate", options.learningRate ?? 0.04, { min: 0 });
    this.#linear = (options.schedule ?? "linear") === "linear";
    this.#negatives = _option("negatives", options.negatives ?? 4, { integer: true, min: 0 });
    this.#batchPositives = _option("batchPositives", options.batchPositives ?? 16, {
      integer: true,
      min: 1,
    });
    this.#prior = _option("prior", options.prior ?? 0.25, { min: 0 });
    this.#seed = options.seed ?? 1;
    this.#numItems = config.numItems;
    const capacity = this.#batchPositives * (1 + this.#negatives);
    this.#model = buildModel({ ...config, numUsers: 1 }, {
      backend: options.backend,
      maxBatchSize: capacity,
    });
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
    this.#order = new Int32Array(config.numItems);
    this.#batch = {
      users: new Int32Array(capacity),
      items: new Int32Array(capacity),
      labels: new Int8Array(capacity),
      count: 0,
    };
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
    const perPositive = positives === numItems ? 0 : this.#negatives;
    const perStep = Math.min(positives, this.#batchPositives);
    const batch = this.#batch;
    batch.count = perStep * (1 + perPositive);
    batch.labels.fill(1, 0, perStep).fill(0, perStep, batch.count);
    const order = this.#order;
    let n = 0;
    for (let i = 0; i < numItems; i++) if (posted[i] === 1) order[n++] = i;
    for (let e = 0; e < this.#userEntries.length; e++) {
      this.#userEntries[e].values.set(this.#start[e]);
      this.#m[e].fill(0);
      this.#v[e].fill(0);
    }
    const prng = new Prng(this.#seed);
    if (perStep < positives) {
      for (let i = positives - 1; i > 0; i--) {
        const j = prng.nextInt(i + 1);
        const t = order[i];
        (order[i] = order[j], order[j] = t);
      }
    }
    const stepper = this.#stepper(2 * this.#prior / (positives * (1 + perPositive)));
    this.#model.parameters.clearGrads();
    let next = 0;
    for (let step = 0; step < this.#steps; step++) {
      for (let j = 0; j < perStep; j++) {
        batch.items[j] = order[next];
        next = next + 1 === positives ? 0 : next + 1;
      }
      for (let j = perStep; j < batch.count; j++) {
        let item: number;
        do item = prng.nextInt(numItems); while (posted[item] === 1);
        batch.items[j] = item;
      }
      this.#model.trainStep(batch, { optimizer: stepper });
    }
    this.#model.scoreUserItems(0, this.#all, { out: this.#scores });
    return this.#scores;
  }

  /**
   * Adam on the user rows alone, with the prior's gradient `l2 · (row −
   * start)` added; every other gradient is dropped (item weights stay frozen).
   */
  #stepper(l2: number): { step(): void } {
    const lr = this.#learningRate;
    const steps = this.#steps;
    const linear = this.#linear;
    const beta1 = 0.9;
    const beta2 = 0.999;
    const epsilon = 1e-8;
    let t = 0;
    return {
      step: () => {
        const rate = linear ? lr * (steps - t) / steps : lr;
        t++;
        const a = rate * Math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t);
        for (let e = 0; e < this.#userEntries.length; e++) {
          const { values, grads } = this.#userEntries[e];
          const m = this.#m[e];
          const v = this.#v[e];
          const start = this.#start[e];
          for (let j = 0; j < values.length; j++) {
            const g = grads[j] + l2 * (values[j] - start[j]);
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

/** `value` checked to be finite, at least `min` (and an integer when asked). */
function _option(
  name: string,
  value: number,
  rule: { integer?: boolean; min: number },
): number {
  const integer = rule.integer ?? false;
  if (!Number.isFinite(value) || value < rule.min || (integer && !Number.isInteger(value))) {
    throw new RangeError(
      `Cannot fold in new users: ${name} is ${value}, expected ${
        integer ? "an integer" : "a number"
      } ≥ ${rule.min}`,
    );
  }
  return value;
}
