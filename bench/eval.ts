/**
 * Measures evaluation speed: `evaluateRanking` (HR@10 / NDCG@10, the
 * trainer's per-cycle evaluation) of a NeuMF model with random weights over
 * random candidates — by default ml-20m's shape, 138,493 users × (1 held-out
 * + 999 negatives) among 26,744 items, with the paper's model.
 *
 * ```
 * deno task bench:eval [--num_users 138493] [--num_items 26744] [--candidates 1000]
 *   [--num_factors 8] [--layers 64,32,16,8] [--backend auto|blas|ts|wasm] [--blas_threads 1]
 *   [--eval_workers 1] [--repeats 3] [--seed 1]
 * ```
 *
 * Building the candidates is not timed. Each repeat evaluates every user
 * once; the lines report each repeat's seconds and the last line is
 * `seconds: S` (the median repeat).
 *
 * @module
 */

import type { Dataset } from "../lib/data/types.ts";
import { evaluateRanking } from "../lib/eval/evaluate.ts";
import { startEvalWorkers } from "../lib/eval/eval_workers.ts";
import { enumFlag, formatHelp, intFlag, intListFlag, parseFlags } from "../lib/flags/flags.ts";
import { SettingError, UsageError } from "../lib/errors.ts";
import { buildModel, modelConfig } from "../lib/model/registry.ts";
import { BACKENDS, MODELS } from "../lib/flags/specs.ts";
import { Prng } from "../lib/random/prng.ts";

const _FLAGS = {
  num_users: intFlag("Users to evaluate.", { default: 138493, min: 1 }),
  num_items: intFlag("Items in the catalogue.", { default: 26744, min: 2 }),
  candidates: intFlag("Candidates per user (1 held-out item + negatives).", {
    default: 1000,
    min: 2,
  }),
  model: enumFlag(`The model: ${MODELS.join(", ")}.`, MODELS, { default: "NeuMF" }),
  num_factors: intFlag("GMF embedding size.", { default: 8, min: 1 }),
  layers: intListFlag("MLP sizes; the first is the concatenated embedding size.", {
    default: [64, 32, 16, 8],
    min: 1,
  }),
  backend: enumFlag("Matrix-product backend.", BACKENDS, { default: "auto" }),
  blas_threads: intFlag("Threads OpenBLAS may use (results depend on the count).", {
    default: 1,
    min: 1,
  }),
  eval_workers: intFlag("Evaluation workers beside the main thread (as the trainer's flag).", {
    default: 1,
    min: 0,
  }),
  repeats: intFlag("Timed evaluations.", { default: 3, min: 1 }),
  seed: intFlag("Seed of the weights and the candidates.", { default: 1, min: 0 }),
};

/** A data set holding only what `evaluateRanking` reads: random candidates. */
function _randomCandidates(
  prng: Prng,
  options: { numUsers: number; numItems: number; candidates: number },
): Dataset {
  const { numUsers, numItems, candidates } = options;
  const negatives = candidates - 1;
  const evalItems = new Int32Array(numUsers);
  const evalNegOffsets = new Int32Array(numUsers + 1);
  const evalNegatives = new Int32Array(numUsers * negatives);
  for (let u = 0; u < numUsers; u++) {
    evalItems[u] = prng.nextInt(numItems);
    evalNegOffsets[u + 1] = (u + 1) * negatives;
  }
  for (let i = 0; i < evalNegatives.length; i++) evalNegatives[i] = prng.nextInt(numItems);
  return {
    numUsers,
    numItems,
    userIds: new Float64Array(0),
    itemIds: new Float64Array(0),
    trainOffsets: new Int32Array(numUsers + 1),
    trainItems: new Int32Array(0),
    evalItems,
    evalNegOffsets,
    evalNegatives,
    numEvalCappedUsers: 0,
  };
}

async function _main(args: string[]): Promise<void> {
  const parsed = parseFlags(args, _FLAGS);
  if (parsed.help) {
    console.log(formatHelp("deno task bench:eval", _FLAGS));
    return;
  }
  const f = parsed.values;
  const model = buildModel(
    modelConfig(f.model, {
      numUsers: f.num_users,
      numItems: f.num_items,
      numFactors: f.num_factors,
      layers: f.layers,
      mfRegularization: 0,
      mlpRegularization: 0,
    }),
    { backend: f.backend, blasThreads: f.blas_threads, prng: new Prng(f.seed) },
  );
  const description = model.kernels.description;
  // Trained-looking weights: N(0, 0.5²) embeddings give varied, non-tied scores.
  const prng = new Prng(f.seed, 1);
  for (const e of model.parameters.entries) {
    if (e.sparse) { for (let i = 0; i < e.length; i++) e.values[i] = 0.5 * prng.nextGaussian(); }
  }
  model.prepareEval();
  const dataset = _randomCandidates(prng, {
    numUsers: f.num_users,
    numItems: f.num_items,
    candidates: f.candidates,
  });
  const pool = f.eval_workers > 0
    ? startEvalWorkers(model, dataset, { workers: f.eval_workers, blasThreads: f.blas_threads })
    : null;
  console.log(
    `eval ${f.num_users} users × ${f.candidates} candidates (${f.num_items} items), ` +
      `${model.describe()}, backend ${description}, ${pool?.workers ?? 0} evaluation worker${
        pool?.workers === 1 ? "" : "s"
      }`,
  );
  const seconds: number[] = [];
  for (let r = 0; r < f.repeats; r++) {
    const result = pool !== null ? await pool.evaluate(model) : evaluateRanking(model, dataset);
    seconds.push(result.seconds);
    const rate = f.num_users * f.candidates / result.seconds;
    console.log(
      `repeat ${r + 1}: ${result.seconds.toFixed(2)} s  ${(rate / 1e6).toFixed(1)} M scores/s  ` +
        `HR@10 ${result.hr.toFixed(4)}  NDCG@10 ${result.ndcg.toFixed(4)}`,
    );
  }
  seconds.sort((a, b) => a - b);
  pool?.close();
  console.log(`seconds: ${seconds[Math.floor(seconds.length / 2)].toFixed(2)}`);
}

if (import.meta.main) {
  try {
    await _main(Deno.args);
  } catch (e) {
    if (!(e instanceof UsageError || e instanceof SettingError)) throw e;
    console.error(`${e.message}\nRun 'deno task bench:eval --help' for the flags.`);
    Deno.exit(2);
  }
}
