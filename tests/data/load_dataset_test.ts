import assert from "node:assert/strict";
import { SettingError } from "../../lib/errors.ts";
import { MOVIELENS_DATASETS } from "../../lib/data/movielens.ts";
import {
  DATASET_NAMES,
  datasetFilePath,
  loadDataset,
  summarize,
} from "../../lib/data/load_dataset.ts";

const SHARED = new URL("../../../shared/datasets/", import.meta.url).pathname;

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

const has100k = await exists(`${SHARED}ml-100k/u.data`);
const hasSmall = await exists(`${SHARED}ml-latest-small/ratings.csv`);
const hasNcf = await exists(`${SHARED}ncf-ml-1m/ml-1m.test.negative`);
if (!has100k) console.log(`Skipping the ml-100k test: ${SHARED}ml-100k/u.data is absent`);
if (!hasSmall) {
  console.log(`Skipping the ml-latest-small test: ${SHARED}ml-latest-small/ratings.csv is absent`);
}
if (!hasNcf) console.log(`Skipping the ncf test: ${SHARED}ncf-ml-1m is absent`);

Deno.test("datasetFilePath() lists <dir>/<name>/<file> then <dir>/<file>", async (t) => {
  const cases: [string, string, string[]][] = [
    ["ml-1m", "/data", ["/data/ml-1m/ratings.dat", "/data/ratings.dat"]],
    ["ml-20m", "/data//", ["/data/ml-20m/ratings.csv", "/data/ratings.csv"]],
    ["ml-latest-small", "d", ["d/ml-latest-small/ratings.csv", "d/ratings.csv"]],
    ["ml-100k", "/", ["/ml-100k/u.data", "/u.data"]],
    ["ml-100k", "", ["ml-100k/u.data", "u.data"]],
    ["synthetic", "/data", []],
    ["csv", "/data", []],
    ["ncf", "/data", []],
  ];
  for (const [name, dir, paths] of cases) {
    await t.step(`${name} in '${dir}'`, () => assert.deepEqual(datasetFilePath(name, dir), paths));
  }
});

Deno.test("DATASET_NAMES lists synthetic, the MovieLens sets, csv and ncf", () => {
  assert.deepEqual(DATASET_NAMES, ["synthetic", ...MOVIELENS_DATASETS, "csv", "ncf"]);
  assert.deepEqual([...DATASET_NAMES].sort(), [
    "csv",
    "ml-100k",
    "ml-1m",
    "ml-20m",
    "ml-latest-small",
    "ncf",
    "synthetic",
  ]);
});

Deno.test({
  name: "loadDataset() loads ml-100k: 943 users, 1682 items, 99,057 training positives",
  ignore: !has100k,
  fn: async () => {
    const { dataset, numInteractions } = await loadDataset({
      dataset: "ml-100k",
      dataDir: `${SHARED}ml-100k`,
      numEvalNegatives: 99,
      seed: 1,
    });
    assert.deepEqual(summarize(dataset, numInteractions), {
      num_users: 943,
      num_items: 1682,
      num_interactions: 100_000,
      num_train_positives: 99_057,
      num_eval_users: 943,
      num_eval_capped_users: 0,
    });
    assert.equal(dataset.evalNegatives.length, 943 * 99);
  },
});

Deno.test({
  name: "loadDataset() finds <data_dir>/<name>/<file> and loads ml-latest-small",
  ignore: !hasSmall,
  fn: async () => {
    const { dataset, numInteractions } = await loadDataset({
      dataset: "ml-latest-small",
      dataDir: SHARED,
      numEvalNegatives: 99,
      seed: 1,
    });
    const summary = summarize(dataset, numInteractions);
    assert.equal(summary.num_users, 610);
    assert.equal(summary.num_items, 9724);
    assert.equal(summary.num_interactions, 100_836);
    assert.equal(summary.num_train_positives, 100_226);
  },
});

