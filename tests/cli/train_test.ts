import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli, startCli } from "./_process.ts";
import { loadDataset } from "../../lib/data/load_dataset.ts";

const DATA = [
  "--synthetic_users=400",
  "--synthetic_items=300",
  "--num_eval_negatives=99",
  "--heartbeat_timeout=5",
  "--kill_grace=2",
];

function metrics(path: string) {
  return Deno.readTextFileSync(path).trim().split("\n").map((l) => JSON.parse(l));
}

Deno.test("a short run on synthetic data beats the most-popular baseline and writes its outputs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    const r = await runCli([
      "trainer",
      ...DATA,
      "--train_epochs=6",
      "--seed=1",
      `--cache_dir=${dir}/cache`,
      `--model_dir=${dir}/model`,
      `--metrics_file=${dir}/metrics.jsonl`,
      `--plot=${dir}/plot.svg`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const baseline = Number(r.stdout.match(/baseline most-popular\s+HR@10 ([\d.]+)/)![1]);
    const best = Number(r.stdout.match(/best HR@10 ([\d.]+)/)![1]);
    assert.ok(best > baseline + 0.1, `best ${best} vs baseline ${baseline}`);
    assert.equal(
      r.stdout.match(/^epoch \d+ +HR@10 [\d.]+ +NDCG@10 [\d.]+ +loss [\d.]+ +.*[\d,]+ ex\/s/gm)
        ?.length,
      6,
    );
    const records = metrics(`${dir}/metrics.jsonl`);
    assert.deepEqual(records.map((m) => m.epoch), [1, 2, 3, 4, 5, 6]);
    for (
      const key of ["hr", "ndcg", "loss", "train_examples_per_sec", "eval_seconds", "wall_seconds"]
    ) {
      assert.ok(records.every((m) => Number.isFinite(m[key])), key);
    }
    assert.match(
      await Deno.readTextFile(`${dir}/plot.svg`),
      /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/,
    );

    // recommend: never an item the user has seen, in the data's own ids.
    const rec = await runCli(["recommend", `--model_dir=${dir}/model`, "--user=7", "--k=15"]);
    assert.equal(rec.code, 0, rec.stderr);
    const items = rec.stdout.trim().split("\n").slice(1).map((l) => Number(l.split("\t")[1]));
    assert.equal(items.length, 15);
    const { dataset } = await loadDataset({
      dataset: "synthetic",
      seed: 1,
      syntheticUsers: 400,
      syntheticItems: 300,
      numEvalNegatives: 99,
    });
    const u = (dataset.userIds as Float64Array).indexOf(7);
    const seen = new Set([
      ...dataset.trainItems.subarray(dataset.trainOffsets[u], dataset.trainOffsets[u + 1]),
      dataset.evalItems[u],
    ].map((i) => dataset.itemIds[i]));
    for (const item of items) assert.ok(!seen.has(item), `recommended seen item ${item}`);
    const unknown = await runCli(["recommend", `--model_dir=${dir}/model`, "--user=99999"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /user 99999: no such user.*\(--user\)/);

    // resume on another backend: allowed, with a warning that the bits will differ.
    const other = await runCli([
      "trainer",
      ...DATA,
      "--train_epochs=6",
      "--seed=1",
      "--backend=ts",
      "--resume",
      `--cache_dir=${dir}/cache`,
      `--model_dir=${dir}/model`,
    ]);
    assert.equal(other.code, 0, other.stderr);
    assert.match(other.stdout, /warning: the checkpoint was trained with backend (blas|wasm)/);
    assert.match(other.stdout, /nothing to train/);

    // export: one .npy per tensor plus id maps.
    const out = await runCli(["export", `--model_dir=${dir}/model`, `--out=${dir}/export`]);
    assert.equal(out.code, 0, out.stderr);
    const userMap = (await Deno.readTextFile(join(dir, "export", "user_ids.csv"))).trim().split(
      "\n",
    );
    assert.equal(userMap.length, dataset.numUsers + 1);
    const npy = await Deno.readFile(join(dir, "export", "mf_user_embedding.npy"));
    assert.match(new TextDecoder().decode(npy.subarray(0, 128)), /'shape': \(400, 8\)/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a run killed mid-way and resumed ends with the same metrics as an uninterrupted one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    const common = [
      "trainer",
      ...DATA,
      "--train_epochs=4",
      "--batch_size=100",
      "--seed=2",
      "--backend=ts",
      `--cache_dir=${dir}/cache`,
    ];
    const whole = await runCli([
      ...common,
      `--model_dir=${dir}/a`,
      `--metrics_file=${dir}/a.jsonl`,
    ]);
    assert.equal(whole.code, 0, whole.stderr);

    const first = startCli([...common, `--model_dir=${dir}/b`]);
    await first.waitForLine(/^epoch 2 /);
    first.child.kill("SIGKILL");
    await first.status;
    const resumed = await runCli([
      ...common,
      `--model_dir=${dir}/b`,
      "--resume",
      `--metrics_file=${dir}/b.jsonl`,
    ]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /resumed from .* after epoch [1-3] \(cycle [1-3]\)/);
    const a = metrics(`${dir}/a.jsonl`);
    const b = metrics(`${dir}/b.jsonl`);
    const last = (records: { epoch: number }[]) => records.filter((m) => m.epoch === 4)[0];
    const pick = (m: Record<string, number>) => [m.epoch, m.hr, m.ndcg, m.loss];
    assert.deepEqual(
      pick(last(b) as never),
      pick(last(a) as never),
      "bit-for-bit equal at epoch 4",
    );

    const mismatch = await runCli([
      ...common,
      "--batch_size=50",
      `--model_dir=${dir}/b`,
      "--resume",
    ]);
    assert.equal(mismatch.code, 2);
    assert.match(
      mismatch.stderr,
      /--batch_size=50: the run in .* was trained with --batch_size=100/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the trainer's metrics are the same bits with 0, 1 and 2 evaluation workers", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    const runs = await Promise.all([0, 1, 2].map(async (workers) => {
      const file = `${dir}/metrics_${workers}.jsonl`;
      const r = await runCli([
        "trainer",
        ...DATA,
        "--train_epochs=3",
        "--seed=2",
        `--eval_workers=${workers}`,
        `--cache_dir=${dir}/cache`,
        `--metrics_file=${file}`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      return metrics(file).map((m) => [m.hr, m.ndcg, m.loss]);
    }));
    assert.equal(runs[0].length, 3);
    assert.deepEqual(runs[1], runs[0]);
    assert.deepEqual(runs[2], runs[0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--keep_best keeps the best epoch's checkpoint and pretraining starts from it (fine-tuned with sgd)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    const common = [...DATA, "--seed=3", `--cache_dir=${dir}/cache`];
    const gmf = await runCli([
      "trainer",
      ...common,
      "--model=GMF",
      "--train_epochs=5",
      "--keep_best",
      `--model_dir=${dir}/gmf`,
      `--metrics_file=${dir}/gmf.jsonl`,
    ]);
    assert.equal(gmf.code, 0, gmf.stderr);
    const records = metrics(`${dir}/gmf.jsonl`);
    const best = records.reduce((a, b) => (b.hr > a.hr ? b : a));
    const mlp = await runCli([
      "trainer",
      ...common,
      "--model=MLP",
      "--train_epochs=2",
      `--model_dir=${dir}/mlp`,
    ]);
    assert.equal(mlp.code, 0, mlp.stderr);
    await assert.rejects(() => Deno.stat(`${dir}/mlp/best`), Deno.errors.NotFound);
    const neumf = await runCli([
      "trainer",
      ...common,
      "--train_epochs=1",
      `--pretrain_gmf=${dir}/gmf`,
      `--pretrain_mlp=${dir}/mlp`,
      "--optimizer=sgd",
    ]);
    assert.equal(neumf.code, 0, neumf.stderr);
    assert.match(neumf.stdout, /parameters, sgd, backend/);
    assert.match(
      neumf.stdout,
      /pretrained NeuMF before training {2}HR@10 0\.\d{4} {2}NDCG@10 0\.\d{4}/,
    );
    assert.match(
      neumf.stdout,
      new RegExp(
        `pretrained from \\S+gmf \\(best epoch, ${best.epoch}\\) \\(GMF\\) and \\S+mlp \\(last epoch, 2\\)`,
      ),
    );
    const usage = await runCli(["trainer", ...common, "--keep_best"]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--keep_best: it needs --model_dir/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
