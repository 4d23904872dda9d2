/**
 * The flag sets of every subcommand, and of the generator's flagfile, with
 * the cross-flag checks that a single flag's range cannot express.
 *
 * @module
 */

import { isAbsolute, join, resolve } from "node:path";
import { tmpdir } from "node:os";
import { UsageError } from "../errors.ts";
import { boolFlag, enumFlag, floatFlag, intFlag, intListFlag, stringFlag } from "./flags.ts";
import type { FlagValues } from "./flags.ts";
import { DATASET_NAMES } from "../data/load_dataset.ts";
import { DOWNLOAD_DEFAULTS, GROUPLENS_BASE_URL } from "../data/download.ts";
import { MOVIELENS_DATASETS } from "../data/movielens.ts";

import { MODELS, pretrainedPartsOf } from "../model/registry.ts";
import { LOSSES } from "../model/loss.ts";
import { EVAL_PROTOCOLS } from "../data/eval_protocol.ts";
import { OPTIMIZERS } from "../optim/optimizers.ts";
import { type BackendChoice, BACKENDS } from "../kernels/select_kernels.ts";

export { BACKENDS, MODELS, OPTIMIZERS };
export type { BackendChoice };

const _dataDir = stringFlag("Folder of raw data and downloads.", { default: "data" });
const _downloadUrl = stringFlag("Base URL of the MovieLens zips and their .md5 files.", {
  default: GROUPLENS_BASE_URL,
});

const _downloadFlags = {
  download_connect_timeout: floatFlag(
    "Seconds to wait for a download's response headers (0: no limit).",
    { default: DOWNLOAD_DEFAULTS.connectTimeoutSeconds, min: 0 },
  ),
  download_idle_timeout: floatFlag(
    "Longest gap in seconds between a download's data (0: no limit).",
    { default: DOWNLOAD_DEFAULTS.idleTimeoutSeconds, min: 0 },
  ),
  download_retries: intFlag(
    "Retries of a download after a network error, a timeout, HTTP 408, 429 or 5xx.",
    { default: DOWNLOAD_DEFAULTS.retries, min: 0 },
  ),
};

/** Flags that choose and preprocess a data set (trainer and inspect). */
export const DATA_FLAGS = {
  dataset: enumFlag("Data set to use.", DATASET_NAMES, { default: "synthetic" }),
  data_dir: _dataDir,
  ratings_file: stringFlag(
    "Ratings file for --dataset csv; path prefix of the split files for --dataset ncf.",
    {},
  ),
  columns: stringFlag(
    "The csv file's columns in order, e.g. item,user,rating,timestamp (a header line is then skipped; without it, a header's names decide, else user,item[,rating],timestamp).",
    {},
  ),
  validation: boolFlag(
    "Also hold out each user's second-latest interaction, select the best epoch on it, report the test metrics of that epoch.",
    { default: false },
  ),
  min_ratings: intFlag("Drop users with fewer interactions than this.", { default: 20, min: 2 }),
  num_eval_negatives: intFlag("Negatives ranked against each held-out item.", {
    default: 999,
    min: 1,
  }),
  seed: intFlag("Seed of every random choice (drawn at random and recorded when absent).", {
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
  }),
  synthetic_users: intFlag("Users of --dataset synthetic.", { default: 1500, min: 2 }),
  synthetic_items: intFlag("Items of --dataset synthetic.", { default: 1500, min: 3 }),
  synthetic_ratings_per_user: intFlag("Mean interactions per user of --dataset synthetic.", {
    default: 40,
    min: 20,
  }),
  download_if_missing: boolFlag("Download a MovieLens data set that is not in --data_dir.", {
    default: false,
  }),
  download_url: _downloadUrl,
  ..._downloadFlags,
};

/** Flags of `ncf inspect`. */
export const INSPECT_FLAGS = { ...DATA_FLAGS };

