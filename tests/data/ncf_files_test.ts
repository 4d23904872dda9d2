import assert from "node:assert/strict";
import { ncfFilePaths, readNcfFiles } from "../../lib/data/ncf_files.ts";

const SHARED = new URL("../../../shared/datasets/", import.meta.url);
const NCF_PREFIX = new URL("ncf-ml-1m/ml-1m", SHARED).pathname;
const hasNcf = await _exists(`${NCF_PREFIX}.test.negative`);
if (!hasNcf) console.log(`Skipping the real NCF split test: ${NCF_PREFIX}.* is absent`);

async function _exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Writes a split under a temp folder and returns its prefix. */
async function split(dir: string, train: string, test: string, negative: string): Promise<string> {
  const prefix = `${dir}/s`;
  const paths = ncfFilePaths(prefix);
  await Deno.writeTextFile(paths.train, train);
  await Deno.writeTextFile(paths.test, test);
  await Deno.writeTextFile(paths.negative, negative);
  return prefix;
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const TRAIN = "0\t3\t5\t1\n0\t1\t4\t2\n0\t3\t4\t3\n1\t1\t3\t3\n2\t0\t1\t1\n";
const TEST = "0\t2\t5\t9\n1\t0\t1\t9\n2\t4\t2\t9\n";

Deno.test("readNcfFiles() reads a split as given, with repeated candidates once and no held-out negative", () =>
  withDir(async (dir) => {
    const negative = [
      "(0,2)\t4\t5\t4\t6", // 4 repeated: 3 negatives
      "(1,0)\t2\t0\t3\t7", // held-out 0 listed: 3 negatives
      "(2,4)\t1\t2\t3\t9", // the largest item id appears only here
    ].join("\r\n");
    const ds = await readNcfFiles(await split(dir, TRAIN, TEST, negative + "\r\n\n"));
    assert.equal(ds.numUsers, 3);
    assert.equal(ds.numItems, 10);
    assert.deepEqual(ds.userIds, Float64Array.of(0, 1, 2));
    assert.deepEqual(ds.itemIds, Float64Array.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9));
    assert.deepEqual(Array.from(ds.trainOffsets), [0, 2, 3, 4]);
    assert.deepEqual(Array.from(ds.trainItems), [1, 3, 1, 0]); // user 0's item 3 once, ascending
    assert.deepEqual(Array.from(ds.evalItems), [2, 0, 4]);
    assert.deepEqual(Array.from(ds.evalNegOffsets), [0, 3, 6, 10]);
    assert.deepEqual(Array.from(ds.evalNegatives), [4, 5, 6, 2, 3, 7, 1, 2, 3, 9]);
    assert.equal(ds.numEvalCappedUsers, 2);
  }));

Deno.test("readNcfFiles() accepts negative lines in any user order", () =>
  withDir(async (dir) => {
    const negative = "(2,4)\t1\n(0,2)\t4\n(1,0)\t3\n";
    const ds = await readNcfFiles(await split(dir, TRAIN, TEST, negative));
    assert.deepEqual(Array.from(ds.evalNegatives), [4, 3, 1]);
    assert.equal(ds.numEvalCappedUsers, 0);
  }));

