import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli } from "./_process.ts";
import { Prng } from "../../lib/random/prng.ts";

/** A CRLF file with a `movieId,userId,…` header and string ids: 40 users, 60 items. */
function ratingsCsv(): string {
  const prng = new Prng(11);
  const lines = ["movieId,userId,rating,timestamp"];
  let t = 1000;
  for (let u = 0; u < 40; u++) {
    const seen = new Set<number>();
    while (seen.size < 25) seen.add(Math.floor(prng.nextFloat() * 60));
    for (const i of seen) lines.push(`m${i},u${u},4,${t++}`);
  }
  return lines.join("\r\n") + "\r\n";
}

Deno.test("a CRLF csv with a movieId,userId header and string ids trains, recommends and exports with its ids", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  const file = join(dir, "ratings.csv");
  const model = join(dir, "model");
  try {
    await Deno.writeTextFile(file, ratingsCsv());
    const inspect = await runCli([
      "inspect",
      "--dataset=csv",
      `--ratings_file=${file}`,
      "--num_eval_negatives=10",
      "--seed=1",
    ]);
    assert.equal(inspect.code, 0, inspect.stderr);
    const counts = JSON.parse(inspect.stdout.trim().split("\n").at(-1)!);
    assert.equal(counts.num_users, 40, "users are the userId column, not movieId");
    assert.equal(counts.num_interactions, 1000);

    const trained = await runCli([
      "trainer",
      "--dataset=csv",
      `--ratings_file=${file}`,
      "--num_eval_negatives=10",
      "--train_epochs=1",
      "--seed=1",
      "--backend=ts",
      `--cache_dir=${dir}/cache`,
      `--model_dir=${model}`,
    ]);
    assert.equal(trained.code, 0, trained.stderr);
    const recs = await runCli([
      "recommend",
      `--model_dir=${model}`,
      "--user=u3",
      "--k=2",
      "--format=jsonl",
      "--backend=ts",
    ]);
    assert.equal(recs.code, 0, recs.stderr);
    const row = JSON.parse(recs.stdout);
    assert.equal(row.user, "u3");
    assert.match(row.recommendations[0].item, /^m\d+$/);
    const exported = await runCli(["export", `--model_dir=${model}`, `--out=${dir}/export`]);
    assert.equal(exported.code, 0, exported.stderr);
    const users = await Deno.readTextFile(join(dir, "export", "user_ids.csv"));
    assert.match(users, /^index,user_id\n0,u0\n/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--columns names the columns of a headerless file, and is refused for other data sets", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  const file = join(dir, "ratings.tsv");
  try {
    const body = ratingsCsv().split("\r\n").slice(1).join("\n").replaceAll(",", "\t");
    await Deno.writeTextFile(file, body);
    const ok = await runCli([
      "inspect",
      "--dataset=csv",
      `--ratings_file=${file}`,
      "--columns=item,user,rating,timestamp",
      "--num_eval_negatives=10",
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout.trim().split("\n").at(-1)!).num_users, 40);
    const refused = await runCli(["inspect", "--columns=item,user,timestamp"]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--columns with --dataset synthetic/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
