/**
 * One entry point from a data set name to a preprocessed {@linkcode Dataset}
 * (DESIGN.md section 7): synthetic, MovieLens files, any csv, NCF split.
 * Downloading missing MovieLens files is not done here.
 *
 * @module
 */

import { MissingDatasetError, SettingError } from "../errors.ts";
import { isMovieLens, MOVIELENS, MOVIELENS_DATASETS, type MovieLensName } from "./movielens.ts";
import { readNcfFiles } from "./ncf_files.ts";
import { preprocess } from "./preprocess.ts";
import { checkColumns, readRatings } from "./read_ratings.ts";
import { generateSynthetic } from "./synthetic.ts";
import type { Dataset, DatasetSummary, RawInteractions } from "./types.ts";

/**
 * Every data set {@linkcode loadDataset} knows (the `dataset` setting's
 * values): `synthetic`, the MovieLens sets of {@linkcode MOVIELENS_DATASETS},
 * `csv` and `ncf`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DATASET_NAMES } from "./load_dataset.ts";
 * assert.ok(DATASET_NAMES[0] === "synthetic" && DATASET_NAMES.includes("ml-100k"));
 * ```
 */
export const DATASET_NAMES = ["synthetic", ...MOVIELENS_DATASETS, "csv", "ncf"] as const;

/** A data set name. */
export type DatasetName = typeof DATASET_NAMES[number];

/**
 * The paths where the ratings file of MovieLens data set `name` is looked
 * for, in order: `<dataDir>/<name>/<file>` (the zip's layout), then
 * `<dataDir>/<file>`. Empty for data sets without such a file (synthetic,
 * csv, ncf).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { datasetFilePath } from "./load_dataset.ts";
 * const paths = datasetFilePath("ml-1m", "/data/");
 * assert.ok(paths.join() === "/data/ml-1m/ratings.dat,/data/ratings.dat");
 * assert.ok(datasetFilePath("synthetic", "/data").length === 0);
 * ```
 */
export function datasetFilePath(name: string, dataDir: string): string[] {
  if (!isMovieLens(name)) return [];
  const file = MOVIELENS[name].ratingsFile;
  const dir = dataDir.replace(/\/+$/, "");
  const prefix = dataDir === "" ? "" : dir === "" ? "/" : `${dir}/`;
  return [`${prefix}${name}/${file}`, `${prefix}${file}`];
}

/** Options of {@linkcode loadDataset}. */
export interface LoadDatasetOptions {
  /** Which data set. */
  dataset: DatasetName;
  /** Folder of the MovieLens files (required for them). */
  dataDir?: string | undefined;
  /**
   * The file for `csv`; for `ncf` the split's prefix, or the path of any of
   * its three files (see {@linkcode readNcfFiles}).
   */
  ratingsFile?: string | undefined;
  /**
   * The `csv` file's columns in order (see {@linkcode checkColumns}), e.g.
   * `["item", "user", "rating", "timestamp"]`; a header line is then
   * skipped. Default (undefined or empty): the header's names, else
   * `user,item[,rating],timestamp`. Only for `csv`.
   */
  columns?: readonly string[] | undefined;
  /** See {@linkcode preprocess}; default 20 (not used by `ncf`). */
  minRatings?: number | undefined;
  /** See {@linkcode preprocess}; default 999 (not used by `ncf`, whose file lists them). */
  numEvalNegatives?: number | undefined;
  /** Seed of the run (synthetic data, evaluation negatives). */
  seed: number;
  /** Synthetic users; default 1500. */
  syntheticUsers?: number | undefined;
  /** Synthetic items; default 1500. */
  syntheticItems?: number | undefined;
  /** Synthetic mean interactions per user; default 40. */
  syntheticRatingsPerUser?: number | undefined;
  /** Receives warnings (users dropped for having no possible negative). */
  /** Also hold out each user's second-latest interaction for validation (default false). */
  validation?: boolean | undefined;
  onWarning?: ((message: string) => void) | undefined;
  /** Aborts file reading. */
  signal?: AbortSignal | undefined;
}

/** A loaded data set and its interaction count. */
export interface LoadedDataset {
  dataset: Dataset;
  /**
   * Interactions kept: rows after dedupe and the min_ratings filter (minus
   * users without a possible negative), i.e. training positives plus one
   * held-out item per user.
   */
  numInteractions: number;
}

/**
 * Loads and preprocesses a data set. MovieLens files are looked up with
 * {@linkcode findMovieLensFile}; when none exists, `Deno.errors.NotFound`
 * names every path tried and how to fetch the set. `csv` and `ncf` need
 * `ratingsFile` (else a `SettingError` for `ratings_file`), MovieLens sets
 * need `dataDir` naming a folder (else a `SettingError` for `data_dir`);
 * `columns` is checked ({@linkcode checkColumns}) and only for `csv` (else a
 * `SettingError` for `columns`); an unknown name is a `SettingError` for
 * `dataset`; too many evaluation negatives one for `num_eval_negatives`
 * (see {@linkcode preprocess}). A missing `ncf` file is a
 * `Deno.errors.NotFound` naming the three files expected
 * ({@linkcode readNcfFiles}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadDataset } from "./load_dataset.ts";
 * const { dataset, numInteractions } = await loadDataset({
 *   dataset: "synthetic", seed: 1, syntheticUsers: 30, syntheticItems: 200, numEvalNegatives: 99,
 * });
 * assert.ok(dataset.numUsers === 30);
 * assert.ok(numInteractions === dataset.trainItems.length + dataset.numUsers);
 * ```
 */
