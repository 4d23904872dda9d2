import assert from "node:assert/strict";
import { SettingError } from "../../lib/errors.ts";
import { preprocess } from "../../lib/data/preprocess.ts";
import type { RawIds } from "../../lib/data/raw_ids.ts";
import type { Dataset, RawInteractions } from "../../lib/data/types.ts";

/** Raw interactions from [user, item, timestamp] rows. */
function raw(rows: number[][]): RawInteractions {
  return {
    users: Float64Array.from(rows, (r) => r[0]),
    items: Float64Array.from(rows, (r) => r[1]),
    timestamps: Float64Array.from(rows, (r) => r[2]),
    length: rows.length,
  };
}

type Id = number | string;

function list(ids: RawIds): Id[] {
  return Array.from(ids as ArrayLike<Id>);
}

/** Each user's [raw user, raw held-out item, raw training items]. */
function byUser(ds: Dataset): [Id, Id, Id[]][] {
  const out: [Id, Id, Id[]][] = [];
  for (let u = 0; u < ds.numUsers; u++) {
    const train = Array.from(ds.trainItems.subarray(ds.trainOffsets[u], ds.trainOffsets[u + 1]));
    out.push([ds.userIds[u], ds.itemIds[ds.evalItems[u]], train.map((i) => ds.itemIds[i])]);
  }
  return out;
}

const opts = { minRatings: 2, numEvalNegatives: 0, seed: 1 };

Deno.test("preprocess() holds out each user's latest interaction", () => {
  const ds = preprocess(raw([[1, 10, 5], [1, 20, 9], [1, 30, 1], [2, 10, 3], [2, 40, 2]]), opts);
  assert.deepEqual(byUser(ds), [[1, 20, [10, 30]], [2, 10, [40]]]);
});

Deno.test("preprocess() holds out the later row among equal timestamps", () => {
  const ds = preprocess(raw([[1, 30, 7], [1, 10, 7], [1, 20, 1], [2, 5, 4], [2, 6, 4]]), opts);
  assert.deepEqual(byUser(ds), [[1, 10, [20, 30]], [2, 6, [5]]]);
});

Deno.test("preprocess() keeps the latest of duplicate (user, item) rows", async (t) => {
  const other = [[2, 40, 1], [2, 50, 2]]; // so that user 1 does not have every item
  await t.step("the largest timestamp wins, even from an earlier row", () => {
    // Keeping item 10's last row (t=1) would hold out item 30 instead.
    const ds = preprocess(raw([[1, 10, 5], [1, 20, 3], [1, 10, 1], [1, 30, 4], ...other]), opts);
    assert.deepEqual(byUser(ds)[0], [1, 10, [20, 30]]);
    assert.equal(ds.trainOffsets[1], 2);
  });
  await t.step("among equal timestamps the later row wins", () => {
    // Keeping item 10's first row (row 0) would hold out item 20 (row 1).
    const ds = preprocess(raw([[1, 10, 5], [1, 20, 5], [1, 10, 5], ...other]), opts);
    assert.deepEqual(byUser(ds)[0], [1, 10, [20]]);
  });
});

Deno.test("preprocess() drops users with fewer than minRatings distinct items", () => {
  const rows = [
    [1, 1, 1],
    [1, 2, 2],
    [1, 3, 3], // 3 distinct: kept
    [2, 1, 1],
    [2, 2, 2],
    [2, 2, 3],
    [2, 1, 4], // 4 rows, 2 distinct: dropped
    [3, 4, 1],
    [3, 5, 2],
    [3, 6, 3],
    [3, 7, 4],
  ];
  const ds = preprocess(raw(rows), { ...opts, minRatings: 3 });
  assert.deepEqual(list(ds.userIds), [1, 3]);
  assert.equal(ds.numItems, 7);
  assert.equal(ds.trainItems.length + ds.numUsers, 7);
  assert.throws(() => preprocess(raw(rows), { ...opts, minRatings: 1 }), RangeError);
  assert.throws(() => preprocess(raw(rows), { ...opts, minRatings: 9 }), {
    name: "RangeError",
    message: /no user is left/,
  });
});