/** The output formats of `ncf recommend`. */
export const RECOMMENDATION_FORMATS = ["table", "csv", "jsonl"] as const;
/** One output format of `ncf recommend`. */
export type RecommendationFormat = (typeof RECOMMENDATION_FORMATS)[number];

/** The output formats of `ncf export`. */
export const EXPORT_FORMATS = ["npy", "onnx"] as const;
/** One output format of `ncf export`. */
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Flags of `ncf recommend`. */
export const RECOMMEND_FLAGS = {
  model_dir: stringFlag("Folder of a trained model's checkpoint.", { required: true as const }),
  user: stringFlag("One user's id as in the data set.", {}),
  users: stringFlag("Comma-separated user ids.", {}),
  users_file: stringFlag("A file of user ids, one per line.", {}),
  all_users: boolFlag("Recommend for every user of the model.", { default: false }),
  k: intFlag("Items to recommend per user.", { default: 10, min: 1 }),
  include_seen: boolFlag("Also rank the items each user already interacted with.", {
    default: false,
  }),
  format: enumFlag(
    "table (tab-separated, a header line), csv (user,rank,item,score,title) or jsonl (one object per user).",
    RECOMMENDATION_FORMATS,
    { default: "table" },
  ),
  output: stringFlag("Write the recommendations to this file instead of stdout.", {}),
  item_titles: stringFlag(
    "Item titles: an id,title CSV, u.item, movies.dat or movies.csv (default: the file beside the run's ratings, when there is one).",
    {},
  ),
  backend: enumFlag("Matrix products: blas, wasm, ts or auto.", BACKENDS, { default: "auto" }),
};

/** Flags of `ncf serve`. */
export const SERVE_FLAGS = {
  model_dir: stringFlag(
    "Folder of a trained model's checkpoint (a new checkpoint written there is served within 2 s).",
    { required: true as const },
  ),
  host: stringFlag("Interface to listen on (0.0.0.0 for every one).", { default: "127.0.0.1" }),
  port: intFlag("Port to listen on (0: any free port; the URL is printed).", {
    default: 8080,
    min: 0,
    max: 65535,
  }),
  item_titles: stringFlag(
    "Item titles: an id,title CSV, u.item, movies.dat or movies.csv (default: the file beside the run's ratings, when there is one).",
    {},
  ),
  backend: enumFlag("Matrix products: blas, wasm, ts or auto.", BACKENDS, { default: "auto" }),
  threads: intFlag(
    "Threads answering requests, each with its own copy of the model and its own /metrics, sharing the port (Linux SO_REUSEPORT; deno.json enables the --unstable-net it needs).",
    { default: 1, min: 1, max: 64 },
  ),
};

/** How evaluation ranks: the protocol and the cut-offs (trainer and evaluate). */
const _evalFlags = {
  eval_protocol: enumFlag(
    "sampled: rank the held-out item against --num_eval_negatives sampled items (the paper's); full: against every item the user has not trained on.",
    EVAL_PROTOCOLS,
    { default: "sampled" },
  ),
  eval_k: intListFlag(
    "Cut-offs K of HR@K, NDCG@K and coverage@K; the first drives early stopping.",
    {
      default: [10],
      min: 1,
    },
  ),
  optimizer: enumFlag(
    "adam updates every parameter each step; lazy_adam only the embedding rows a batch touched; sgd is plain SGD (the paper's choice for fine-tuning a pretrained NeuMF).",
    OPTIMIZERS,
    { default: "adam" },
  ),
  beta1: floatFlag("Adam's first-moment decay.", { default: 0.9, min: 0, max: 0.999999 }),
  beta2: floatFlag("Adam's second-moment decay.", { default: 0.999, min: 0, max: 0.999999999 }),
  epsilon: floatFlag("Adam's denominator guard.", { default: 1e-8, min: 0 }),
  mf_regularization: floatFlag("L2 weight on the GMF embedding rows of a batch.", {
    default: 0,
    min: 0,
  }),
};

