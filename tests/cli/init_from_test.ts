import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli } from "./_process.ts";
import { generateSynthetic } from "../../lib/data/synthetic.ts";

/**
 * A synthetic data set as two csv files: `old.csv` without users above 350
 * and items above 270, `all.csv` with everything (50 users and 30 items more).
 */
async function writeGrowingData(dir: string) {
  const raw = generateSynthetic({ seed: 7, numUsers: 400, numItems: 300, meanRatingsPerUser: 30 });
  const rows = Array.from({ length: raw.length }, (_, r) => ({
    user: raw.users[r],
    item: raw.items[r],
    line: `${raw.users[r]},${raw.items[r]},${raw.timestamps[r]}`,
  }));
  const old = rows.filter((r) => r.user <= 350 && r.item <= 270);
  const write = (name: string, part: typeof rows) =>
    Deno.writeTextFile(
      join(dir, name),
      ["user,item,timestamp", ...part.map((r) => r.line)].join("\n") + "\n",
    );
  await write("old.csv", old);
  await write("all.csv", rows);
  // What preprocessing keeps with --min_ratings=2: users with 2+ rows, and their items.
  const kept = (part: typeof rows) => {
    const count = new Map<number, number>();
    for (const r of part) count.set(r.user, (count.get(r.user) ?? 0) + 1);
    const users = new Set([...count].filter(([, n]) => n >= 2).map(([u]) => u));
    return { users, items: new Set(part.filter((r) => users.has(r.user)).map((r) => r.item)) };
  };
  return { old: kept(old), all: kept(rows) };
}

const TRAIN = [
  "trainer",
  "--dataset=csv",
  "--min_ratings=2",
  "--num_eval_negatives=50",
  "--learning_rate=0.005",
];

/** Epoch 1's HR@10 and loss in a trainer's output. */
function firstEpoch(stdout: string): { hr: number; loss: number } {
  const m = stdout.match(/^epoch 1 {2}HR@10 ([\d.]+) .* loss ([\d.]+)/m);
  assert.ok(m !== null, stdout);
  return { hr: Number(m[1]), loss: Number(m[2]) };
}

Deno.test("--init_from starts a run on grown data from a trained model: known users and items keep what they learnt", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  const cache = `--cache_dir=${dir}/cache`;
  try {
    const kept = await writeGrowingData(dir);
    const old = join(dir, "old");
    const trained = await runCli([
      ...TRAIN,
      `--ratings_file=${join(dir, "old.csv")}`,
      "--train_epochs=4",
      "--seed=1",
      `--model_dir=${old}`,
      cache,
    ]);
    assert.equal(trained.code, 0, trained.stderr);

    const all = [
      ...TRAIN,
      `--ratings_file=${join(dir, "all.csv")}`,
      "--train_epochs=1",
      "--seed=2",
    ];
    const [warm, scratch] = await Promise.all([
      runCli([...all, `--init_from=${old}`, `--model_dir=${dir}/warm`, cache]),
      runCli([...all, cache]),
    ]);
    assert.equal(warm.code, 0, warm.stderr);
    assert.equal(scratch.code, 0, scratch.stderr);

    const knownUsers = [...kept.all.users].filter((u) => kept.old.users.has(u)).length;
    const knownItems = [...kept.all.items].filter((i) => kept.old.items.has(i)).length;
    const { size: users } = kept.all.users;
    const { size: items } = kept.all.items;
    assert.ok(users - knownUsers >= 40 && items - knownItems >= 20, "the data grew");
    assert.ok(
      warm.stdout.includes(
        `initialised from ${old} (epoch 4): ${knownUsers} of ${users} users and ${knownItems} ` +
          `of ${items} items known; ${users - knownUsers} users and ${items - knownItems} items ` +
          "new; adam state carried (step ",
      ),
      warm.stdout,
    );
    assert.match(warm.stdout, /^initialised NeuMF before training {2}HR@10 [\d.]+ {2}NDCG@10/m);

    // One epoch from the trained model is far ahead of one from scratch.
    const w = firstEpoch(warm.stdout);
    const s = firstEpoch(scratch.stdout);
    assert.ok(w.hr >= s.hr + 0.1, `HR@10 after one epoch: warm ${w.hr}, scratch ${s.hr}`);
    assert.ok(w.loss <= 0.75 * s.loss, `loss of epoch 1: warm ${w.loss}, scratch ${s.loss}`);

    const flags = await Deno.readTextFile(join(dir, "warm", "flags"));
    assert.ok(flags.split("\n").includes(`--init_from=${old}`), flags);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--init_from refuses, before loading any data, a folder without a model or a model of other sizes", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  const cache = `--cache_dir=${dir}/cache`;
  try {
    await writeGrowingData(dir);
    const old = join(dir, "old");
    const trained = await runCli([
      ...TRAIN,
      `--ratings_file=${join(dir, "old.csv")}`,
      "--train_epochs=1",
      "--seed=1",
      "--num_factors=4",
      `--model_dir=${old}`,
      cache,
    ]);
    assert.equal(trained.code, 0, trained.stderr);
    const cases: [string, string[], RegExp][] = [
      [
        "more factors",
        [`--init_from=${old}`, "--num_factors=8"],
        /: Cannot start from .*old: it holds a NeuMF with 4 factors, this run asks for 8 factors;.* \(--init_from\)$/m,
      ],
      [
        "another model",
        [`--init_from=${old}/checkpoint.ncf`, "--num_factors=4", "--model=GMF"],
        /it holds a NeuMF model, this run asks for a GMF;.* \(--init_from\)$/m,
      ],
      [
        "a folder without a checkpoint",
        [`--init_from=${dir}`],
        /it holds no checkpoint\.ncf.* \(--init_from\)$/m,
      ],
    ];
    for (const [name, flags, pattern] of cases) {
      await t.step(name, async () => {
        const r = await runCli([
          ...TRAIN,
          `--ratings_file=${join(dir, "all.csv")}`,
          ...flags,
          cache,
        ]);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, pattern);
        assert.doesNotMatch(r.stdout, /^data csv/m, "refused before loading the data");
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