Deno.test("preprocess() remaps raw ids to dense ids in ascending raw order", async (t) => {
  const big = Number.MAX_SAFE_INTEGER;
  // Users 0..2 rate items 0..2 (the last one latest); user 3 rates items 0 and 3.
  const cases: [string, number[], number[]][] = [
    ["small ids (lookup table)", [50, 3, 7, 8], [900, 100, 5, 6]],
    ["negative ids", [-4, 0, -9, -1], [-1, -100, 3, 0]],
    ["ids up to 2^53 (sorted search)", [big, -big, 12, 0], [1e15, 2, -big, big]],
  ];
  for (const [name, users, items] of cases) {
    await t.step(name, () => {
      const rows: number[][] = [];
      for (let k = 0; k < 3; k++) {
        rows.push([users[k], items[0], 1 + k], [users[k], items[1], 10 + k], [
          users[k],
          items[2],
          20 + k,
        ]);
      }
      rows.push([users[3], items[0], 1], [users[3], items[3], 2]);
      const ds = preprocess(raw(rows), opts);
      const ascending = (a: number, b: number) => a - b;
      assert.deepEqual(list(ds.userIds), [...users].sort(ascending));
      assert.deepEqual(list(ds.itemIds), [...items].sort(ascending));
      const train = [items[0], items[1]].sort(ascending);
      for (const [user, held, trainItems] of byUser(ds)) {
        if (user === users[3]) {
          assert.deepEqual([held, trainItems], [items[3], [items[0]]]);
        } else {
          assert.deepEqual([held, trainItems], [items[2], train]);
        }
      }
    });
  }
});

Deno.test("preprocess() counts an item seen only as a held-out item", () => {
  const ds = preprocess(raw([[1, 1, 1], [1, 2, 2], [2, 1, 1], [2, 3, 2]]), opts);
  assert.equal(ds.numItems, 3);
  assert.deepEqual(Array.from(ds.trainItems), [0, 0]);
});

Deno.test("preprocess() drops, with a warning, a user who interacted with every item", async (t) => {
  await t.step("once", () => {
    const warnings: string[] = [];
    const rows = [[7, 1, 1], [7, 2, 2], [7, 3, 3], [8, 1, 1], [8, 2, 2], [9, 2, 1], [9, 3, 2]];
    const ds = preprocess(raw(rows), { ...opts, onWarning: (m) => warnings.push(m) });
    assert.deepEqual(list(ds.userIds), [8, 9]);
    assert.equal(ds.numItems, 3);
    assert.deepEqual(warnings, [
      "Dropping user 7: it interacted with all 3 items, so it has no possible negative",
    ]);
  });
  await t.step("until stable, remapping the items", () => {
    const warnings: string[] = [];
    const rows = [
      [1, 10, 1],
      [1, 20, 2],
      [1, 30, 3],
      [1, 40, 4], // all 4 items
      [2, 10, 1],
      [2, 20, 2],
      [2, 30, 3], // all 3 items left once user 1 is gone
      [3, 10, 1],
      [3, 20, 2],
      [4, 20, 1],
      [4, 30, 2],
    ];
    const ds = preprocess(raw(rows), { ...opts, onWarning: (m) => warnings.push(m) });
    assert.deepEqual(list(ds.userIds), [3, 4]);
    assert.deepEqual(list(ds.itemIds), [10, 20, 30]);
    assert.equal(warnings.length, 2);
    assert.match(warnings[1], /^Dropping user 2: it interacted with all 3 items/);
  });
});

Deno.test("preprocess() refuses more evaluation negatives than any user could get", () => {
  const rows = [[1, 1, 1], [1, 2, 2], [2, 3, 1], [2, 4, 2], [2, 5, 3]];
  assert.equal(preprocess(raw(rows), { ...opts, numEvalNegatives: 3 }).numItems, 5);
  assert.throws(() => preprocess(raw(rows), { ...opts, numEvalNegatives: 4 }), (e: unknown) => {
    assert.ok(e instanceof SettingError);
    assert.equal(e.setting, "num_eval_negatives");
    assert.equal(
      e.message,
      "Cannot draw 4 evaluation negatives per user: the data set has only 5 items, so at most 3",
    );
    return true;
  });
  assert.throws(() => preprocess(raw(rows), { ...opts, numEvalNegatives: -1 }), RangeError);
});

Deno.test("preprocess() produces consistent CSR arrays and evaluation negatives", () => {
  // 300 users over 500 items, random rows with duplicates.
  let x = 99;
  const next = (n: number) => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8) % n;
  const rows: number[][] = [];
  for (let r = 0; r < 20_000; r++) rows.push([next(300) * 3 + 1, next(500) + 1000, next(1000)]);
  const ds = preprocess(raw(rows), { minRatings: 20, numEvalNegatives: 50, seed: 3 });
  assert.equal(ds.trainOffsets.length, ds.numUsers + 1);
  assert.equal(ds.trainOffsets[ds.numUsers], ds.trainItems.length);
  assert.equal(ds.evalNegOffsets[ds.numUsers], ds.evalNegatives.length);
  for (let u = 0; u < ds.numUsers; u++) {
    const train = ds.trainItems.subarray(ds.trainOffsets[u], ds.trainOffsets[u + 1]);
    assert.ok(train.length >= 19);
    for (let k = 1; k < train.length; k++) assert.ok(train[k - 1] < train[k]);
    assert.ok(!train.includes(ds.evalItems[u]));
    const negatives = ds.evalNegatives.subarray(ds.evalNegOffsets[u], ds.evalNegOffsets[u + 1]);
    assert.equal(negatives.length, 50);
    assert.equal(new Set(negatives).size, 50);
    for (const n of negatives) {
      assert.ok(!train.includes(n) && n !== ds.evalItems[u] && n < ds.numItems);
    }
  }
});

