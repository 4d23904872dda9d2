/**
 * The trainer role: load the data, build (or resume, or pretrain) the model,
 * start the generator through the data pipeline, train on every cycle's
 * batches, evaluate after each cycle, and clean up.
 *
 * @module
 */

import type { TrainerFlags } from "../flags/specs.ts";
import { generatorSettings, resolveTrainerDefaults } from "../flags/specs.ts";
import { join, resolve } from "node:path";
import { CHECKPOINT_FILE } from "./checkpoint_file.ts";
import { SettingError } from "../errors.ts";
import { formatRunFlagfile, RUN_FLAGFILE } from "../flags/run_flagfile.ts";
import { writeFileAtomic } from "../io/atomic_write.ts";
import { checkOutputPaths } from "./output_paths.ts";
import { drawSeed, loadDatasetFromFlags } from "./load_data.ts";
import type { Dataset } from "../data/types.ts";
import { evaluateRanking } from "../eval/evaluate.ts";
import { type EvalWorkerPool, startEvalWorkers } from "../eval/eval_workers.ts";
import { popularityScorer } from "../eval/popularity.ts";
import type { Model, ModelConfig } from "../model/model.ts";
import { buildModel, modelConfig } from "../model/registry.ts";
import { lossByName } from "../model/loss.ts";
import type { ProgressState } from "../report/progress_line.ts";
import { evaluationView } from "../data/validation_split.ts";
import { buildOptimizer } from "../optim/optimizers.ts";
import { Prng } from "../random/prng.ts";
import { type DataPipeline, startDataPipeline } from "../pipeline/data_pipeline.ts";
import type { ProcessContext } from "../pipeline/spawn_argv.ts";
import {
  dataFingerprint,
  type EvalRecord,
  type LoadedModelCheckpoint,
  loadModelCheckpoint,
  restoreModelState,
  restoreOptimizerState,
  selectionHr,
} from "./model_checkpoint.ts";
import { BEST_DIR, ModelLoop } from "./model_loop.ts";
import type { TrainingLoop } from "./training_loop.ts";
import { applyPretraining, loadPretrained } from "./pretrain.ts";
import { checkInitFrom, formatInitFrom, initFromCheckpoint } from "./init_from.ts";

/** Stream of the model's initial weights. */
export const MODEL_INIT_STREAM = 0x4d4f444c;

/** Progress within a cycle, for a terminal progress bar. */
export type TrainingProgress = ProgressState;

/** Options of {@linkcode runTrainer}. */
export interface TrainerOptions {
  /** Aborted on SIGINT/SIGTERM. */
  signal?: AbortSignal | undefined;
  /** Receives each line the trainer reports. */
  print?: (line: string) => void;
  /** Receives progress about every 100 ms while a cycle trains. */
  progress?: ((p: TrainingProgress) => void) | undefined;
  /** Replaces the model's training loop (tests of the pipeline). */
  makeLoop?: (dataset: Dataset, seed: number) => TrainingLoop;
  /** Overrides how this process was started (tests). */
  processContext?: ProcessContext;
  /** Receives what the trainer waits for, where and how long (standalone mode). */
  onWait?: ((line: string) => void) | undefined;
  /** Told when each phase begins (`NCF_TRACE=1` prints them for fault tests). */
  onPhase?: ((phase: "train" | "evaluate" | "checkpoint") => void) | undefined;
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
  baseline?: { hr: number; ndcg: number } | undefined;
  /** The backend's description. */
  backend?: string;
}

/** What the steps of a run share. */
interface _Run {
  flags: TrainerFlags;
  options: TrainerOptions;
  print: (line: string) => void;
  seed: number;
  dataset: Dataset;
  numCycles: number;
  resumed: LoadedModelCheckpoint | undefined;
  /** The trained model a warm start begins from (`--init_from`). */
  initFrom: LoadedModelCheckpoint | undefined;
  /** The trainer's computed defaults, resolved once. */
  defaults: ReturnType<typeof resolveTrainerDefaults>;
  /** Per-example SGD over whole chunks (set once the model is built). */
  sequential: boolean;
  /** The data set as each evaluation sees it (validation only with `--validation`). */
  views: { test: Dataset; validation?: Dataset | undefined };
}

