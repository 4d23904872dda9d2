import assert from "node:assert/strict";
import fc from "fast-check";
import { topK } from "../../lib/serve/top_k.ts";

/** The top `k` positions by a full sort: score descending, position ascending. */
function fullSort(scores: ArrayLike<number>, k: number, count = scores.length): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  order.sort((a, b) => scores[b] - scores[a] || a - b);
  return order.slice(0, k);
}

Deno.test("topK() picks the same positions in the same order as a full sort", () => {
  // Scores drawn from few values too, so that ties are common.
  const scores = fc.oneof(
    fc.array(fc.float({ noNaN: true, noDefaultInfinity: false }), { maxLength: 200 }),
    fc.array(fc.integer({ min: -3, max: 3 }), { maxLength: 200 }),
  );
  fc.assert(
    fc.property(scores, fc.integer({ min: 0, max: 220 }), (values, k) => {
      const f32 = Float32Array.from(values);
      assert.deepEqual([...topK(f32, k)], fullSort(f32, k));
    }),
    { numRuns: 500 },
  );
});

Deno.test("topK() considers only the first count scores and reuses its output array", () => {
  fc.assert(
    fc.property(
      fc.array(fc.float({ noNaN: true }), { minLength: 1, maxLength: 100 }),
      fc.integer({ min: 0, max: 30 }),
      fc.nat(),
      (values, k, at) => {
        const scores = Float64Array.from(values);
        const count = at % (scores.length + 1);
        const out = new Int32Array(k + 3).fill(-7);
        const top = topK(scores, k, { count, out });
        assert.equal(top.buffer, out.buffer);
        assert.deepEqual([...top], fullSort(scores, k, count));
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("topK() on small cases", async (t) => {
  const cases: [string, number[], number, number[]][] = [
    ["no scores", [], 3, []],
    ["k of 0", [1, 2], 0, []],
    ["ties go to the earlier position", [5, 7, 7, 5, 7], 4, [1, 2, 4, 0]],
    ["negative and infinite scores", [-1, -Infinity, Infinity, 0], 3, [2, 3, 0]],
    ["k larger than the scores", [0.2, 0.9], 5, [1, 0]],
  ];
  for (const [name, scores, k, want] of cases) {
    await t.step(name, () => assert.deepEqual([...topK(scores, k)], want));
  }
});

Deno.test("topK() refuses a bad k, count or output array", async (t) => {
  const cases: [string, () => unknown, RegExp][] = [
    [
      "negative k",
      () => topK([1], -1),
      /Cannot select the top -1 scores: k must be an integer ≥ 0/,
    ],
    ["fractional k", () => topK([1], 0.5), /k must be an integer/],
    [
      "count past the scores",
      () => topK([1], 1, { count: 2 }),
      /Cannot select among 2 scores: there are 1/,
    ],
    [
      "a short output array",
      () => topK([1, 2], 2, { out: new Int32Array(1) }),
      /into an array of 1/,
    ],
  ];
  for (const [name, call, message] of cases) {
    await t.step(
      name,
      () => assert.throws(call, (e: Error) => e instanceof RangeError && message.test(e.message)),
    );
  }
});
