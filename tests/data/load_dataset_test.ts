import assert from "node:assert/strict";
import { MissingDatasetError } from "../../lib/errors.ts";
import { SettingError } from "../../lib/errors.ts";
import { MOVIELENS_DATASETS } from "../../lib/data/movielens.ts";
import {
  DATASET_NAMES,
  datasetFilePath,
  findMovieLensFile,
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

Deno.test("loadDataset() names the paths tried for a missing MovieLens set, as a MissingDatasetError", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    const cases: [string, string, string][] = [
      [
        "a folder without the files",
        dir,
        `Cannot read the ml-1m ratings: neither ${dir}/ml-1m/ratings.dat nor ${dir}/ratings.dat exists`,
      ],
      [
        "a folder that does not exist",
        `${dir}/none`,
        `Cannot read the ml-1m ratings: the data folder ${dir}/none does not exist (expected ${dir}/none/ml-1m/ratings.dat or ${dir}/none/ratings.dat)`,
      ],
    ];
    for (const [name, dataDir, message] of cases) {
      await t.step(name, async () => {
        await assert.rejects(
          () => loadDataset({ dataset: "ml-1m", dataDir, seed: 1 }),
          (e: unknown) => {
            assert.ok(e instanceof MissingDatasetError, `${e}`);
            assert.equal(e.message, message);
            assert.equal(e.dataset, "ml-1m");
            assert.equal(e.dataDir, dataDir);
            return true;
          },
        );
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadDataset() says data_dir takes a folder when it names the ratings file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/u.data`, "196\t242\t3\t881250949\n");
    await assert.rejects(
      () => loadDataset({ dataset: "ml-100k", dataDir: `${dir}/u.data`, seed: 1 }),
      (e: unknown) => {
        assert.ok(e instanceof SettingError, `${e}`);
        assert.equal(e.setting, "data_dir");
        assert.equal(
          e.message,
          `Cannot load the ml-100k data set: ${dir}/u.data is a file, not a folder: data_dir takes the folder that holds ml-100k/u.data or u.data; for a single ratings file use the csv data set with ratings_file ${dir}/u.data`,
        );
        return true;
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("findMovieLensFile() prefers <dir>/<name>/<file>, then <dir>/<file>, else undefined", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await findMovieLensFile("ml-100k", dir), undefined);
    await Deno.writeTextFile(`${dir}/u.data`, "1\t2\t3\t4\n");
    assert.equal(await findMovieLensFile("ml-100k", dir), `${dir}/u.data`);
    await Deno.mkdir(`${dir}/ml-100k`);
    await Deno.writeTextFile(`${dir}/ml-100k/u.data`, "1\t2\t3\t4\n");
    assert.equal(await findMovieLensFile("ml-100k", dir), `${dir}/ml-100k/u.data`);
    assert.equal(await findMovieLensFile("ml-1m", `${dir}/none`), undefined);
    await assert.rejects(() => findMovieLensFile("ml-1m", `${dir}/u.data`), SettingError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadDataset() reads a CRLF MovieLens folder like the original", {
  ignore: !has100k,
}, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const text = await Deno.readTextFile(`${SHARED}ml-100k/u.data`);
    await Deno.mkdir(`${dir}/ml-100k`);
    await Deno.writeTextFile(`${dir}/ml-100k/u.data`, text.replaceAll("\n", "\r\n"));
    const options = { dataset: "ml-100k", numEvalNegatives: 99, seed: 4 } as const;
    const crlf = await loadDataset({ ...options, dataDir: dir });
    const original = await loadDataset({ ...options, dataDir: `${SHARED}ml-100k` });
    assert.deepEqual(crlf, original);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadDataset() reads a csv file by its header, its columns option, or with string ids", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    const rows: string[][] = [];
    for (let u = 1; u <= 5; u++) {
      for (let i = 1; i <= 6; i++) rows.push([`${u * 100}`, `${(u + i) % 8}`, "4", `${i}`]);
    }
    const write = async (name: string, header: string, order: number[], map = (x: string) => x) => {
      const lines = rows.map((r) => order.map((k) => (k < 2 ? map(r[k]) : r[k])).join(","));
      await Deno.writeTextFile(
        `${dir}/${name}`,
        (header === "" ? [] : [header]).concat(lines).join("\r\n"),
      );
      return `${dir}/${name}`;
    };
    const base = { dataset: "csv", minRatings: 6, numEvalNegatives: 1, seed: 1 } as const;
    const expected = await loadDataset({
      ...base,
      ratingsFile: await write("a.csv", "", [0, 1, 2, 3]),
    });
    assert.deepEqual(Array.from(expected.dataset.userIds as Float64Array), [
      100,
      200,
      300,
      400,
      500,
    ]);
    await t.step("movieId,userId,rating,timestamp", async () => {
      const path = await write("b.csv", "movieId,userId,rating,timestamp", [1, 0, 2, 3]);
      assert.deepEqual(await loadDataset({ ...base, ratingsFile: path }), expected);
    });
    await t.step("columns item,user,rating,timestamp", async () => {
      const path = await write("c.csv", "", [1, 0, 2, 3]);
      const columns = ["item", "user", "rating", "timestamp"];
      assert.deepEqual(await loadDataset({ ...base, ratingsFile: path, columns }), expected);
    });
    await t.step("string ids", async () => {
      const path = await write(
        "d.csv",
        "user_id,item_id,rating,ts",
        [0, 1, 2, 3],
        (x) => `id-${x}`,
      );
      const { dataset } = await loadDataset({ ...base, ratingsFile: path });
      assert.deepEqual(dataset.userIds, ["id-100", "id-200", "id-300", "id-400", "id-500"]);
      assert.deepEqual(dataset.itemIds, Array.from({ length: 8 }, (_, i) => `id-${i}`));
      assert.deepEqual(dataset.trainItems, expected.dataset.trainItems);
      assert.deepEqual(dataset.evalNegatives, expected.dataset.evalNegatives);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadDataset() reads the ncf split named by its prefix or any of its three files", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/s.train.rating`, "0\t0\t5\t1\n0\t1\t4\t2\n1\t1\t3\t3\n");
    await Deno.writeTextFile(`${dir}/s.test.rating`, "0\t2\t5\t9\n1\t0\t1\t9\n");
    await Deno.writeTextFile(`${dir}/s.test.negative`, "(0,2)\t3\n(1,0)\t2\n");
    const expected = await loadDataset({ dataset: "ncf", ratingsFile: `${dir}/s`, seed: 1 });
    assert.equal(expected.dataset.numUsers, 2);
    for (const suffix of [".train.rating", ".test.rating", ".test.negative"]) {
      await t.step(`s${suffix}`, async () => {
        const loaded = await loadDataset({
          dataset: "ncf",
          ratingsFile: `${dir}/s${suffix}`,
          seed: 1,
        });
        assert.deepEqual(loaded, expected);
      });
    }
    await t.step("a prefix whose files are missing", async () => {
      await Deno.remove(`${dir}/s.test.negative`);
      await assert.rejects(
        () => loadDataset({ dataset: "ncf", ratingsFile: `${dir}/s.train.rating`, seed: 1 }),
        (e: unknown) => {
          assert.ok(e instanceof Deno.errors.NotFound, `${e}`);
          assert.equal(
            e.message,
            `Cannot read the NCF split ${dir}/s: ${dir}/s.test.negative does not exist (expected ${dir}/s.train.rating, ${dir}/s.test.rating and ${dir}/s.test.negative; the prefix is the files' path without these suffixes, or the path of any of them)`,
          );
          return true;
        },
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "loadDataset() reads the real ncf split by the path of its training file",
  ignore: !hasNcf,
  fn: async () => {
    const { numInteractions } = await loadDataset({
      dataset: "ncf",
      ratingsFile: `${SHARED}ncf-ml-1m/ml-1m.train.rating`,
      seed: 1,
    });
    assert.equal(numInteractions, 994_161 + 6040);
  },
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
      "columns with a MovieLens set",
      { dataset: "ml-100k", seed: 1, dataDir: "/data", columns: ["item", "user", "timestamp"] },
      "columns",
      `Cannot use columns "item,user,timestamp" with the ml-100k data set: columns is for the csv data set (the other sets' columns are known)`,
    ],
    [
      "columns that cannot work",
      { dataset: "csv", seed: 1, ratingsFile: "/r.csv", columns: ["user", "user", "timestamp"] },
      "columns",
      `Cannot read ratings with columns "user,user,timestamp": the user column is named twice (expected user (user/userId/user_id/uid/reviewerID), item (item/itemId/item_id/movie/movieId/movie_id/iid/asin), optionally rating (rating/score/overall), and timestamp (timestamp/time/ts/unixReviewTime), in any order)`,
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
