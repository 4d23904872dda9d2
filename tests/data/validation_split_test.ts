import assert from "node:assert/strict";
import { preprocess } from "../../lib/data/preprocess.ts";
import { generateSynthetic } from "../../lib/data/synthetic.ts";
import { loadDataset } from "../../lib/data/load_dataset.ts";
import { evaluationView, withExtraItem } from "../../lib/data/validation_split.ts";
import type { Dataset } from "../../lib/data/types.ts";

const NCF = new URL("../../../shared/datasets/ncf-ml-1m/ml-1m", import.meta.url).pathname;
const hasNcf = await Deno.stat(`${NCF}.train.rating`).then(() => true, () => false);
if (!hasNcf) console.log(`Skipping the ncf validation test: ${NCF}.train.rating is absent`);

function trainRow(ds: Dataset, u: number): Set<number> {
  return new Set(ds.trainItems.subarray(ds.trainOffsets[u], ds.trainOffsets[u + 1]));
}

/** The split's invariants, user by user. */
function checkInvariants(ds: Dataset) {
  const v = ds.validation!;
  for (let u = 0; u < ds.numUsers; u++) {
    const train = trainRow(ds, u);
    const test = ds.evalItems[u];
    const valid = v.items[u];
    assert.notEqual(valid, test, `user ${u}: validation and test items differ`);
    assert.ok(!train.has(test) && !train.has(valid), `user ${u}: neither is in training`);
    for (let k = ds.evalNegOffsets[u]; k < ds.evalNegOffsets[u + 1]; k++) {
      const n = ds.evalNegatives[k];
      assert.ok(!train.has(n) && n !== test && n !== valid, `user ${u}: test negative ${n}`);
    }
    for (let k = v.negOffsets[u]; k < v.negOffsets[u + 1]; k++) {
      const n = v.negatives[k];
      assert.ok(!train.has(n) && n !== test && n !== valid, `user ${u}: validation negative ${n}`);
    }
  }
}

Deno.test("--validation holds out each user's second-latest interaction, never trained on or ranked as a negative", () => {
  const raw = generateSynthetic({ seed: 3, numUsers: 80, numItems: 120 });
  const plain = preprocess(raw, { minRatings: 3, numEvalNegatives: 30, seed: 5 });
  const ds = preprocess(raw, { minRatings: 3, numEvalNegatives: 30, seed: 5, validation: true });
  assert.equal(plain.validation, undefined);
  assert.equal(ds.numUsers, plain.numUsers);
  assert.deepEqual(ds.evalItems, plain.evalItems, "the test item is still the latest");
  assert.equal(ds.trainItems.length, plain.trainItems.length - ds.numUsers);
  for (let u = 0; u < ds.numUsers; u++) {
    const lost = [...trainRow(plain, u)].filter((i) => !trainRow(ds, u).has(i));
    assert.deepEqual(lost, [ds.validation!.items[u]], `user ${u} lost exactly its validation item`);
  }
  checkInvariants(ds);
});

Deno.test("the validation item is the second-latest by timestamp, ties to the later row", () => {
  const raw = {
    users: Float64Array.of(1, 1, 1, 1, 2, 2, 2, 3, 3, 3),
    items: Float64Array.of(10, 20, 30, 40, 10, 20, 30, 50, 60, 70),
    timestamps: Float64Array.of(5, 9, 7, 7, 1, 2, 2, 1, 2, 3),
    length: 10,
  };
  const ds = preprocess(raw, { minRatings: 2, numEvalNegatives: 0, seed: 1, validation: true });
  // user 1: test 20 (t=9); of 30 and 40 at t=7, the later row (40) is validation.
  assert.deepEqual([ds.itemIds[ds.evalItems[0]], ds.itemIds[ds.validation!.items[0]]], [20, 40]);
  // user 2: 20 and 30 tie at t=2: the later row (30) is test, 20 validation.
  assert.deepEqual([ds.itemIds[ds.evalItems[1]], ds.itemIds[ds.validation!.items[1]]], [30, 20]);
});

Deno.test("users with fewer than 3 items are dropped under --validation", () => {
  const raw = {
    users: Float64Array.of(1, 1, 2, 2, 2, 3, 3, 3),
    items: Float64Array.of(10, 20, 10, 20, 30, 40, 50, 60),
    timestamps: Float64Array.of(1, 2, 1, 2, 3, 1, 2, 3),
    length: 8,
  };
  const ds = preprocess(raw, { minRatings: 2, numEvalNegatives: 0, seed: 1, validation: true });
  assert.deepEqual([...ds.userIds], [2, 3]);
});

Deno.test("evaluation views count the other held-out item as an interaction", () => {
  const raw = generateSynthetic({ seed: 4, numUsers: 30, numItems: 60 });
  const ds = preprocess(raw, { minRatings: 3, numEvalNegatives: 10, seed: 2, validation: true });
  const test = evaluationView(ds, "test");
  const valid = evaluationView(ds, "validation");
  for (let u = 0; u < ds.numUsers; u++) {
    assert.ok(trainRow(test, u).has(ds.validation!.items[u]));
    assert.ok(trainRow(valid, u).has(ds.evalItems[u]));
    assert.equal(valid.evalItems[u], ds.validation!.items[u]);
  }
  assert.equal(
    evaluationView(preprocess(raw, { minRatings: 3, seed: 2, numEvalNegatives: 10 }), "test")
      .validation,
    undefined,
  );
  assert.throws(() => evaluationView({ ...ds, validation: undefined }, "validation"), RangeError);
});

Deno.test("withExtraItem() keeps rows ascending and never repeats an item", () => {
  const { offsets, items } = withExtraItem(
    Int32Array.of(0, 3, 3, 5),
    Int32Array.of(2, 4, 6, 1, 9),
    Int32Array.of(4, 0, 10),
  );
  assert.equal(offsets.join(), "0,3,4,7");
  assert.equal(items.join(), "2,4,6,0,1,9,10");
});

Deno.test({
  name: "the NCF split holds out each user's latest training row for validation",
  ignore: !hasNcf,
  fn: async () => {
    const plain = await loadDataset({ dataset: "ncf", ratingsFile: NCF, seed: 1 });
    const { dataset: ds, numInteractions } = await loadDataset({
      dataset: "ncf",
      ratingsFile: NCF,
      seed: 1,
      validation: true,
    });
    assert.equal(ds.trainItems.length, plain.dataset.trainItems.length - ds.numUsers);
    assert.equal(numInteractions, plain.numInteractions);
    assert.deepEqual(ds.evalNegatives, plain.dataset.evalNegatives, "the paper's test negatives");
    assert.equal(ds.validation!.negOffsets[1], 99);
    checkInvariants(ds);
  },
});