/** The model side of a run (absent when a test plugs in its own loop). */
interface _Trained {
  model: Model;
  loop: ModelLoop;
  baseline: { hr: number; ndcg: number };
  startCycle: number;
  /** The checkpoint's run was already complete. */
  complete: boolean;
}

/**
 * Runs the trainer, top to bottom: read the checkpoint to resume (or to
 * start from), choose the seed, load the data, set up the model (built,
 * resumed, pretrained or started from a trained model on grown data) and
 * its training loop, start the data pipeline (and with it the generator) and
 * the evaluation workers, train every cycle, report. Resolves on success;
 * throws on failure after stopping the generator and removing the run folder.
 */
export async function runTrainer(
  flags: TrainerFlags,
  options: TrainerOptions = {},
): Promise<TrainerResult> {
  const print = options.print ?? (() => {});
  await checkOutputPaths(flags);
  const resumed = flags.resume
    ? await loadModelCheckpoint(flags.model_dir!, { setting: "model_dir" })
    : undefined;
  const initFrom = flags.init_from === undefined ? undefined : await _loadInitFrom(flags);
  const seed = _chooseSeed(flags, resumed, print);
  if (flags.model_dir !== undefined) await _saveRunFlags(flags, seed);
  const dataset = await _loadData(flags, { seed, print, signal: options.signal });
  const run: _Run = {
    flags,
    options,
    print,
    seed,
    dataset,
    numCycles: Math.ceil(flags.train_epochs / flags.epochs_between_evals),
    resumed,
    initFrom,
    defaults: resolveTrainerDefaults(flags, { cores: navigator.hardwareConcurrency }),
    sequential: false,
    views: {
      test: evaluationView(dataset, "test"),
      ...(dataset.validation === undefined
        ? {}
        : { validation: evaluationView(dataset, "validation") }),
    },
  };
  const trained = options.makeLoop === undefined ? await _setUpModel(run) : undefined;
  run.sequential = trained !== undefined && _sequential(flags, trained.model);
  const loop = trained?.loop ?? options.makeLoop!(dataset, seed);
  const result = {
    seed,
    history: trained?.loop.history ?? [],
    ...(trained === undefined ? {} : {
      baseline: trained.baseline,
      backend: trained.model.kernels.description,
    }),
  };
  if (trained?.complete === true) {
    print("the checkpoint's run is already complete: nothing to train");
    return { ...result, cacheId: "", cycles: [] };
  }
  const startCycle = trained?.startCycle ?? 0;
  const pipeline = await _startPipeline(run, startCycle);
  let evalPool: EvalWorkerPool | null = null;
  try {
    evalPool = trained === undefined ? null : _startEvalPool(run, trained.model);
  } catch (e) {
    await pipeline.close({ success: false });
    throw e;
  }
  trained?.loop.identifyRun(pipeline.cacheId);
  const evaluation = _evaluationOptions(flags);
  trained?.loop.useEvaluator((m, which) => {
    const view = run.views[which]!;
    return evalPool !== null
      ? evalPool.evaluate(m, { ...evaluation, ...(which === "test" ? {} : { tables: view }) })
      : Promise.resolve(evaluateRanking(m, view, evaluation));
  });
  print(
    `run ${pipeline.cacheId}: cycles ${startCycle + 1}..${run.numCycles}, ` +
      `${flags.epochs_between_evals} epoch(s) each` +
      (pipeline.generatorPid === undefined ? "" : `, generator pid ${pipeline.generatorPid}`) +
      (evalPool === null ? "" : `, ${evalPool.workers + 1} evaluation threads`) +
      ` (log ${pipeline.paths.generatorLog})`,
  );
  let cycles: CycleReport[];
  try {
    cycles = await _trainCycles(run, pipeline, loop, { reportCycles: trained === undefined });
  } finally {
    evalPool?.close();
  }
  _reportEnd(run, pipeline, result.history, trained?.baseline);
  return { ...result, cacheId: pipeline.cacheId, cycles };
}

/**
 * Saves the run's effective flags as `<model_dir>/flags` (and in `best/`
 * when the best checkpoint is kept); on `--overwrite`, first drops the
 * replaced run's best checkpoint.
 */