/** Flags of `ncf evaluate` (data flags default to the run's saved ones). */
export const EVALUATE_FLAGS = {
  model_dir: stringFlag("Folder of a trained model's checkpoint (and its run's saved flags).", {
    required: true as const,
  }),
  backend: enumFlag("Matrix products: blas, wasm, ts or auto.", BACKENDS, { default: "auto" }),
  ..._evalFlags,
  ...DATA_FLAGS,
};

/** Flags of `ncf show`. */
export const SHOW_FLAGS = {
  model_dir: stringFlag("Folder of a trained model's checkpoint.", { required: true as const }),
  json: boolFlag("Print one JSON object instead of text.", { default: false }),
};

/** Flags of `ncf export`. */
export const EXPORT_FLAGS = {
  model_dir: stringFlag("Folder of a trained model's checkpoint.", { required: true as const }),
  out: stringFlag("Folder to write the model, its id-map CSVs and model.json into.", {
    required: true as const,
  }),
  format: enumFlag(
    "npy (one .npy file per tensor) or onnx (model.onnx: inputs user, item as int64 rows of the id maps; output the logit).",
    EXPORT_FORMATS,
    { default: "npy" },
  ),
  sigmoid: boolFlag(
    "With --format onnx, also write model_sigmoid.onnx, whose output is the probability.",
    { default: false },
  ),
};

/** Flags of `ncf download`. */
export const DOWNLOAD_FLAGS = {
  dataset: enumFlag("MovieLens data set to fetch.", MOVIELENS_DATASETS, { required: true }),
  data_dir: _dataDir,
  download_url: _downloadUrl,
  ..._downloadFlags,
};

const _timeouts = {
  flagfile_timeout: floatFlag("Seconds the generator waits for its flagfile.", {
    default: 300,
    min: 0,
  }),
  startup_timeout: floatFlag("Seconds the trainer waits for the generator's first heartbeat.", {
    default: 60,
    min: 0,
  }),
  cycle_timeout: floatFlag("Seconds the trainer waits for each cycle's ready.json.", {
    default: 600,
    min: 0,
  }),
  heartbeat_timeout: floatFlag(
    "Seconds a heartbeat may stay unchanged before its side counts as dead.",
    {
      default: 30,
      min: 1,
    },
  ),
  kill_grace: floatFlag("Seconds between SIGTERM and SIGKILL when stopping the generator.", {
    default: 5,
    min: 0,
  }),
};

/** How the generator draws negatives: `exact` (items the user has no training positive for) or `uniform` (any item, as Rendle et al.'s code). */
export const NEGATIVE_SAMPLINGS = ["exact", "uniform"] as const;
/** One negative-sampling rule. */
export type NegativeSampling = typeof NEGATIVE_SAMPLINGS[number];

/** The generator's shard schemas: labelled pairs (`user_id, item_id, label`) or triples (`user_id, item_id, neg_item_id`). */
export const SHARD_SCHEMAS = ["pairs", "triples"] as const;
/** One shard schema. */
export type ShardSchema = typeof SHARD_SCHEMAS[number];