/** Raw interactions with string ids: [user, item, timestamp] rows, names coded by first appearance. */
function named(rows: [string, string, number][]): RawInteractions {
  const userNames: string[] = [];
  const itemNames: string[] = [];
  const code = (names: string[], name: string) => {
    const at = names.indexOf(name);
    return at >= 0 ? at : names.push(name) - 1;
  };
  return {
    users: Float64Array.from(rows, (r) => code(userNames, r[0])),
    items: Float64Array.from(rows, (r) => code(itemNames, r[1])),
    timestamps: Float64Array.from(rows, (r) => r[2]),
    length: rows.length,
    userNames,
    itemNames,
  };
}

Deno.test("preprocess() keeps string ids as strings, dense in code-unit order", () => {
  const rows: [string, string, number][] = [
    ["u9", "Zeta", 1],
    ["u9", "alpha", 2],
    ["u10", "alpha", 1],
    ["u10", "Émile", 3],
    ["u1", "Zeta", 5],
    ["u1", "😀", 4],
  ];
  const ds = preprocess(named(rows), opts);
  assert.deepEqual(ds.userIds, ["u1", "u10", "u9"]);
  assert.deepEqual(ds.itemIds, ["Zeta", "alpha", "Émile", "😀"]);
  assert.deepEqual(byUser(ds), [
    ["u1", "Zeta", ["😀"]],
    ["u10", "Émile", ["alpha"]],
    ["u9", "alpha", ["Zeta"]],
  ]);
});

Deno.test("preprocess() gives the same data set whatever order the string ids first appear in", () => {
  const rows: [string, string, number][] = [];
  for (let r = 0; r < 400; r++) rows.push([`user${(r * 7) % 23}`, `item${(r * 11) % 31}`, r]);
  const a = preprocess(named(rows), { ...opts, numEvalNegatives: 5 });
  const b = preprocess(named([...rows].reverse()), { ...opts, numEvalNegatives: 5 });
  assert.deepEqual(a, b);
});

Deno.test("preprocess() mixes a string user column with a numeric item column", () => {
  const raw: RawInteractions = {
    users: Float64Array.of(1, 1, 0, 0),
    items: Float64Array.of(30, 10, 10, 20),
    timestamps: Float64Array.of(1, 2, 1, 2),
    length: 4,
    userNames: ["b", "a"],
  };
  const ds = preprocess(raw, opts);
  assert.deepEqual(ds.userIds, ["a", "b"]);
  assert.ok(ds.itemIds instanceof Float64Array);
  assert.deepEqual(byUser(ds), [["a", 10, [30]], ["b", 20, [10]]]);
});

Deno.test("preprocess() keeps numeric ids in a Float64Array", () => {
  const ds = preprocess(raw([[1, 10, 1], [1, 20, 2], [2, 30, 1], [2, 20, 2]]), opts);
  assert.ok(ds.userIds instanceof Float64Array && ds.itemIds instanceof Float64Array);
});

Deno.test("preprocess() quotes a string id in its warning", () => {
  const warnings: string[] = [];
  const rows: [string, string, number][] = [
    ["all", "a", 1],
    ["all", "b", 2],
    ["all", "c", 3],
    ["x", "a", 1],
    ["x", "c", 2],
    ["y", "b", 1],
    ["y", "c", 2],
  ];
  preprocess(named(rows), { ...opts, onWarning: (m) => warnings.push(m) });
  assert.deepEqual(warnings, [
    `Dropping user "all": it interacted with all 3 items, so it has no possible negative`,
  ]);
});

Deno.test("preprocess() refuses string codes that do not index their names", async (t) => {
  const cases: [string, RawInteractions, string][] = [
    [
      "a code past the names",
      { ...named([["a", "x", 1], ["a", "y", 2]]), users: Float64Array.of(0, 1) },
      "Cannot preprocess ratings: row 2 has user code 1, not an index into the 1 user names",
    ],
    [
      "a fractional code",
      { ...named([["a", "x", 1], ["a", "y", 2]]), items: Float64Array.of(0, 0.5) },
      "Cannot preprocess ratings: row 2 has item code 0.5, not an index into the 2 item names",
    ],
    [
      "a name twice",
      { ...named([["a", "x", 1], ["b", "y", 2]]), userNames: ["a", "a"] },
      `Cannot preprocess ratings: the user names list "a" twice`,
    ],
  ];
  for (const [name, input, message] of cases) {
    await t.step(name, () => {
      assert.throws(() => preprocess(input, opts), { name: "RangeError", message });
    });
  }
});
