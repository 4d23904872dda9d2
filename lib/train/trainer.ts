/**
 * The trainer role: load the data, start the generator through the data
 * pipeline, and hand every cycle's batches to the training loop.
 *
 * @module
 */

import type { TrainerFlags } from "../flags/specs.ts";
import { defaultNumWorkers } from "../flags/specs.ts";
import { drawSeed, loadDatasetFromFlags } from "../data/load_from_flags.ts";
import type { Dataset } from "../data/types.ts";
import {
  type Batch,
  type DataPipeline,
  startDataPipeline,
  type TrainingCycle,
} from "../pipeline/data_pipeline.ts";
import type { ProcessContext } from "../pipeline/spawn_argv.ts";

/** What the training loop does with the data; the model plugs in here. */
export interface TrainingLoop {
  /** Called once per batch, in order. */
  trainBatch(batch: Batch): void;
  /** Called after each cycle. */
  endCycle?(cycle: TrainingCycle): void | Promise<void>;
}

/** Options of {@linkcode runTrainer}. */
export interface TrainerOptions {
  /** Aborted on SIGINT/SIGTERM. */
  signal?: AbortSignal;
  /** Receives each line the trainer reports. */
  print?: (line: string) => void;
  /** Builds the training loop for the loaded data set (default: consume only). */
  makeLoop?: (dataset: Dataset, seed: number) => TrainingLoop;
  /** Overrides how this process was started (tests). */
  processContext?: ProcessContext;
}

/** One cycle's numbers. */
export interface CycleReport {
  index: number;
  examples: number;
  batches: number;
  seconds: number;
}

/** What a finished run reports. */
export interface TrainerResult {
  seed: number;
  cacheId: string;
  cycles: CycleReport[];
}

/**
 * Runs the trainer. Resolves on success; throws on failure after stopping
 * the generator and removing the run folder.
 */
export async function runTrainer(
  flags: TrainerFlags,
  options: TrainerOptions = {},
): Promise<TrainerResult> {
  const print = options.print ?? (() => {});
  const signal = options.signal;
  const seed = flags.seed ?? drawSeed();
  print(`seed ${seed}${flags.seed === undefined ? " (drawn; pass --seed to repeat)" : ""}`);
  const { dataset } = await loadDatasetFromFlags(flags, {
    seed,
    signal,
    onWarning: (m) => print(`warning: ${m}`),
  });
  print(
    `data ${flags.dataset}: ${dataset.numUsers} users, ${dataset.numItems} items, ` +
      `${dataset.trainItems.length} training positives`,
  );
  const loop = options.makeLoop?.(dataset, seed) ?? { trainBatch: () => {} };
  const numCycles = Math.ceil(flags.train_epochs / flags.epochs_between_evals);
  const cacheDir = flags.cache_dir ?? flags.data_dir;
  const pipeline: DataPipeline = await startDataPipeline({
    cacheDir,
    dataDir: flags.data_dir,
    positives: { offsets: dataset.trainOffsets, items: dataset.trainItems },
    numItems: dataset.numItems,
    settings: {
      num_neg: flags.num_neg,
      epochs_per_cycle: flags.epochs_between_evals,
      num_cycles: numCycles,
      start_cycle: 0,
      train_batch_size: flags.batch_size,
      spillover: flags.spillover,
      cycles_to_buffer: flags.cycles_to_buffer,
      seed,
      num_workers: flags.num_workers ?? defaultNumWorkers(navigator.hardwareConcurrency),
      heartbeat_timeout: flags.heartbeat_timeout,
    },
    useSubprocess: flags.use_subprocess,
    keepCache: flags.keep_cache,
    flagfileTimeout: flags.flagfile_timeout,
    startupTimeout: flags.startup_timeout,
    cycleTimeout: flags.cycle_timeout,
    killGrace: flags.kill_grace,
    signal,
    processContext: options.processContext,
    onStandalone: (line) => {
      print("standalone mode: run this generator command (it may run on another host):");
      print(line);
    },
  });
  print(
    `run ${pipeline.cacheId}: ${numCycles} cycles of ${flags.epochs_between_evals} epochs` +
      (pipeline.generatorPid === undefined ? "" : `, generator pid ${pipeline.generatorPid}`) +
      ` (log ${pipeline.paths.generatorLog})`,
  );
  let success = false;
  const cycles: CycleReport[] = [];
  try {
    for await (const cycle of pipeline.cycles()) {
      const started = performance.now();
      let examples = 0;
      let batches = 0;
      for await (const batch of cycle.batches) {
        loop.trainBatch(batch);
        examples += batch.size;
        batches++;
      }
      const seconds = (performance.now() - started) / 1000;
      cycles.push({ index: cycle.index, examples, batches, seconds });
      print(
        `cycle ${cycle.index}  ${examples.toLocaleString("en-US")} examples  ` +
          `${batches.toLocaleString("en-US")} batches  ${
            Math.round(examples / seconds).toLocaleString("en-US")
          } ex/s`,
      );
      await loop.endCycle?.(cycle);
      pipeline.check();
    }
    success = true;
  } finally {
    await pipeline.close({ success });
  }
  return { seed, cacheId: pipeline.cacheId, cycles };
}