/** Flags of `ncf trainer`. */
export const TRAINER_FLAGS = {
  ...DATA_FLAGS,
  cache_dir: stringFlag("Folder of run caches and generator logs.", {
    defaultText: "$XDG_CACHE_HOME/ncf, else ~/.cache/ncf, else <temp>/ncf",
  }),
  train_epochs: intFlag("Epochs to train.", { default: 20, min: 1 }),
  epochs_between_evals: intFlag("Epochs per cycle; evaluation follows each cycle.", {
    default: 1,
    min: 1,
  }),
  batch_size: intFlag("Training examples per batch.", { default: 256, min: 1 }),
  learning_rate: floatFlag("Step size of the optimizer.", { default: 0.001, above: 0 }),
  num_factors: intFlag("Embedding size of the GMF branch.", { default: 8, min: 1 }),
  layers: intListFlag("Sizes of the MLP layers; the first is the concatenated embeddings.", {
    default: [64, 32, 16, 8],
    min: 1,
  }),
  num_neg: intFlag("Negatives sampled per training positive.", { default: 4, min: 1 }),
  hr_threshold: floatFlag("Stop early once HR@10 reaches this.", { min: 0, max: 1 }),
  model: enumFlag(`The model: ${MODELS.join(", ")}.`, MODELS, { default: "NeuMF" }),
  loss: enumFlag(
    "bce: sigmoid cross-entropy on labelled pairs (the paper's); bpr: −log σ(y(u,i) − y(u,j)) on (user, positive, negative) triples.",
    LOSSES,
    { default: "bce" },
  ),
  init_stddev: floatFlag("Standard deviation of the embeddings' normal initialisation.", {
    default: 0.01,
    above: 0,
  }),
  negative_sampling: enumFlag(
    "exact: negatives among the items the user has no training positive for; uniform: any item (Rendle et al.'s code).",
    NEGATIVE_SAMPLINGS,
    { default: "exact" },
  ),
  ..._evalFlags,
  mlp_regularization: floatFlag("L2 weight on the MLP embedding rows of a batch.", {
    default: 0,
    min: 0,
  }),
  pretrain_gmf: stringFlag("--model_dir of a trained GMF to start NeuMF from.", {}),
  pretrain_mlp: stringFlag("--model_dir of a trained MLP to start NeuMF from.", {}),
  alpha: floatFlag("Weight of the pretrained GMF in NeuMF's output layer.", {
    default: 0.5,
    min: 0,
    max: 1,
  }),
  backend: enumFlag(
    "Matrix products: blas (system OpenBLAS), wasm (WebAssembly SIMD), ts (TypeScript) or auto.",
    BACKENDS,
    {
      default: "auto",
    },
  ),
  blas_threads: intFlag(
    "Threads OpenBLAS may use (the blas backend; metrics are bit-identical only at the same count).",
    { default: 1, min: 1 },
  ),
  eval_workers: intFlag(
    "Workers that score users beside the trainer's thread during evaluation (same metrics).",
    { min: 0, defaultText: "1 with 2+ cores and --blas_threads 1, else 0" },
  ),
  metrics_file: stringFlag("Append one JSON object per evaluation to this file.", {}),
  plot: stringFlag("Draw HR@10, NDCG@10 and loss by epoch into this SVG file.", {}),
  model_dir: stringFlag("Keep a checkpoint here after every evaluation.", {}),
  resume: boolFlag(
    "Continue the run in --model_dir (its saved flags apply; raise --train_epochs to extend it).",
    { default: false },
  ),
  overwrite: boolFlag("Replace the checkpoint a --model_dir already holds.", { default: false }),
  init_from: stringFlag(
    "Start from the trained model in this folder (warm start on grown data): known users and items keep their rows, new ones start fresh.",
    {},
  ),
  patience: intFlag(
    "Stop when HR@10 has not improved for this many evaluations (the best checkpoint stays in --model_dir/best).",
    { min: 1 },
  ),
  keep_best: boolFlag(
    "Also keep the checkpoint of the best HR@10 so far in --model_dir/best (pretraining starts from it).",
    { default: false },
  ),
  use_subprocess: boolFlag(
    "Spawn the generator; with --nouse_subprocess, print its command for an operator.",
    { default: true },
  ),
  keep_cache: boolFlag("Keep the run's cache folder at the end.", { default: false }),
  num_workers: intFlag("Generator workers.", {
    min: 1,
    defaultText: "75% of the cores, at least 1",
  }),
  cycles_to_buffer: intFlag("Most unconsumed cycles the generator keeps ahead.", {
    default: 3,
    min: 1,
  }),
  spillover: boolFlag("Carry a cycle's last partial batch into the next cycle.", {
    default: true,
  }),
  ..._timeouts,
};

