import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT, runCli } from "./_process.ts";

const ML100K = join(ROOT, "../shared/datasets/ml-100k");
const has100k = (() => {
  try {
    return Deno.statSync(join(ML100K, "u.item")).isFile;
  } catch {
    return false;
  }
})();
if (!has100k) console.log(`Skipping the recommend test: ${ML100K}/u.item is absent`);

Deno.test({
  name:
    "recommend serves many users in three formats with ml-100k's titles; show describes the model",
  ignore: !has100k,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
    const model = join(dir, "model");
    try {
      const trained = await runCli([
        "trainer",
        "--dataset=ml-100k",
        `--data_dir=${ML100K}`,
        "--train_epochs=1",
        "--num_eval_negatives=99",
        "--seed=1",
        "--backend=ts",
        `--cache_dir=${dir}/cache`,
        `--model_dir=${model}`,
      ]);
      assert.equal(trained.code, 0, trained.stderr);
      const [one, csv, jsonl, unknown, both] = await Promise.all([
        runCli(["recommend", `--model_dir=${model}`, "--user=196", "--k=3", "--backend=ts"]),
        runCli([
          "recommend",
          `--model_dir=${model}/checkpoint.ncf`,
          "--users=196,186",
          "--k=2",
          "--format=csv",
          "--backend=ts",
        ]),
        runCli([
          "recommend",
          `--model_dir=${model}`,
          "--all_users",
          "--k=1",
          "--format=jsonl",
          `--output=${dir}/all.jsonl`,
          "--backend=ts",
        ]),
        runCli(["recommend", `--model_dir=${model}`, "--users=196,99999", "--backend=ts"]),
        runCli(["recommend", `--model_dir=${model}`, "--user=196", "--all_users"]),
      ]);
      await t.step("table: one header line, then rank, item, score and title", () => {
        assert.equal(one.code, 0, one.stderr);
        const lines = one.stdout.trim().split("\n");
        assert.equal(lines[0], "rank\titem\tscore\ttitle");
        assert.equal(lines.length, 4);
        assert.match(lines[1], /^1\t\d+\t0\.\d{6}\t.+\(\d{4}\)$/);
      });
      await t.step("csv: user,rank,item,score,title for each user", () => {
        assert.equal(csv.code, 0, csv.stderr);
        const lines = csv.stdout.trim().split("\n");
        assert.equal(lines[0], "user,rank,item,score,title");
        assert.deepEqual(lines.slice(1).map((l) => l.split(",").slice(0, 2).join()), [
          "196,1",
          "196,2",
          "186,1",
          "186,2",
        ]);
        assert.match(lines[1], /\(\d{4}\)"?$/, "titles found through the run's saved flags");
      });
      await t.step("jsonl: one object per user into --output", async () => {
        assert.equal(jsonl.code, 0, jsonl.stderr);
        const rows = (await Deno.readTextFile(`${dir}/all.jsonl`)).trim().split("\n")
          .map((l) => JSON.parse(l));
        assert.equal(rows.length, 943);
        assert.equal(typeof rows[0].user, "number");
        assert.equal(rows[0].recommendations.length, 1);
        assert.equal(typeof rows[0].recommendations[0].title, "string");
      });
      await t.step("an unknown user or two ways of naming users are usage errors", () => {
        assert.equal(unknown.code, 2);
        assert.match(unknown.stderr, /user 99999: no such user.*\(--users\)/);
        assert.equal(unknown.stdout, "", "nothing is printed before the error");
        assert.equal(both.code, 2);
        assert.match(both.stderr, /exactly one of --user, --users, --users_file, --all_users/);
      });
      await t.step("show: the model, its data, epochs and metrics", async () => {
        const shown = await runCli(["show", `--model_dir=${model}`]);
        assert.equal(shown.code, 0, shown.stderr);
        assert.match(shown.stdout, /NeuMF: 8 factors/);
        assert.match(shown.stdout, /ml-100k: 943 users, 1,682 items/);
        assert.match(shown.stdout, /epochs\s+1 of 1/);
        const json = await runCli(["show", `--model_dir=${model}`, "--json"]);
        assert.equal(JSON.parse(json.stdout).model.kind ?? "NeuMF", "NeuMF");
      });
      await t.step(
        "export --format onnx --sigmoid writes both graphs, the id maps and model.json",
        async () => {
          const r = await runCli([
            "export",
            `--model_dir=${model}`,
            `--out=${dir}/onnx`,
            "--format=onnx",
            "--sigmoid",
          ]);
          assert.equal(r.code, 0, r.stderr);
          const names = [...Deno.readDirSync(`${dir}/onnx`)].map((e) => e.name).sort();
          assert.deepEqual(names, [
            "item_ids.csv",
            "model.json",
            "model.onnx",
            "model_sigmoid.onnx",
            "user_ids.csv",
          ]);
          const doc = JSON.parse(await Deno.readTextFile(`${dir}/onnx/model.json`));
          assert.equal(doc.kind, "NeuMF");
          const refused = await runCli([
            "export",
            `--model_dir=${model}`,
            `--out=${dir}/npy`,
            "--sigmoid",
          ]);
          assert.equal(refused.code, 2);
          assert.match(refused.stderr, /\(--sigmoid\)/);
        },
      );
      await t.step("export refuses an --out that is a file", async () => {
        await Deno.writeTextFile(`${dir}/a_file`, "x");
        const r = await runCli(["export", `--model_dir=${model}`, `--out=${dir}/a_file`]);
        assert.equal(r.code, 2);
        assert.match(r.stderr, /it is a file.*\(--out\)/);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
