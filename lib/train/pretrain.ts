/**
 * The NCF paper's pretraining, as the trainer does it: load the trained
 * parts' checkpoints (the best epoch's where `--keep_best` kept one, as the
 * paper's code keeps the best weights) and let the model start from them
 * (NeuMF's recipe lives with NeuMF, behind `Model.initFromParts`).
 *
 * @module
 */

import { join } from "node:path";
import type { Model, PretrainedPart } from "../model/model.ts";
import { CHECKPOINT_FILE } from "./checkpoint_file.ts";
import { checkpointTensors, loadModelCheckpoint } from "./model_checkpoint.ts";
import { BEST_DIR } from "./model_loop.ts";

/** A trained part with where it came from. */
export interface LoadedPart extends PretrainedPart {
  /** "DIR (best epoch, N)" or "DIR (last epoch, N)", for the log. */
  description: string;
  /** The folder it was loaded from. */
  dir: string;
}

/**
 * The checkpoint a pretraining folder offers: its `best` one when there is
 * one, else the last.
 */
export async function loadPretrained(dir: string): Promise<LoadedPart> {
  const best = join(dir, BEST_DIR);
  let hasBest = false;
  try {
    hasBest = (await Deno.stat(join(best, CHECKPOINT_FILE))).isFile;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const checkpoint = await loadModelCheckpoint(hasBest ? best : dir);
  const epoch = checkpoint.meta.run.epochsDone;
  return {
    config: checkpoint.meta.model,
    tensors: checkpointTensors(checkpoint),
    description: `${dir} (${hasBest ? "best" : "last"} epoch, ${epoch})`,
    label: `${dir} (${checkpoint.meta.model.kind})`,
    dir,
  };
}

/**
 * Starts `model` from trained `parts` (see `Model.initFromParts`).
 * @throws {RangeError} when the model has no such recipe or a part does not
 *   fit (naming the part's folder).
 */
export function applyPretraining(
  model: Model,
  parts: readonly LoadedPart[],
  options: { alpha: number },
): void {
  if (model.initFromParts === undefined) {
    throw new RangeError(
      `Cannot pretrain a ${model.config.kind} model: it has no pretraining recipe`,
    );
  }
  model.initFromParts(parts, options);
}
