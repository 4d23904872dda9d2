/**
 * The accuracy benchmark: the NCF paper's protocol (leave-one-out, 1 + 99
 * candidates, HR@10 and NDCG@10, 20 epochs, batch 256, lr 0.001, 4
 * negatives) on real data, one trainer process per seed; reports each run's
 * best HR@10 and NDCG@10 and their medians.
 *
 *   deno task bench:accuracy --data ml-100k [--seeds 1,2,3] [--epochs 20] [-- extra trainer flags]
 *   deno task bench:accuracy --data ncf-ml-1m
 *   deno task bench:accuracy --data ncf-ml-1m --pretrain [--finetune sgd|adam|lazy_adam]
 *   (GMF 64 and MLP 512,256,128,64 keep their best epoch, --keep_best; NeuMF
 *   starts from those with α 0.5 and is fine-tuned with plain SGD, as the
 *   paper, unless --finetune says otherwise)
 *
 * Data come from ../shared/datasets (never copied into the repository).
 */

import { fileURLToPath } from "node:url";
import { join } from "node:path";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SHARED = fileURLToPath(new URL("../../shared/datasets/", import.meta.url));

const args = [...Deno.args];
const dashdash = args.indexOf("--");
const extra = dashdash >= 0 ? args.splice(dashdash).slice(1) : [];
const option = (name: string, fallback: string) => {
  const i = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return fallback;
  return args[i].includes("=") ? args[i].split("=")[1] : args[i + 1];
};
const data = option("data", "ml-100k");
const seeds = option("seeds", "1,2,3").split(",").map(Number);
const epochs = Number(option("epochs", "20"));
const pretrain = args.includes("--pretrain");
const finetune = option("finetune", "sgd");

const dataFlags: Record<string, string[]> = {
  "ml-100k": [
    "--dataset=ml-100k",
    `--data_dir=${join(SHARED, "ml-100k")}`,
    "--num_eval_negatives=99",
  ],
  "ml-latest-small": [
    "--dataset=ml-latest-small",
    `--data_dir=${join(SHARED, "ml-latest-small")}`,
    "--num_eval_negatives=99",
  ],
  "ncf-ml-1m": ["--dataset=ncf", `--ratings_file=${join(SHARED, "ncf-ml-1m", "ml-1m")}`],
};
if (!(data in dataFlags)) {
  throw new Error(`Cannot benchmark --data ${data}: use ${Object.keys(dataFlags)}`);
}
try {
  Deno.statSync(SHARED);
} catch {
  console.log(`skipping: ${SHARED} is absent (the data sets are not part of the repository)`);
  Deno.exit(0);
}

const work = await Deno.makeTempDir({ prefix: "ncf_accuracy_" });
const protocol = [
  `--train_epochs=${epochs}`,
  "--batch_size=256",
  "--learning_rate=0.001",
  "--num_neg=4",
  `--cache_dir=${work}/cache`,
];

interface Best {
  hr: number;
  ndcg: number;
  epoch: number;
  seconds: number;
  exps: number;
  /** A pretrained NeuMF's HR@10 / NDCG@10 before training (its trainer's line). */
  before?: { hr: number; ndcg: number } | undefined;
}

