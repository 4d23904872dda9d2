/**
 * The item titles of a trained model's run: the titles file beside the
 * ratings its run was trained on (`u.item` beside ml-100k's `u.data`,
 * `movies.dat` beside ml-1m's `ratings.dat`, `movies.csv` beside
 * `ratings.csv`), found through the run's saved flags.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { CHECKPOINT_FILE } from "../train/checkpoint_file.ts";
import { parseFlags } from "../flags/flags.ts";
import { RUN_FLAGFILE } from "../flags/run_flagfile.ts";
import { TRAINER_FLAGS } from "../flags/specs.ts";
import { datasetFilePath } from "../data/load_dataset.ts";
import { findItemTitlesFile } from "../data/item_titles.ts";

/**
 * The path of the titles file of the run whose model is in `modelDir` (or
 * is the checkpoint file `modelDir`), or
 * undefined when the run saved no flags or its data has no titles file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findRunItemTitles } from "./run_item_titles.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/u.data`, "1\t2\t5\t100\n");
 * await Deno.writeTextFile(`${dir}/u.item`, "2|Two (1995)|\n");
 * await Deno.writeTextFile(`${dir}/flags`, `--dataset=ml-100k\n--data_dir=${dir}\n`);
 * assert.equal(await findRunItemTitles(dir), `${dir}/u.item`);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function findRunItemTitles(modelDir: string): Promise<string | undefined> {
  const dir = basename(modelDir) === CHECKPOINT_FILE ? dirname(modelDir) : modelDir;
  let text: string;
  try {
    text = await Deno.readTextFile(join(dir, RUN_FLAGFILE));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw e;
  }
  const flags = parseFlags(["--flagfile=run"], TRAINER_FLAGS, { readTextFile: () => text }).values;
  const candidates = flags.dataset === "csv" && flags.ratings_file !== undefined
    ? [flags.ratings_file]
    : datasetFilePath(flags.dataset, flags.data_dir);
  for (const ratings of candidates) {
    const titles = await findItemTitlesFile(ratings);
    if (titles !== undefined) return titles;
  }
  return undefined;
}
