/**
 * `deno task bench:foldin`: the quality of fold-in (`POST /v1/recommendations`,
 * lib/serve/fold_in.ts) for users a model never saw, on the NCF paper's
 * MovieLens-1M split.
 *
 * ```
 * deno task bench:foldin [--model NeuMF] [--epochs 20] [--seed 1] [--holdout 0.1]
 *   [--steps N,…] [--learning_rate X,…] [--negatives N,…] [--batch_positives N,…] [--prior X,…]
 *   [--schedule linear,constant] [--validation [--draws N]] [--by_size]
 *   [--max_items K] [--into_a]
 * ```
 *
 * A seeded `--holdout` share of the users is held out. Model A is trained on
 * every user, model B on the same split without the held-out users' rows
 * (written as an NCF split with the users re-numbered densely; items keep
 * their ids); both by `ncf trainer` with He et al.'s flags (8 factors, layers
 * 64,32,16,8, batch 256, lr 0.001, 4 negatives, `--epochs` epochs, the same
 * seed), and the last epoch's checkpoint is used (no selection on test). The
 * two models are cached under `bench/out/foldin/` (not in git), so a rerun
 * only redoes the fold-in.
 *
 * Each held-out user is then folded into B from their training items by
 * `FoldIn`, the server's code, and their test item is ranked by the
 * product's evaluation (`evaluateRanking`: `sampled` against the split's 99
 * negatives, `full` against every item not among their training items; a
 * tie ranks the negative first). The same users are ranked by model A
 * (trained with them) and by most-popular (counted on B's training data).
 * Fold-in latency is the time of `FoldIn.fit` per user (fit and scoring of
 * every item; after an untimed warm-up), median and p99, on the wall clock
 * and in CPU time (which a busy machine inflates less).
 *
 * Lists of fold-in settings (`--steps 20,40 --learning_rate 0.05,0.1`) run
 * every combination. `--validation` is a tuning mode: one training item of
 * each held-out user, drawn from the seed, is held out too; users are folded
 * in from the rest and ranked on it (against 99 negatives drawn from the
 * seed, or every item but their other training items and the test item), so
 * a sweep never looks at the test items. (The split's training rows carry no
 * timestamps, so there is no "latest" item to hold out.) `--draws N` ranks N
 * such items per user, one fold-in each, for steadier figures. Model A's figures
 * there are no yardstick: A trained on those items. The other tuning mode is
 * another `--seed`: other held-out users, other models.
 *
 * `--max_items K` folds each user in from K of their items (drawn from the
 * seed; all of them stay out of the ranking): new users who post a few.
 * `--into_a` also folds the users into model A, which trained on them (what
 * the optimizer reaches when the item weights know these users). `--by_size`
 * adds a table by the users' number of items.
 *
 * @module
 */

import process from "node:process";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { readNcfFiles } from "../lib/data/ncf_files.ts";
import type { Dataset } from "../lib/data/types.ts";
import { evaluateRanking, type Scorer } from "../lib/eval/evaluate.ts";
import { popularityScorer } from "../lib/eval/popularity.ts";
import type { Model } from "../lib/model/model.ts";
import { Prng } from "../lib/random/prng.ts";
import { FoldIn, type FoldInOptions } from "../lib/serve/fold_in.ts";
import {
  checkpointTensors,
  loadModelCheckpoint,
  modelFromCheckpoint,
} from "../lib/train/model_checkpoint.ts";
import { benchArgs } from "./_args.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SPLIT = fileURLToPath(new URL("../../shared/datasets/ncf-ml-1m/ml-1m", import.meta.url));
const OUT = join(ROOT, "bench", "out", "foldin");

/** HR@10 and NDCG@10 under both protocols. */
interface Figures {
  sampled: { hr: number; ndcg: number };
  full: { hr: number; ndcg: number };
}