async function train(seed: number, flags: string[], name: string): Promise<Best> {
  const metrics = join(work, `${name}_${seed}.jsonl`);
  const argv = [
    "run",
    "-A",
    join(ROOT, "cli.ts"),
    "trainer",
    ...dataFlags[data],
    ...protocol,
    `--seed=${seed}`,
    `--metrics_file=${metrics}`,
    ...flags,
    ...extra,
  ];
  console.log(`$ deno ${argv.slice(2).join(" ")}`);
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: argv,
    stdout: "piped",
    stderr: "inherit",
    env: { NO_COLOR: "1" },
  }).spawn();
  // Echo the trainer's lines and keep its pretrained-model line.
  let before: Best["before"];
  let pending = "";
  const decoder = new TextDecoder();
  for await (const bytes of child.stdout) {
    await Deno.stdout.write(bytes);
    const lines = (pending + decoder.decode(bytes, { stream: true })).split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      const m = line.match(
        /^pretrained NeuMF before training {2}HR@10 ([\d.]+) {2}NDCG@10 ([\d.]+)/,
      );
      if (m) before = { hr: Number(m[1]), ndcg: Number(m[2]) };
    }
  }
  const status = await child.status;
  if (!status.success) throw new Error(`Cannot finish ${name} seed ${seed}: exit ${status.code}`);
  const records = (await Deno.readTextFile(metrics)).trim().split("\n").map((l) => JSON.parse(l));
  const best = records.reduce((a, b) => (b.hr > a.hr ? b : a));
  const exps = records.map((r) => r.train_examples_per_sec).sort((a, b) => a - b);
  return {
    hr: best.hr,
    ndcg: best.ndcg,
    epoch: best.epoch,
    seconds: (performance.now() - started) / 1000,
    exps: exps[exps.length >> 1],
    before,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const rows: string[] = [];
const stages: string[] = [];
const results: Best[] = [];
for (const seed of seeds) {
  let best: Best;
  if (pretrain) {
    const gmf = join(work, `gmf_${seed}`);
    const mlp = join(work, `mlp_${seed}`);
    // The two pretraining stages are independent: one core each.
    const [g, m] = await Promise.all([
      train(seed, ["--model=GMF", "--num_factors=64", `--model_dir=${gmf}`, "--keep_best"], "gmf"),
      train(
        seed,
        ["--model=MLP", "--layers=512,256,128,64", `--model_dir=${mlp}`, "--keep_best"],
        "mlp",
      ),
    ]);
    stages.push(
      `| GMF 64 | ${seed} | ${g.hr.toFixed(4)} | ${g.ndcg.toFixed(4)} | ${g.epoch} | ${
        g.exps.toLocaleString("en-US")
      } | ${g.seconds.toFixed(0)} |`,
      `| MLP 512,256,128,64 | ${seed} | ${m.hr.toFixed(4)} | ${m.ndcg.toFixed(4)} | ${m.epoch} | ${
        m.exps.toLocaleString("en-US")
      } | ${m.seconds.toFixed(0)} |`,
    );
    best = await train(seed, [
      "--num_factors=64",
      "--layers=512,256,128,64",
      `--pretrain_gmf=${gmf}`,
      `--pretrain_mlp=${mlp}`,
      "--alpha=0.5",
      `--optimizer=${finetune}`,
    ], "neumf_pretrained");
    if (best.before !== undefined) {
      stages.push(
        `| NeuMF fused, before training | ${seed} | ${best.before.hr.toFixed(4)} | ${
          best.before.ndcg.toFixed(4)
        } | 0 | | |`,
      );
    }
  } else {
    best = await train(seed, [], "neumf");
  }
  results.push(best);
  rows.push(
    `| ${data} | ${seed} | ${best.hr.toFixed(4)} | ${best.ndcg.toFixed(4)} | ${best.epoch} | ${
      best.exps.toLocaleString("en-US")
    } | ${best.seconds.toFixed(0)} |`,
  );
}
console.log(
  `\n${
    pretrain
      ? `NeuMF with pretraining (64 factors, fine-tuned with ${finetune})`
      : "NeuMF (8 factors, 64,32,16,8)"
  }${extra.length ? ` ${extra.join(" ")}` : ""}\n`,
);
console.log("| data | seed | best HR@10 | best NDCG@10 | at epoch | median train ex/s | wall s |");
console.log("|---|---|---|---|---|---|---|");
for (const row of stages) console.log(row);
for (const row of rows) console.log(row);
console.log(
  `| **median** | | **${median(results.map((r) => r.hr)).toFixed(4)}** | **${
    median(results.map((r) => r.ndcg)).toFixed(4)
  }** | | | |`,
);
await Deno.remove(work, { recursive: true });
