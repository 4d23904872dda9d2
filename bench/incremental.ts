/**
 * `deno task bench:incremental`: a warm start on grown data (`--init_from`)
 * against training from scratch, on MovieLens sets with timestamps.
 *
 * ```
 * deno task bench:incremental [--data ml-100k,ml-latest-small] [--seeds 1,2,3] [--epochs 20]
 *   [--warm_epochs 5] [--no_write]
 * ```
 *
 * For each data set: (a) the interactions before the 90th-percentile
 * timestamp and (b) all of them are written as csv files to a temporary
 * folder (in the file's order). For each seed, one `ncf trainer` process
 * trains NeuMF (8; 64,32,16,8) with the paper's flags (batch 256, lr 0.001,
 * 4 negatives, 1 + 99 evaluation) on (a) for `--epochs`; a second starts
 * from (a)'s best checkpoint with `--init_from` and trains on (b) for
 * `--warm_epochs`; a third trains on (b) from scratch for `--epochs`. Each
 * (b) run keeps its best epoch (by HR@10 of 1 + 99, as the paper selects),
 * which `ncf evaluate --eval_protocol full` also ranks against every item.
 * Both (b) runs use the same seed, so the same split and evaluation
 * negatives. Wall time is the trainer process's (data loading included).
 *
 * Target (issue 15): the warm start within 0.02 HR@10 of the from-scratch
 * model (medians of the seeds) in at most a quarter of its epochs.
 *
 * Each finished (data set, seed) is cached as JSON under
 * `bench/out/incremental/` (not in git), so a rerun skips it; delete the
 * folder to measure again. The table (medians, min–max over seeds) is
 * printed and written between the `incremental` markers in bench/README.md.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { benchArgs } from "./_args.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SHARED = fileURLToPath(new URL("../../shared/datasets/", import.meta.url));
const README = join(ROOT, "bench", "README.md");
const OUT = join(ROOT, "bench", "out", "incremental");

/** A data set with timestamps, and how to read its file. */
interface Source {
  file: string;
  separator: string;
  header: boolean;
}

const SOURCES: Record<string, Source> = {
  "ml-100k": { file: join(SHARED, "ml-100k", "u.data"), separator: "\t", header: false },
  "ml-latest-small": {
    file: join(SHARED, "ml-latest-small", "ratings.csv"),
    separator: ",",
    header: true,
  },
};

interface Metrics {
  hr: number;
  ndcg: number;
}

/** One (b) run's figures. */
interface RunFigures {
  epochs: number;
  bestEpoch: number;
  sampled: Metrics;
  full: Metrics;
  seconds: number;
}

/** One data set and seed. */
interface SeedResult {
  data: string;
  seed: number;
  cutoff: number;
  rows: { before: number; all: number };
  /** `--epochs` and `--warm_epochs` of the bench run. */
  settings: { epochs: number; warmEpochs: number };
  /** The `initialised from …` line of the warm start. */
  initLine: string;
  /** (a)'s best model on (b)'s split, before any training on (b) (1 + 99). */
  start: Metrics;
  base: RunFigures;
  warm: RunFigures;
  scratch: RunFigures;
  commands: string[];
}

const { has, option } = benchArgs();
const datas = option("data", Object.keys(SOURCES).join(",")).split(",");
const seeds = option("seeds", "1,2,3").split(",").map(Number);
const epochs = Number(option("epochs", "20"));
const warmEpochs = Number(option("warm_epochs", String(Math.floor(epochs / 4))));

/** The NCF paper's model and training flags, with its 1 + 99 evaluation. */
const PAPER = [
  "--model=NeuMF",
  "--num_factors=8",
  "--layers=64,32,16,8",
  "--batch_size=256",
  "--learning_rate=0.001",
  "--num_neg=4",
  "--num_eval_negatives=99",
  "--keep_best",
];

function ncf(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `--config=${join(ROOT, "deno.json")}`, join(ROOT, "cli.ts"), ...argv],
    stdout: "piped",
    stderr: "piped",
  });
  return command.output().then((o) => ({
    code: o.code,
    stdout: new TextDecoder().decode(o.stdout),
    stderr: new TextDecoder().decode(o.stderr),
  }));
}

/**
 * Writes `before.csv` (the interactions before the 90th-percentile
 * timestamp) and `all.csv` into `dir`, in the file's order.
 */
async function splitByTime(source: Source, dir: string) {
  const text = await Deno.readTextFile(source.file);
  const lines = text.split(/\r?\n/).filter((l) => l !== "");
  if (source.header) lines.shift();
  const rows = lines.map((l) => {
    const [user, item, rating, ts] = l.split(source.separator);
    return { line: `${user},${item},${rating},${ts}`, ts: Number(ts) };
  });
  const sorted = rows.map((r) => r.ts).sort((a, b) => a - b);
  const cutoff = sorted[Math.ceil(0.9 * sorted.length) - 1];
  const before = rows.filter((r) => r.ts < cutoff);
  const write = (name: string, part: typeof rows) =>
    Deno.writeTextFile(
      join(dir, name),
      ["user,item,rating,timestamp", ...part.map((r) => r.line)].join("\n") + "\n",
    );
  await write("before.csv", before);
  await write("all.csv", rows);
  return { cutoff, rows: { before: before.length, all: rows.length } };
}

