/**
 * `ncf show`: what a trained model's folder holds, without any data files:
 * the model and its sizes, the data set, the run's flags (the `flags` file
 * the trainer saves beside the checkpoint), progress, the last and best
 * metrics, the optimizer, the kind of ids, the checkpoint file, and the
 * `best/` checkpoint when `keep_best` kept one. As text or as JSON.
 *
 * @module
 */

import { join } from "node:path";
import { isStringIds, type RawIds } from "../data/raw_ids.ts";
import { RUN_FLAGFILE } from "../flags/run_flagfile.ts";
import { buildModel } from "../model/registry.ts";
import {
  type EvalRecord,
  loadModelCheckpoint,
  type ModelCheckpointMeta,
} from "../train/model_checkpoint.ts";
import { BEST_DIR } from "../train/model_loop.ts";

/** Whether a data set's raw ids are integers or strings. */
export type IdKind = "integer" | "string";

/** What {@linkcode showCheckpoint} finds; plain JSON. */
export interface CheckpointSummary {
  /** The model folder. */
  modelDir: string;
  /** The checkpoint file: path, size in bytes, modification time (ISO 8601, UTC; null when the system has none). */
  checkpoint: { path: string; bytes: number; modified: string | null };
  /** The model: its kind, one-line description, sizes, parameter count and full config. */
  model: {
    kind: string;
    description: string;
    numUsers: number;
    numItems: number;
    parameters: number;
    config: Record<string, unknown>;
  };
  /** The data set's name as the run gave it. */
  dataset: string;
  /** Whether user and item ids are integers or strings. */
  ids: { users: IdKind; items: IdKind };
  /** The optimizer, its hyper-parameters and step count. */
  optimizer: ModelCheckpointMeta["optimizer"];
  /** The run's progress and settings, as the checkpoint records them. */
  run: ModelCheckpointMeta["run"];
  /** The run's flagfile and its `--name=value` lines; `lines` is null when there is no such file. */
  flags: { path: string; lines: string[] | null };
  /** The last evaluation (null when none). */
  last: EvalRecord | null;
  /** The best evaluation by HR@10, the earliest of equals (null when none). */
  best: EvalRecord | null;
  /**
   * The `best/` checkpoint (null when absent): the epoch it holds, or why
   * it could not be read.
   */
  bestCheckpoint: { dir: string; epoch: number } | { dir: string; error: string } | null;
}

/**
 * Reads a model folder (or its `checkpoint.ncf`) and summarises it.
 *
 * @throws {SettingError} naming "model_dir" when `modelDir` is no model folder.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { showCheckpoint } from "./show_checkpoint.ts";
 * await assert.rejects(() => showCheckpoint("/nonexistent/model"), /it does not exist/);
 * ```
 */
export async function showCheckpoint(modelDir: string): Promise<CheckpointSummary> {
  const checkpoint = await loadModelCheckpoint(modelDir, { setting: "model_dir" });
  const { meta, dir, path } = checkpoint;
  const stat = await Deno.stat(path);
  // The model's own description and parameter count, from its registry entry.
  const model = buildModel(meta.model, { backend: "ts", maxBatchSize: 1 });
  const flagsPath = join(dir, RUN_FLAGFILE);
  return {
    modelDir: dir,
    checkpoint: { path, bytes: stat.size, modified: stat.mtime?.toISOString() ?? null },
    model: {
      kind: meta.model.kind,
      description: model.describe(),
      numUsers: meta.model.numUsers,
      numItems: meta.model.numItems,
      parameters: model.parameters.size,
      config: { ...meta.model },
    },
    dataset: meta.run.dataset,
    ids: { users: _idKind(checkpoint.maps.userIds), items: _idKind(checkpoint.maps.itemIds) },
    optimizer: meta.optimizer,
    run: meta.run,
    flags: { path: flagsPath, lines: await _readFlagLines(flagsPath) },
    last: meta.history.at(-1) ?? null,
    best: _best(meta.history),
    bestCheckpoint: await _bestCheckpoint(join(dir, BEST_DIR)),
  };
}

/**
 * A summary as text (aligned `label  value` lines) or as JSON (pretty-printed), ending in LF.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CheckpointSummary, formatCheckpointSummary } from "./show_checkpoint.ts";
 * const summary: CheckpointSummary = {
 *   modelDir: "m",
 *   checkpoint: { path: "m/checkpoint.ncf", bytes: 2048, modified: null },
 *   model: { kind: "GMF", description: "GMF: 8 factors, 99 parameters", numUsers: 3, numItems: 4, parameters: 99, config: {} },
 *   dataset: "ml-100k",
 *   ids: { users: "integer", items: "integer" },
 *   optimizer: { kind: "sgd", step: 7, learningRate: 0.01 },
 *   run: {
 *     seed: 1, dataset: "ml-100k", dataFingerprint: "x", cyclesDone: 1, epochsDone: 1, epochsBetweenEvals: 1,
 *     trainEpochs: 2, batchSize: 256, numNeg: 4, spillover: true, finished: false,
 *   },
 *   flags: { path: "m/flags", lines: null },
 *   last: null,
 *   best: null,
 *   bestCheckpoint: null,
 * };
 * const text = formatCheckpointSummary(summary);
 * assert.match(text, /^model +GMF: 8 factors, 99 parameters$/m);
 * assert.match(text, /^epochs +1 of 2 /m);
 * assert.equal(JSON.parse(formatCheckpointSummary(summary, { format: "json" })).dataset, "ml-100k");
 * ```
 */