async function _saveRunFlags(flags: TrainerFlags, seed: number): Promise<void> {
  const dir = flags.model_dir!;
  if (flags.overwrite) await Deno.remove(join(dir, BEST_DIR), { recursive: true }).catch(() => {});
  const text = formatRunFlagfile(flags, { seed });
  await writeFileAtomic(join(dir, RUN_FLAGFILE), text);
  if (flags.keep_best || flags.patience !== undefined) {
    // The best checkpoint's folder is a model folder too (evaluate, show, recommend).
    await Deno.mkdir(join(dir, BEST_DIR), { recursive: true });
    await writeFileAtomic(join(dir, BEST_DIR, RUN_FLAGFILE), text);
  }
}

function _protocolText(flags: TrainerFlags, dataset: Dataset): string {
  return flags.eval_protocol === "full"
    ? "full ranking"
    : `1 + ${_maxEvalNegatives(dataset)} sampled`;
}

/** How the run evaluates: its protocol and cut-offs, with catalogue coverage. */
function _evaluationOptions(flags: TrainerFlags) {
  return { protocol: flags.eval_protocol, ks: flags.eval_k, coverage: true };
}

/**
 * Whether the run trains by per-example SGD over whole chunks: batch size 1,
 * plain SGD, and a model with that path (MF).
 */
function _sequential(flags: TrainerFlags, model: Model): boolean {
  return flags.batch_size === 1 && flags.optimizer === "sgd" &&
    model.trainSequential !== undefined;
}

/** The run's seed: the checkpoint's on resume (a different `seed` is refused), else the flag's, else drawn. */
function _chooseSeed(
  flags: TrainerFlags,
  resumed: LoadedModelCheckpoint | undefined,
  print: (line: string) => void,
): number {
  if (resumed !== undefined && flags.seed !== undefined && flags.seed !== resumed.meta.run.seed) {
    throw new SettingError(
      "seed",
      `Cannot resume with seed ${flags.seed}: the checkpoint in ${flags.model_dir} was trained with seed ${resumed.meta.run.seed}`,
    );
  }
  const seed = resumed?.meta.run.seed ?? flags.seed ?? drawSeed();
  print(
    `seed ${seed}${
      flags.seed === undefined && resumed === undefined ? " (drawn; pass --seed to repeat)" : ""
    }`,
  );
  return seed;
}

/** Loads and splits the data set, and reports its counts. */
async function _loadData(
  flags: TrainerFlags,
  o: { seed: number; print: (line: string) => void; signal: AbortSignal | undefined },
): Promise<Dataset> {
  const { dataset } = await loadDatasetFromFlags(flags, {
    seed: o.seed,
    ...(o.signal === undefined ? {} : { signal: o.signal }),
    onWarning: (m) => o.print(`warning: ${m}`),
  });
  const capped = dataset.numEvalCappedUsers;
  o.print(
    `data ${flags.dataset}: ${dataset.numUsers} users, ${dataset.numItems} items, ` +
      `${dataset.trainItems.length} training positives, up to ${_maxEvalNegatives(dataset)} ` +
      `eval negatives per user${
        capped > 0 ? ` (${capped} user${capped === 1 ? "" : "s"} capped)` : ""
      }`,
  );
  return dataset;
}

/**
 * The baseline, the model and its optimizer (fresh, resumed from the
 * checkpoint, or started from pretrained parts), and the training loop.
 */
