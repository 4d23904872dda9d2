/**
 * Measures the model's training speed as the trainer trains: NeuMF
 * `trainStep` over batches of `--batch_size` cut from the project's epochs
 * (`makeEpoch` + `inlineRunner`: every positive once, `--num_neg` negatives
 * each, shuffled), on a MovieLens-style ratings file loaded with the
 * project's loader (ml-100k's tab-separated `u.data` works as is).
 *
 * ```
 * deno task bench:trainer --ratings_file ../shared/datasets/ml-100k/u.data
 *   [--num_factors 8] [--layers 64,32,16,8] [--batch_size 256]
 *   [--optimizer adam|lazy_adam|sgd] [--backend auto|blas|ts|wasm] [--blas_threads 1] [--nowasm_kernels]
 *   [--learning_rate 0.001] [--num_neg 4] [--epochs 3] [--warmup_epochs 1]
 *   [--seed 1] [--num_eval_negatives 99] [--min_ratings 20]
 * ```
 *
 * The first `--warmup_epochs` epochs train but are not timed (V8 warm-up).
 * Only the training steps are timed (model work, as the PyTorch yardstick
 * `../shared/bench/torch_ncf.py` measures): not epoch generation, not
 * evaluation. HR@10 / NDCG@10 are printed after every epoch (evaluateRanking,
 * leave-one-out against `--num_eval_negatives` negatives). The last line is
 * `examples/s: N` over the timed epochs.
 *
 * @module
 */

import { loadDataset } from "../lib/data/load_dataset.ts";
import { evaluateRanking } from "../lib/eval/evaluate.ts";
import {
  enumFlag,
  floatFlag,
  formatHelp,
  intFlag,
  intListFlag,
  parseFlags,
  stringFlag,
} from "../lib/flags/flags.ts";
import { SettingError, UsageError } from "../lib/errors.ts";
import type { LabeledBatch } from "../lib/model/model.ts";
import { buildModel, modelConfig } from "../lib/model/registry.ts";
import { buildOptimizer } from "../lib/optim/optimizers.ts";
import {
  allocateEpochBuffers,
  epochLayout,
  inlineRunner,
  makeEpoch,
} from "../lib/pipeline/epoch.ts";
import { Prng } from "../lib/random/prng.ts";
import { MODEL_INIT_STREAM } from "../lib/train/trainer.ts";
import { BACKENDS, MODELS, OPTIMIZERS } from "../lib/flags/specs.ts";

const _FLAGS = {
  ratings_file: stringFlag(
    "MovieLens-style ratings file (csv, '::' or tab-separated; required).",
    {},
  ),
  model: enumFlag(`The model: ${MODELS.join(", ")}.`, MODELS, { default: "NeuMF" }),
  num_factors: intFlag("GMF embedding size.", { default: 8, min: 1 }),
  layers: intListFlag("MLP sizes; the first is the concatenated embedding size.", {
    default: [64, 32, 16, 8],
    min: 1,
  }),
  batch_size: intFlag("Examples per training step.", { default: 256, min: 1 }),
  optimizer: enumFlag("adam (dense), lazy_adam or sgd.", OPTIMIZERS, {
    default: "adam",
  }),
  backend: enumFlag("Kernel set (products and element-wise kernels).", BACKENDS, {
    default: "auto",
  }),
  blas_threads: intFlag("Threads OpenBLAS may use (results depend on the count).", {
    default: 1,
    min: 1,
  }),
  learning_rate: floatFlag("Adam step size.", { default: 0.001, min: 0 }),
  num_neg: intFlag("Negatives per positive.", { default: 4, min: 0 }),
  epochs: intFlag("Epochs, warm-up included.", { default: 3, min: 1 }),
  warmup_epochs: intFlag("Leading epochs that train but are not timed.", { default: 1, min: 0 }),
  seed: intFlag("Seed of the weights, the epochs and the evaluation negatives.", {
    default: 1,
    min: 0,
  }),
  num_eval_negatives: intFlag("Evaluation negatives per user.", { default: 99, min: 1 }),
  min_ratings: intFlag("Users with fewer ratings are dropped.", { default: 20, min: 1 }),
};