Deno.test("readNcfFiles() names the file and line at fault", async (t) => {
  const good = "(0,2)\t4\n(1,0)\t3\n(2,4)\t1\n";
  const cases: [string, string, string, string, (dir: string) => string][] = [
    [
      "a second test row for a user",
      TRAIN,
      TEST + "1\t5\t1\t9\n",
      good,
      (d) =>
        `Cannot parse ratings: ${d}/s.test.rating:4: user 1 has a second test row (the first is on line 2)`,
    ],
    [
      "a user without a test row",
      TRAIN + "3\t1\t1\t1\n",
      TEST,
      good,
      (d) =>
        `Cannot read NCF split: user 3 has no row in ${d}/s.test.rating (users must be 0..3, each with one test row)`,
    ],
    [
      "a user without a negatives line",
      TRAIN,
      TEST,
      "(0,2)\t4\n(2,4)\t1\n",
      (d) => `Cannot read NCF split: user 1 has no line in ${d}/s.test.negative`,
    ],
    [
      "a second negatives line for a user",
      TRAIN,
      TEST,
      good + "(1,0)\t5\n",
      (d) =>
        `Cannot parse NCF negatives: ${d}/s.test.negative:4: user 1 has a second line (the first is line 2)`,
    ],
    [
      "a (user,item) that is not the test row",
      TRAIN,
      TEST,
      "(0,2)\t4\n(1,3)\t5\n(2,4)\t1\n",
      (d) =>
        `Cannot parse NCF negatives: ${d}/s.test.negative:2: (1,3) is not user 1's test row (item 0 at ${d}/s.test.rating:2)`,
    ],
    [
      "a line without parentheses",
      TRAIN,
      TEST,
      "(0,2)\t4\n1,0\t5\n",
      (d) =>
        `Cannot parse NCF negatives: ${d}/s.test.negative:2: expected "(user,item)" at the start, found "1,0\\t5"`,
    ],
    [
      "an unclosed parenthesis",
      TRAIN,
      TEST,
      "(0,2\t4\n",
      (d) =>
        `Cannot parse NCF negatives: ${d}/s.test.negative:1: expected ")" after the item id, found "\\t4"`,
    ],
    [
      "a candidate that is not an id",
      TRAIN,
      TEST,
      "(0,2)\t4\n(1,0)\t5\tx7\n",
      (d) =>
        `Cannot parse NCF negatives: ${d}/s.test.negative:2: candidate item id "x7" is not a dense id (an integer in [0, 2147483646])`,
    ],
    [
      "a binary byte",
      TRAIN,
      TEST,
      "(0,2)\t4\0\n",
      (d) => `Cannot parse NCF negatives: ${d}/s.test.negative:1: binary byte 0x00 at column 8`,
    ],
    [
      "a blank line before more data",
      TRAIN,
      TEST,
      "(0,2)\t4\n\n(1,0)\t5\n",
      (d) =>
        `Cannot parse NCF negatives: ${d}/s.test.negative:2: blank line before more data (only trailing blank lines are allowed)`,
    ],
    [
      "an empty negatives file",
      TRAIN,
      TEST,
      "",
      (d) => `Cannot parse NCF negatives: ${d}/s.test.negative: no data lines`,
    ],
    [
      "a negative id in a rating file",
      TRAIN + "-1\t2\t3\t4\n",
      TEST,
      good,
      (d) =>
        `Cannot parse ratings: ${d}/s.train.rating:6: user id -1 is not a dense id in [0, 2147483646]`,
    ],
  ];
  for (const [name, train, test, negative, message] of cases) {
    await t.step(name, () =>
      withDir(async (dir) => {
        const prefix = await split(dir, train, test, negative);
        await assert.rejects(() => readNcfFiles(prefix), (e: unknown) => {
          assert.ok(e instanceof SyntaxError, `${e}`);
          assert.equal(e.message, message(dir));
          return true;
        });
      }));
  }
});

Deno.test("readNcfFiles() throws NotFound naming the missing files and the three expected", async (t) => {
  const cases: [string, string[], (dir: string) => string][] = [
    ["the negatives", ["s.test.negative"], (d) => `${d}/s.test.negative does not exist`],
    [
      "two files",
      ["s.train.rating", "s.test.rating"],
      (d) => `${d}/s.train.rating and ${d}/s.test.rating do not exist`,
    ],
  ];
  for (const [name, remove, missing] of cases) {
    await t.step(name, () =>
      withDir(async (dir) => {
        const prefix = await split(dir, TRAIN, TEST, "(0,2)\t4\n");
        for (const file of remove) await Deno.remove(`${dir}/${file}`);
        await assert.rejects(() => readNcfFiles(prefix), (e: unknown) => {
          assert.ok(e instanceof Deno.errors.NotFound, `${e}`);
          assert.equal(
            e.message,
            `Cannot read the NCF split ${prefix}: ${
              missing(dir)
            } (expected ${prefix}.train.rating, ${prefix}.test.rating and ${prefix}.test.negative; the prefix is the files' path without these suffixes, or the path of any of them)`,
          );
          return true;
        });
      }));
  }
});