/** Flags of `ncf generator` (everything else comes from its flagfile). */
export const GENERATOR_FLAGS = {
  data_dir: stringFlag("Folder of raw data.", { required: true as const }),
  cache_dir: stringFlag("Folder of run caches and generator logs.", {
    defaultText: "$XDG_CACHE_HOME/ncf, else ~/.cache/ncf, else <temp>/ncf",
  }),
  cache_id: stringFlag("The run whose flagfile to read.", { required: true as const }),
  flagfile_timeout: _timeouts.flagfile_timeout,
  parent_pid: intFlag("The trainer's pid, watched when spawned.", { min: 1 }),
};

/** Keys of the flagfile the trainer writes for the generator. */
export const GENERATOR_SETTINGS = {
  cache_id: stringFlag("The run's id.", { required: true as const }),
  num_users: intFlag("Users.", { required: true as const, min: 1 }),
  num_items: intFlag("Items.", { required: true as const, min: 2 }),
  num_train_positives: intFlag("Training positives.", { required: true as const, min: 1 }),
  num_neg: intFlag("Negatives per positive.", { required: true as const, min: 1 }),
  epochs_per_cycle: intFlag("Epochs per cycle.", { required: true as const, min: 1 }),
  num_cycles: intFlag("Cycles to make.", { required: true as const, min: 1 }),
  start_cycle: intFlag("First cycle to make.", { default: 0, min: 0 }),
  train_batch_size: intFlag("Examples per batch.", { required: true as const, min: 1 }),
  spillover: boolFlag("Carry partial batches across cycles.", { default: true }),
  schema: enumFlag("The shards' schema.", SHARD_SCHEMAS, { default: "pairs" }),
  negative_sampling: enumFlag("How negatives are drawn.", NEGATIVE_SAMPLINGS, {
    default: "exact",
  }),
  cycles_to_buffer: intFlag("Most unconsumed cycles.", { default: 3, min: 1 }),
  seed: intFlag("Seed.", { required: true as const, min: 0, max: Number.MAX_SAFE_INTEGER }),
  num_workers: intFlag("Workers.", { default: 1, min: 1 }),
  heartbeat_timeout: _timeouts.heartbeat_timeout,
  use_subprocess: boolFlag("Whether the trainer spawned the generator.", { default: true }),
};

/** Parsed trainer flags. */
export type TrainerFlags = FlagValues<typeof TRAINER_FLAGS>;
/** Parsed generator command-line flags. */
export type GeneratorFlags = FlagValues<typeof GENERATOR_FLAGS>;
/** Parsed generator flagfile. */
export type GeneratorSettings = FlagValues<typeof GENERATOR_SETTINGS>;
/** Parsed data flags. */
export type DataFlags = FlagValues<typeof DATA_FLAGS>;

/**
 * Checks what single flag ranges cannot: `--ratings_file` for csv and ncf,
 * and an even first MLP layer. Throws {@linkcode UsageError}.
 *
 * @example
 * ```ts
 * import { checkDataFlags, DATA_FLAGS } from "./specs.ts";
 * import { parseFlags } from "./flags.ts";
 * const { values } = parseFlags(["--dataset=ml-100k"], DATA_FLAGS);
 * checkDataFlags(values); // no throw
 * ```
 */
export function checkDataFlags(values: DataFlags): void {
  if ((values.dataset === "csv" || values.dataset === "ncf") && values.ratings_file === undefined) {
    throw new UsageError(`Cannot use --dataset ${values.dataset}: it needs --ratings_file`);
  }
  if (
    values.dataset !== "csv" && values.dataset !== "ncf" && values.ratings_file !== undefined
  ) {
    throw new UsageError(
      `Cannot use --ratings_file with --dataset ${values.dataset}: it is for csv and ncf`,
    );
  }
  if (values.columns !== undefined && values.dataset !== "csv") {
    throw new UsageError(`Cannot use --columns with --dataset ${values.dataset}: it is for csv`);
  }
  if (values.num_eval_negatives >= values.synthetic_items - 1 && values.dataset === "synthetic") {
    throw new UsageError(
      `Cannot use --num_eval_negatives ${values.num_eval_negatives}: --synthetic_items is ${values.synthetic_items}, so at most ${
        values.synthetic_items - 2
      }`,
    );
  }
}