/** One table row. */
interface Row {
  label: string;
  figures: Figures;
  /** `--by_size`: the figures of the users in each of {@linkcode SIZES}. */
  bySize?: Figures[];
  /** Milliseconds per fold-in: wall clock, and the process's CPU time. */
  latency?: { median: number; p99: number; max: number; cpuMedian: number; cpuP99: number };
}

/** A trained model's cache record. */
interface Trained {
  command: string;
  seconds: number;
  users: number;
  lastEpoch: { epoch: number; hr: number; ndcg: number };
}

const args = [...Deno.args];
const { has, option } = benchArgs();
const list = (name: string) => {
  const text = option(name, "");
  return text === "" ? [undefined] : text.split(",").map(Number);
};

const kind = option("model", "NeuMF");
const epochs = Number(option("epochs", "20"));
const seed = Number(option("seed", "1"));
const holdout = Number(option("holdout", "0.1"));
const validation = has("validation");
const bySize = has("by_size");
const draws = Number(option("draws", "1"));
const maxItems = Number(option("max_items", "Infinity"));
/** `--by_size` buckets: users by their number of fold-in items, [from, to). */
const SIZES = [[0, 50], [50, 150], [150, Infinity]] as const;

/** He et al.'s flags, as bench/paper.ts trains them. */
const HE = [
  `--model=${kind}`,
  "--num_factors=8",
  "--layers=64,32,16,8",
  "--batch_size=256",
  "--learning_rate=0.001",
  "--num_neg=4",
];

/** The fold-in options the bench can sweep: flag → option. */
const KNOBS = {
  steps: "steps",
  learning_rate: "learningRate",
  negatives: "negatives",
  batch_positives: "batchPositives",
  prior: "prior",
} as const satisfies Record<string, keyof FoldInOptions>;

/** Fold-in settings: every combination of the lists given. */
function settings(): FoldInOptions[] {
  let out: FoldInOptions[] = option("schedule", "").split(",").map((schedule) =>
    schedule === "" ? {} : { schedule: schedule as "linear" | "constant" }
  );
  for (const [flag, key] of Object.entries(KNOBS)) {
    out = out.flatMap((o) => list(flag).map((v) => v === undefined ? o : { ...o, [key]: v }));
  }
  return out;
}

function label(o: FoldInOptions): string {
  const parts = Object.entries(KNOBS).flatMap(([flag, key]) =>
    o[key] === undefined ? [] : [`${flag} ${o[key]}`]
  );
  if (o.schedule !== undefined) parts.push(`schedule ${o.schedule}`);
  return `fold-in into B (${parts.length === 0 ? "defaults" : parts.join(", ")})`;
}

