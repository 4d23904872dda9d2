import assert from "node:assert/strict";
import { type EvalNegativesInput, sampleEvalNegatives } from "../../lib/data/eval_negatives.ts";

/** A data set from each user's [training items, held-out item]. */
function input(numItems: number, users: [number[], number][]): EvalNegativesInput {
  const trainOffsets = new Int32Array(users.length + 1);
  const trainItems: number[] = [];
  users.forEach(([train], u) => {
    trainItems.push(...train);
    trainOffsets[u + 1] = trainItems.length;
  });
  return {
    numUsers: users.length,
    numItems,
    trainOffsets,
    trainItems: Int32Array.from(trainItems),
    evalItems: Int32Array.from(users, ([, held]) => held),
  };
}

/** 200 users over 300 items: light users (rejection) and heavy ones (partial shuffle). */
function mixed(): EvalNegativesInput {
  const users: [number[], number][] = [];
  for (let u = 0; u < 200; u++) {
    const size = u % 4 === 0 ? 220 : 5 + (u % 30);
    const train = Array.from({ length: size }, (_, k) => (u * 7 + k * 3) % 300)
      .filter((v, k, a) => a.indexOf(v) === k)
      .sort((a, b) => a - b);
    const held = [...Array(300).keys()].find((i) => !train.includes(i) && i % 5 === u % 5)!;
    users.push([train, held]);
  }
  return input(300, users);
}

Deno.test("sampleEvalNegatives() never returns a positive or the held-out item, nor a duplicate", () => {
  const data = mixed();
  const { evalNegOffsets, evalNegatives, numEvalCappedUsers } = sampleEvalNegatives(data, {
    numEvalNegatives: 60,
    seed: 5,
  });
  assert.equal(numEvalCappedUsers, 0);
  for (let u = 0; u < data.numUsers; u++) {
    const train = data.trainItems.subarray(data.trainOffsets[u], data.trainOffsets[u + 1]);
    const negatives = evalNegatives.subarray(evalNegOffsets[u], evalNegOffsets[u + 1]);
    assert.equal(negatives.length, 60);
    assert.equal(new Set(negatives).size, 60);
    for (const n of negatives) {
      assert.ok(n >= 0 && n < data.numItems);
      assert.ok(!train.includes(n), `user ${u}: ${n} is a training item`);
      assert.notEqual(n, data.evalItems[u]);
    }
  }
});

Deno.test("sampleEvalNegatives() is deterministic for a seed and differs for another seed", () => {
  const data = mixed();
  const a = sampleEvalNegatives(data, { numEvalNegatives: 40, seed: 11 });
  const b = sampleEvalNegatives(data, { numEvalNegatives: 40, seed: 11 });
  const c = sampleEvalNegatives(data, { numEvalNegatives: 40, seed: 12 });
  assert.deepEqual(a.evalNegatives, b.evalNegatives);
  assert.notDeepEqual(a.evalNegatives, c.evalNegatives);
});

Deno.test("sampleEvalNegatives() gives a user with too few candidates all of them and counts it", () => {
  const data = input(10, [
    [[0, 1, 2, 3, 4, 5], 9], // candidates 6, 7, 8: capped
    [[0, 1, 2, 3, 4], 5], // candidates 6..9: exactly 4, not capped
    [[0], 1], // plenty
  ]);
  const { evalNegOffsets, evalNegatives, numEvalCappedUsers } = sampleEvalNegatives(data, {
    numEvalNegatives: 4,
    seed: 1,
  });
  assert.deepEqual(Array.from(evalNegOffsets), [0, 3, 7, 11]);
  assert.deepEqual(Array.from(evalNegatives.subarray(0, 3)), [6, 7, 8]);
  assert.deepEqual(Array.from(evalNegatives.subarray(3, 7)).sort(), [6, 7, 8, 9]);
  assert.equal(numEvalCappedUsers, 1);
});

Deno.test("sampleEvalNegatives() handles a held-out item that is also a training item", () => {
  const data = input(5, [[[0, 1, 2], 2]]); // candidates 3, 4
  const { evalNegatives, numEvalCappedUsers } = sampleEvalNegatives(data, {
    numEvalNegatives: 3,
    seed: 1,
  });
  assert.deepEqual(Array.from(evalNegatives), [3, 4]);
  assert.equal(numEvalCappedUsers, 1);
});

Deno.test("sampleEvalNegatives() draws every candidate about equally often", async (t) => {
  // One user, items 0..9, positives 0 and 1: 8 candidates.
  const data = input(10, [[[0], 1]]);
  for (const [name, wanted] of [["rejection", 3], ["partial shuffle", 5]] as const) {
    await t.step(name, () => {
      const counts = new Array(10).fill(0);
      const seeds = 2000;
      for (let seed = 0; seed < seeds; seed++) {
        for (
          const n of sampleEvalNegatives(data, { numEvalNegatives: wanted, seed }).evalNegatives
        ) counts[n]++;
      }
      const expected = (seeds * wanted) / 8;
      assert.deepEqual(counts.slice(0, 2), [0, 0]);
      for (const c of counts.slice(2)) {
        assert.ok(Math.abs(c - expected) < 0.12 * expected, `${counts}`);
      }
    });
  }
});

Deno.test("sampleEvalNegatives() refuses a negative count", () => {
  assert.throws(() => sampleEvalNegatives(mixed(), { numEvalNegatives: -1, seed: 1 }), RangeError);
  assert.throws(() => sampleEvalNegatives(mixed(), { numEvalNegatives: 1.5, seed: 1 }), RangeError);
});
