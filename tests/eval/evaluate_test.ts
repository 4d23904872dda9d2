import assert from "node:assert/strict";
import { evaluateRanking } from "../../lib/eval/evaluate.ts";
import type { Scorer } from "../../lib/eval/scorer.ts";
import { popularityScorer } from "../../lib/eval/popularity.ts";
import type { Dataset } from "../../lib/data/types.ts";

/** Two users; user 0's positive 0 against negatives 1..3, user 1's 4 against 5..14. */
function dataset(): Dataset {
  const negatives = [1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
  return {
    numUsers: 2,
    numItems: 15,
    userIds: Float64Array.of(10, 20),
    itemIds: Float64Array.from({ length: 15 }, (_, i) => i),
    trainOffsets: Int32Array.of(0, 1, 3),
    trainItems: Int32Array.of(1, 5, 6),
    evalItems: Int32Array.of(0, 4),
    evalNegOffsets: Int32Array.of(0, 3, 13),
    evalNegatives: Int32Array.from(negatives),
    numEvalCappedUsers: 0,
  };
}

function table(scores: Record<number, number>): Scorer {
  return {
    scoreUserItems(_u, items, { out, count }) {
      for (let i = 0; i < (count ?? items.length); i++) out[i] = scores[items[i]] ?? 0;
    },
  };
}

Deno.test("evaluateRanking() ranks each held-out item against its own negatives", async (t) => {
  await t.step("both positives on top", () => {
    const r = evaluateRanking(table({ 0: 9, 4: 9 }), dataset());
    assert.deepEqual([r.hr, r.ndcg, r.users], [1, 1, 2]);
  });
  await t.step("ties rank the negative first", () => {
    // User 0: every candidate scores 0 → rank 3 (hit, NDCG 1/log2 5);
    // user 1: every candidate scores 0 → rank 10 (miss).
    const r = evaluateRanking(table({}), dataset());
    assert.equal(r.hr, 0.5);
    assert.ok(Math.abs(r.ndcg - 0.5 / Math.log2(5)) < 1e-12);
  });
  await t.step("the positive at rank 9", () => {
    const scores: Record<number, number> = { 0: 9, 4: 1 };
    for (let i = 5; i <= 13; i++) scores[i] = 2; // 9 negatives above, one (14) below
    const r = evaluateRanking(table(scores), dataset());
    assert.equal(r.hr, 1);
    assert.ok(Math.abs(r.ndcg - (1 + 1 / Math.log2(11)) / 2) < 1e-12);
  });
});

Deno.test("popularityScorer() scores items by their training positives", () => {
  const r = evaluateRanking(popularityScorer(dataset()), dataset());
  // User 0: positive 0 (count 0) vs 1 (count 1), 2, 3 (0) → rank 3; user 1: 4 (0) vs 5, 6 (1) and
  // eight zeros → rank 10.
  assert.equal(r.hr, 0.5);
});
