import assert from "node:assert/strict";
import { ItemSimilarity } from "../../lib/serve/item_similarity.ts";
import { Prng } from "../../lib/random/prng.ts";

type Entry = ConstructorParameters<typeof ItemSimilarity>[0][number];

/** A tensor entry of `rows` × `rowLength` in `rowGroup`. */
function table(
  name: string,
  rowGroup: Entry["rowGroup"],
  rows: number,
  rowLength: number,
  values: Float32Array,
): Entry {
  return { name, rowGroup, shape: [rows, rowLength], rows, rowLength, values };
}

/** A table of normal-ish random values in [-1, 1). */
function randomTable(name: string, rows: number, rowLength: number, prng: Prng): Entry {
  const values = Float32Array.from({ length: rows * rowLength }, () => 2 * prng.nextFloat() - 1);
  return table(name, "item", rows, rowLength, values);
}

/** Every other item's cosine with `item` over the concatenated rows, in float64, best first. */
function bruteForce(tables: Entry[], item: number): { item: number; cosine: number }[] {
  const vector = (i: number) =>
    tables.flatMap((e) => Array.from(e.values.subarray(i * e.rowLength, (i + 1) * e.rowLength)));
  const a = vector(item);
  const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  const out = [];
  for (let i = 0; i < tables[0].rows; i++) {
    if (i === item) continue;
    const b = vector(i);
    const dot = a.reduce((s, x, j) => s + x * b[j], 0);
    out.push({ item: i, cosine: dot / (norm(a) * norm(b)) });
  }
  return out.sort((x, y) => y.cosine - x.cosine || x.item - y.item);
}

Deno.test("ItemSimilarity.similar() agrees with a brute-force cosine on random embeddings", async (t) => {
  const prng = new Prng(2024);
  const numItems = 40;
  const tables = [
    randomTable("gmf_item", numItems, 5, prng),
    randomTable("mlp_item", numItems, 3, prng),
  ];
  // A user table and an item bias are not part of the item vectors.
  const entries = [
    table("user_embedding", "user", 7, 5, new Float32Array(35).fill(1)),
    ...tables,
    {
      ...table("item_bias", "item", numItems, 1, new Float32Array(numItems).fill(100)),
      shape: [numItems],
    },
  ];
  const similarity = new ItemSimilarity(entries);
  for (const item of [0, 17, numItems - 1]) {
    await t.step(`item ${item}'s top 10 are the brute force's, cosines within 1e-5`, () => {
      const { items, scores } = similarity.similar(item, 10);
      const expected = bruteForce(tables, item).slice(0, 10);
      assert.equal(items.length, 10);
      assert.equal(scores.length, 10);
      for (let r = 0; r < 10; r++) {
        assert.ok(
          Math.abs(scores[r] - expected[r].cosine) < 1e-5,
          `rank ${r}: ${scores[r]} vs ${expected[r].cosine}`,
        );
      }
      // Ranks can only swap where cosines agree to float32 rounding.
      for (let r = 0; r < 10; r++) {
        if (items[r] !== expected[r].item) {
          const other = expected.find((e) => e.item === items[r]);
          assert.ok(other !== undefined && Math.abs(other.cosine - expected[r].cosine) < 1e-6);
        }
      }
    });
  }
  await t.step("the item itself is never among its similar items, even for k = all", () => {
    for (let item = 0; item < numItems; item++) {
      const { items, scores } = similarity.similar(item, numItems + 5);
      assert.equal(items.length, numItems - 1);
      assert.ok(!items.includes(item));
      assert.equal(new Set(items).size, numItems - 1);
      for (let r = 1; r < scores.length; r++) assert.ok(scores[r - 1] >= scores[r]);
      for (const s of scores) assert.ok(s >= -1 - 1e-6 && s <= 1 + 1e-6);
    }
  });
});

Deno.test("ItemSimilarity.similar() bounds k by the other items", async (t) => {
  const prng = new Prng(5);
  const similarity = new ItemSimilarity([randomTable("item_embedding", 6, 4, prng)]);
  const cases: [number, number][] = [[0, 0], [1, 1], [3, 3], [5, 5], [6, 5], [1000, 5]];
  for (const [k, length] of cases) {
    await t.step(`k = ${k} gives ${length} items`, () => {
      assert.equal(similarity.similar(2, k).items.length, length);
    });
  }
  await t.step("a catalogue of one item has no similar item", () => {
    const one = new ItemSimilarity([table("item_embedding", "item", 1, 2, Float32Array.of(1, 2))]);
    assert.equal(one.similar(0, 10).items.length, 0);
  });
  await t.step("a negative or fractional k is a RangeError", () => {
    assert.throws(() => similarity.similar(2, -1), RangeError);
    assert.throws(() => similarity.similar(2, 1.5), RangeError);
  });
  for (const item of [-1, 6, 1.5, Number.NaN]) {
    await t.step(`item ${item} is out of range: a RangeError naming 0..5`, () => {
      assert.throws(
        () => similarity.similar(item, 3),
        new RangeError(`Cannot compare item ${item}: expected 0..5`),
      );
    });
  }
});

Deno.test("ItemSimilarity.similar() breaks ties by dense id and scores by cosine", async (t) => {
  // Items 1, 3 and 4 point the same way as item 0 (at different lengths); 2 is orthogonal; 5 opposite.
  const values = Float32Array.of(1, 1, 2, 2, 0, 1, 4, 4, 0.5, 0.5, -2, -2);
  const similarity = new ItemSimilarity([table("item_embedding", "item", 6, 2, values)]);
  await t.step("equal cosines come in ascending dense id", () => {
    const { items, scores } = similarity.similar(0, 5);
    assert.deepEqual([...items], [1, 3, 4, 2, 5]);
    const expected = [1, 1, 1, Math.SQRT1_2, -1];
    for (let r = 0; r < 5; r++) assert.ok(Math.abs(scores[r] - expected[r]) < 1e-6);
  });
  await t.step("a zero vector has cosine 0 with everything", () => {
    const withZero = new ItemSimilarity([
      table("item_embedding", "item", 3, 2, Float32Array.of(0, 0, 1, 0, -1, 0)),
    ]);
    const { items, scores } = withZero.similar(0, 2);
    assert.deepEqual([...items], [1, 2]);
    assert.deepEqual([...scores], [0, 0]);
    const other = withZero.similar(1, 2);
    assert.deepEqual([...other.items], [0, 2]);
    assert.deepEqual([...other.scores], [0, -1]);
  });
});

Deno.test("ItemSimilarity needs an item embedding table", () => {
  assert.throws(
    () =>
      new ItemSimilarity([
        table("user_embedding", "user", 2, 2, new Float32Array(4)),
        { ...table("item_bias", "item", 2, 1, new Float32Array(2)), shape: [2] },
      ]),
    new RangeError("Cannot compare items: the model has no item embedding table"),
  );
});
