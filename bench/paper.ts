/**
 * `deno task bench:paper`: the two papers' tables on the NCF paper's
 * MovieLens-1M split, in one command, resumable.
 *
 * ```
 * deno task bench:paper [--quick] [--only ROW_ID_OR_SUBSTRING] [--seeds 1,2,3] [--max_minutes 85]
 *   [--jobs 1] [--list] [--no_write]
 * ```
 *
 * Rows: He et al. 2017 (GMF, MLP, NeuMF at 8 factors; NeuMF with pretraining at
 * 64 factors), Rendle et al. 2020 (MF with their flags at dimensions 16, 64 and
 * 192, i.e. 15, 63 and 191 factors plus the biases; uniform negatives as their
 * code, and exact ones), BPR-MF at dimension 64, and most-popular. Each
 * training run is one `ncf trainer` process with `--keep_best` and a metrics
 * file; its best epoch (by HR@10 of the paper's 1 + 99 protocol, as the paper
 * selects) and last epoch are then evaluated with the full-ranking protocol by
 * `ncf evaluate` on `best/` and on the last checkpoint. Each finished run's
 * result is cached as JSON under `bench/out/paper/` (or `paper_quick/`), kept
 * in git, so a rerun skips it: a long table is built over several
 * invocations, each stopping before `--max_minutes`. The table (median and
 * min–max over seeds) is written between the markers in bench/README.md.
 *
 * `--quick`: 1 seed and few epochs, for a check of the whole path in minutes.
 * `--jobs N`: up to N runs side by side (2 on a 2-core machine roughly halves
 * the table's time; each run's time then includes the sharing).
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { loadDataset } from "../lib/data/load_dataset.ts";
import { evaluateRanking } from "../lib/eval/evaluate.ts";
import { popularityScorer } from "../lib/eval/popularity.ts";
import { benchArgs } from "./_args.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SPLIT = fileURLToPath(new URL("../../shared/datasets/ncf-ml-1m/ml-1m", import.meta.url));
const README = join(ROOT, "bench", "README.md");

/** One training stage of a row (pretraining has three). */
interface Stage {
  name: string;
  flags: string[];
  /** Flags that name earlier stages' model folders: `{stage}` becomes its folder. */
  from?: string[];
}

/** One row of the table. */
interface Row {
  id: string;
  paper: string;
  label: string;
  seeds: number[];
  stages: Stage[];
}

/** A finished run's figures. */
interface RunResult {
  row: string;
  seed: number;
  seconds: number;
  bestEpoch: number;
  lastEpoch: number;
  sampled: { best: Metrics; last: Metrics };
  full: { best: Metrics; last: Metrics };
  commands: string[];
}

interface Metrics {
  hr: number;
  ndcg: number;
}

const { has, option } = benchArgs();
const quick = has("quick");
const seeds = option("seeds", quick ? "1" : "1,2,3").split(",").map(Number);
const only = option("only", "");
const maxMinutes = Number(option("max_minutes", "85"));
const jobs = Math.max(1, Number(option("jobs", "1")));
const outDir = join(ROOT, "bench", "out", quick ? "paper_quick" : "paper");

const NCF_DATA = ["--dataset=ncf", `--ratings_file=${SPLIT}`];
const PAPER = ["--batch_size=256", "--learning_rate=0.001", "--num_neg=4"];
const epochs = (full: number, fast: number) => `--train_epochs=${quick ? fast : full}`;
/** Rendle et al. 2020's MF flags (mf_simple.py): their regularization r is λ = r/2 here. */
const RENDLE = [
  "--model=MF",
  "--batch_size=1",
  "--optimizer=sgd",
  "--learning_rate=0.002",
  "--mf_regularization=0.0025",
  "--num_neg=8",
  "--init_stddev=0.1",
  epochs(256, 16),
];