/** The users held out: `round(share × numUsers)` of them, drawn from the seed, ascending. */
function pickUsers(numUsers: number, share: number, s: number): Int32Array {
  const prng = new Prng(s, 0x464f4c44);
  const order = Int32Array.from({ length: numUsers }, (_, u) => u);
  for (let i = numUsers - 1; i > 0; i--) {
    const j = prng.nextInt(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order.subarray(0, Math.round(share * numUsers)).sort();
}

/**
 * Writes the split without the users `out` (marked 1), the others renumbered
 * 0.. in order, as `<dir>/ml-1m.*`; returns its prefix.
 */
async function writeSplitWithout(out: Uint8Array, dir: string): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const dense = new Int32Array(out.length).fill(-1);
  let next = 0;
  for (let u = 0; u < out.length; u++) if (out[u] === 0) dense[u] = next++;
  const prefix = join(dir, "ml-1m");
  for (const suffix of [".train.rating", ".test.rating", ".test.negative"]) {
    const text = await Deno.readTextFile(`${SPLIT}${suffix}`);
    const lines: string[] = [];
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      const negative = suffix === ".test.negative";
      const m = negative ? line.match(/^\((\d+),/) : line.match(/^(\d+)\t/);
      if (m === null) throw new Error(`Cannot read ${SPLIT}${suffix}: line ${line.slice(0, 40)}`);
      const u = dense[Number(m[1])];
      if (u < 0) continue;
      lines.push(
        negative ? `(${u},${line.slice(m[0].length)}` : `${u}\t${line.slice(m[0].length)}`,
      );
    }
    await Deno.writeTextFile(`${prefix}${suffix}`, lines.join("\n") + "\n");
  }
  return prefix;
}

/** The record of the model cached in `dir`, or null when it was not trained yet. */
function cached(dir: string): Promise<Trained | null> {
  return Deno.readTextFile(`${dir}.json`).then((t) => JSON.parse(t) as Trained, () => null);
}

/** Trains `dir` with `ncf trainer` on the split `prefix` unless its record exists. */
async function train(dir: string, prefix: string, users: number): Promise<Trained> {
  const record = `${dir}.json`;
  const done = await cached(dir);
  if (done !== null) return done;
  const cache = await Deno.makeTempDir({ prefix: "ncf_foldin_" });
  const argv = [
    "trainer",
    "--dataset=ncf",
    `--ratings_file=${prefix}`,
    ...HE,
    `--train_epochs=${epochs}`,
    `--seed=${seed}`,
    "--overwrite",
    `--model_dir=${dir}`,
    `--metrics_file=${dir}.jsonl`,
    `--cache_dir=${cache}`,
  ];
  console.log(`training: ncf ${argv.join(" ")}`);
  const started = performance.now();
  try {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `--config=${join(ROOT, "deno.json")}`, join(ROOT, "cli.ts"), ...argv],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (r.code !== 0) {
      throw new Error(`Cannot train ${dir}: ${new TextDecoder().decode(r.stderr).slice(-800)}`);
    }
  } finally {
    await Deno.remove(cache, { recursive: true }).catch(() => {});
  }
  const rows = (await Deno.readTextFile(`${dir}.jsonl`)).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  const last = rows[rows.length - 1];
  const trained: Trained = {
    command: `ncf ${argv.join(" ")}`,
    seconds: (performance.now() - started) / 1000,
    users,
    lastEpoch: { epoch: last.epoch, hr: last.hr, ndcg: last.ndcg },
  };
  await Deno.writeTextFile(record, JSON.stringify(trained, null, 2) + "\n");
  return trained;
}

/** The evaluation tables of `users` of `view` (renumbered 0..), for `evaluateRanking`. */
function subset(view: Dataset, users: Int32Array): Dataset {
  const trainOffsets = new Int32Array(users.length + 1);
  const evalNegOffsets = new Int32Array(users.length + 1);
  const train: number[] = [];
  const negatives: number[] = [];
  users.forEach((u, n) => {
    for (let k = view.trainOffsets[u]; k < view.trainOffsets[u + 1]; k++) {
      train.push(view.trainItems[k]);
    }
    for (let k = view.evalNegOffsets[u]; k < view.evalNegOffsets[u + 1]; k++) {
      negatives.push(view.evalNegatives[k]);
    }
    trainOffsets[n + 1] = train.length;
    evalNegOffsets[n + 1] = negatives.length;
  });
  return {
    numUsers: users.length,
    numItems: view.numItems,
    userIds: Float64Array.from(users),
    itemIds: view.itemIds,
    trainOffsets,
    trainItems: Int32Array.from(train),
    evalItems: Int32Array.from(users, (u) => view.evalItems[u]),
    evalNegOffsets,
    evalNegatives: Int32Array.from(negatives),
    numEvalCappedUsers: 0,
  };
}

/** Rows of items per user, CSR. */
interface Rows {
  offsets: Int32Array;
  items: Int32Array;
}

/**
 * `--validation`: one training item of each of `users`, drawn from the seed,
 * is ranked instead of the test item (against 99 negatives drawn from the
 * items the user has neither trained on nor is tested on, or against every
 * item but the user's other training items and the test item); the user is
 * folded in from the other training items. (The split's training rows have
 * no timestamps, all 0, so "the latest" would be the last row, i.e. the
 * user's highest item id.)
 */
