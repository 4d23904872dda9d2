/**
 * The training loop that plugs the model into the data pipeline: one
 * training step per batch; after each cycle an evaluation, a report line,
 * the metrics file, the plot and the checkpoint, and the early-stop test.
 *
 * @module
 */

import type { Dataset } from "../data/types.ts";
import { evaluateRanking, type EvaluationResult } from "../eval/evaluate.ts";
import type { LabeledBatch, Model } from "../model/model.ts";
import type { Optimizer } from "../optim/optimizer.ts";
import type { Batch, TrainingCycle } from "../pipeline/data_pipeline.ts";
import { type FileWriter, writeFileAtomic } from "../io/atomic_write.ts";
import {
  type EvalRecord,
  type ModelCheckpointMeta,
  saveModelCheckpoint,
} from "./model_checkpoint.ts";
import { renderTrainingPlot } from "../report/plot_svg.ts";
import { join } from "node:path";

/** The subfolder of `--model_dir` that `--keep_best` keeps the best checkpoint in. */
export const BEST_DIR = "best";
import type { TrainingLoop } from "./training_loop.ts";

/** Options of {@linkcode ModelLoop}. */
export interface ModelLoopOptions {
  model: Model;
  /** The optimizer over the model's parameters. */
  optimizer: Optimizer;
  dataset: Dataset;
  /** Everything the checkpoint records about the run, but progress. */
  run: Omit<ModelCheckpointMeta["run"], "cyclesDone" | "epochsDone" | "finished">;
  /** State of the model's PRNG, recorded in checkpoints. */
  prngState: Uint32Array;
  /** Evaluations of earlier sessions (on resume). */
  history?: EvalRecord[];
  /** Stop once HR@10 reaches this. */
  hrThreshold?: number;
  /** Stop once HR@10 has not improved for this many evaluations. */
  patience?: number | undefined;
  metricsFile?: string;
  plot?: string;
  modelDir?: string;
  /** Also keep the best-HR@10 checkpoint in `modelDir/best`. */
  keepBest?: boolean;
  /** The popularity baseline, drawn on the plot. */
  baseline?: { hr: number; ndcg: number } | undefined;
  /** Receives report lines. */
  print?: (line: string) => void;
  /** The file-writing seam for checkpoints. */
  writer?: FileWriter | undefined;
  /**
   * Evaluates the model (default: `evaluateRanking` on this thread; the
   * trainer passes an evaluation worker pool's).
   */
  evaluate?: (model: Model) => Promise<EvaluationResult>;
  /** Told when evaluation and the checkpoint write begin (fault tests trace it). */
  onPhase?: ((phase: "evaluate" | "checkpoint") => void) | undefined;
}

/**
 * Trains `model` on the pipeline's batches and evaluates after each cycle.
 */