/**
 * {@linkcode checkDataFlags} plus the trainer's own cross-flag checks.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkTrainerFlags, TRAINER_FLAGS } from "./specs.ts";
 * import { parseFlags } from "./flags.ts";
 * let message = "";
 * try {
 *   checkTrainerFlags(parseFlags(["--layers=63,32"], TRAINER_FLAGS).values);
 * } catch (e) {
 *   message = (e as Error).message;
 * }
 * assert.ok(message.includes("--layers"));
 * ```
 */
export function checkTrainerFlags(values: TrainerFlags): void {
  checkDataFlags(values);
  if (values.resume && values.model_dir === undefined) {
    throw new UsageError("Cannot use --resume: it needs --model_dir");
  }
  if (values.keep_best && values.model_dir === undefined) {
    throw new UsageError("Cannot use --keep_best: it needs --model_dir");
  }
  if (values.init_from !== undefined && values.resume) {
    throw new UsageError(
      "Cannot use --init_from with --resume: --resume continues the same run, --init_from starts a new one from a trained model",
    );
  }
  if (values.init_from !== undefined && values.pretrain_gmf !== undefined) {
    throw new UsageError(
      "Cannot use --init_from with --pretrain_gmf/--pretrain_mlp: choose one start",
    );
  }
  if (values.resume && values.overwrite) {
    throw new UsageError("Cannot use --resume with --overwrite: continue the run or replace it");
  }
  if (values.overwrite && values.model_dir === undefined) {
    throw new UsageError("Cannot use --overwrite: it needs --model_dir");
  }
  if ((values.pretrain_gmf === undefined) !== (values.pretrain_mlp === undefined)) {
    throw new UsageError("Cannot pretrain: --pretrain_gmf and --pretrain_mlp go together");
  }
  if (values.pretrain_gmf !== undefined && pretrainedPartsOf(values.model).length === 0) {
    throw new UsageError(
      `Cannot use --pretrain_gmf with --model ${values.model}: it starts from no pretrained parts`,
    );
  }
  if (values.layers.length < 1 || values.layers[0] % 2 !== 0) {
    throw new UsageError(
      `Cannot use --layers ${
        values.layers.join(",")
      }: the first layer is the user and item embeddings concatenated, so it must be even`,
    );
  }
}

/** Generator settings copied from the trainer flag of another name (the TF reference's keys). */
const _SETTINGS_FROM_FLAGS = {
  num_neg: "num_neg",
  epochs_per_cycle: "epochs_between_evals",
  train_batch_size: "batch_size",
  spillover: "spillover",
  cycles_to_buffer: "cycles_to_buffer",
  heartbeat_timeout: "heartbeat_timeout",
  negative_sampling: "negative_sampling",
} as const satisfies Partial<Record<keyof GeneratorSettings, keyof TrainerFlags>>;

/** The generator settings a trainer writes, but the run's own (cache id, counts, mode). */
export type TrainerGeneratorSettings = Omit<
  GeneratorSettings,
  "cache_id" | "num_users" | "num_items" | "num_train_positives" | "use_subprocess"
>;

/**
 * The generator's flagfile settings of a trainer run: the flags of
 * {@linkcode _SETTINGS_FROM_FLAGS} plus what the run computed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generatorSettings, TRAINER_FLAGS } from "./specs.ts";
 * import { parseFlags } from "./flags.ts";
 * const flags = parseFlags(["--batch_size=64", "--epochs_between_evals=2"], TRAINER_FLAGS).values;
 * const s = generatorSettings(flags, { numCycles: 3, startCycle: 0, seed: 1, numWorkers: 1 });
 * assert.ok(s.train_batch_size === 64 && s.epochs_per_cycle === 2 && s.num_cycles === 3);
 * ```
 */