/** Trains one model; returns its best epoch's figures (full ranking from `ncf evaluate`). */
async function train(
  argv: string[],
  o: { dir: string; epochs: number; commands: string[] },
): Promise<{ figures: RunFigures; stdout: string }> {
  const metrics = `${o.dir}.jsonl`;
  const full = [
    "trainer",
    ...argv,
    ...PAPER,
    `--train_epochs=${o.epochs}`,
    `--model_dir=${o.dir}`,
    `--metrics_file=${metrics}`,
  ];
  o.commands.push(`ncf ${full.join(" ")}`);
  const started = performance.now();
  const r = await ncf(full);
  const seconds = (performance.now() - started) / 1000;
  if (r.code !== 0) throw new Error(`Cannot train ${o.dir}: ${r.stderr.slice(-800)}`);
  const records = (await Deno.readTextFile(metrics)).trim().split("\n").map((l) => JSON.parse(l));
  const best = records.reduce((a, b) => (b.hr > a.hr ? b : a));
  const evaluate = ["evaluate", `--model_dir=${join(o.dir, "best")}`, "--eval_protocol=full"];
  o.commands.push(`ncf ${evaluate.join(" ")}`);
  const e = await ncf(evaluate);
  if (e.code !== 0) throw new Error(`Cannot evaluate ${o.dir}/best: ${e.stderr.slice(-800)}`);
  const figures = {
    epochs: records.at(-1).epoch,
    bestEpoch: best.epoch,
    sampled: { hr: best.hr, ndcg: best.ndcg },
    full: parseMetrics(e.stdout, "ncf evaluate"),
    seconds,
  };
  return { figures, stdout: r.stdout };
}

function parseMetrics(text: string, what: string): Metrics {
  const m = text.match(/HR@10 ([\d.]+)\s+NDCG@10 ([\d.]+)/);
  if (m === null) throw new Error(`Cannot read ${what}'s output: ${text}`);
  return { hr: Number(m[1]), ndcg: Number(m[2]) };
}

