import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli } from "./_process.ts";

const RUN = [
  "trainer",
  "--synthetic_users=200",
  "--synthetic_items=300",
  "--num_eval_negatives=50",
  "--seed=5",
  "--backend=ts",
];

Deno.test("output paths are checked before any data is loaded, naming the flag", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    await Deno.mkdir(join(dir, "a_folder"));
    await Deno.writeTextFile(join(dir, "a_file"), "x");
    const cases: [string, string[], RegExp][] = [
      ["a plot that is not SVG", [`--plot=${dir}/x.png`], /writes an SVG document.*\(--plot\)/],
      [
        "a metrics file that is a folder",
        [`--metrics_file=${dir}/a_folder`],
        /is a folder.*\(--metrics_file\)/,
      ],
      [
        "a model folder that is a file",
        [`--model_dir=${dir}/a_file`],
        /is a file.*\(--model_dir\)/,
      ],
      [
        "a plot under a file",
        [`--plot=${dir}/a_file/p.svg`],
        /is a file, not a folder.*\(--plot\)/,
      ],
    ];
    const results = await Promise.all(
      cases.map(([, flags]) => runCli([...RUN, `--cache_dir=${dir}/cache`, ...flags])),
    );
    for (const [i, [name, , pattern]] of cases.entries()) {
      await t.step(name, () => {
        assert.equal(results[i].code, 2, results[i].stderr);
        assert.match(results[i].stderr, pattern);
        assert.doesNotMatch(results[i].stdout, /^data /m, "no data was loaded");
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a model folder is never overwritten silently, and --model_dir D --resume alone continues the run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  const model = join(dir, "model");
  const cache = `--cache_dir=${dir}/cache`;
  try {
    const first = await runCli([
      ...RUN,
      cache,
      "--train_epochs=2",
      `--model_dir=${model}`,
      `--metrics_file=${dir}/out/metrics.jsonl`,
      `--plot=${dir}/out/curves.svg`,
    ]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, new RegExp(`checkpoint \\(epoch 2\\): ${model}/checkpoint.ncf`));
    assert.match(first.stdout, new RegExp(`metrics: ${dir}/out/metrics.jsonl`));
    assert.match(first.stdout, new RegExp(`plot: ${dir}/out/curves.svg`));
    assert.match(await Deno.readTextFile(join(model, "flags")), /^--seed=5$/m);

    const again = await runCli([...RUN, cache, "--train_epochs=2", `--model_dir=${model}`]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already holds a trained model's checkpoint.*--resume.*--overwrite/);

    const resumed = await runCli([
      "trainer",
      `--model_dir=${model}`,
      "--resume",
      "--train_epochs=3",
    ]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /resumed from .* after epoch 2 \(cycle 2\)/);
    assert.match(resumed.stdout, /^epoch 3 /m);
    assert.doesNotMatch(resumed.stdout, /^epoch [12] /m);

    const rows = (await Deno.readTextFile(`${dir}/out/metrics.jsonl`)).trim().split("\n")
      .map((l) => JSON.parse(l));
    assert.deepEqual(rows.map((r) => [r.epoch, r.cycle, r.seed]), [[1, 1, 5], [2, 2, 5], [
      3,
      3,
      5,
    ]]);
    assert.equal(rows[0].run_id, rows[1].run_id);
    assert.notEqual(rows[1].run_id, rows[2].run_id, "the resumed session is another run id");
    assert.match(rows[2].run_id, /^\d+_\d+_[0-9a-f]+$/);

    const mismatch = await runCli([
      "trainer",
      `--model_dir=${model}`,
      "--resume",
      "--num_factors=4",
    ]);
    assert.equal(mismatch.code, 2);
    assert.match(
      mismatch.stderr,
      /--num_factors=4: the run in .* was trained with --num_factors=8/,
    );

    const evaluated = await runCli(["evaluate", `--model_dir=${model}`, "--backend=ts"]);
    assert.equal(evaluated.code, 0, evaluated.stderr);
    const last = rows[2];
    assert.match(
      evaluated.stdout,
      new RegExp(`^epoch 3  HR@10 ${last.hr.toFixed(4)}  NDCG@10 ${last.ndcg.toFixed(4)}`, "m"),
    );

    const other = await runCli([
      "evaluate",
      `--model_dir=${model}`,
      "--backend=ts",
      "--synthetic_users=250",
    ]);
    assert.equal(other.code, 0, other.stderr);
    assert.match(
      other.stdout,
      /^epoch 3 {2}HR@10 [\d.]+ {2}NDCG@10 [\d.]+ {2}MRR [\d.]+ {2}\(\d+ users, --dataset synthetic/m,
    );
    assert.match(other.stderr, /\d+ users of the data are unknown to the model/);

    const replaced = await runCli([
      ...RUN,
      cache,
      "--train_epochs=1",
      `--model_dir=${model}`,
      "--overwrite",
    ]);
    assert.equal(replaced.code, 0, replaced.stderr);
    assert.match(replaced.stdout, /checkpoint \(epoch 1\)/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