Deno.test("readNcfFiles() given a folder names the splits inside it", () =>
  withDir(async (dir) => {
    await split(dir, TRAIN, TEST, "(0,2)\t4\n");
    await assert.rejects(() => readNcfFiles(dir), (e: unknown) => {
      assert.ok(e instanceof Deno.errors.NotFound, `${e}`);
      assert.equal(
        e.message,
        `Cannot read the NCF split ${dir}: none of its files exists (expected ${dir}.train.rating, ${dir}.test.rating and ${dir}.test.negative; ${dir} is a folder: give the prefix of a split inside it, here ${dir}/s)`,
      );
      return true;
    });
  }));

Deno.test("ncfFilePaths() takes the prefix or the path of any of the three files", async (t) => {
  const expected = {
    prefix: "d/ml-1m",
    train: "d/ml-1m.train.rating",
    test: "d/ml-1m.test.rating",
    negative: "d/ml-1m.test.negative",
  };
  for (
    const path of [
      "d/ml-1m",
      ...["train.rating", "test.rating", "test.negative"].map((s) => `d/ml-1m.${s}`),
    ]
  ) {
    await t.step(path, () => assert.deepEqual(ncfFilePaths(path), expected));
  }
  await t.step("a bare suffix stays a prefix", () => {
    assert.equal(ncfFilePaths(".test.rating").train, ".test.rating.train.rating");
  });
});

Deno.test("readNcfFiles() reads the split named by any of its files", () =>
  withDir(async (dir) => {
    const prefix = await split(dir, TRAIN, TEST, "(0,2)\t4\n(1,0)\t3\n(2,4)\t1\n");
    const expected = await readNcfFiles(prefix);
    assert.deepEqual(await readNcfFiles(`${prefix}.test.negative`), expected);
    assert.deepEqual(await readNcfFiles(`${prefix}.train.rating`), expected);
  }));

Deno.test({
  name: "readNcfFiles() reads the real NCF ml-1m split",
  ignore: !hasNcf,
  fn: async () => {
    const ds = await readNcfFiles(NCF_PREFIX);
    assert.equal(ds.numUsers, 6040);
    assert.equal(ds.numItems, 3706);
    assert.equal(ds.trainItems.length, 994_161);
    // 99 candidates a line; 156 lines list the held-out item itself.
    assert.equal(ds.numEvalCappedUsers, 156);
    assert.equal(ds.evalNegatives.length, 6040 * 99 - 156);
    for (let u = 0; u < ds.numUsers; u++) {
      const negatives = ds.evalNegatives.subarray(ds.evalNegOffsets[u], ds.evalNegOffsets[u + 1]);
      assert.ok(!negatives.includes(ds.evalItems[u]));
      assert.equal(new Set(negatives).size, negatives.length);
    }
  },
});

Deno.test("readNcfFiles({ validation }) holds out the latest row, and a seeded pick among rows tied at the latest timestamp", () =>
  withDir(async (dir) => {
    // 300 users rate items 0..9, all at t = 0 (as in the NCF files), except
    // user 0, whose item 4 is the only one at t = 7; tests are item 10.
    const numUsers = 300;
    const train: string[] = [];
    const test: string[] = [];
    const negative: string[] = [];
    for (let u = 0; u < numUsers; u++) {
      for (let i = 0; i < 10; i++) train.push(`${u}\t${i}\t5\t${u === 0 && i === 4 ? 7 : 0}`);
      test.push(`${u}\t10\t5\t9`);
      negative.push(`(${u},10)\t11\t12`);
    }
    const prefix = await split(dir, train.join("\n"), test.join("\n"), negative.join("\n"));
    const read = (seed: number) => readNcfFiles(prefix, { validation: true, seed });
    const a = (await read(1)).validation!.items;
    const again = (await read(1)).validation!.items;
    const b = (await read(2)).validation!.items;
    assert.equal(a[0], 4, "the one latest row wins");
    assert.deepEqual(again, a, "the same seed picks the same rows");
    assert.notDeepEqual(b, a, "another seed picks others");
    const counts = new Array(10).fill(0);
    for (let u = 1; u < numUsers; u++) counts[a[u]]++;
    // Uniform among the 10 tied rows: 29.9 each on average; the last row
    // in the file (item 9) is not favoured.
    for (const [item, n] of counts.entries()) {
      assert.ok(n >= 12 && n <= 50, `item ${item} picked ${n} times of ${numUsers - 1}`);
    }
  }));
