/**
 * The trainer role: load the data, build (or resume, or pretrain) the model,
 * start the generator through the data pipeline, train on every cycle's
 * batches, evaluate after each cycle, and clean up.
 *
 * @module
 */

import type { TrainerFlags } from "../flags/specs.ts";
import { defaultEvalWorkers, defaultNumWorkers } from "../flags/specs.ts";
import { UsageError } from "../errors.ts";
import { drawSeed, loadDatasetFromFlags } from "./load_data.ts";
import type { Dataset } from "../data/types.ts";
import { evaluateRanking } from "../eval/evaluate.ts";
import { type EvalWorkerPool, startEvalWorkers } from "../eval/eval_workers.ts";
import { popularityScorer } from "../eval/popularity.ts";
import type { Model } from "../model/model.ts";
import { buildModel, modelConfig } from "../model/registry.ts";
import { buildOptimizer } from "../optim/optimizers.ts";
import { Prng } from "../random/prng.ts";
import {
  type Batch,
  type DataPipeline,
  startDataPipeline,
  type TrainingCycle,
} from "../pipeline/data_pipeline.ts";
import type { ProcessContext } from "../pipeline/spawn_argv.ts";
import {
  dataFingerprint,
  type EvalRecord,
  type LoadedModelCheckpoint,
  loadModelCheckpoint,
  restoreModelState,
  restoreOptimizerState,
} from "./model_checkpoint.ts";
import { ModelLoop } from "./model_loop.ts";
import type { TrainingLoop } from "./training_loop.ts";
import { applyPretraining, loadPretrained } from "./pretrain.ts";

/** Stream of the model's initial weights. */
export const MODEL_INIT_STREAM = 0x4d4f444c;

/** Progress within a cycle, for a terminal progress bar. */
export interface TrainingProgress {
  cycle: number;
  numCycles: number;
  batches: number;
  batchCount: number;
  examplesPerSecond: number;
  /** Seconds left in this cycle at the current rate. */
  etaSeconds: number;
}