function validationTables(
  full: Dataset,
  users: Int32Array,
  s: number,
): { tables: Dataset; positives: Rows } {
  const prng = new Prng(s, 0x56414c49);
  const h = users.length;
  const mark = new Int32Array(full.numItems).fill(-1);
  const negatives = full.evalNegOffsets[1] - full.evalNegOffsets[0];
  const posOffsets = new Int32Array(h + 1);
  const known = new Int32Array(h + 1);
  const negOffsets = new Int32Array(h + 1);
  const posItems: number[] = [];
  const knownItems: number[] = [];
  const negItems: number[] = [];
  const evalItems = new Int32Array(h);
  users.forEach((u, n) => {
    const from = full.trainOffsets[u];
    const to = full.trainOffsets[u + 1];
    const picked = from + prng.nextInt(to - from);
    evalItems[n] = full.trainItems[picked];
    const test = full.evalItems[u];
    const own = [test];
    mark[test] = n;
    for (let k = from; k < to; k++) {
      const item = full.trainItems[k];
      mark[item] = n;
      if (k === picked) continue;
      posItems.push(item);
      own.push(item);
    }
    knownItems.push(...own.sort((a, b) => a - b)); // the full protocol's exclusions, ascending
    for (let j = 0; j < negatives; j++) {
      let item: number;
      do item = prng.nextInt(full.numItems); while (mark[item] === n);
      mark[item] = n;
      negItems.push(item);
    }
    posOffsets[n + 1] = posItems.length;
    known[n + 1] = knownItems.length;
    negOffsets[n + 1] = negItems.length;
  });
  return {
    tables: {
      numUsers: h,
      numItems: full.numItems,
      userIds: Float64Array.from(users),
      itemIds: full.itemIds,
      trainOffsets: known,
      trainItems: Int32Array.from(knownItems),
      evalItems,
      evalNegOffsets: negOffsets,
      evalNegatives: Int32Array.from(negItems),
      numEvalCappedUsers: 0,
    },
    positives: { offsets: posOffsets, items: Int32Array.from(posItems) },
  };
}

/**
 * `--max_items K`: at most K of each row's items, drawn from the seed (a new
 * user who posts a few items); the ranking still excludes all of them.
 */
function sample(rows: Rows, k: number, s: number): Rows {
  const prng = new Prng(s, 0x4b495445);
  const offsets = new Int32Array(rows.offsets.length);
  const items: number[] = [];
  for (let n = 0; n + 1 < rows.offsets.length; n++) {
    const own = Array.from(rows.items.subarray(rows.offsets[n], rows.offsets[n + 1]));
    for (let i = own.length - 1; i > 0; i--) {
      const j = prng.nextInt(i + 1);
      [own[i], own[j]] = [own[j], own[i]];
    }
    items.push(...own.slice(0, k).sort((a, b) => a - b));
    offsets[n + 1] = items.length;
  }
  return { offsets, items: Int32Array.from(items) };
}

/** A scorer reading precomputed rows `scores[u·numItems + i]`. */
function tableScorer(scores: Float32Array, numItems: number): Scorer {
  return {
    scoreUserItems(user, items, { out, count }) {
      const row = user * numItems;
      for (let n = 0; n < (count ?? items.length); n++) out[n] = scores[row + items[n]];
    },
    scoreUserAll(user, out) {
      out.set(scores.subarray(user * numItems, (user + 1) * numItems));
    },
  };
}

/** Model `model`'s scores of user `users[u]` for the subset's user `u`. */
function mappedScorer(model: Model, users: Int32Array): Scorer {
  return {
    scoreUserItems(user, items, o) {
      model.scoreUserItems(users[user], items, o);
    },
  };
}

