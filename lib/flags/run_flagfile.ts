/**
 * The run's flagfile: the trainer's effective flags, saved in `--model_dir`
 * as `flags` (one `--name=value` line each, the seed included), so that
 * `--flagfile D/flags` repeats a run and `--model_dir D --resume` alone
 * continues it.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { UsageError } from "../errors.ts";
import { formatFlagfile, formatFlagValue, parseFlags, type ParseResult } from "./flags.ts";
import { TRAINER_FLAGS, type TrainerFlags } from "./specs.ts";

/** The run flagfile's name inside `--model_dir`. */
export const RUN_FLAGFILE = "flags";

/** Path flags, saved absolute so that the flagfile works from any folder. */
const _PATHS = [
  "data_dir",
  "ratings_file",
  "cache_dir",
  "metrics_file",
  "plot",
  "model_dir",
  "pretrain_gmf",
  "pretrain_mlp",
];

/** Flags a run's flagfile leaves out: they say how to start, not what the run is. */
const _NOT_SAVED = new Set(["resume", "overwrite"]);

/**
 * Flags that define what a resumed run trains: given on `--resume`, each must
 * equal the saved value (`train_epochs` may change: raise it to extend a run).
 */
export const RESUME_MUST_AGREE: readonly (keyof TrainerFlags)[] = [
  "dataset",
  "ratings_file",
  "columns",
  "min_ratings",
  "num_eval_negatives",
  "seed",
  "synthetic_users",
  "synthetic_items",
  "synthetic_ratings_per_user",
  "validation",
  "model",
  "loss",
  "init_stddev",
  "negative_sampling",
  "num_factors",
  "layers",
  "mf_regularization",
  "mlp_regularization",
  "optimizer",
  "learning_rate",
  "beta1",
  "beta2",
  "epsilon",
  "batch_size",
  "num_neg",
  "epochs_between_evals",
  "spillover",
];

/**
 * The text of a run's flagfile: every flag of `flags` with a value except
 * `resume` and `overwrite`, `seed` set to the run's seed, paths made absolute.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatRunFlagfile } from "./run_flagfile.ts";
 * import { parseFlags } from "./flags.ts";
 * import { TRAINER_FLAGS } from "./specs.ts";
 * const flags = parseFlags(["--train_epochs=3", "--resume"], TRAINER_FLAGS).values;
 * const text = formatRunFlagfile(flags, { seed: 7 });
 * assert.match(text, /^--seed=7$/m);
 * assert.match(text, /^--train_epochs=3$/m);
 * assert.doesNotMatch(text, /--resume/);
 * ```
 */
export function formatRunFlagfile(flags: TrainerFlags, options: { seed: number }): string {
  const values: Record<string, unknown> = { ...flags, seed: options.seed };
  for (const name of _NOT_SAVED) delete values[name];
  for (const name of _PATHS) {
    if (typeof values[name] === "string") values[name] = resolve(values[name] as string);
  }
  return formatFlagfile(values as Partial<TrainerFlags>, TRAINER_FLAGS, {
    header: "The effective flags of an ncf trainer run (ncf trainer --flagfile <this file>).",
  });
}

/**
 * The trainer's flags from its command line, completed on `--resume` by the
 * run flagfile in `--model_dir` (when there is one): the saved flags come
 * first and the given ones override them, and a given flag of
 * {@linkcode RESUME_MUST_AGREE} that differs from the saved value is a
 * {@linkcode UsageError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTrainerArgs } from "./run_flagfile.ts";
 * const files: Record<string, string> = { "/m/flags": "--seed=7\n--num_factors=16\n--train_epochs=3\n" };
 * const read = (p: string) => {
 *   if (!(p in files)) throw new Deno.errors.NotFound(p);
 *   return files[p];
 * };
 * const parsed = parseTrainerArgs(["--model_dir=/m", "--resume", "--train_epochs=5"], { readTextFile: read });
 * assert.equal(parsed.values.num_factors, 16);
 * assert.equal(parsed.values.train_epochs, 5);
 * assert.throws(
 *   () => parseTrainerArgs(["--model_dir=/m", "--resume", "--num_factors=8"], { readTextFile: read }),
 *   /--num_factors=8: the run in \/m was trained with --num_factors=16/,
 * );
 * ```
 */