export function formatCheckpointSummary(
  summary: CheckpointSummary,
  options: { format?: "text" | "json" | undefined } = {},
): string {
  if (options.format === "json") return JSON.stringify(summary, null, 2) + "\n";
  const s = summary;
  const { run, optimizer } = s;
  const rows: [string, string][] = [];
  rows.push(["model_dir", s.modelDir]);
  rows.push(["model", s.model.description]);
  rows.push([
    "data",
    `${s.dataset}: ${_count(s.model.numUsers)} users, ${_count(s.model.numItems)} items, ` +
    (s.ids.users === s.ids.items
      ? `${s.ids.users} ids`
      : `${s.ids.users} user ids, ${s.ids.items} item ids`),
  ]);
  rows.push(["optimizer", _optimizer(optimizer)]);
  rows.push([
    "epochs",
    `${run.epochsDone} of ${run.trainEpochs} (${_count(run.cyclesDone)} cycles of ` +
    `${run.epochsBetweenEvals}; seed ${run.seed}, batch size ${run.batchSize}, ` +
    `${run.numNeg} negative${run.numNeg === 1 ? "" : "s"} per positive` +
    (run.backend === undefined ? "" : `, backend ${run.backend}`) + ")" +
    (run.finished ? ", stopped early at the HR@10 threshold" : ""),
  ]);
  rows.push(["last", s.last === null ? "no evaluation yet" : _record(s.last)]);
  rows.push(["best", s.best === null ? "no evaluation yet" : _record(s.best)]);
  const b = s.bestCheckpoint;
  rows.push([
    "best/",
    b === null
      ? "none (the trainer keeps one with keep_best)"
      : "error" in b
      ? `${b.dir}: unreadable (${b.error})`
      : `${b.dir}, epoch ${b.epoch}`,
  ]);
  const modified = s.checkpoint.modified === null ? "" : `, modified ${s.checkpoint.modified}`;
  rows.push([
    "checkpoint",
    `${s.checkpoint.path}, ${_bytes(s.checkpoint.bytes)}${modified}`,
  ]);
  const { lines } = s.flags;
  rows.push([
    "flags",
    lines === null
      ? `not saved (no ${s.flags.path})`
      : lines.length === 0
      ? `${s.flags.path}: empty`
      : `${s.flags.path}:`,
  ]);
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  let out = rows.map(([label, value]) => label.padEnd(width) + value + "\n").join("");
  for (const line of lines ?? []) out += " ".repeat(width + 2) + line + "\n";
  return out;
}

function _idKind(ids: RawIds): IdKind {
  return isStringIds(ids) ? "string" : "integer";
}

/** The first evaluation with the highest HR@10 (as the trainer's closing line picks it). */
function _best(history: readonly EvalRecord[]): EvalRecord | null {
  let best: EvalRecord | null = null;
  for (const record of history) if (best === null || record.hr > best.hr) best = record;
  return best;
}

/** The lines of a flagfile (blank lines and `#` comments left out), or null when it is missing. */
async function _readFlagLines(path: string): Promise<string[] | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  return text.split("\n").map((line) => line.trim()).filter((line) =>
    line !== "" && !line.startsWith("#")
  );
}

async function _bestCheckpoint(dir: string): Promise<CheckpointSummary["bestCheckpoint"]> {
  try {
    if (!(await Deno.stat(dir)).isDirectory) return null;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  try {
    const best = await loadModelCheckpoint(dir);
    return { dir, epoch: best.meta.run.epochsDone };
  } catch (e) {
    return { dir, error: e instanceof Error ? e.message : String(e) };
  }
}

function _record(r: EvalRecord): string {
  return `epoch ${r.epoch}  HR@10 ${r.hr.toFixed(4)}  NDCG@10 ${r.ndcg.toFixed(4)}  ` +
    `loss ${r.loss.toFixed(4)}`;
}

function _optimizer(o: ModelCheckpointMeta["optimizer"]): string {
  const settings = [`learning rate ${o.learningRate}`];
  if (o.beta1 !== undefined) settings.push(`beta1 ${o.beta1}`);
  if (o.beta2 !== undefined) settings.push(`beta2 ${o.beta2}`);
  if (o.epsilon !== undefined) settings.push(`epsilon ${o.epsilon}`);
  return `${o.kind} (${settings.join(", ")}), ${_count(o.step)} steps`;
}

function _count(n: number): string {
  return n.toLocaleString("en-US");
}

/** A byte count for people: "1.2 MB (1,234,567 bytes)". */
function _bytes(n: number): string {
  const units = ["bytes", "kB", "MB", "GB", "TB"];
  let value = n;
  let unit = 0;
  while (Number(value.toFixed(1)) >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${n} bytes` : `${value.toFixed(1)} ${units[unit]} (${_count(n)} bytes)`;
}