/** `scorer` seen through user indexes `users` (its user `users[u]` for user `u`). */
function remap(scorer: Scorer, users: Int32Array): Scorer {
  const all = scorer.scoreUserAll?.bind(scorer);
  return {
    scoreUserItems(user, items, o) {
      scorer.scoreUserItems(users[user], items, o);
    },
    ...(all === undefined ? {} : { scoreUserAll: (user, out) => all(users[user], out) }),
  };
}

/** The figures of each `--by_size` bucket of users (by their `positives` rows). */
function figuresBySize(scorer: Scorer, tables: Dataset, positives: Rows): Figures[] {
  return SIZES.map(([from, to]) => {
    const users: number[] = [];
    for (let n = 0; n < tables.numUsers; n++) {
      const size = positives.offsets[n + 1] - positives.offsets[n];
      if (size >= from && size < to) users.push(n);
    }
    const idx = Int32Array.from(users);
    return figures(remap(scorer, idx), subset(tables, idx));
  });
}

function figures(scorer: Scorer, tables: Dataset): Figures {
  const m = (r: { hr: number; ndcg: number }) => ({ hr: r.hr, ndcg: r.ndcg });
  return {
    sampled: m(evaluateRanking(scorer, tables)),
    full: m(evaluateRanking(scorer, tables, { protocol: "full" })),
  };
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Folds every user of `positives` (CSR rows) into `foldIn`; their logits and fit times. */
function foldAll(
  foldIn: FoldIn,
  positives: Rows,
  numItems: number,
): { scores: Float32Array; ms: Float64Array; cpu: Float64Array } {
  const users = positives.offsets.length - 1;
  const scores = new Float32Array(users * numItems);
  const ms = new Float64Array(users);
  const cpu = new Float64Array(users);
  const items = (n: number) =>
    positives.items.subarray(positives.offsets[n], positives.offsets[n + 1]);
  for (let n = 0; n < Math.min(users, 20); n++) foldIn.fit(items(n)); // warm-up
  for (let n = 0; n < users; n++) {
    const started = performance.now();
    const before = process.cpuUsage();
    const logits = foldIn.fit(items(n));
    const used = process.cpuUsage(before);
    ms[n] = performance.now() - started;
    cpu[n] = (used.user + used.system) / 1000;
    scores.set(logits, n * numItems);
  }
  return { scores, ms, cpu };
}

function f4(x: number): string {
  return x.toFixed(4).replace(/^0/, "");
}

function table(rows: Row[]): string {
  const lines = [
    "| run | 1+99 HR@10 / NDCG@10 | full HR@10 / NDCG@10 | ms per user, wall (median / p99 / max) | CPU ms (median / p99) |",
    "| --- | --- | --- | --- | --- |",
  ];
  for (const r of rows) {
    const l = r.latency;
    const lat = l === undefined
      ? "– | –"
      : `${l.median.toFixed(1)} / ${l.p99.toFixed(1)} / ${l.max.toFixed(1)} | ` +
        `${l.cpuMedian.toFixed(1)} / ${l.cpuP99.toFixed(1)}`;
    lines.push(
      `| ${r.label} | ${f4(r.figures.sampled.hr)} / ${f4(r.figures.sampled.ndcg)} | ` +
        `${f4(r.figures.full.hr)} / ${f4(r.figures.full.ndcg)} | ${lat} |`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  try {
    Deno.statSync(`${SPLIT}.train.rating`);
  } catch {
    console.log(`skipping: ${SPLIT}.train.rating is absent (the data sets are not in the repo)`);
    Deno.exit(0);
  }
  const command = `deno task bench:foldin ${args.join(" ")}`.trim();
  const started = performance.now();
  const load = Deno.loadavg();
  const full = await readNcfFiles(SPLIT);
  const held = pickUsers(full.numUsers, holdout, seed);
  const out = new Uint8Array(full.numUsers);
  for (const u of held) out[u] = 1;

  const folder = join(OUT, `${kind.toLowerCase()}_e${epochs}_s${seed}`);
  await Deno.mkdir(folder, { recursive: true });
  const dirA = join(folder, "a");
  const dirB = join(folder, `b_h${holdout}`);
  const trainedA = await train(dirA, SPLIT, full.numUsers);
  let trainedB = await cached(dirB);
  if (trainedB === null) {
    const splitDir = await Deno.makeTempDir({ prefix: "ncf_foldin_split_" });
    try {
      const prefix = await writeSplitWithout(out, splitDir);
      const b = await readNcfFiles(prefix);
      if (b.numItems !== full.numItems || b.numUsers !== full.numUsers - held.length) {
        throw new Error(
          `Cannot build model B's split: ${b.numUsers} users and ${b.numItems} items, expected ${
            full.numUsers - held.length
          } and ${full.numItems}`,
        );
      }
      trainedB = await train(dirB, prefix, b.numUsers);
    } finally {
      await Deno.remove(splitDir, { recursive: true }).catch(() => {});
    }
  }

  const checkpointA = await loadModelCheckpoint(dirA);
  const checkpointB = await loadModelCheckpoint(dirB);
  const modelA = modelFromCheckpoint(checkpointA);
  const tensorsB = checkpointTensors(checkpointB);

  // What is ranked: the test items, or (--validation) one training item of each user.
  // --validation --draws N: N validation items of each user (each ranked by its own fold-in).
  const ranked = validation
    ? Int32Array.from({ length: held.length * draws }, (_, n) => held[n % held.length])
    : held;
  const heldTables = subset(full, held);
  const { tables, positives: all } = validation ? validationTables(full, ranked, seed) : {
    tables: heldTables,
    positives: { offsets: heldTables.trainOffsets, items: heldTables.trainItems },
  };
  const positives = maxItems === Infinity ? all : sample(all, maxItems, seed);

  // Most popular, counted on B's training data (the kept users' training rows of the split).
  const keptItems: number[] = [];
  for (let u = 0; u < full.numUsers; u++) {
    if (out[u] === 1) continue;
    for (let k = full.trainOffsets[u]; k < full.trainOffsets[u + 1]; k++) {
      keptItems.push(full.trainItems[k]);
    }
  }
  const popularity = popularityScorer({
    numItems: full.numItems,
    trainItems: Int32Array.from(keptItems),
  });

  const rows: Row[] = [];
  // --into_a: also fold the users into A (which trained on them): what the optimizer reaches
  // with item weights that know these users.
  const targets = has("into_a")
    ? [{ into: "B", checkpoint: checkpointB }, { into: "A", checkpoint: checkpointA }]
    : [{ into: "B", checkpoint: checkpointB }];
  for (const { into, checkpoint } of targets) {
    for (const setting of settings()) {
      const tensors = into === "B" ? tensorsB : checkpointTensors(checkpoint);
      const foldIn = new FoldIn(checkpoint.meta.model, tensors, { ...setting, seed });
      const { scores, ms, cpu } = foldAll(foldIn, positives, full.numItems);
      const sorted = ms.slice().sort();
      const cpuSorted = cpu.sort();
      const scorer = tableScorer(scores, full.numItems);
      rows.push({
        label: label(setting).replace("into B", `into ${into}`),
        figures: figures(scorer, tables),
        ...(bySize ? { bySize: figuresBySize(scorer, tables, positives) } : {}),
        latency: {
          median: quantile(sorted, 0.5),
          p99: quantile(sorted, 0.99),
          max: sorted[sorted.length - 1],
          cpuMedian: quantile(cpuSorted, 0.5),
          cpuP99: quantile(cpuSorted, 0.99),
        },
      });
      console.log(table(rows.slice(-1)).split("\n")[2]);
    }
  }
  rows.push({
    label: validation
      ? "model A, trained with them (and on these items: no yardstick)"
      : "model A, trained with them",
    figures: figures(mappedScorer(modelA, ranked), tables),
    ...(bySize ? { bySize: figuresBySize(mappedScorer(modelA, ranked), tables, positives) } : {}),
  });
  rows.push({
    label: "most popular (B's training data)",
    figures: figures(popularity, tables),
    ...(bySize ? { bySize: figuresBySize(popularity, tables, positives) } : {}),
  });

  const counts = Float64Array.from(
    ranked,
    (_, n) => positives.offsets[n + 1] - positives.offsets[n],
  ).sort();
  console.log("");
  console.log(`\`${command}\``);
  console.log("");
  console.log(
    `${held.length} of ${full.numUsers} users held out (seed ${seed}); ${
      validation
        ? `ranked on ${
          draws === 1 ? "one random training item" : `${draws} random training items`
        } each (validation)`
        : "ranked on their test items"
    }; folded in from ${maxItems === Infinity ? "" : `at most ${maxItems} of `}${
      validation ? "the rest of their training items" : "their training items"
    }: median ${quantile(counts, 0.5)}, p99 ${quantile(counts, 0.99)}, max ${
      counts[counts.length - 1]
    } items. ${kind} (8; 64,32,16,8), ${epochs} epochs, last epoch: A ${trainedA.users} users (${
      trainedA.seconds.toFixed(0)
    } s to train; all users' 1+99 HR@10 ${f4(trainedA.lastEpoch.hr)}), B ${trainedB.users} users (${
      trainedB.seconds.toFixed(0)
    } s; ${f4(trainedB.lastEpoch.hr)}).`,
  );
  console.log("");
  console.log(table(rows));
  console.log("");
  if (bySize) {
    const sizes = SIZES.map(([from, to]) => {
      let users = 0;
      for (let n = 0; n < ranked.length; n++) {
        const size = positives.offsets[n + 1] - positives.offsets[n];
        if (size >= from && size < to) users++;
      }
      return `${from}–${to === Infinity ? "" : to - 1} items (${users} users)`;
    });
    console.log(`| run | ${sizes.map((s) => `${s}: 1+99 / full HR@10`).join(" | ")} |`);
    console.log(`| --- | ${sizes.map(() => "---").join(" | ")} |`);
    for (const r of rows) {
      const cells = r.bySize!.map((f) => `${f4(f.sampled.hr)} / ${f4(f.full.hr)}`);
      console.log(`| ${r.label} | ${cells.join(" | ")} |`);
    }
    console.log("");
  }
  console.log(
    `seconds: ${((performance.now() - started) / 1000).toFixed(0)}; load average at the start ${
      load.map((x) => x.toFixed(1)).join(", ")
    }, at the end ${
      Deno.loadavg().map((x) => x.toFixed(1)).join(", ")
    } (${navigator.hardwareConcurrency} cores)`,
  );
  const a = rows[rows.length - 2].figures;
  const p = rows[rows.length - 1].figures;
  const gap = (x: number) => `${x >= 0 ? "+" : "−"}${f4(Math.abs(x))}`;
  for (const r of rows.slice(0, -2)) {
    const l = r.latency!;
    console.log(
      `${r.label}: HR@10 1+99 ${f4(r.figures.sampled.hr)} (A ${f4(a.sampled.hr)}, ${
        gap(r.figures.sampled.hr - a.sampled.hr)
      }; most popular ${f4(p.sampled.hr)}), full ${f4(r.figures.full.hr)} (A ${f4(a.full.hr)}, ${
        gap(r.figures.full.hr - a.full.hr)
      }; most popular ${f4(p.full.hr)}); ${l.median.toFixed(1)} ms median, ${
        l.p99.toFixed(1)
      } ms p99 per user (CPU ${l.cpuMedian.toFixed(1)} / ${l.cpuP99.toFixed(1)} ms)`,
    );
  }
}