async function _setUpModel(run: _Run): Promise<_Trained> {
  const { flags, dataset, seed, resumed, print } = run;
  const evaluation = _evaluationOptions(flags);
  const popularity = evaluateRanking(popularityScorer(dataset), run.views.test, {
    ...evaluation,
    coverage: false,
  });
  const baseline = { hr: popularity.hr, ndcg: popularity.ndcg };
  print(
    `baseline most-popular  HR@${flags.eval_k[0]} ${popularity.hr.toFixed(4)}  NDCG@${
      flags.eval_k[0]
    } ${popularity.ndcg.toFixed(4)}  (${_protocolText(flags, dataset)})`,
  );
  const prng = new Prng(seed, MODEL_INIT_STREAM);
  const model = buildModel(
    _modelConfig(flags, dataset),
    {
      backend: flags.backend,
      blasThreads: flags.blas_threads,
      maxBatchSize: flags.batch_size,
      prng,
    },
  );
  const optimizer = buildOptimizer(flags.optimizer, model.parameters, {
    learningRate: flags.learning_rate,
    beta1: flags.beta1,
    beta2: flags.beta2,
    epsilon: flags.epsilon,
  });
  const kernels = model.kernels;
  print(`model ${model.describe()}, ${flags.optimizer}, backend ${kernels.description}`);
  const fingerprint = dataFingerprint(dataset);
  let startCycle = 0;
  if (resumed !== undefined) {
    _checkResumable(resumed, flags, fingerprint);
    const was = resumed.meta.run;
    if (
      was.backend !== undefined &&
      (was.backend !== kernels.name ||
        (kernels.name === "blas" && was.blasThreads !== flags.blas_threads))
    ) {
      print(
        `warning: the checkpoint was trained with backend ${was.backend}` +
          `${was.backend === "blas" ? ` (${was.blasThreads} thread(s))` : ""}, this run uses ` +
          `${kernels.description}: its metrics will not match an uninterrupted run bit for bit`,
      );
    }
    restoreModelState(model, resumed);
    restoreOptimizerState(optimizer, model, resumed);
    startCycle = resumed.meta.run.cyclesDone;
    print(
      `resumed from ${flags.model_dir} after epoch ${resumed.meta.run.epochsDone} (cycle ${startCycle})`,
    );
  } else if (run.initFrom !== undefined) {
    const summary = initFromCheckpoint(
      { model, optimizer, userIds: dataset.userIds, itemIds: dataset.itemIds },
      run.initFrom,
    );
    run.initFrom = undefined; // copied: let the checkpoint's arrays go
    print(formatInitFrom(summary));
    if (summary.users.known === 0 && summary.items.known === 0) {
      print(
        `warning: ${summary.dir} knows none of this data's users and items (is it the same ` +
          "data set, with the same ids?): every row starts fresh, only the dense layers carry over",
      );
    }
    const start = evaluateRanking(model, run.views.test, evaluation);
    const k = flags.eval_k[0];
    print(
      `initialised ${model.config.kind} before training  HR@${k} ${start.hr.toFixed(4)}  ` +
        `NDCG@${k} ${start.ndcg.toFixed(4)}`,
    );
  } else if (flags.pretrain_gmf !== undefined) {
    const gmf = await loadPretrained(flags.pretrain_gmf);
    const mlp = await loadPretrained(flags.pretrain_mlp!);
    const expected = [["pretrain_gmf", gmf, "GMF"], ["pretrain_mlp", mlp, "MLP"]] as const;
    for (const [setting, part, kind] of expected) {
      if (part.config.kind !== kind) {
        throw new SettingError(
          setting,
          `Cannot pretrain from ${part.dir}: it holds a ${part.config.kind} model, not ${kind}`,
        );
      }
    }
    applyPretraining(model, [gmf, mlp], { alpha: flags.alpha });
    print(
      `pretrained from ${gmf.description} (GMF) and ${mlp.description} (MLP), alpha ${flags.alpha}`,
    );
    // As the paper's code, which prints its "Init" performance.
    const start = evaluateRanking(model, run.views.test, evaluation);
    print(
      `pretrained ${model.config.kind} before training  HR@10 ${start.hr.toFixed(4)}  NDCG@10 ${
        start.ndcg.toFixed(4)
      }`,
    );
  }
  const loop = new ModelLoop({
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
      backend: kernels.name,
      blasThreads: flags.blas_threads,
    },
    prngState: prng.getState(),
    ...(resumed === undefined ? {} : { history: resumed.meta.history }),
    ...(flags.hr_threshold === undefined ? {} : { hrThreshold: flags.hr_threshold }),
    ...(flags.metrics_file === undefined ? {} : { metricsFile: flags.metrics_file }),
    ...(flags.plot === undefined ? {} : { plot: flags.plot }),
    ...(flags.model_dir === undefined ? {} : { modelDir: flags.model_dir }),
    loss: lossByName(flags.loss),
    ...(_sequential(flags, model) ? { sequential: { learningRate: flags.learning_rate } } : {}),
    keepBest: flags.keep_best || flags.patience !== undefined,
    patience: flags.patience,
    baseline,
    print,
    ...(run.options.onPhase === undefined ? {} : { onPhase: run.options.onPhase }),
  });
  const complete = resumed?.meta.run.finished === true || startCycle >= run.numCycles;
  return { model, loop, baseline, startCycle, complete };
}

