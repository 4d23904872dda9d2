/**
 * Loads the data set the data flags name, downloading a missing MovieLens
 * set first when `--download_if_missing` allows it.
 *
 * @module
 */

import { downloadDataset, formatRetry } from "../data/download.ts";
import { findMovieLensFile, loadDataset, type LoadedDataset } from "../data/load_dataset.ts";
import { isMovieLens } from "../data/movielens.ts";
import type { DataFlags } from "../flags/specs.ts";

/** Options of {@linkcode loadDatasetFromFlags}. */
export interface LoadFromFlagsOptions {
  /** The run's seed (flags.seed, or the one drawn for this run). */
  seed: number;
  /** Warnings (dropped users). */
  onWarning?: ((message: string) => void) | undefined;
  /** Download progress: bytes received and total. */
  onProgress?: ((received: number, total: number | undefined) => void) | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * Loads `flags.dataset`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadDatasetFromFlags } from "./load_data.ts";
 * import { parseFlags } from "../flags/flags.ts";
 * import { DATA_FLAGS } from "../flags/specs.ts";
 * const flags = parseFlags(["--synthetic_users=40", "--synthetic_items=300", "--num_eval_negatives=50"], DATA_FLAGS).values;
 * const { dataset } = await loadDatasetFromFlags(flags, { seed: 3 });
 * assert.ok(dataset.numUsers === 40);
 * ```
 */
export async function loadDatasetFromFlags(
  flags: DataFlags,
  options: LoadFromFlagsOptions,
): Promise<LoadedDataset> {
  const name = flags.dataset;
  if (flags.download_if_missing && isMovieLens(name)) {
    if ((await findMovieLensFile(name, flags.data_dir)) === undefined) {
      await Deno.mkdir(flags.data_dir, { recursive: true });
      await downloadDataset(name, flags.data_dir, {
        baseUrl: flags.download_url,
        onProgress: options.onProgress,
        signal: options.signal,
        connectTimeoutSeconds: flags.download_connect_timeout,
        idleTimeoutSeconds: flags.download_idle_timeout,
        retries: flags.download_retries,
        onRetry: (r) => options.onWarning?.(formatRetry(r)),
      });
    }
  }
  return await loadDataset({
    dataset: name,
    dataDir: flags.data_dir,
    ratingsFile: flags.ratings_file,
    columns: flags.columns?.split(",").map((c) => c.trim()),
    validation: flags.validation,
    minRatings: flags.min_ratings,
    numEvalNegatives: flags.num_eval_negatives,
    seed: options.seed,
    syntheticUsers: flags.synthetic_users,
    syntheticItems: flags.synthetic_items,
    syntheticRatingsPerUser: flags.synthetic_ratings_per_user,
    onWarning: options.onWarning,
    signal: options.signal,
  });
}

/**
 * A seed for a run that did not set `--seed`: 32 random bits from
 * `crypto.getRandomValues`, to be recorded so the run can be repeated.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { drawSeed } from "./load_data.ts";
 * const seed = drawSeed();
 * assert.ok(Number.isInteger(seed) && seed >= 0);
 * ```
 */
export function drawSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}
