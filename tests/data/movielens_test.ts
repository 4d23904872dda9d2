import assert from "node:assert/strict";
import {
  isMovieLens,
  MOVIELENS,
  MOVIELENS_DATASETS,
  type MovieLensDataset,
} from "../../lib/data/movielens.ts";

const SHARED = new URL("../../../shared/datasets/", import.meta.url).pathname;

async function _firstLines(path: string, count: number): Promise<string[] | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  return text.split(/\r?\n/, count);
}

Deno.test("MOVIELENS holds one frozen entry per name of MOVIELENS_DATASETS", () => {
  assert.deepEqual(Object.keys(MOVIELENS).sort(), [...MOVIELENS_DATASETS].sort());
  assert.ok(Object.isFrozen(MOVIELENS));
  for (const name of MOVIELENS_DATASETS) {
    assert.equal(MOVIELENS[name].name, name);
    assert.ok(Object.isFrozen(MOVIELENS[name]), name);
  }
});

Deno.test("MOVIELENS describes each data set as GroupLens publishes it", async (t) => {
  const cases: MovieLensDataset[] = [
    {
      name: "ml-1m",
      zipFile: "ml-1m.zip",
      md5File: "ml-1m.zip.md5",
      ratingsFile: "ratings.dat",
      ratingsEntry: "ml-1m/ratings.dat",
      separator: "::",
      header: false,
      titlesFile: "movies.dat",
    },
    {
      name: "ml-20m",
      zipFile: "ml-20m.zip",
      md5File: "ml-20m.zip.md5",
      ratingsFile: "ratings.csv",
      ratingsEntry: "ml-20m/ratings.csv",
      separator: ",",
      header: true,
      titlesFile: "movies.csv",
    },
    {
      name: "ml-latest-small",
      zipFile: "ml-latest-small.zip",
      md5File: "ml-latest-small.zip.md5",
      ratingsFile: "ratings.csv",
      ratingsEntry: "ml-latest-small/ratings.csv",
      separator: ",",
      header: true,
      titlesFile: "movies.csv",
    },
    {
      name: "ml-100k",
      zipFile: "ml-100k.zip",
      md5File: "ml-100k.zip.md5",
      ratingsFile: "u.data",
      ratingsEntry: "ml-100k/u.data",
      separator: "\t",
      header: false,
      titlesFile: "u.item",
    },
  ];
  assert.equal(cases.length, MOVIELENS_DATASETS.length);
  for (const expected of cases) {
    await t.step(expected.name, () => assert.deepEqual(MOVIELENS[expected.name], expected));
  }
});

Deno.test("MOVIELENS matches the real files in ../shared/datasets", async (t) => {
  for (const name of MOVIELENS_DATASETS) {
    const entry = MOVIELENS[name];
    const lines = await _firstLines(`${SHARED}${entry.ratingsEntry}`, 2);
    await t.step({
      name: `${name}: the ratings file's separator and header`,
      ignore: lines === undefined,
      fn: () => {
        const [first, second] = lines!;
        assert.equal(first.startsWith("userId,"), entry.header, first);
        const data = entry.header ? second : first;
        assert.equal(data.split(entry.separator).length, 4, data);
      },
    });
    if (lines === undefined) {
      console.log(`Skipping the ${name} check: ${SHARED}${entry.ratingsEntry} is absent`);
    }
  }
});

Deno.test("isMovieLens() accepts exactly the table's names", async (t) => {
  const cases: [string, boolean][] = [
    ...MOVIELENS_DATASETS.map((name): [string, boolean] => [name, true]),
    ["synthetic", false],
    ["csv", false],
    ["ncf", false],
    ["ml-10m", false],
    ["toString", false],
    ["", false],
  ];
  for (const [name, expected] of cases) {
    await t.step(`'${name}'`, () => assert.equal(isMovieLens(name), expected));
  }
});