export async function loadDataset(options: LoadDatasetOptions): Promise<LoadedDataset> {
  const name: string = options.dataset;
  const columns = options.columns ?? [];
  if (columns.length > 0) {
    checkColumns(columns);
    if (name !== "csv") {
      throw new SettingError(
        "columns",
        `Cannot use columns ${
          JSON.stringify(columns.join(","))
        } with the ${name} data set: columns is for the csv data set (the other sets' columns are known)`,
      );
    }
  }
  let dataset: Dataset;
  if (name === "ncf") {
    dataset = await readNcfFiles(_ratingsFile(options), {
      signal: options.signal,
      validation: options.validation,
      seed: options.seed,
    });
  } else {
    let raw: RawInteractions;
    if (name === "synthetic") {
      raw = generateSynthetic({
        seed: options.seed,
        numUsers: options.syntheticUsers,
        numItems: options.syntheticItems,
        meanRatingsPerUser: options.syntheticRatingsPerUser,
      });
    } else if (name === "csv") {
      raw = await readRatings(_ratingsFile(options), { signal: options.signal, columns });
    } else if (isMovieLens(name)) {
      raw = await readRatings(await _findMovieLensFile(name, options.dataDir), {
        signal: options.signal,
      });
    } else {
      throw new SettingError(
        "dataset",
        `Cannot load data set ${JSON.stringify(name)}: unknown (expected one of ${
          DATASET_NAMES.join(", ")
        })`,
      );
    }
    dataset = preprocess(raw, {
      minRatings: options.minRatings,
      numEvalNegatives: options.numEvalNegatives,
      seed: options.seed,
      validation: options.validation,
      onWarning: options.onWarning,
    });
  }
  const heldOut = dataset.numUsers * (dataset.validation === undefined ? 1 : 2);
  return { dataset, numInteractions: dataset.trainItems.length + heldOut };
}

/**
 * The counts `ncf inspect` prints.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadDataset, summarize } from "./load_dataset.ts";
 * const { dataset, numInteractions } = await loadDataset({
 *   dataset: "synthetic", seed: 1, syntheticUsers: 30, syntheticItems: 200, numEvalNegatives: 9,
 * });
 * const summary = summarize(dataset, numInteractions);
 * assert.ok(summary.num_eval_users === 30 && summary.num_items === dataset.numItems);
 * ```
 */
export function summarize(dataset: Dataset, numInteractions: number): DatasetSummary {
  return {
    num_users: dataset.numUsers,
    num_items: dataset.numItems,
    num_interactions: numInteractions,
    num_train_positives: dataset.trainItems.length,
    num_eval_users: dataset.evalItems.length,
    num_eval_capped_users: dataset.numEvalCappedUsers,
  };
}

function _ratingsFile(options: LoadDatasetOptions): string {
  if (options.ratingsFile === undefined || options.ratingsFile === "") {
    const what = options.dataset === "ncf" ? "the split's file prefix" : "the ratings file";
    throw new SettingError(
      "ratings_file",
      `Cannot load the ${options.dataset} data set: ${what} is not set`,
    );
  }
  return options.ratingsFile;
}

async function _findMovieLensFile(
  name: MovieLensName,
  dataDir: string | undefined,
): Promise<string> {
  if (dataDir === undefined || dataDir === "") {
    throw new SettingError(
      "data_dir",
      `Cannot load the ${name} data set: the data folder is not set`,
    );
  }
  const path = await findMovieLensFile(name, dataDir);
  if (path !== undefined) return path;
  const paths = datasetFilePath(name, dataDir);
  if (!(await _isFolder(dataDir))) {
    throw new MissingDatasetError(
      name,
      dataDir,
      `Cannot read the ${name} ratings: the data folder ${dataDir} does not exist (expected ${
        paths.join(" or ")
      })`,
    );
  }
  throw new MissingDatasetError(
    name,
    dataDir,
    `Cannot read the ${name} ratings: neither ${paths.join(" nor ")} exists`,
  );
}

/**
 * The ratings file of MovieLens data set `name` under `dataDir`: the first
 * of {@linkcode datasetFilePath}'s paths that is a file, or `undefined` when
 * neither is (the set still has to be downloaded). Throws a `SettingError`
 * for `data_dir` when `dataDir` is a file rather than a folder.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findMovieLensFile } from "./load_dataset.ts";
 * const dir = await Deno.makeTempDir();
 * assert.equal(await findMovieLensFile("ml-100k", dir), undefined);
 * await Deno.mkdir(`${dir}/ml-100k`);
 * await Deno.writeTextFile(`${dir}/ml-100k/u.data`, "196\t242\t3\t881250949\n");
 * assert.equal(await findMovieLensFile("ml-100k", dir), `${dir}/ml-100k/u.data`);
 * await assert.rejects(() => findMovieLensFile("ml-100k", `${dir}/ml-100k/u.data`), /is a file, not a folder/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function findMovieLensFile(
  name: MovieLensName,
  dataDir: string,
): Promise<string | undefined> {
  const paths = datasetFilePath(name, dataDir);
  for (const path of paths) {
    try {
      if ((await Deno.stat(path)).isFile) return path;
    } catch (error) {
      if (
        !(error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory)
      ) {
        throw error;
      }
    }
  }
  let isFile = false;
  try {
    isFile = (await Deno.stat(dataDir === "" ? "." : dataDir)).isFile;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory)) {
      throw error;
    }
  }
  if (isFile) {
    const file = MOVIELENS[name].ratingsFile;
    throw new SettingError(
      "data_dir",
      `Cannot load the ${name} data set: ${dataDir} is a file, not a folder: data_dir takes the folder that holds ${name}/${file} or ${file}; for a single ratings file use the csv data set with ratings_file ${dataDir}`,
    );
  }
  return undefined;
}

async function _isFolder(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path === "" ? "." : path)).isDirectory;
  } catch {
    return false;
  }
}