async function _main(args: string[]): Promise<void> {
  const parsed = parseFlags(args, _FLAGS);
  if (parsed.help) {
    console.log(formatHelp("deno task bench:trainer", _FLAGS));
    return;
  }
  const f = parsed.values;
  if (f.ratings_file === undefined) {
    throw new UsageError("Cannot run without --ratings_file: the flag is required");
  }
  const ratingsFile = f.ratings_file;
  if (f.warmup_epochs >= f.epochs) {
    throw new UsageError(
      `Cannot time anything: --warmup_epochs ${f.warmup_epochs} ≥ --epochs ${f.epochs}`,
    );
  }
  const { dataset } = await loadDataset({
    dataset: "csv",
    ratingsFile,
    seed: f.seed,
    numEvalNegatives: f.num_eval_negatives,
    minRatings: f.min_ratings,
  });
  const positives = { offsets: dataset.trainOffsets, items: dataset.trainItems };
  const layout = epochLayout(positives, { numItems: dataset.numItems, numNeg: f.num_neg });
  const context = { layout, buffers: allocateEpochBuffers(positives, layout), seed: f.seed };
  const runner = inlineRunner(context);
  const model = buildModel(
    modelConfig(f.model, {
      numUsers: dataset.numUsers,
      numItems: dataset.numItems,
      numFactors: f.num_factors,
      layers: f.layers,
      mfRegularization: 0,
      mlpRegularization: 0,
    }),
    {
      backend: f.backend,
      blasThreads: f.blas_threads,
      maxBatchSize: f.batch_size,
      prng: new Prng(f.seed, MODEL_INIT_STREAM),
    },
  );
  const step = {
    optimizer: buildOptimizer(f.optimizer, model.parameters, { learningRate: f.learning_rate }),
  };
  console.log(
    `data ${ratingsFile}: ${dataset.numUsers} users, ${dataset.numItems} items, ` +
      `${dataset.trainItems.length} training positives, ${layout.size} examples/epoch`,
  );
  console.log(
    `model ${model.describe()}, batch ${f.batch_size}, optimizer ${f.optimizer}, ` +
      `backend ${model.kernels.description}`,
  );
  const batch: LabeledBatch = {
    users: new Int32Array(0),
    items: new Int32Array(0),
    labels: new Int8Array(0),
    count: 0,
  };
  let timedExamples = 0;
  let timedMs = 0;
  for (let epoch = 0; epoch < f.epochs; epoch++) {
    const columns = await makeEpoch(context, runner, epoch);
    const n = columns.users.length;
    let lossSum = 0;
    const started = performance.now();
    for (let at = 0; at < n; at += f.batch_size) {
      const end = Math.min(n, at + f.batch_size);
      batch.users = columns.users.subarray(at, end);
      batch.items = columns.items.subarray(at, end);
      batch.labels = columns.labels.subarray(at, end);
      batch.count = end - at;
      lossSum += model.trainStep(batch, step) * batch.count;
    }
    const ms = performance.now() - started;
    const timed = epoch >= f.warmup_epochs;
    if (timed) {
      timedExamples += n;
      timedMs += ms;
    }
    const ev = evaluateRanking(model, dataset);
    console.log(
      `epoch ${epoch + 1}${timed ? "" : " (warm-up)"}: loss ${(lossSum / n).toFixed(4)}  ` +
        `${Math.round(n / ms * 1000)} ex/s (${(ms / 1000).toFixed(2)} s)  ` +
        `HR@10 ${ev.hr.toFixed(4)}  NDCG@10 ${ev.ndcg.toFixed(4)}  eval ${ev.seconds.toFixed(2)} s`,
    );
  }
  console.log(`examples/s: ${Math.round(timedExamples / timedMs * 1000)}`);
}

if (import.meta.main) {
  try {
    await _main(Deno.args);
  } catch (e) {
    if (!(e instanceof UsageError || e instanceof SettingError)) throw e;
    console.error(`${e.message}\nRun 'deno task bench:trainer --help' for the flags.`);
    Deno.exit(2);
  }
}
