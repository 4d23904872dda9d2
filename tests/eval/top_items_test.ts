import assert from "node:assert/strict";
import fc from "fast-check";
import { TopItems } from "../../lib/eval/_top_items.ts";

/** The best `k` by sorting: score descending (NaN as −∞), then item ascending. */
function sortedBest(pairs: [number, number][], k: number): number[] {
  const key = (s: number) => (Number.isNaN(s) ? -Infinity : s);
  return [...pairs].sort((a, b) => key(b[0]) - key(a[0]) || a[1] - b[1]).slice(0, k).map((p) =>
    p[1]
  );
}

Deno.test("TopItems keeps what a full sort would put first, in any offer order", () => {
  const score = fc.oneof(
    { arbitrary: fc.integer({ min: -2, max: 2 }), weight: 10 },
    { arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, 0.5), weight: 1 },
  );
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.tuple(score, fc.integer({ min: 0, max: 500 })), {
        selector: (p) => p[1],
        maxLength: 60,
      }),
      fc.integer({ min: 1, max: 12 }),
      (pairs, k) => {
        const top = new TopItems(12);
        for (let round = 0; round < 2; round++) { // reused after reset
          top.reset(k);
          for (const [s, i] of pairs) top.offer(s, i);
          assert.equal(top.size, Math.min(k, pairs.length));
          assert.deepEqual([...top.sorted()], sortedBest(pairs, k));
        }
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("TopItems' threshold is −∞ until it is full, then the worst kept score", () => {
  const top = new TopItems(3);
  top.reset(2);
  assert.equal(top.threshold, -Infinity);
  top.offer(5, 1);
  assert.equal(top.threshold, -Infinity);
  top.offer(7, 2);
  assert.equal(top.threshold, 5);
  top.offer(6, 3);
  assert.equal(top.threshold, 6);
  top.offer(6, 0); // the same score with a lower id replaces the worst
  assert.deepEqual([...top.sorted()], [2, 0]);
});

Deno.test("TopItems refuses a capacity or k it cannot hold", () => {
  assert.throws(() => new TopItems(0), /expected an integer ≥ 1/);
  const top = new TopItems(4);
  assert.throws(() => top.reset(5), /expected 1\.\.4/);
  assert.throws(() => top.reset(0), /expected 1\.\.4/);
});
