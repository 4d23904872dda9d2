/**
 * Measures MF's per-example SGD kernel (`trainSequential`, the path of
 * `--model MF --batch_size 1 --optimizer sgd`) as Rendle et al. 2020 train
 * it: each epoch every training positive once plus `--num_neg` items drawn
 * uniformly from all items (a positive may be drawn), shuffled, one SGD
 * update per example. The split is the NCF paper's ml-1m files (loaded
 * untimed); epochs are drawn in-process, untimed. The yardstick is
 * `../shared/bench/mf_sgd.c` (the same algorithm in C on one thread; build
 * it with `gcc -O3 -march=native -o /tmp/mf_sgd ../shared/bench/mf_sgd.c -lm`
 * and run it one run after the other: `/tmp/mf_sgd --data
 * ../shared/datasets/ncf-ml-1m/ml-1m --dim 64 --epochs 3 --eval_every 3`).
 *
 * ```
 * deno run --allow-read bench/mf_sgd.ts [--ratings_file ../shared/datasets/ncf-ml-1m/ml-1m]
 *   [--num_factors 15,63,191] [--epochs 3] [--warmup_epochs 1] [--num_neg 8]
 *   [--learning_rate 0.002] [--mf_regularization 0.0025] [--init_stddev 0.1]
 *   [--loss bce|bpr] [--backend auto|ts|wasm|blas] [--seed 1] [--eval]
 * ```
 *
 * `--num_factors` d−1 is their `--embedding_dim d` (the biases are the
 * rest); `--mf_regularization` λ is their `--regularization` r / 2. One line
 * per epoch (loss, updates/s, and with `--eval` HR@10 / NDCG@10 by the
 * 1 + 99 protocol), then per size `updates/s: N` over the timed epochs
 * (an update is one example: one pair, or one triple for bpr).
 *
 * @module
 */

import { loadDataset } from "../lib/data/load_dataset.ts";
import type { Dataset } from "../lib/data/types.ts";
import { evaluateRanking } from "../lib/eval/evaluate.ts";
import {
  boolFlag,
  enumFlag,
  floatFlag,
  formatHelp,
  intFlag,
  intListFlag,
  parseFlags,
  stringFlag,
} from "../lib/flags/flags.ts";
import { SettingError, UsageError } from "../lib/errors.ts";
import { BACKENDS } from "../lib/flags/specs.ts";
import { lossByName, LOSSES } from "../lib/model/loss.ts";
import type { LabeledBatch, PairBatch } from "../lib/model/model.ts";
import { buildModel, modelConfig } from "../lib/model/registry.ts";
import { Prng } from "../lib/random/prng.ts";

const _FLAGS = {
  ratings_file: stringFlag("The NCF split's prefix (its .train.rating, .test.negative).", {
    default: "../shared/datasets/ncf-ml-1m/ml-1m",
  }),
  num_factors: intListFlag("Factors per embedding row; one run per size.", {
    default: [15, 63, 191],
    min: 1,
  }),
  epochs: intFlag("Epochs, warm-up included.", { default: 3, min: 1 }),
  warmup_epochs: intFlag("Leading epochs that train but are not timed.", { default: 1, min: 0 }),
  num_neg: intFlag("Uniform negatives per positive.", { default: 8, min: 1 }),
  learning_rate: floatFlag("SGD step size.", { default: 0.002, min: 0 }),
  mf_regularization: floatFlag("λ of the L2 penalty (their regularization / 2).", {
    default: 0.0025,
    min: 0,
  }),
  init_stddev: floatFlag("Standard deviation of the embeddings' initialisation.", {
    default: 0.1,
    min: 0,
  }),
  loss: enumFlag("bce (labelled pairs) or bpr (triples).", LOSSES, { default: "bce" }),
  backend: enumFlag("Kernel set.", BACKENDS, { default: "auto" }),
  seed: intFlag("Seed of the weights and the epochs.", { default: 1, min: 0 }),
  eval: boolFlag("Evaluate HR@10 / NDCG@10 (1 + 99) after every epoch.", { default: false }),
};

