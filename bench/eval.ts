/**
 * Measures evaluation speed: `evaluateRanking` (the trainer's per-cycle
 * evaluation) of a model with random weights, by either protocol.
 *
 * - Without `--ratings_file`: random candidates of ml-20m's shape, 138,493
 *   users × (1 held-out + 999 negatives) among 26,744 items (`sampled`), or
 *   every item for every user (`full`, no training rows).
 * - With `--ratings_file FILE`: the data set in FILE (a ratings CSV, or the
 *   NCF split's prefix when `FILE.train.rating` exists, or as `--dataset`
 *   says), loaded untimed; `full` ranks each user's held-out item against
 *   every item the user has not trained on.
 *
 * ```
 * deno task bench:eval [--eval_protocol sampled|full] [--ratings_file FILE] [--dataset auto|csv|ncf]
 *   [--model NeuMF|GMF|MLP|MF…] [--num_factors 8] [--layers 64,32,16,8] [--eval_k 10]
 *   [--coverage] [--backend auto|blas|ts|wasm] [--blas_threads 1] [--eval_workers 1]
 *   [--repeats 3] [--seed 1] [--num_users 138493] [--num_items 26744] [--candidates 1000]
 * ```
 *
 * An untimed evaluation of the first 256 users warms up (the workers load
 * their modules); then each repeat evaluates every user once (the model's
 * weights copied to the workers included). The lines report each repeat; the run ends with the
 * ranking's GFLOP/s beside the rate of a 1024³ sgemm on the same kernel set
 * measured in the same run (per thread, and times the threads ranking),
 * then `seconds: S` (the median repeat).
 *
 * @module
 */

import type { Dataset } from "../lib/data/types.ts";
import { loadDataset } from "../lib/data/load_dataset.ts";
import { EVAL_PROTOCOLS } from "../lib/data/eval_protocol.ts";
import { evaluateRanking } from "../lib/eval/evaluate.ts";
import { startEvalWorkers } from "../lib/eval/eval_workers.ts";
import {
  boolFlag,
  enumFlag,
  formatHelp,
  intFlag,
  intListFlag,
  parseFlags,
  stringFlag,
} from "../lib/flags/flags.ts";
import { SettingError, UsageError } from "../lib/errors.ts";
import type { Kernels } from "../lib/kernels/kernels.ts";
import type { ModelConfig } from "../lib/model/model.ts";
import { buildModel, modelConfig } from "../lib/model/registry.ts";
import { BACKENDS, MODELS } from "../lib/flags/specs.ts";
import { Prng } from "../lib/random/prng.ts";
import process from "node:process";