export function parseTrainerArgs(
  argv: readonly string[],
  options: { readTextFile: (path: string) => string },
): ParseResult<typeof TRAINER_FLAGS> {
  const given = parseFlags(argv, TRAINER_FLAGS, options);
  const dir = given.values.model_dir;
  if (given.help || !given.values.resume || dir === undefined) return given;
  const run = _readRunFlags(dir, options);
  if (run === undefined) return given; // a run from before run flagfiles
  const { path, reader, saved } = run;
  for (const name of RESUME_MUST_AGREE) {
    if (!given.set.has(name)) continue;
    const want = formatFlagValue(given.values[name]);
    const have = formatFlagValue(saved.values[name]);
    if (want !== have) {
      throw new UsageError(
        `Cannot resume with --${name}=${want}: the run in ${dir} was trained with --${name}=${have} (leave the flag out to continue it)`,
      );
    }
  }
  return parseFlags([`--flagfile=${path}`, ...argv], TRAINER_FLAGS, reader);
}

/** Data flags that decide which data set and split a run evaluates on. */
const _DATA_DEFINING: readonly (keyof TrainerFlags)[] = [
  "dataset",
  "ratings_file",
  "columns",
  "validation",
  "columns",
  "min_ratings",
  "num_eval_negatives",
  "seed",
  "synthetic_users",
  "synthetic_items",
  "synthetic_ratings_per_user",
];

/**
 * The flags of `ncf evaluate`: the run's saved flags (when `--model_dir`
 * holds them) with the given ones over them, and whether the data is still
 * the run's own (no data-defining flag given with another value).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseEvaluateArgs } from "./run_flagfile.ts";
 * const read = (p: string) => {
 *   if (p !== "/m/flags") throw new Deno.errors.NotFound(p);
 *   return "--dataset=ml-100k\n--seed=3\n";
 * };
 * const own = parseEvaluateArgs(["--model_dir=/m", "--data_dir=/elsewhere"], { readTextFile: read });
 * assert.ok(own.sameData && own.values.dataset === "ml-100k" && own.values.seed === 3);
 * const other = parseEvaluateArgs(["--model_dir=/m", "--dataset=ml-1m"], { readTextFile: read });
 * assert.ok(!other.sameData);
 * ```
 */
export function parseEvaluateArgs(
  argv: readonly string[],
  options: { readTextFile: (path: string) => string },
): ParseResult<typeof TRAINER_FLAGS> & { sameData: boolean } {
  const given = parseFlags(argv, TRAINER_FLAGS, options);
  const dir = given.values.model_dir;
  if (given.help) return { ...given, sameData: true };
  if (dir === undefined) {
    throw new UsageError("Cannot run without --model_dir: the flag is required");
  }
  const run = _readRunFlags(dir, options);
  if (run === undefined) {
    // A run from before run flagfiles: the data flags must be given.
    return { ...given, sameData: !_DATA_DEFINING.some((name) => given.set.has(name)) };
  }
  const { path, reader, saved } = run;
  const sameData = _DATA_DEFINING.every((name) =>
    !given.set.has(name) ||
    formatFlagValue(given.values[name]) === formatFlagValue(saved.values[name])
  );
  return { ...parseFlags([`--flagfile=${path}`, ...argv], TRAINER_FLAGS, reader), sameData };
}

/** The run flagfile in `dir`, parsed, with a reader that serves it; undefined when absent. */
function _readRunFlags(dir: string, options: { readTextFile: (path: string) => string }) {
  const path = join(dir, RUN_FLAGFILE);
  let text: string;
  try {
    text = options.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw new UsageError(`Cannot read the run's flags ${path}: ${(e as Error).message}`);
  }
  const reader = { readTextFile: (p: string) => (p === path ? text : options.readTextFile(p)) };
  return { path, reader, saved: parseFlags([`--flagfile=${path}`], TRAINER_FLAGS, reader) };
}