Deno.test({
  name: "loadDataset() reads the ncf split by prefix",
  ignore: !hasNcf,
  fn: async () => {
    const { dataset, numInteractions } = await loadDataset({
      dataset: "ncf",
      ratingsFile: `${SHARED}ncf-ml-1m/ml-1m`,
      seed: 1,
    });
    assert.equal(numInteractions, 994_161 + 6040);
    assert.equal(summarize(dataset, numInteractions).num_eval_capped_users, 156);
  },
});

Deno.test("loadDataset() generates the synthetic data set", async () => {
  const options = {
    dataset: "synthetic",
    seed: 9,
    syntheticUsers: 120,
    syntheticItems: 400,
    numEvalNegatives: 99,
  } as const;
  const a = await loadDataset(options);
  const b = await loadDataset(options);
  assert.equal(a.dataset.numUsers, 120);
  assert.deepEqual(a, b);
  assert.equal(a.numInteractions, a.dataset.trainItems.length + 120);
});

Deno.test("loadDataset() reads a csv file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lines = ["user,item,timestamp"];
    for (let u = 1; u <= 5; u++) {
      for (let i = 1; i <= 6; i++) lines.push(`${u * 100},${(u + i) % 8},${i}`);
    }
    await Deno.writeTextFile(`${dir}/r.csv`, lines.join("\n"));
    const { dataset, numInteractions } = await loadDataset({
      dataset: "csv",
      ratingsFile: `${dir}/r.csv`,
      minRatings: 6,
      numEvalNegatives: 1,
      seed: 1,
    });
    assert.equal(dataset.numUsers, 5);
    assert.equal(dataset.numItems, 8);
    assert.equal(numInteractions, 30);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadDataset() names both paths tried when a MovieLens file is missing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      () => loadDataset({ dataset: "ml-1m", dataDir: dir, seed: 1 }),
      (e: unknown) => {
        assert.ok(e instanceof Deno.errors.NotFound);
        assert.equal(
          e.message,
          `Cannot read the ml-1m ratings: neither ${dir}/ml-1m/ratings.dat nor ${dir}/ratings.dat exists`,
        );
        return true;
      },
    );
  } finally {
    await Deno.remove(dir);
  }
});

Deno.test("loadDataset() names the setting at fault, never a flag", async (t) => {
  const cases: [string, Parameters<typeof loadDataset>[0], string, string][] = [
    [
      "csv without a file",
      { dataset: "csv", seed: 1 },
      "ratings_file",
      "Cannot load the csv data set: the ratings file is not set",
    ],
    [
      "ncf without a prefix",
      { dataset: "ncf", seed: 1, ratingsFile: "" },
      "ratings_file",
      "Cannot load the ncf data set: the split's file prefix is not set",
    ],
    [
      "MovieLens without a folder",
      { dataset: "ml-100k", seed: 1 },
      "data_dir",
      "Cannot load the ml-100k data set: the data folder is not set",
    ],
    [
      "an unknown data set",
      { dataset: "ml-5m" as "ml-1m", seed: 1 },
      "dataset",
      `Cannot load data set "ml-5m": unknown (expected one of ${DATASET_NAMES.join(", ")})`,
    ],
    [
      "too many evaluation negatives",
      {
        dataset: "synthetic",
        seed: 1,
        syntheticUsers: 30,
        syntheticItems: 100,
        numEvalNegatives: 99,
      },
      "num_eval_negatives",
      "Cannot draw 99 evaluation negatives per user: the data set has only 100 items, so at most 98",
    ],
  ];
  for (const [name, options, setting, message] of cases) {
    await t.step(name, async () => {
      await assert.rejects(() => loadDataset(options), (e: unknown) => {
        assert.ok(e instanceof SettingError, `${e}`);
        assert.equal(e.setting, setting);
        assert.equal(e.message, message);
        assert.ok(!e.message.includes("--"), e.message);
        return true;
      });
    });
  }
});