const _FLAGS = {
  eval_protocol: enumFlag(
    "sampled: 1 held-out item + negatives; full: every item the user has not trained on.",
    EVAL_PROTOCOLS,
    { default: "sampled" },
  ),
  ratings_file: stringFlag(
    "A data set to rank (csv, or an NCF split's prefix); random if absent.",
    {},
  ),
  dataset: enumFlag(
    "How to read --ratings_file (auto: ncf when FILE.train.rating exists).",
    [
      "auto",
      "csv",
      "ncf",
    ] as const,
    { default: "auto" },
  ),
  num_users: intFlag("Users to evaluate (random data).", { default: 138493, min: 1 }),
  num_items: intFlag("Items in the catalogue (random data).", { default: 26744, min: 2 }),
  candidates: intFlag("Candidates per user of the sampled protocol (1 held-out + negatives).", {
    default: 1000,
    min: 2,
  }),
  model: enumFlag(`The model: ${MODELS.join(", ")}.`, MODELS, { default: "NeuMF" }),
  num_factors: intFlag("Factor (GMF, MF) embedding size.", { default: 8, min: 1 }),
  layers: intListFlag("MLP sizes; the first is the concatenated embedding size.", {
    default: [64, 32, 16, 8],
    min: 1,
  }),
  eval_k: intListFlag("Cutoffs K of HR@K and NDCG@K.", { default: [10], min: 1 }),
  coverage: boolFlag("Also measure catalogue coverage@K (a top-K selection per user).", {
    default: false,
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
  users: intFlag("Rank only the first N users (0: all); the time for all is extrapolated.", {
    default: 0,
    min: 0,
  }),
  repeats: intFlag("Timed evaluations.", { default: 3, min: 1 }),
  seed: intFlag("Seed of the weights and the candidates.", { default: 1, min: 0 }),
};

/** A data set holding only what `evaluateRanking` reads: random candidates, no training rows. */
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

/** The first `users` users of `dataset` (all when 0 or more than it has). */
function _firstUsers(dataset: Dataset, users: number): Dataset {
  if (users === 0 || users >= dataset.numUsers) return dataset;
  return {
    ...dataset,
    numUsers: users,
    trainOffsets: dataset.trainOffsets.subarray(0, users + 1),
    evalItems: dataset.evalItems.subarray(0, users),
    evalNegOffsets: dataset.evalNegOffsets.subarray(0, users + 1),
  };
}

/** Whether `path` names an existing file. */
function _exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * Floating-point operations of scoring one (user, item) pair the efficient
 * way (the first MLP layer's user and item shares precomputed, as the
 * evaluation does), or undefined for a model this bench does not know.
 */
function _flopsPerPair(config: ModelConfig): number | undefined {
  const c = config as ModelConfig & { numFactors?: number; layers?: readonly number[] };
  const nf = c.numFactors ?? 0;
  const layers = c.layers ?? [];
  switch (c.kind) {
    case "MF":
      return 2 * nf + 2; // dot product, two biases
    case "GMF":
    case "MLP":
    case "NeuMF": {
      let flops = c.kind === "MLP" ? 0 : 2 * nf; // GMF: one multiply-add per factor
      if (c.kind !== "GMF") {
        if (layers.length > 1) flops += layers[1]; // first layer: user share + item share
        for (let l = 1; l + 1 < layers.length; l++) flops += 2 * layers[l] * layers[l + 1];
        flops += 2 * layers[layers.length - 1]; // output unit
      }
      return flops;
    }
    default:
      return undefined;
  }
}

/** GFLOP/s of a `size`³ sgemm on `kernels` (best of a few). */
function _sgemmRate(kernels: Kernels, size = 1024): number {
  const n = size * size;
  const memory = kernels.memory({ floats: 3 * n, scratchBytes: 4 * n + 64, idsBytes: 64 });
  const a = memory.alloc(n);
  const b = memory.alloc(n);
  const c = memory.alloc(n);
  const prng = new Prng(7);
  for (let i = 0; i < n; i++) {
    a[i] = prng.nextFloat() - 0.5;
    b[i] = prng.nextFloat() - 0.5;
  }
  const args = {
    transA: false,
    transB: false,
    m: size,
    n: size,
    k: size,
    alpha: 1,
    a,
    lda: size,
    b,
    ldb: size,
    beta: 0,
    c,
    ldc: size,
  };
  let best = Infinity;
  for (let r = 0; r < 4; r++) {
    const t0 = performance.now();
    kernels.sgemm(args);
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return 2 * size ** 3 / best / 1e9;
}

async function _dataset(f: {
  ratings_file: string | undefined;
  dataset: "auto" | "csv" | "ncf";
  eval_protocol: "sampled" | "full";
  candidates: number;
  num_users: number;
  num_items: number;
  seed: number;
}, prng: Prng): Promise<{ dataset: Dataset; source: string }> {
  const file = f.ratings_file;
  if (file === undefined) {
    const dataset = _randomCandidates(prng, {
      numUsers: f.num_users,
      numItems: f.num_items,
      candidates: f.candidates,
    });
    return { dataset, source: "random" };
  }
  const kind = f.dataset === "auto" ? (_exists(`${file}.train.rating`) ? "ncf" : "csv") : f.dataset;
  const started = performance.now();
  const { dataset } = await loadDataset({
    dataset: kind,
    ratingsFile: file,
    seed: f.seed,
    // The full protocol ranks every item: no sampled negatives to draw.
    numEvalNegatives: f.eval_protocol === "full" ? 0 : f.candidates - 1,
  });
  const seconds = (performance.now() - started) / 1000;
  return { dataset, source: `${kind} ${file} (loaded in ${seconds.toFixed(1)} s, untimed)` };
}

async function _main(args: string[]): Promise<void> {
  const parsed = parseFlags(args, _FLAGS);
  if (parsed.help) {
    console.log(formatHelp("deno task bench:eval", _FLAGS));
    return;
  }
  const f = parsed.values;
  const prng = new Prng(f.seed, 1);
  const loaded = await _dataset(f, prng);
  const source = loaded.source;
  const dataset = _firstUsers(loaded.dataset, f.users);
  const scale = loaded.dataset.numUsers / dataset.numUsers; // extrapolation to every user
  const model = buildModel(
    modelConfig(f.model, {
      numUsers: dataset.numUsers,
      numItems: dataset.numItems,
      numFactors: f.num_factors,
      layers: f.layers,
      mfRegularization: 0,
      mlpRegularization: 0,
    }),
    { backend: f.backend, blasThreads: f.blas_threads, prng: new Prng(f.seed) },
  );
  const description = model.kernels.description;
  // Trained-looking weights: N(0, 0.5²) embeddings give varied, non-tied scores.
  for (const e of model.parameters.entries) {
    if (e.sparse) { for (let i = 0; i < e.length; i++) e.values[i] = 0.5 * prng.nextGaussian(); }
  }
  model.prepareEval();
  const pool = f.eval_workers > 0
    ? startEvalWorkers(model, dataset, { workers: f.eval_workers, blasThreads: f.blas_threads })
    : null;
  const threads = 1 + (pool?.workers ?? 0);
  const full = f.eval_protocol === "full";
  let pairs = 0;
  if (full) pairs = dataset.numUsers * dataset.numItems;
  else pairs = dataset.numUsers + dataset.evalNegOffsets[dataset.numUsers];
  const fast = full
    ? ("scoreUsersAll" in model
      ? "scoreUsersAll"
      : "scoreUserAll" in model
      ? "scoreUserAll"
      : "scoreUserItems")
    : "scoreUserItems";
  console.log(
    `eval ${f.eval_protocol}: ${dataset.numUsers.toLocaleString("en-US")} users × ` +
      `${dataset.numItems.toLocaleString("en-US")} items, ${
        (pairs / 1e6).toFixed(1)
      } M scores per repeat; data ${source}`,
  );
  console.log(
    `model ${model.describe()}, backend ${description}, scored by ${fast}; ` +
      `${pool?.workers ?? 0} evaluation worker${pool?.workers === 1 ? "" : "s"}`,
  );
  const flopsPerPair = _flopsPerPair(model.config);
  if (scale !== 1) {
    console.log(
      `ranking the first ${dataset.numUsers.toLocaleString("en-US")} users; ` +
        `times below are extrapolated to all ${loaded.dataset.numUsers.toLocaleString("en-US")}`,
    );
  }
  const options = { protocol: f.eval_protocol, ks: f.eval_k, coverage: f.coverage };
  // Untimed warm-up on a few users: the workers load their modules, the code is compiled.
  const few = _firstUsers(dataset, 256);
  if (pool !== null) await pool.evaluate(model, { ...options, tables: few });
  else evaluateRanking(model, few, options);
  const seconds: number[] = [];
  for (let r = 0; r < f.repeats; r++) {
    const cpu0 = process.cpuUsage();
    const result = pool !== null
      ? await pool.evaluate(model, options)
      : evaluateRanking(model, dataset, options);
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = scale * (cpu.user + cpu.system) / 1e6;
    const repeatSeconds = scale * result.seconds;
    seconds.push(repeatSeconds);
    const rate = pairs / result.seconds;
    const gflops = flopsPerPair === undefined
      ? ""
      : `  ${(rate * flopsPerPair / 1e9).toFixed(1)} GFLOP/s`;
    const metrics = result.byK.map((m) =>
      `HR@${m.k} ${m.hr.toFixed(4)}  NDCG@${m.k} ${m.ndcg.toFixed(4)}` +
      (m.coverage === undefined ? "" : `  coverage@${m.k} ${m.coverage.toFixed(4)}`)
    ).join("  ");
    console.log(
      `repeat ${r + 1}: ${repeatSeconds.toFixed(2)} s (cpu ${cpuSeconds.toFixed(1)} s)  ${
        (rate / 1e6).toFixed(1)
      } M scores/s` +
        `${gflops}  ${metrics}  MRR ${result.mrr.toFixed(4)}`,
    );
  }
  pool?.close();
  seconds.sort((a, b) => a - b);
  const median = seconds[Math.floor(seconds.length / 2)];
  const sgemm = _sgemmRate(model.kernels);
  if (flopsPerPair !== undefined) {
    const reached = scale * pairs * flopsPerPair / median / 1e9;
    console.log(
      `${(scale * pairs * flopsPerPair / 1e12).toFixed(2)} TFLOP per repeat: ${
        reached.toFixed(1)
      } GFLOP/s on ${threads} thread${threads === 1 ? "" : "s"}; sgemm 1024³ ${
        sgemm.toFixed(1)
      } GFLOP/s per thread (× ${threads} = ${(threads * sgemm).toFixed(1)}): ${
        (100 * reached / (threads * sgemm)).toFixed(0)
      }%`,
    );
  } else {
    console.log(`sgemm 1024³ ${sgemm.toFixed(1)} GFLOP/s per thread`);
  }
  console.log(`seconds: ${median.toFixed(2)}`);
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