export function generatorSettings(
  flags: TrainerFlags,
  run: { numCycles: number; startCycle: number; seed: number; numWorkers: number },
): TrainerGeneratorSettings {
  const copied = Object.fromEntries(
    Object.entries(_SETTINGS_FROM_FLAGS).map(([key, flag]) => [key, flags[flag]]),
  ) as Pick<GeneratorSettings, keyof typeof _SETTINGS_FROM_FLAGS>;
  return {
    ...copied,
    schema: flags.loss === "bpr" ? "triples" : "pairs",
    num_cycles: run.numCycles,
    start_cycle: run.startCycle,
    seed: run.seed,
    num_workers: run.numWorkers,
  };
}

/**
 * The trainer's computed defaults, resolved in one place: `--cache_dir`
 * (default {@linkcode defaultCacheDir}, made absolute), `--num_workers`
 * (75% of the cores, at least 1) and `--eval_workers` (one beside the
 * trainer's thread when there is a second core and OpenBLAS is not already
 * using it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveTrainerDefaults, TRAINER_FLAGS } from "./specs.ts";
 * import { parseFlags } from "./flags.ts";
 * const flags = parseFlags([], TRAINER_FLAGS).values;
 * const env = { XDG_CACHE_HOME: "/home/u/.cache" } as Record<string, string>;
 * assert.deepEqual(resolveTrainerDefaults(flags, { cores: 8, getEnv: (n) => env[n] }), {
 *   cacheDir: "/home/u/.cache/ncf", numWorkers: 6, evalWorkers: 1,
 * });
 * ```
 */
export function resolveTrainerDefaults(
  flags: TrainerFlags,
  env: { cores: number; getEnv?: ((name: string) => string | undefined) | undefined },
): { cacheDir: string; numWorkers: number; evalWorkers: number } {
  return {
    cacheDir: resolve(flags.cache_dir ?? defaultCacheDir(env.getEnv)),
    numWorkers: flags.num_workers ?? defaultNumWorkers(env.cores),
    evalWorkers: flags.eval_workers ??
      defaultEvalWorkers(env.cores, { blasThreads: flags.blas_threads }),
  };
}

/**
 * The default `--cache_dir`, outside the data: `$XDG_CACHE_HOME/ncf`, else
 * `$HOME/.cache/ncf`, else `ncf` in the temp folder (`getEnv` reads the
 * environment; without it, the temp folder).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultCacheDir } from "./specs.ts";
 * assert.equal(defaultCacheDir((n) => n === "HOME" ? "/home/u" : undefined), "/home/u/.cache/ncf");
 * assert.ok(defaultCacheDir().endsWith("ncf"));
 * ```
 */
export function defaultCacheDir(getEnv?: (name: string) => string | undefined): string {
  const xdg = getEnv?.("XDG_CACHE_HOME");
  if (xdg !== undefined && isAbsolute(xdg)) return join(xdg, "ncf");
  const home = getEnv?.("HOME");
  if (home !== undefined && isAbsolute(home)) return join(home, ".cache", "ncf");
  return join(tmpdir(), "ncf");
}

/**
 * The default `--num_workers`: 75% of the cores, at least 1.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultNumWorkers } from "./specs.ts";
 * assert.ok(defaultNumWorkers(2) === 1 && defaultNumWorkers(8) === 6);
 * ```
 */
export function defaultNumWorkers(cores: number): number {
  return Math.max(1, Math.floor(cores * 0.75));
}

/**
 * The default `--eval_workers`: one beside the trainer's thread when there
 * is a second core and OpenBLAS is not already using it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultEvalWorkers } from "./specs.ts";
 * assert.equal(defaultEvalWorkers(2, { blasThreads: 1 }), 1);
 * assert.equal(defaultEvalWorkers(1, { blasThreads: 1 }), 0);
 * assert.equal(defaultEvalWorkers(4, { blasThreads: 2 }), 0);
 * ```
 */
export function defaultEvalWorkers(cores: number, options: { blasThreads?: number } = {}): number {
  return cores >= 2 && (options.blasThreads ?? 1) === 1 ? 1 : 0;
}
