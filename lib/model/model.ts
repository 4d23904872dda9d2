/**
 * The `Model` interface: what the trainer, evaluation, checkpoints, export,
 * recommend and (later) serving know of a model. A model is built by the
 * registry (`registry.ts`) from a serialisable config and a kernel set;
 * nothing outside `lib/model/` names a concrete model.
 *
 * @module
 */

import type { Kernels } from "../kernels/kernels.ts";
import type { Parameters } from "../kernels/parameters.ts";
import type { BackendChoice } from "../kernels/select_kernels.ts";
import type { TrainingLoss } from "./loss.ts";
import type { ScoreGraph } from "./score_graph.ts";

/** User–item pairs: the first `count` entries of each array. */
export interface Batch {
  /** User ids. */
  users: Int32Array;
  /** Item ids. */
  items: Int32Array;
  /** Number of pairs. */
  count: number;
}

/** A batch with labels (1 positive, 0 negative; floats in [0, 1] allowed). */
export interface LabeledBatch extends Batch {
  /** Label of each pair. */
  labels: Int8Array | Float32Array;
}

/**
 * (user, positive item, negative item) triples for a pairwise loss (`bpr`):
 * the first `count` entries of each array.
 */
export interface PairBatch extends Batch {
  /** The negative item of each triple (`items` holds the positives). */
  negItems: Int32Array;
}

/**
 * What a training step takes: labelled pairs for a pointwise loss, triples
 * for a pairwise one. The loss decides which fields are read (`labels`, or
 * `negItems`), so an object carrying both is read as the loss needs.
 */
export type TrainingBatch = LabeledBatch | PairBatch;

/** Options of {@linkcode Model.trainSequential}. */
export interface SequentialOptions {
  /** The SGD step size (rounded to float32, as `Sgd` does). */
  learningRate: number;
  /** The loss (default `bce` for labelled pairs, `bpr` for triples). */
  loss?: TrainingLoss | undefined;
  /** Examples to train on, from the first (default the chunk's `count`). */
  count?: number | undefined;
}

/**
 * A model's serialisable configuration: everything that, with a kernel set
 * and a PRNG, rebuilds it (checkpoints store it as JSON). Each model adds
 * its own fields.
 */
export interface ModelConfig {
  /** The registry name (`--model`). */
  readonly kind: string;
  /** Number of users (ids 0..numUsers-1). */
  readonly numUsers: number;
  /** Number of items (ids 0..numItems-1). */
  readonly numItems: number;
}

/** What an evaluation worker needs to rebuild a model (weights come separately). */
export interface ModelSpec {
  /** The model's config. */
  config: ModelConfig;
  /** The `--backend` of the kernel set. */
  backend: BackendChoice;
  /** OpenBLAS threads of the blas set. */
  blasThreads: number;
}

/** What a training step needs of an optimizer (built outside the model, in lib/optim). */
export interface Stepper {
  /** Applies the accumulated gradients, then zeroes them. */
  step(): void;
}

/** A trained model's tensors of one checkpoint, for models built from others. */
export interface PretrainedPart {
  /** The part's config. */
  config: ModelConfig;
  /** Its tensors, by name. */
  tensors: Readonly<Record<string, Float32Array>>;
  /** Where it came from, for messages (default "the <kind>"). */
  label?: string;
}

/** A recommender model. */
export interface Model {
  /** The serialisable configuration. */
  readonly config: ModelConfig;
  /** Every trainable tensor, by name, with shapes. */
  readonly parameters: Parameters;
  /** The kernel set the model (and its optimizer) runs. */
  readonly kernels: Kernels;
  /** One line for logs: sizes and parameter count. */
  describe(): string;
  /**
   * One training step: forward, backward (the gradient of `loss`), then
   * `optimizer.step()`. A pointwise loss (default sigmoid cross-entropy)
   * takes a {@linkcode LabeledBatch}; a pairwise one (`bpr`, the default for
   * a batch with `negItems` and no `labels`) a {@linkcode PairBatch}.
   * @returns The batch's loss before the update (with the L2 term).
   * @throws {TypeError} when the batch is not of the loss's kind (naming both).
   */
  trainStep(batch: TrainingBatch, options: { optimizer: Stepper; loss?: TrainingLoss }): number;
  /** Forward and backward without an update; the gradient stays in `parameters.grads`. */
  computeGradients(batch: TrainingBatch, options?: { loss?: TrainingLoss }): number;
  /** The loss of a batch, forward only. */
  loss(batch: TrainingBatch, options?: { loss?: TrainingLoss }): number;
  /**
   * Plain SGD one example at a time over a whole chunk (`--batch_size 1
   * --optimizer sgd` without a minibatch call per example): the same
   * result as `count` calls of `trainStep` on one-example batches with an
   * `Sgd` of `learningRate` (each model states how exactly). Absent when
   * the model has no such path.
   * @returns The mean of the examples' losses, each before its update.
   */
  trainSequential?(chunk: TrainingBatch, options: SequentialOptions): number;
  /** Logits of each pair into `out[0..count)`. */
  predict(batch: Batch, out: Float32Array): void;
  /**
   * How {@linkcode Model.predict} turns the tensors into a logit, as a
   * score graph (`score_graph.ts`): what exports translate (ONNX,
   * `model.json`); it names every tensor of `parameters`, in their order.
   */
  scoreGraph(): ScoreGraph;
  /** Refreshes the evaluation caches after weights changed outside `trainStep`. */
  prepareEval(): void;
  /** Logits of one user against `items[0..count)` into `out` (the fast evaluation path). */
  scoreUserItems(
    user: number,
    items: Int32Array,
    options: { out: Float32Array; count?: number },
  ): void;
  /**
   * Logits of one user against every item (`out[i]` for item `i <
   * numItems`), the same bits as {@linkcode Model.scoreUserItems} on the
   * list of all items; absent when the model has no faster way.
   */
  scoreUserAll?(user: number, out: Float32Array): void;
  /**
   * Logits of each of `users[0..count)` against every item, row-major into
   * `out[b·numItems + i]` (`out` holds at least `count × numItems`): the
   * full-ranking path through matrix products. Agrees with
   * {@linkcode Model.scoreUserItems} within float32 rounding; a user's bits
   * depend only on the weights, the kernel set and the users of its call
   * (evaluation calls it on blocks of consecutive users starting at
   * multiples of a fixed size, so every thread gets the same bits).
   * Absent when the model has no such path.
   */
  scoreUsersAll?(users: Int32Array, options: { out: Float32Array; count?: number }): void;
  /**
   * Sets the weights from trained parts (NeuMF from a GMF and an MLP, the
   * paper's pretraining); absent when the model has no such recipe.
   * @throws {RangeError} naming the part that does not fit.
   */
  initFromParts?(parts: readonly PretrainedPart[], options: { alpha: number }): void;
}