/** One epoch's examples, shuffled: labelled pairs, or triples for bpr. */
function _epoch(
  dataset: Dataset,
  prng: Prng,
  options: { numNeg: number; pairs: boolean; out: LabeledBatch & PairBatch },
): void {
  const { numNeg, pairs, out } = options;
  const { trainOffsets, trainItems, numItems } = dataset;
  const users = out.users;
  const items = out.items;
  const labels = out.labels as Int8Array;
  const negs = out.negItems;
  let n = 0;
  for (let u = 0; u < dataset.numUsers; u++) {
    for (let p = trainOffsets[u]; p < trainOffsets[u + 1]; p++) {
      if (pairs) {
        for (let k = 0; k < numNeg; k++, n++) {
          users[n] = u;
          items[n] = trainItems[p];
          negs[n] = prng.nextInt(numItems);
        }
      } else {
        users[n] = u;
        items[n] = trainItems[p];
        labels[n++] = 1;
        for (let k = 0; k < numNeg; k++, n++) {
          users[n] = u;
          items[n] = prng.nextInt(numItems);
          labels[n] = 0;
        }
      }
    }
  }
  for (let i = n - 1; i > 0; i--) {
    const j = prng.nextInt(i + 1);
    let t = users[i];
    users[i] = users[j];
    users[j] = t;
    t = items[i];
    items[i] = items[j];
    items[j] = t;
    if (pairs) {
      t = negs[i];
      negs[i] = negs[j];
      negs[j] = t;
    } else {
      t = labels[i];
      labels[i] = labels[j];
      labels[j] = t;
    }
  }
  out.count = n;
}

async function _main(args: string[]): Promise<void> {
  const parsed = parseFlags(args, _FLAGS);
  if (parsed.help) {
    console.log(formatHelp("deno run --allow-read bench/mf_sgd.ts", _FLAGS));
    return;
  }
  const f = parsed.values;
  if (f.warmup_epochs >= f.epochs) {
    throw new UsageError(
      `Cannot time anything: --warmup_epochs ${f.warmup_epochs} ≥ --epochs ${f.epochs}`,
    );
  }
  const { dataset } = await loadDataset({
    dataset: "ncf",
    ratingsFile: f.ratings_file,
    seed: f.seed,
  });
  const pairs = f.loss === "bpr";
  const positives = dataset.trainItems.length;
  const size = positives * (pairs ? f.num_neg : 1 + f.num_neg);
  const chunk: LabeledBatch & PairBatch = {
    users: new Int32Array(size),
    items: new Int32Array(size),
    labels: new Int8Array(size),
    negItems: new Int32Array(size),
    count: 0,
  };
  const loss = lossByName(f.loss);
  console.log(
    `data ${f.ratings_file}: ${dataset.numUsers} users, ${dataset.numItems} items, ` +
      `${positives} training positives, ${size} examples/epoch (${f.loss})`,
  );
  for (const numFactors of f.num_factors) {
    const model = buildModel(
      modelConfig("MF", {
        numUsers: dataset.numUsers,
        numItems: dataset.numItems,
        numFactors,
        layers: [],
        mfRegularization: f.mf_regularization,
        mlpRegularization: 0,
        initStddev: f.init_stddev,
      }),
      { backend: f.backend, prng: new Prng(f.seed) },
    );
    const trainSequential = model.trainSequential?.bind(model);
    if (trainSequential === undefined) throw new Error("MF lacks trainSequential");
    console.log(`model ${model.describe()}, backend ${model.kernels.description}`);
    const prng = new Prng(f.seed, 1);
    let timedExamples = 0;
    let timedMs = 0;
    for (let epoch = 0; epoch < f.epochs; epoch++) {
      _epoch(dataset, prng, { numNeg: f.num_neg, pairs, out: chunk });
      const started = performance.now();
      // The loss decides which columns are read (labels, or negItems).
      const mean = trainSequential(chunk, { learningRate: f.learning_rate, loss });
      const ms = performance.now() - started;
      const timed = epoch >= f.warmup_epochs;
      if (timed) {
        timedExamples += chunk.count;
        timedMs += ms;
      }
      let line = `epoch ${epoch + 1}${timed ? "" : " (warm-up)"}: loss ${mean.toFixed(4)}  ` +
        `${(chunk.count / ms / 1000).toFixed(2)} M updates/s (${(ms / 1000).toFixed(2)} s)`;
      if (f.eval) {
        const ev = evaluateRanking(model, dataset);
        line += `  HR@10 ${ev.hr.toFixed(4)}  NDCG@10 ${ev.ndcg.toFixed(4)}`;
      }
      console.log(line);
    }
    console.log(
      `num_factors ${numFactors} updates/s: ${Math.round(timedExamples / timedMs * 1000)}`,
    );
  }
}

if (import.meta.main) {
  try {
    await _main(Deno.args);
  } catch (e) {
    if (!(e instanceof UsageError || e instanceof SettingError)) throw e;
    console.error(`${e.message}\nRun 'deno run bench/mf_sgd.ts --help' for the flags.`);
    Deno.exit(2);
  }
}
