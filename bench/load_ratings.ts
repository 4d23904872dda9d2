/**
 * Loads and preprocesses a ratings file the way `ncf` does (999 evaluation
 * negatives per user) and prints rows, users, items, seconds and peak RSS.
 *
 * ```
 * deno run -A bench/load_ratings.ts --ratings_file /tmp/ml20m.csv [--min_ratings 20] [--seed 1]
 * ```
 *
 * The 20M-row file: `python3 ../shared/bench/numpy_negatives.py --write-csv /tmp/ml20m.csv`.
 *
 * @module
 */

import { preprocess } from "../lib/data/preprocess.ts";
import { readRatings } from "../lib/data/read_ratings.ts";

/** Peak resident set size in MiB (VmHWM), or NaN where /proc is missing. */
function _peakRssMiB(): number {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const match = status.match(/VmHWM:\s+(\d+)\s+kB/);
    return match ? Number(match[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

function _flag(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return args[i + 1];
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
  }
  return undefined;
}

async function _main(args: string[]): Promise<void> {
  const file = _flag(args, "ratings_file");
  if (file === undefined) {
    console.error(
      "usage: deno run -A bench/load_ratings.ts --ratings_file F [--min_ratings 20] [--seed 1]",
    );
    Deno.exit(2);
  }
  const minRatings = Number(_flag(args, "min_ratings") ?? 20);
  const seed = Number(_flag(args, "seed") ?? 1);
  const t0 = performance.now();
  const raw = await readRatings(file);
  const t1 = performance.now();
  const rows = raw.length;
  const dataset = preprocess(raw, { minRatings, numEvalNegatives: 999, seed });
  const t2 = performance.now();
  console.log(`file            ${file}`);
  console.log(`rows            ${rows}`);
  console.log(`users           ${dataset.numUsers}`);
  console.log(`items           ${dataset.numItems}`);
  console.log(`train positives ${dataset.trainItems.length}`);
  console.log(
    `eval negatives  ${dataset.evalNegatives.length} (${dataset.numEvalCappedUsers} users capped)`,
  );
  console.log(`read            ${((t1 - t0) / 1000).toFixed(2)} s`);
  console.log(`preprocess      ${((t2 - t1) / 1000).toFixed(2)} s`);
  console.log(`total           ${((t2 - t0) / 1000).toFixed(2)} s`);
  console.log(`peak RSS        ${_peakRssMiB().toFixed(0)} MiB`);
}

if (import.meta.main) await _main(Deno.args);