export class ModelLoop implements TrainingLoop {
  /** Every evaluation so far (resumed ones included). */
  readonly history: EvalRecord[];
  #options: ModelLoopOptions;
  #started = performance.now();
  #lossSum = 0;
  #examples = 0;
  #trainSeconds = 0;
  #batch: LabeledBatch = {
    users: new Int32Array(0),
    items: new Int32Array(0),
    labels: new Int8Array(0),
    count: 0,
  };

  #step: { optimizer: Optimizer };
  #runId = "";

  constructor(options: ModelLoopOptions) {
    this.#options = options;
    this.#step = { optimizer: options.optimizer };
    this.history = [...(options.history ?? [])];
  }

  /** One training step. */
  trainBatch(batch: Batch): void {
    const b = this.#batch;
    b.users = batch.users;
    b.items = batch.items;
    b.labels = batch.labels;
    b.count = batch.size;
    const t0 = performance.now();
    const loss = this.#options.model.trainStep(b, this.#step);
    this.#trainSeconds += (performance.now() - t0) / 1000;
    this.#lossSum += loss * batch.size;
    this.#examples += batch.size;
  }

  /** Evaluates with `evaluate` from now on (the trainer's evaluation worker pool). */
  useEvaluator(evaluate: (model: Model) => Promise<EvaluationResult>): void {
    this.#options.evaluate = evaluate;
  }

  /** Names the run in every metrics row from now on (the trainer's cache id). */
  identifyRun(runId: string): void {
    this.#runId = runId;
  }

  /** Mean training loss of the current cycle so far. */
  get cycleLoss(): number {
    return this.#examples === 0 ? NaN : this.#lossSum / this.#examples;
  }

  /**
   * Evaluates, reports, writes metrics, plot and checkpoint; returns true
   * when HR@10 reached the threshold (stop early).
   */
  async endCycle(cycle: TrainingCycle): Promise<boolean> {
    const o = this.#options;
    o.onPhase?.("evaluate");
    const evaluation = o.evaluate !== undefined
      ? await o.evaluate(o.model)
      : evaluateRanking(o.model, o.dataset);
    const record: EvalRecord = {
      epoch: (cycle.index + 1) * o.run.epochsBetweenEvals,
      cycle: cycle.index + 1,
      hr: evaluation.hr,
      ndcg: evaluation.ndcg,
      loss: this.cycleLoss,
      train_examples_per_sec: Math.round(this.#examples / this.#trainSeconds),
      eval_seconds: evaluation.seconds,
      wall_seconds: (performance.now() - this.#started) / 1000,
    };
    this.#lossSum = 0;
    this.#examples = 0;
    this.#trainSeconds = 0;
    const improved = this.history.every((r) => record.hr > r.hr);
    this.history.push(record);
    o.print?.(formatEvalLine(record));
    if (o.metricsFile !== undefined) {
      const row = { ...record, run_id: this.#runId, seed: o.run.seed };
      await Deno.writeTextFile(o.metricsFile, JSON.stringify(row) + "\n", { append: true });
    }
    if (o.plot !== undefined) {
      await writeFileAtomic(o.plot, renderTrainingPlot(this.history, { baseline: o.baseline }));
    }
    const reached = o.hrThreshold !== undefined && record.hr >= o.hrThreshold;
    const stalled = o.patience !== undefined && evaluationsSinceBest(this.history) >= o.patience;
    const stop = reached || stalled;
    if (o.modelDir !== undefined) {
      o.onPhase?.("checkpoint");
      const checkpoint = {
        dataset: o.dataset,
        run: {
          ...o.run,
          cyclesDone: cycle.index + 1,
          epochsDone: record.epoch,
          finished: stop,
        },
        prngState: o.prngState,
        history: this.history,
        writer: o.writer,
      };
      await saveModelCheckpoint(o.modelDir, o, checkpoint);
      if (o.keepBest === true && improved) {
        await saveModelCheckpoint(join(o.modelDir, BEST_DIR), o, checkpoint);
      }
    }
    if (reached) {
      o.print?.(`HR@10 ${record.hr.toFixed(4)} ≥ --hr_threshold ${o.hrThreshold}: stopping early`);
    } else if (stalled) {
      o.print?.(
        `HR@10 has not improved for ${o.patience} evaluation(s) (--patience): stopping early`,
      );
    }
    return stop;
  }
}

/**
 * How many evaluations came after the best HR@10 (the first of equals).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { evaluationsSinceBest } from "./model_loop.ts";
 * assert.equal(evaluationsSinceBest([{ hr: 0.4 }, { hr: 0.5 }, { hr: 0.5 }, { hr: 0.45 }]), 2);
 * assert.equal(evaluationsSinceBest([]), 0);
 * ```
 */
export function evaluationsSinceBest(history: readonly { hr: number }[]): number {
  let best = 0;
  for (let i = 1; i < history.length; i++) if (history[i].hr > history[best].hr) best = i;
  return history.length === 0 ? 0 : history.length - 1 - best;
}

/**
 * The report line of one evaluation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatEvalLine } from "./model_loop.ts";
 * const line = formatEvalLine({ epoch: 3, cycle: 2, hr: 0.65123, ndcg: 0.38412, loss: 0.28901,
 *   train_examples_per_sec: 412000, eval_seconds: 0.1, wall_seconds: 9 });
 * assert.equal(line, "epoch 3  HR@10 0.6512  NDCG@10 0.3841  loss 0.2890  412,000 ex/s  eval 0.10 s");
 * ```
 */
export function formatEvalLine(r: EvalRecord): string {
  return `epoch ${r.epoch}  HR@10 ${r.hr.toFixed(4)}  NDCG@10 ${r.ndcg.toFixed(4)}  loss ${
    r.loss.toFixed(4)
  }  ${r.train_examples_per_sec.toLocaleString("en-US")} ex/s  eval ${r.eval_seconds.toFixed(2)} s`;
}
