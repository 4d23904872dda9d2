/**
 * The training loop that plugs the model into the data pipeline: one
 * training step per batch; after each cycle an evaluation, a report line,
 * the metrics file, the plot and the checkpoint, and the early-stop test.
 *
 * @module
 */

import type { Dataset } from "../data/types.ts";
import {
  evaluateRanking,
  type EvaluationOptions,
  type EvaluationResult,
} from "../eval/evaluate.ts";
import { evaluationView } from "../data/validation_split.ts";
import type { LabeledBatch, Model, PairBatch, TrainingBatch } from "../model/model.ts";
import type { TrainingLoss } from "../model/loss.ts";
import type { Optimizer } from "../optim/optimizer.ts";
import type { Batch, TrainingCycle } from "../pipeline/data_pipeline.ts";
import { type FileWriter, writeFileAtomic } from "../io/atomic_write.ts";
import {
  type EvalRecord,
  type ModelCheckpointMeta,
  saveModelCheckpoint,
  selectionHr,
} from "./model_checkpoint.ts";
import { renderTrainingPlot } from "../report/plot_svg.ts";
import { join } from "node:path";

/** The subfolder of `--model_dir` that `--keep_best` keeps the best checkpoint in. */
export const BEST_DIR = "best";
import type { TrainingLoop } from "./training_loop.ts";