/** Options of {@linkcode runTrainer}. */
export interface TrainerOptions {
  /** Aborted on SIGINT/SIGTERM. */
  signal?: AbortSignal;
  /** Receives each line the trainer reports. */
  print?: (line: string) => void;
  /** Receives progress about every 100 ms while a cycle trains. */
  progress?: (p: TrainingProgress) => void;
  /** Replaces the model's training loop (tests of the pipeline). */
  makeLoop?: (dataset: Dataset, seed: number) => TrainingLoop;
  /** Overrides how this process was started (tests). */
  processContext?: ProcessContext;
  /** Told when each phase begins (`NCF_TRACE=1` prints them for fault tests). */
  onPhase?: (phase: "train" | "evaluate" | "checkpoint") => void;
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
  /** Every evaluation, resumed ones included (empty with `makeLoop`). */
  history: EvalRecord[];
  /** The most-popular baseline on the same evaluation. */
  baseline?: { hr: number; ndcg: number };
  /** The backend's description. */
  backend?: string;
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
  const resumed = flags.resume ? await loadModelCheckpoint(flags.model_dir!) : undefined;
  if (resumed !== undefined && flags.seed !== undefined && flags.seed !== resumed.meta.run.seed) {
    throw new UsageError(
      `Cannot resume with --seed ${flags.seed}: the checkpoint in ${flags.model_dir} was trained with seed ${resumed.meta.run.seed}`,
    );
  }
  const seed = resumed?.meta.run.seed ?? flags.seed ?? drawSeed();
  print(
    `seed ${seed}${
      flags.seed === undefined && resumed === undefined ? " (drawn; pass --seed to repeat)" : ""
    }`,
  );
  const { dataset } = await loadDatasetFromFlags(flags, {
    seed,
    signal,
    onWarning: (m) => print(`warning: ${m}`),
  });
  print(
    `data ${flags.dataset}: ${dataset.numUsers} users, ${dataset.numItems} items, ` +
      `${dataset.trainItems.length} training positives, up to ${_maxEvalNegatives(dataset)} ` +
      `eval negatives per user${
        dataset.numEvalCappedUsers > 0
          ? ` (${dataset.numEvalCappedUsers} user${
            dataset.numEvalCappedUsers === 1 ? "" : "s"
          } capped)`
          : ""
      }`,
  );
  const numCycles = Math.ceil(flags.train_epochs / flags.epochs_between_evals);
  let startCycle = 0;
  let loop: TrainingLoop;
  let modelLoop: ModelLoop | undefined;
  let baseline: { hr: number; ndcg: number } | undefined;
  let backendName: string | undefined;
  let model: Model | undefined;
  let evalPool: EvalWorkerPool | null = null;
  if (options.makeLoop !== undefined) {
    loop = options.makeLoop(dataset, seed);
  } else {
    const popularity = evaluateRanking(popularityScorer(dataset), dataset);
    baseline = { hr: popularity.hr, ndcg: popularity.ndcg };
    print(
      `baseline most-popular  HR@10 ${popularity.hr.toFixed(4)}  NDCG@10 ${
        popularity.ndcg.toFixed(4)
      }`,
    );
    const prng = new Prng(seed, MODEL_INIT_STREAM);
    model = buildModel(
      modelConfig(flags.model, {
        numUsers: dataset.numUsers,
        numItems: dataset.numItems,
        numFactors: flags.num_factors,
        layers: flags.layers,
        mfRegularization: flags.mf_regularization,
        mlpRegularization: flags.mlp_regularization,
      }),
      { backend: flags.backend, blasThreads: flags.blas_threads, maxBatchSize: flags.batch_size, prng },
    );
    const optimizer = buildOptimizer(flags.optimizer, model.parameters, {
      learningRate: flags.learning_rate,
      beta1: flags.beta1,
      beta2: flags.beta2,
      epsilon: flags.epsilon,
    });
    const backend = model.kernels;
    const description = backend.description;
    backendName = description;
    print(`model ${model.describe()}, ${flags.optimizer}, backend ${description}`);
    const fingerprint = dataFingerprint(dataset);
    if (resumed !== undefined) {
      _checkResumable(resumed, flags, fingerprint);
      const was = resumed.meta.run;
      if (
        was.backend !== undefined &&
        (was.backend !== backend.name ||
          (backend.name === "blas" && was.blasThreads !== flags.blas_threads))
      ) {
        print(
          `warning: the checkpoint was trained with backend ${was.backend}` +
            `${was.backend === "blas" ? ` (${was.blasThreads} thread(s))` : ""}, this run uses ` +
            `${description}: its metrics will not match an uninterrupted run bit for bit`,
        );
      }
      restoreModelState(model, resumed);
      restoreOptimizerState(optimizer, model, resumed);
      startCycle = resumed.meta.run.cyclesDone;
      print(
        `resumed from ${flags.model_dir} after epoch ${resumed.meta.run.epochsDone} (cycle ${startCycle})`,
      );
    } else if (flags.pretrain_gmf !== undefined) {
      const gmf = await loadPretrained(flags.pretrain_gmf);
      const mlp = await loadPretrained(flags.pretrain_mlp!);
      applyPretraining(model, [gmf, mlp], { alpha: flags.alpha });
      print(
        `pretrained from ${gmf.description} (GMF) and ${mlp.description} (MLP), alpha ${flags.alpha}`,
      );
      // As the paper's code, which prints its "Init" performance.
      const start = evaluateRanking(model, dataset);
      print(
        `pretrained NeuMF before training  HR@10 ${start.hr.toFixed(4)}  NDCG@10 ${
          start.ndcg.toFixed(4)
        }`,
      );
    }
    modelLoop = new ModelLoop({
      model,
      optimizer,
      dataset,
      run: {
        seed,
        dataset: flags.dataset,
        dataFingerprint: fingerprint,
        epochsBetweenEvals: flags.epochs_between_evals,
        trainEpochs: flags.train_epochs,
        batchSize: flags.batch_size,
        numNeg: flags.num_neg,
        spillover: flags.spillover,
        backend: backend.name,
        blasThreads: flags.blas_threads,
      },
      prngState: prng.getState(),
      history: resumed?.meta.history,
      hrThreshold: flags.hr_threshold,
      metricsFile: flags.metrics_file,
      plot: flags.plot,
      modelDir: flags.model_dir,
      keepBest: flags.keep_best,
      baseline,
      print,
      onPhase: options.onPhase,
      evaluate: (m) =>
        evalPool !== null ? evalPool.evaluate(m) : Promise.resolve(evaluateRanking(m, dataset)),
    });
    loop = modelLoop;
    if (resumed?.meta.run.finished || startCycle >= numCycles) {
      print("the checkpoint's run is already complete: nothing to train");
      return {
        seed,
        cacheId: "",
        cycles: [],
        history: modelLoop.history,
        baseline,
        backend: backendName,
      };
    }
  }
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
      start_cycle: startCycle,
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
  const evalWorkers = flags.eval_workers ??
    defaultEvalWorkers(navigator.hardwareConcurrency, { blasThreads: flags.blas_threads });
  if (model !== undefined && evalWorkers > 0) {
    try {
      evalPool = startEvalWorkers(model, dataset, {
        workers: evalWorkers,
        blasThreads: flags.blas_threads,
      });
    } catch (e) {
      await pipeline.close({ success: false });
      throw e;
    }
  }
  const scorers = evalPool === null ? "" : `, ${evalPool.workers + 1} evaluation threads`;
  print(
    `run ${pipeline.cacheId}: cycles ${startCycle}..${
      numCycles - 1
    } of ${flags.epochs_between_evals} epochs` +
      (pipeline.generatorPid === undefined ? "" : `, generator pid ${pipeline.generatorPid}`) +
      scorers +
      ` (log ${pipeline.paths.generatorLog})`,
  );
  let success = false;
  const cycles: CycleReport[] = [];
  try {
    for await (const cycle of pipeline.cycles()) {
      options.onPhase?.("train");
      const started = performance.now();
      let examples = 0;
      let batches = 0;
      let lastProgress = started;
      for await (const batch of cycle.batches) {
        loop.trainBatch(batch);
        examples += batch.size;
        batches++;
        if (options.progress !== undefined && performance.now() - lastProgress > 100) {
          lastProgress = performance.now();
          const rate = examples / ((lastProgress - started) / 1000);
          options.progress({
            cycle: cycle.index,
            numCycles,
            batches,
            batchCount: cycle.manifest.batch_count,
            examplesPerSecond: rate,
            etaSeconds: (cycle.manifest.example_count - examples) / rate,
          });
        }
      }
      const seconds = (performance.now() - started) / 1000;
      cycles.push({ index: cycle.index, examples, batches, seconds });
      if (modelLoop === undefined) {
        print(
          `cycle ${cycle.index}  ${examples.toLocaleString("en-US")} examples  ` +
            `${batches.toLocaleString("en-US")} batches  ${
              Math.round(examples / seconds).toLocaleString("en-US")
            } ex/s`,
        );
      }
      const stop = await loop.endCycle?.(cycle);
      pipeline.check();
      if (stop === true) break;
    }
    success = true;
  } finally {
    evalPool?.close();
    await pipeline.close({ success });
  }
  print(
    `generator heartbeat: longest gap ${pipeline.maxHeartbeatGapSeconds.toFixed(2)} s ` +
      `(--heartbeat_timeout ${flags.heartbeat_timeout} s)`,
  );
  const history = modelLoop?.history ?? [];
  if (history.length > 0) {
    const best = history.reduce((a, b) => (b.hr > a.hr ? b : a));
    print(
      `best HR@10 ${best.hr.toFixed(4)}  NDCG@10 ${best.ndcg.toFixed(4)} at epoch ${best.epoch}` +
        (baseline === undefined ? "" : `  (most-popular baseline HR@10 ${baseline.hr.toFixed(4)})`),
    );
  }
  return { seed, cacheId: pipeline.cacheId, cycles, history, baseline, backend: backendName };
}