/** The config of the model the flags ask for, for data of `counts`' size. */
function _modelConfig(
  flags: TrainerFlags,
  counts: { numUsers: number; numItems: number },
): ModelConfig {
  return modelConfig(flags.model, {
    numUsers: counts.numUsers,
    numItems: counts.numItems,
    numFactors: flags.num_factors,
    layers: flags.layers,
    mfRegularization: flags.mf_regularization,
    mlpRegularization: flags.mlp_regularization,
    initStddev: flags.init_stddev,
  });
}

/**
 * The checkpoint `--init_from` names, checked (before any data is loaded)
 * to hold a model of the kind and sizes the flags ask for.
 */
async function _loadInitFrom(flags: TrainerFlags): Promise<LoadedModelCheckpoint> {
  const checkpoint = await loadModelCheckpoint(flags.init_from!, { setting: "init_from" });
  checkInitFrom(checkpoint, _modelConfig(flags, { numUsers: 0, numItems: 0 }));
  return checkpoint;
}

/** Publishes the run's files and starts (or, standalone, prints) the generator. */
function _startPipeline(run: _Run, startCycle: number): Promise<DataPipeline> {
  const { flags, dataset, options, print } = run;
  const resolved = run.defaults;
  return startDataPipeline({
    cacheDir: resolved.cacheDir,
    dataDir: flags.data_dir,
    positives: { offsets: dataset.trainOffsets, items: dataset.trainItems },
    numItems: dataset.numItems,
    settings: generatorSettings(flags, {
      numCycles: run.numCycles,
      startCycle,
      seed: run.seed,
      numWorkers: resolved.numWorkers,
    }),
    useSubprocess: flags.use_subprocess,
    keepCache: flags.keep_cache,
    flagfileTimeout: flags.flagfile_timeout,
    startupTimeout: flags.startup_timeout,
    cycleTimeout: flags.cycle_timeout,
    killGrace: flags.kill_grace,
    ...(run.sequential ? { chunkSize: Infinity } : {}),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.processContext === undefined ? {} : { processContext: options.processContext }),
    onStandalone: (command, info) => {
      print(
        "standalone mode: run this generator command from any folder (it may run on another host sharing the cache folder):",
      );
      print(command);
      options.onWait?.(
        `waiting up to ${info.waitSeconds} s for the generator's first heartbeat at ${info.heartbeat} (--startup_timeout); it reads ${info.flagfile}, waiting for it up to ${info.flagfileTimeout} s (--flagfile_timeout)`,
      );
    },
  });
}

/** The evaluation workers beside the trainer's thread (null when there are none). */
function _startEvalPool(run: _Run, model: Model): EvalWorkerPool | null {
  const { flags } = run;
  const { evalWorkers } = run.defaults;
  if (evalWorkers === 0) return null;
  return startEvalWorkers(model, run.views.test, {
    workers: evalWorkers,
    blasThreads: flags.blas_threads,
  });
}

