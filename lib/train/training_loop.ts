/**
 * What the trainer does with each batch and after each cycle: the seam
 * where the model plugs into the data pipeline (tests of the pipeline plug
 * in a loop of their own).
 *
 * @module
 */

import type { Batch, TrainingCycle } from "../pipeline/data_pipeline.ts";

/** What the training loop does with the data; the model plugs in here. */
export interface TrainingLoop {
  /** Called once per batch, in order. */
  trainBatch(batch: Batch): void;
  /** Called after each cycle; returning true stops the run early. */
  endCycle?(cycle: TrainingCycle): boolean | void | Promise<boolean | void>;
}