const ROWS: Row[] = [
  ...(["GMF", "MLP", "NeuMF"] as const).map((model) => ({
    id: `he_${model.toLowerCase()}`,
    paper: "He et al. 2017",
    label: `${model} (8; 64,32,16,8)`,
    seeds,
    stages: [{
      name: "train",
      flags: [
        `--model=${model}`,
        "--num_factors=8",
        "--layers=64,32,16,8",
        ...PAPER,
        epochs(20, 3),
      ],
    }],
  })),
  {
    id: "he_neumf_pretrained",
    paper: "He et al. 2017",
    label: "NeuMF with pretraining (64; 512,256,128,64)",
    seeds: [seeds[0]],
    stages: [
      { name: "gmf", flags: ["--model=GMF", "--num_factors=64", ...PAPER, epochs(8, 2)] },
      { name: "mlp", flags: ["--model=MLP", "--layers=512,256,128,64", ...PAPER, epochs(11, 2)] },
      {
        name: "train",
        flags: [
          "--model=NeuMF",
          "--num_factors=64",
          "--layers=512,256,128,64",
          "--alpha=0.5",
          "--optimizer=sgd",
          ...PAPER,
          epochs(10, 2),
        ],
        from: ["--pretrain_gmf={gmf}/best", "--pretrain_mlp={mlp}/best"],
      },
    ],
  },
  ...[16, 64, 192].map((dim) => ({
    id: `rendle_mf${dim}_uniform`,
    paper: "Rendle et al. 2020",
    label: `MF, dim ${dim}, uniform negatives (their code)`,
    seeds,
    stages: [{
      name: "train",
      flags: [...RENDLE, `--num_factors=${dim - 1}`, "--negative_sampling=uniform"],
    }],
  })),
  ...[16, 64, 192].map((dim) => ({
    id: `rendle_mf${dim}_exact`,
    paper: "Rendle et al. 2020",
    label: `MF, dim ${dim}, exact negatives`,
    seeds,
    stages: [{ name: "train", flags: [...RENDLE, `--num_factors=${dim - 1}`] }],
  })),
  {
    id: "bpr_mf64",
    paper: "BPR",
    label: "BPR-MF, dim 64 (their MF flags, pairwise loss)",
    seeds,
    stages: [{ name: "train", flags: [...RENDLE, "--num_factors=63", "--loss=bpr"] }],
  },
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

function parseEvaluate(stdout: string): Metrics {
  const m = stdout.match(/HR@10 ([\d.]+)\s+NDCG@10 ([\d.]+)/);
  if (m === null) throw new Error(`Cannot read ncf evaluate's output: ${stdout}`);
  return { hr: Number(m[1]), ndcg: Number(m[2]) };
}

async function runRow(row: Row, seed: number, work: string): Promise<RunResult> {
  const started = performance.now();
  const commands: string[] = [];
  const dirs: Record<string, string> = {};
  for (const stage of row.stages) {
    const dir = join(work, `${row.id}_s${seed}_${stage.name}`);
    dirs[stage.name] = dir;
    const from = (stage.from ?? []).map((f) => f.replace(/\{(\w+)\}/g, (_, s) => dirs[s]));
    const argv = [
      "trainer",
      ...NCF_DATA,
      ...stage.flags,
      ...from,
      `--seed=${seed}`,
      "--keep_best",
      "--overwrite",
      `--model_dir=${dir}`,
      `--metrics_file=${dir}.jsonl`,
      `--cache_dir=${join(work, "cache")}`,
    ];
    commands.push(`ncf ${argv.join(" ")}`);
    const r = await ncf(argv);
    if (r.code !== 0) throw new Error(`Cannot run ${row.id} seed ${seed}: ${r.stderr.slice(-800)}`);
  }
  const dir = dirs.train;
  const rows = (await Deno.readTextFile(`${dir}.jsonl`)).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  const best = rows.reduce((a, b) => (b.hr > a.hr ? b : a));
  const last = rows[rows.length - 1];
  const full: Record<string, Metrics> = {};
  for (const [which, folder] of [["best", join(dir, "best")], ["last", dir]]) {
    const argv = ["evaluate", `--model_dir=${folder}`, "--eval_protocol=full"];
    commands.push(`ncf ${argv.join(" ")}`);
    const r = await ncf(argv);
    if (r.code !== 0) throw new Error(`Cannot evaluate ${folder}: ${r.stderr.slice(-800)}`);
    full[which] = parseEvaluate(r.stdout);
  }
  return {
    row: row.id,
    seed,
    seconds: (performance.now() - started) / 1000,
    bestEpoch: best.epoch,
    lastEpoch: last.epoch,
    sampled: { best: { hr: best.hr, ndcg: best.ndcg }, last: { hr: last.hr, ndcg: last.ndcg } },
    full: { best: full.best, last: full.last },
    commands,
  };
}

async function popularityRow(): Promise<RunResult> {
  const started = performance.now();
  const { dataset } = await loadDataset({ dataset: "ncf", ratingsFile: SPLIT, seed: 1 });
  const scorer = popularityScorer(dataset);
  const sampled = evaluateRanking(scorer, dataset);
  const full = evaluateRanking(scorer, dataset, { protocol: "full" });
  const m = (r: { hr: number; ndcg: number }) => ({ hr: r.hr, ndcg: r.ndcg });
  return {
    row: "most_popular",
    seed: 0,
    seconds: (performance.now() - started) / 1000,
    bestEpoch: 0,
    lastEpoch: 0,
    sampled: { best: m(sampled), last: m(sampled) },
    full: { best: m(full), last: m(full) },
    commands: ["bench/paper.ts (in process: popularityScorer, evaluateRanking)"],
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function cell(results: RunResult[], pick: (r: RunResult) => Metrics): string {
  const f = (x: number) => x.toFixed(4).replace(/^0/, "");
  const hr = results.map((r) => pick(r).hr);
  const ndcg = results.map((r) => pick(r).ndcg);
  const one = `${f(median(hr))} / ${f(median(ndcg))}`;
  if (results.length === 1) return one;
  return `${one} (${f(Math.min(...hr))}–${f(Math.max(...hr))})`;
}

function table(results: Map<string, RunResult[]>): string {
  const lines = [
    "| paper | model | runs | best epoch | 1+99 best | 1+99 last | full best | full last | time per run |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  const rows: { id: string; paper: string; label: string }[] = [
    ...ROWS,
    { id: "most_popular", paper: "–", label: "most popular" },
  ];
  for (const row of rows) {
    const rs = results.get(row.id) ?? [];
    if (rs.length === 0) {
      lines.push(`| ${row.paper} | ${row.label} | 0 | – | – | – | – | – | not run yet |`);
      continue;
    }
    const trained = rs[0].lastEpoch > 0;
    const epochsText = trained
      ? `${rs.map((r) => r.bestEpoch).join(", ")} of ${rs[0].lastEpoch}`
      : "– (no training)";
    const runs = trained ? `${rs.length} (seeds ${rs.map((r) => r.seed).join(",")})` : "1";
    const time = median(rs.map((r) => r.seconds));
    lines.push(
      `| ${row.paper} | ${row.label} | ${runs} | ` +
        `${epochsText} | ${cell(rs, (r) => r.sampled.best)} | ` +
        `${cell(rs, (r) => r.sampled.last)} | ${cell(rs, (r) => r.full.best)} | ` +
        `${cell(rs, (r) => r.full.last)} | ${
          time < 120 ? `${time.toFixed(0)} s` : `${(time / 60).toFixed(1)} min`
        } |`,
    );
  }
  return lines.join("\n");
}

async function loadResults(): Promise<Map<string, RunResult[]>> {
  const results = new Map<string, RunResult[]>();
  try {
    for (const entry of Deno.readDirSync(outDir)) {
      if (!entry.name.endsWith(".json")) continue;
      const r = JSON.parse(await Deno.readTextFile(join(outDir, entry.name))) as RunResult;
      results.set(r.row, [...(results.get(r.row) ?? []), r].sort((a, b) => a.seed - b.seed));
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return results;
}

async function writeReadme(results: Map<string, RunResult[]>): Promise<void> {
  const begin = quick ? "<!-- paper-quick:begin -->" : "<!-- paper:begin -->";
  const end = quick ? "<!-- paper-quick:end -->" : "<!-- paper:end -->";
  const text = await Deno.readTextFile(README);
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`Cannot write the table: ${README} lacks ${begin} … ${end}`);
  const body = `${begin}\n\n${table(results)}\n\n${end}`;
  await Deno.writeTextFile(README, text.slice(0, i) + body + text.slice(j + end.length));
}

if (import.meta.main) {
  try {
    Deno.statSync(`${SPLIT}.train.rating`);
  } catch {
    console.log(`skipping: ${SPLIT}.train.rating is absent (the data sets are not in the repo)`);
    Deno.exit(0);
  }
  const plan = [
    ...ROWS.filter((r) => ROWS.some((x) => x.id === only) ? r.id === only : r.id.includes(only))
      .flatMap((row) => row.seeds.map((seed) => ({ row, seed }))),
  ];
  if (has("list")) {
    for (const { row, seed } of plan) console.log(`${row.id} seed ${seed}`);
    Deno.exit(0);
  }
  await Deno.mkdir(outDir, { recursive: true });
  const started = performance.now();
  const work = await Deno.makeTempDir({ prefix: "ncf_paper_" });
  try {
    if ("most_popular".includes(only) || only === "") {
      const path = join(outDir, "most_popular.json");
      if (!(await Deno.stat(path).then(() => true, () => false))) {
        await Deno.writeTextFile(path, JSON.stringify(await popularityRow(), null, 2) + "\n");
      }
    }
    // `--jobs N` runs up to N runs side by side (each a trainer and its generator).
    let next = 0;
    let stopped = false;
    const worker = async () => {
      while (next < plan.length && !stopped) {
        const { row, seed } = plan[next++];
        const path = join(outDir, `${row.id}_s${seed}.json`);
        if (await Deno.stat(path).then(() => true, () => false)) continue;
        const minutes = (performance.now() - started) / 60000;
        if (minutes > maxMinutes) {
          console.log(`stopping after ${minutes.toFixed(0)} min (--max_minutes ${maxMinutes})`);
          stopped = true;
          break;
        }
        console.log(`running ${row.id} seed ${seed} …`);
        const result = await runRow(row, seed, work);
        await Deno.writeTextFile(path, JSON.stringify(result, null, 2) + "\n");
        console.log(
          `${row.id} seed ${seed}: best epoch ${result.bestEpoch}, 1+99 ${
            result.sampled.best.hr.toFixed(4)
          } / ${result.sampled.best.ndcg.toFixed(4)}, full ${result.full.best.hr.toFixed(4)} / ${
            result.full.best.ndcg.toFixed(4)
          }, ${result.seconds.toFixed(0)} s`,
        );
      }
    };
    await Promise.all(Array.from({ length: jobs }, worker));
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
  const results = await loadResults();
  console.log(table(results));
  if (!has("no_write")) await writeReadme(results);
  console.log(`seconds: ${((performance.now() - started) / 1000).toFixed(0)}`);
}
