/**
 * The data shapes shared by the readers, the preprocessing and the pipeline.
 *
 * @module
 */

import type { RawIds } from "./raw_ids.ts";

/**
 * Raw interactions as read from a ratings file, in file order. A numeric id
 * column holds the file's own integers (any integer up to 2^53, hence
 * `Float64Array`). A string id column (any id that is not such an integer)
 * holds codes instead: `users[r]` is an index into `userNames`, the ids as
 * written in the file (likewise `items` and `itemNames`).
 */
export interface RawInteractions {
  /** Raw user id of each row, or its index into `userNames` when that is set. */
  users: Float64Array;
  /** Raw item id of each row, or its index into `itemNames` when that is set. */
  items: Float64Array;
  /** Timestamp of each row (seconds; any finite number). */
  timestamps: Float64Array;
  /** Number of rows (the arrays may be longer). */
  length: number;
  /** The user ids of a string column, each once; absent for a numeric column. */
  userNames?: readonly string[] | undefined;
  /** The item ids of a string column, each once; absent for a numeric column. */
  itemNames?: readonly string[] | undefined;
}

/**
 * A preprocessed data set: dense 0-based ids, each user's training positives
 * as sorted CSR rows, one held-out item per user and that user's evaluation
 * negatives.
 */
export interface Dataset {
  /** Number of users (dense ids 0..numUsers-1). */
  numUsers: number;
  /** Number of items (dense ids 0..numItems-1), held-out ones included. */
  numItems: number;
  /** Raw id of each dense user id (integers, or strings as written in the data). */
  userIds: RawIds;
  /** Raw id of each dense item id (integers, or strings as written in the data). */
  itemIds: RawIds;
  /** CSR offsets into `trainItems`, length numUsers + 1. */
  trainOffsets: Int32Array;
  /** Each user's training items, ascending within a user. */
  trainItems: Int32Array;
  /** The held-out item of each user. */
  evalItems: Int32Array;
  /** CSR offsets into `evalNegatives`, length numUsers + 1. */
  evalNegOffsets: Int32Array;
  /** Each user's evaluation negatives (distinct, never an item of the user). */
  evalNegatives: Int32Array;
  /** Users who got fewer than the requested number of evaluation negatives. */
  numEvalCappedUsers: number;
  /**
   * With `validation`: each user's second-latest interaction, held out of
   * training too, and its own evaluation negatives (never a training, test or
   * validation item of the user).
   */
  validation?: ValidationSplit | undefined;
}

/** The validation hold-out of a {@linkcode Dataset}. */
export interface ValidationSplit {
  /** The validation item of each user. */
  items: Int32Array;
  /** CSR offsets into `negatives`, length numUsers + 1. */
  negOffsets: Int32Array;
  /** Each user's validation negatives. */
  negatives: Int32Array;
  /** Users who got fewer than the requested number of validation negatives. */
  numCappedUsers: number;
}

/**
 * The counts `ncf inspect` prints.
 */
export interface DatasetSummary {
  num_users: number;
  num_items: number;
  num_interactions: number;
  num_train_positives: number;
  num_eval_users: number;
  num_eval_capped_users: number;
}