/** Trains on every cycle's batches, calling the loop's `endCycle` after each; closes the pipeline. */
async function _trainCycles(
  run: _Run,
  pipeline: DataPipeline,
  loop: TrainingLoop,
  o: { reportCycles: boolean },
): Promise<CycleReport[]> {
  const { options, print, numCycles } = run;
  let success = false;
  const cycles: CycleReport[] = [];
  let sessionStart = NaN;
  let firstCycle = 0;
  try {
    for await (const cycle of pipeline.cycles()) {
      options.onPhase?.("train");
      const started = performance.now();
      if (Number.isNaN(sessionStart)) (sessionStart = started, firstCycle = cycle.index);
      let examples = 0;
      let batches = 0;
      let lastProgress = started;
      for await (const batch of cycle.batches) {
        loop.trainBatch(batch);
        examples += batch.size;
        batches += run.sequential ? Math.ceil(batch.size / run.flags.batch_size) : 1;
        if (options.progress !== undefined && performance.now() - lastProgress > 100) {
          lastProgress = performance.now();
          const rate = examples / ((lastProgress - started) / 1000);
          // The whole run's remaining time, evaluations included, from this session's pace.
          const done = cycle.index - firstCycle + batches / cycle.manifest.batch_count;
          const elapsed = (lastProgress - sessionStart) / 1000;
          options.progress({
            cycle: cycle.index,
            numCycles,
            batches,
            batchCount: cycle.manifest.batch_count,
            examplesPerSecond: rate,
            etaSeconds: elapsed * (numCycles - firstCycle - done) / done,
          });
        }
      }
      const seconds = (performance.now() - started) / 1000;
      cycles.push({ index: cycle.index, examples, batches, seconds });
      if (o.reportCycles) {
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
    await pipeline.close({ success });
  }
  return cycles;
}

/** The closing lines: the generator's longest heartbeat gap and the best evaluation. */
function _reportEnd(
  run: _Run,
  pipeline: DataPipeline,
  history: readonly EvalRecord[],
  baseline: { hr: number; ndcg: number } | undefined,
): void {
  run.print(
    `generator heartbeat: longest gap ${pipeline.maxHeartbeatGapSeconds.toFixed(2)} s ` +
      `(--heartbeat_timeout ${run.flags.heartbeat_timeout} s)`,
  );
  if (history.length === 0) return;
  const best = history.reduce((a, b) => (selectionHr(b) > selectionHr(a) ? b : a));
  const k = run.flags.eval_k[0];
  run.print(
    `best HR@${k} ${best.hr.toFixed(4)}  NDCG@${k} ${best.ndcg.toFixed(4)} at epoch ${best.epoch}` +
      ` (selected on ${best.valid === undefined ? "test, the paper's protocol" : "validation"})` +
      (baseline === undefined ? "" : `  (most-popular baseline HR@${k} ${baseline.hr.toFixed(4)})`),
  );
  const { flags } = run;
  const last = history[history.length - 1];
  if (flags.model_dir !== undefined) {
    const dir = resolve(flags.model_dir);
    run.print(`checkpoint (epoch ${last.epoch}): ${join(dir, CHECKPOINT_FILE)}`);
    if (flags.keep_best || flags.patience !== undefined) {
      run.print(`best checkpoint (epoch ${best.epoch}): ${join(dir, BEST_DIR, CHECKPOINT_FILE)}`);
    }
    run.print(`run flags: ${join(dir, RUN_FLAGFILE)}`);
  }
  if (flags.metrics_file !== undefined) run.print(`metrics: ${resolve(flags.metrics_file)}`);
  if (flags.plot !== undefined) run.print(`plot: ${resolve(flags.plot)}`);
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
      mismatches.push(`${flag} is ${want}, the checkpoint has ${have}`);
    }
  };
  compare("model", meta.model.kind, flags.model);
  compare("num_factors", meta.model.numFactors, flags.num_factors);
  if (meta.model.layers !== undefined) {
    compare("layers", (meta.model.layers as number[]).join(","), flags.layers.join(","));
  }
  compare("optimizer", meta.optimizer.kind, flags.optimizer);
  compare("epochs_between_evals", meta.run.epochsBetweenEvals, flags.epochs_between_evals);
  compare("batch_size", meta.run.batchSize, flags.batch_size);
  compare("num_neg", meta.run.numNeg, flags.num_neg);
  compare("spillover", meta.run.spillover, flags.spillover);
  if (meta.run.dataFingerprint !== fingerprint) {
    mismatches.push("the data set or its split differs from the checkpoint's");
  }
  if (mismatches.length > 0) {
    throw new SettingError(
      "resume",
      `Cannot resume from ${flags.model_dir}: ${mismatches.join("; ")}`,
    );
  }
}

function _maxEvalNegatives(dataset: Dataset): number {
  let widest = 0;
  for (let u = 0; u < dataset.numUsers; u++) {
    widest = Math.max(widest, dataset.evalNegOffsets[u + 1] - dataset.evalNegOffsets[u]);
  }
  return widest;
}