async function runSeed(data: string, seed: number, work: string): Promise<SeedResult> {
  const folder = join(work, data);
  await Deno.mkdir(folder, { recursive: true });
  const split = await splitByTime(SOURCES[data], folder);
  const commands: string[] = [];
  const common = [`--seed=${seed}`, `--cache_dir=${join(work, "cache")}`, "--dataset=csv"];
  const before = ["--ratings_file=" + join(folder, "before.csv"), ...common];
  const all = ["--ratings_file=" + join(folder, "all.csv"), ...common];
  const baseDir = join(folder, `before_s${seed}`);
  const base = await train(before, { dir: baseDir, epochs, commands });
  const warm = await train([...all, `--init_from=${join(baseDir, "best")}`], {
    dir: join(folder, `warm_s${seed}`),
    epochs: warmEpochs,
    commands,
  });
  const scratch = await train(all, { dir: join(folder, `scratch_s${seed}`), epochs, commands });
  const stdout = warm.stdout;
  const initLine = stdout.split("\n").find((l) => l.startsWith("initialised from ")) ?? "";
  const startLine = stdout.split("\n").find((l) => l.includes("before training")) ?? "";
  return {
    data,
    seed,
    ...split,
    initLine: initLine.replace(work, "<tmp>"),
    start: parseMetrics(startLine, "the warm start's first line"),
    settings: { epochs, warmEpochs },
    base: base.figures,
    warm: warm.figures,
    scratch: scratch.figures,
    commands: commands.map((c) => c.replaceAll(work, "<tmp>")),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

const f4 = (x: number) => x.toFixed(4).replace(/^0/, "").replace(/^-0/, "-");

function cell(results: SeedResult[], pick: (r: SeedResult) => Metrics | undefined): string {
  const picked = results.map(pick);
  if (picked.some((m) => m === undefined)) return "–";
  const hr = picked.map((m) => m!.hr);
  const ndcg = picked.map((m) => m!.ndcg);
  const one = `${f4(median(hr))} / ${f4(median(ndcg))}`;
  if (results.length === 1) return one;
  return `${one} (${f4(Math.min(...hr))}–${f4(Math.max(...hr))})`;
}

function seconds(xs: number[]): string {
  const s = median(xs);
  return s < 120 ? `${s.toFixed(0)} s` : `${(s / 60).toFixed(1)} min`;
}

function table(results: SeedResult[]): string {
  const lines = [
    "| data | run | seeds | epochs (best) | 1+99 HR@10 / NDCG@10 | full HR@10 / NDCG@10 | wall time |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  const notes: string[] = [];
  for (const data of datas) {
    const rs = results.filter((r) => r.data === data).sort((a, b) => a.seed - b.seed);
    if (rs.length === 0) {
      lines.push(`| ${data} | – | 0 | – | – | – | not run yet |`);
      continue;
    }
    const seedText = rs.map((r) => r.seed).join(",");
    const runs: [string, (r: SeedResult) => RunFigures][] = [
      ["(a) before the cutoff, from scratch (its own split)", (r) => r.base],
      ["(b) all, warm start from (a)'s best", (r) => r.warm],
      ["(b) all, from scratch", (r) => r.scratch],
    ];
    lines.push(
      `| ${data} | (a)'s best on (b), before training | ${seedText} | 0 | ` +
        `${cell(rs, (r) => r.start)} | – | – |`,
    );
    for (const [label, pick] of runs) {
      lines.push(
        `| ${data} | ${label} | ${seedText} | ${pick(rs[0]).epochs} (${
          rs.map((r) => pick(r).bestEpoch).join(", ")
        }) | ${cell(rs, (r) => pick(r).sampled)} | ${cell(rs, (r) => pick(r).full)} | ${
          seconds(rs.map((r) => pick(r).seconds))
        } |`,
      );
    }
    const gap = median(rs.map((r) => r.warm.sampled.hr)) -
      median(rs.map((r) => r.scratch.sampled.hr));
    const gapFull = median(rs.map((r) => r.warm.full.hr)) -
      median(rs.map((r) => r.scratch.full.hr));
    const quarter = rs[0].warm.epochs * 4 <= rs[0].scratch.epochs;
    const met = gap >= -0.02 && quarter;
    const time = median(rs.map((r) => r.warm.seconds)) / median(rs.map((r) => r.scratch.seconds));
    notes.push(
      `- ${data}: cutoff ${new Date(rs[0].cutoff * 1000).toISOString().slice(0, 10)} ` +
        `(90th-percentile timestamp); (a) ${rs[0].rows.before.toLocaleString("en-US")} of ` +
        `${rs[0].rows.all.toLocaleString("en-US")} interactions; ${
          rs[0].initLine.replace(
            /^initialised from \S+ \(epoch (\d+)\)/,
            `seed ${rs[0].seed} started from (a)'s epoch $1`,
          )
        }. Warm − scratch HR@10 (medians): ${f4(gap)} with 1+99, ${f4(gapFull)} with full ` +
        `ranking, in ${rs[0].warm.epochs} of ${rs[0].scratch.epochs} epochs and ` +
        `${(100 * time).toFixed(0)}% of the wall time: target (within 0.02 HR@10 in at most a ` +
        `quarter of the epochs) ${met ? "met" : "not met"}.`,
    );
  }
  return [...lines, "", ...notes].join("\n");
}

async function loadResults(): Promise<SeedResult[]> {
  const results: SeedResult[] = [];
  try {
    for (const entry of Deno.readDirSync(OUT)) {
      if (!entry.name.endsWith(".json")) continue;
      results.push(JSON.parse(await Deno.readTextFile(join(OUT, entry.name))));
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return results.filter((r) => seeds.includes(r.seed) && datas.includes(r.data));
}

async function writeReadme(body: string): Promise<void> {
  const begin = "<!-- incremental:begin -->";
  const end = "<!-- incremental:end -->";
  const text = await Deno.readTextFile(README);
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`Cannot write the table: ${README} lacks ${begin} … ${end}`);
  await Deno.writeTextFile(
    README,
    text.slice(0, i) + `${begin}\n\n${body}\n\n${end}` + text.slice(j + end.length),
  );
}

if (import.meta.main) {
  for (const data of datas) {
    if (!(data in SOURCES)) {
      console.error(`Cannot benchmark --data ${data}: use ${Object.keys(SOURCES).join(", ")}`);
      Deno.exit(2);
    }
  }
  for (const data of [...datas]) {
    if (!(await Deno.stat(SOURCES[data].file).then(() => true, () => false))) {
      console.log(
        `skipping ${data}: ${SOURCES[data].file} is absent (data sets are not in the repo)`,
      );
      datas.splice(datas.indexOf(data), 1);
    }
  }
  await Deno.mkdir(OUT, { recursive: true });
  const started = performance.now();
  const work = await Deno.makeTempDir({ prefix: "ncf_incremental_" });
  try {
    for (const data of datas) {
      for (const seed of seeds) {
        const path = join(OUT, `${data}_s${seed}_e${epochs}_w${warmEpochs}.json`);
        if (await Deno.stat(path).then(() => true, () => false)) continue;
        console.log(`running ${data} seed ${seed} …`);
        const result = await runSeed(data, seed, work);
        await Deno.writeTextFile(path, JSON.stringify(result, null, 2) + "\n");
        console.log(
          `${data} seed ${seed}: warm ${
            result.warm.sampled.hr.toFixed(4)
          } (epoch ${result.warm.bestEpoch}, ${result.warm.seconds.toFixed(0)} s), scratch ${
            result.scratch.sampled.hr.toFixed(4)
          } (epoch ${result.scratch.bestEpoch}, ${result.scratch.seconds.toFixed(0)} s)`,
        );
      }
    }
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
  const results = (await loadResults()).filter((r) =>
    r.settings.epochs === epochs && r.settings.warmEpochs === warmEpochs
  );
  const body = table(results);
  console.log(body);
  if (!has("no_write")) await writeReadme(body);
  console.log(`seconds: ${((performance.now() - started) / 1000).toFixed(0)}`);
}
