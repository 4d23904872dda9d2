import assert from "node:assert/strict";
import { join } from "node:path";
import { saveSmallModel, smallDataset, smallRun } from "./_model_fixture.ts";
import { SettingError } from "../../lib/errors.ts";
import { formatCheckpointSummary, showCheckpoint } from "../../lib/serve/show_checkpoint.ts";
import { CHECKPOINT_FILE } from "../../lib/train/checkpoint_file.ts";
import type { EvalRecord } from "../../lib/train/model_checkpoint.ts";
import { BEST_DIR } from "../../lib/train/model_loop.ts";

function record(epoch: number, hr: number, ndcg: number, loss: number): EvalRecord {
  return {
    epoch,
    cycle: epoch - 1,
    hr,
    ndcg,
    loss,
    train_examples_per_sec: 1000,
    eval_seconds: 0.1,
    wall_seconds: epoch,
  };
}

const HISTORY = [
  record(1, 0.3, 0.15, 0.5),
  record(2, 0.41234, 0.2, 0.4),
  record(3, 0.41234, 0.21, 0.35),
  record(4, 0.4, 0.19, 0.31234),
];

Deno.test("showCheckpoint() summarises a model folder with its flags and best checkpoint", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    const model = join(dir, "model");
    const trained = await saveSmallModel(model, smallDataset("string"), {
      history: HISTORY,
      epochs: 4,
    });
    await saveSmallModel(join(model, BEST_DIR), smallDataset("string"), {
      history: HISTORY.slice(0, 2),
      epochs: 2,
    });
    await Deno.writeTextFile(
      join(model, "flags"),
      "# written by ncf trainer\n--dataset=csv\n\n--ratings_file=r.csv\n--train_epochs=5\n",
    );
    const summary = await showCheckpoint(join(model, CHECKPOINT_FILE));
    const stat = await Deno.stat(join(model, CHECKPOINT_FILE));
    assert.deepEqual(summary, {
      modelDir: model,
      checkpoint: {
        path: join(model, CHECKPOINT_FILE),
        bytes: stat.size,
        modified: stat.mtime!.toISOString(),
      },
      model: {
        kind: "NeuMF",
        description: trained.describe(),
        numUsers: 6,
        numItems: 12,
        parameters: trained.parameters.size,
        config: JSON.parse(JSON.stringify(trained.config)),
      },
      dataset: "small",
      ids: { users: "string", items: "string" },
      optimizer: {
        kind: "adam",
        step: 10,
        learningRate: 0.05,
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 1e-8,
      },
      run: smallRun(4),
      flags: {
        path: join(model, "flags"),
        lines: ["--dataset=csv", "--ratings_file=r.csv", "--train_epochs=5"],
      },
      last: HISTORY[3],
      best: HISTORY[1],
      bestCheckpoint: { dir: join(model, BEST_DIR), epoch: 2 },
    });
    assert.deepEqual(JSON.parse(formatCheckpointSummary(summary, { format: "json" })), summary);
    const text = formatCheckpointSummary(summary);
    const lines = [
      `model_dir   ${model}`,
      `model       ${trained.describe()}`,
      "data        small: 6 users, 12 items, string ids",
      "optimizer   adam (learning rate 0.05, beta1 0.9, beta2 0.999, epsilon 1e-8), 10 steps",
      "epochs      4 of 5 (4 cycles of 1; seed 7, batch size 4, 1 negative per positive)",
      "last        epoch 4  HR@10 0.4000  NDCG@10 0.1900  loss 0.3123",
      "best        epoch 2  HR@10 0.4123  NDCG@10 0.2000  loss 0.4000",
      `best/       ${join(model, BEST_DIR)}, epoch 2`,
      `checkpoint  ${join(model, CHECKPOINT_FILE)}, ${(stat.size / 1000).toFixed(1)} kB (` +
      `${stat.size.toLocaleString("en-US")} bytes), modified ${stat.mtime!.toISOString()}`,
      `flags       ${join(model, "flags")}:`,
      "              --dataset=csv",
      "              --ratings_file=r.csv",
      "              --train_epochs=5",
    ];
    assert.equal(text, lines.join("\n") + "\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("showCheckpoint() says what is missing: no flags file, no best checkpoint, no evaluation", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    await saveSmallModel(dir, smallDataset("integer"));
    const summary = await showCheckpoint(dir);
    assert.deepEqual(summary.ids, { users: "integer", items: "integer" });
    assert.deepEqual(summary.flags, { path: join(dir, "flags"), lines: null });
    assert.equal(summary.last, null);
    assert.equal(summary.best, null);
    assert.equal(summary.bestCheckpoint, null);
    const text = formatCheckpointSummary(summary);
    assert.match(text, /^data +small: 6 users, 12 items, integer ids$/m);
    assert.match(text, /^last +no evaluation yet$/m);
    assert.match(text, /^best\/ +none \(the trainer keeps one with keep_best\)$/m);
    assert.match(text, new RegExp(`^flags +not saved \\(no ${dir}/flags\\)$`, "m"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("showCheckpoint() reports an unreadable best checkpoint instead of failing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    await saveSmallModel(dir, smallDataset("integer"));
    await Deno.mkdir(join(dir, BEST_DIR));
    await Deno.writeTextFile(join(dir, BEST_DIR, CHECKPOINT_FILE), "torn");
    const { bestCheckpoint } = await showCheckpoint(dir);
    assert.deepEqual(bestCheckpoint, {
      dir: join(dir, BEST_DIR),
      error: `Cannot read checkpoint ${
        join(dir, BEST_DIR, CHECKPOINT_FILE)
      }: not an ncf checkpoint`,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("showCheckpoint() refuses a folder without a checkpoint, naming the model_dir setting", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    await assert.rejects(
      () => showCheckpoint(dir),
      (e: Error) =>
        e instanceof SettingError && e.setting === "model_dir" &&
        e.message.startsWith(`Cannot load a model from ${dir}: it holds no checkpoint.ncf;`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