/** Which held-out item an evaluation ranks: the test item, or (`--validation`) the validation item. */
export type EvalSplit = "test" | "validation";

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
  /** The training loss (default sigmoid cross-entropy; `bpr` takes the triples' batches). */
  loss?: TrainingLoss | undefined;
  /**
   * Per-example SGD over whole chunks (`--batch_size 1 --optimizer sgd` with a
   * model that has `trainSequential`): the step size. Absent: one `trainStep`
   * per batch.
   */
  sequential?: { learningRate: number } | undefined;
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
  evaluate?: ((model: Model, which: EvalSplit) => Promise<EvaluationResult>) | undefined;
  /** The protocol, cut-offs and coverage of the default evaluator. */
  evaluation?: EvaluationOptions | undefined;
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
  #pairs: PairBatch = {
    users: new Int32Array(0),
    items: new Int32Array(0),
    negItems: new Int32Array(0),
    count: 0,
  };

  #step: { optimizer: Optimizer; loss?: TrainingLoss };
  #runId = "";
  #views?: Partial<Record<EvalSplit, Dataset>>;

  constructor(options: ModelLoopOptions) {
    this.#options = options;
    this.#step = {
      optimizer: options.optimizer,
      ...(options.loss === undefined ? {} : { loss: options.loss }),
    };
    this.history = [...(options.history ?? [])];
  }

  /**
   * One training step on `batch` (labelled pairs, or triples for a pairwise
   * loss); with `sequential`, per-example SGD over the whole chunk.
   */
  trainBatch(batch: Batch): void {
    let b: TrainingBatch;
    if (batch.negItems !== undefined) {
      const p = this.#pairs;
      (p.users = batch.users, p.items = batch.items, p.negItems = batch.negItems);
      p.count = batch.size;
      b = p;
    } else {
      const l = this.#batch;
      (l.users = batch.users, l.items = batch.items, l.labels = batch.labels);
      l.count = batch.size;
      b = l;
    }
    const o = this.#options;
    const t0 = performance.now();
    const loss = o.sequential !== undefined && o.model.trainSequential !== undefined
      ? o.model.trainSequential(b, {
        learningRate: o.sequential.learningRate,
        loss: o.loss,
        count: batch.size,
      })
      : o.model.trainStep(b, this.#step);
    this.#trainSeconds += (performance.now() - t0) / 1000;
    this.#lossSum += loss * batch.size;
    this.#examples += batch.size;
  }

  /** Evaluates with `evaluate` from now on (the trainer's evaluation worker pool). */
  useEvaluator(evaluate: (model: Model, which: EvalSplit) => Promise<EvaluationResult>): void {
    this.#options.evaluate = evaluate;
  }

  /** Names the run in every metrics row from now on (the trainer's cache id). */
  identifyRun(runId: string): void {
    this.#runId = runId;
  }

  /** The data set as one evaluation sees it, built once. */
  #view(which: EvalSplit): Dataset {
    this.#views ??= {};
    return this.#views[which] ??= evaluationView(this.#options.dataset, which);
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
    const evaluate = o.evaluate ??
      ((m: Model, which: EvalSplit) =>
        Promise.resolve(evaluateRanking(m, this.#view(which), o.evaluation)));
    const test = await evaluate(o.model, "test");
    const valid = o.dataset.validation === undefined
      ? undefined
      : await evaluate(o.model, "validation");
    const record: EvalRecord = {
      epoch: (cycle.index + 1) * o.run.epochsBetweenEvals,
      cycle: cycle.index + 1,
      hr: test.hr,
      ndcg: test.ndcg,
      loss: this.cycleLoss,
      train_examples_per_sec: Math.round(this.#examples / this.#trainSeconds),
      eval_seconds: test.seconds + (valid?.seconds ?? 0),
      wall_seconds: (performance.now() - this.#started) / 1000,
      protocol: test.protocol,
      mrr: test.mrr,
      byK: test.byK.map(_cutoff),
      ...(valid === undefined ? {} : {
        valid: { hr: valid.hr, ndcg: valid.ndcg, mrr: valid.mrr, byK: valid.byK.map(_cutoff) },
      }),
    };
    this.#lossSum = 0;
    this.#examples = 0;
    this.#trainSeconds = 0;
    const improved = this.history.every((r) => selectionHr(record) > selectionHr(r));
    this.history.push(record);
    o.print?.(formatEvalLine(record));
    if (o.metricsFile !== undefined) {
      const row = { ...metricsRow(record), run_id: this.#runId, seed: o.run.seed };
      await Deno.writeTextFile(o.metricsFile, JSON.stringify(row) + "\n", { append: true });
    }
    if (o.plot !== undefined) {
      await writeFileAtomic(o.plot, renderTrainingPlot(this.history, { baseline: o.baseline }));
    }
    const reached = o.hrThreshold !== undefined && selectionHr(record) >= o.hrThreshold;
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
      o.print?.(
        `HR@${_firstK(record)} ${
          selectionHr(record).toFixed(4)
        } ≥ --hr_threshold ${o.hrThreshold}: stopping early`,
      );
    } else if (stalled) {
      o.print?.(
        `${record.valid === undefined ? "" : "validation "}HR@${
          _firstK(record)
        } has not improved for ${o.patience} evaluation(s) (--patience): stopping early`,
      );
    }
    return stop;
  }
}

/**
 * How many evaluations came after the best selection HR (the validation
 * item's with `--validation`, else the test item's; the first of equals).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { evaluationsSinceBest } from "./model_loop.ts";
 * assert.equal(evaluationsSinceBest([{ hr: 0.4 }, { hr: 0.5 }, { hr: 0.5 }, { hr: 0.45 }]), 2);
 * assert.equal(evaluationsSinceBest([]), 0);
 * ```
 */
export function evaluationsSinceBest(history: readonly Pick<EvalRecord, "hr" | "valid">[]): number {
  let best = 0;
  for (let i = 1; i < history.length; i++) {
    if (selectionHr(history[i]) > selectionHr(history[best])) best = i;
  }
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
  const k = _firstK(r);
  const f = (x: number) => x.toFixed(4);
  const extra: string[] = [];
  for (const c of r.byK?.slice(1) ?? []) {
    extra.push(`HR@${c.k} ${f(c.hr)} NDCG@${c.k} ${f(c.ndcg)}`);
  }
  if (r.mrr !== undefined) extra.push(`MRR ${f(r.mrr)}`);
  const cov = (r.byK ?? []).filter((c) => c.coverage !== undefined);
  if (cov.length > 0) extra.push(cov.map((c) => `cov@${c.k} ${f(c.coverage!)}`).join(" "));
  if (r.valid !== undefined) {
    extra.push(`valid HR@${k} ${f(r.valid.hr)} NDCG@${k} ${f(r.valid.ndcg)}`);
  }
  return `epoch ${r.epoch}  HR@${k} ${f(r.hr)}  NDCG@${k} ${f(r.ndcg)}  loss ${f(r.loss)}  ` +
    extra.map((e) => `${e}  `).join("") +
    `${r.train_examples_per_sec.toLocaleString("en-US")} ex/s  eval ${r.eval_seconds.toFixed(2)} s`;
}

/**
 * A record as a `--metrics_file` row: `epoch`, `hr`, `ndcg`, `loss` (first K,
 * the run's protocol) plus `hr@K`, `ndcg@K`, `coverage@K`, `mrr`, `protocol`
 * and, with `--validation`, `valid_hr`, `valid_ndcg`, `valid_mrr`,
 * `valid_hr@K`, `valid_ndcg@K`, and `selected_on`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { metricsRow } from "./model_loop.ts";
 * const row = metricsRow({ epoch: 1, cycle: 1, hr: 0.5, ndcg: 0.3, loss: 0.2,
 *   train_examples_per_sec: 1, eval_seconds: 0, wall_seconds: 1, protocol: "full", mrr: 0.2,
 *   byK: [{ k: 10, hr: 0.5, ndcg: 0.3, coverage: 0.1 }, { k: 20, hr: 0.6, ndcg: 0.32 }] });
 * assert.equal(row["hr@20"], 0.6);
 * assert.equal(row["coverage@10"], 0.1);
 * assert.equal(row.selected_on, "test");
 * ```
 */
export function metricsRow(r: EvalRecord): Record<string, number | string> {
  const { byK, valid, ...rest } = r;
  const row: Record<string, number | string> = {};
  for (const [key, value] of Object.entries(rest)) if (value !== undefined) row[key] = value;
  for (const c of byK ?? []) {
    row[`hr@${c.k}`] = c.hr;
    row[`ndcg@${c.k}`] = c.ndcg;
    if (c.coverage !== undefined) row[`coverage@${c.k}`] = c.coverage;
  }
  if (valid !== undefined) {
    row.valid_hr = valid.hr;
    row.valid_ndcg = valid.ndcg;
    row.valid_mrr = valid.mrr;
    for (const c of valid.byK) (row[`valid_hr@${c.k}`] = c.hr, row[`valid_ndcg@${c.k}`] = c.ndcg);
  }
  row.selected_on = valid === undefined ? "test" : "validation";
  return row;
}

function _firstK(r: EvalRecord): number {
  return r.byK?.[0]?.k ?? 10;
}

function _cutoff(c: { k: number; hr: number; ndcg: number; coverage?: number | undefined }) {
  return c.coverage === undefined
    ? { k: c.k, hr: c.hr, ndcg: c.ndcg }
    : { k: c.k, hr: c.hr, ndcg: c.ndcg, coverage: c.coverage };
}