function _checkResumable(
  resumed: LoadedModelCheckpoint,
  flags: TrainerFlags,
  fingerprint: string,
): void {
  const { meta } = resumed;
  const mismatches: string[] = [];
  const compare = (flag: string, have: unknown, want: unknown) => {
    if (String(have) !== String(want)) {
      mismatches.push(`--${flag} is ${want}, the checkpoint has ${have}`);
    }
  };
  compare("model", meta.model.kind, flags.model);
  compare("num_factors", meta.model.numFactors, flags.num_factors);
  compare("layers", (meta.model.layers as number[]).join(","), flags.layers.join(","));
  compare("optimizer", meta.optimizer.kind, flags.optimizer);
  compare("epochs_between_evals", meta.run.epochsBetweenEvals, flags.epochs_between_evals);
  compare("batch_size", meta.run.batchSize, flags.batch_size);
  compare("num_neg", meta.run.numNeg, flags.num_neg);
  compare("spillover", meta.run.spillover, flags.spillover);
  if (meta.run.dataFingerprint !== fingerprint) {
    mismatches.push("the data set or its split differs from the checkpoint's");
  }
  if (mismatches.length > 0) {
    throw new UsageError(`Cannot resume from ${flags.model_dir}: ${mismatches.join("; ")}`);
  }
}

function _maxEvalNegatives(dataset: Dataset): number {
  let widest = 0;
  for (let u = 0; u < dataset.numUsers; u++) {
    widest = Math.max(widest, dataset.evalNegOffsets[u + 1] - dataset.evalNegOffsets[u]);
  }
  return widest;
}
