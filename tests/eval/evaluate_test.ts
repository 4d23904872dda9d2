import assert from "node:assert/strict";
import fc from "fast-check";
import { evaluateRanking, type EvaluationOptions } from "../../lib/eval/evaluate.ts";
import { scansUseWasm } from "../../lib/eval/_evaluation_result.ts";
import { fullBlock } from "../../lib/eval/_rank_users.ts";
import { ndcgAt, rankOfPositive } from "../../lib/eval/metrics.ts";
import type { Scorer } from "../../lib/eval/scorer.ts";
import { popularityScorer } from "../../lib/eval/popularity.ts";
import type { Dataset } from "../../lib/data/types.ts";
import { SettingError } from "../../lib/errors.ts";
import { bruteForce, caseDataset, rankingCase, tableScorer } from "./_ranking_cases.ts";

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

const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} vs ${expected}`);

Deno.test("evaluateRanking() agrees with sorting every candidate list, ties, NaN and K lists included", async (t) => {
  for (const protocol of ["sampled", "full"] as const) {
    for (const path of ["scoreUserItems", "scoreUserAll", "scoreUsersAll"] as const) {
      if (protocol === "sampled" && path !== "scoreUserItems") continue;
      await t.step(`${protocol} through ${path}`, () => {
        fc.assert(
          fc.property(
            rankingCase,
            fc.uniqueArray(fc.integer({ min: 1, max: 16 }), { minLength: 1, maxLength: 4 }),
            (c, ks) => {
              const scorer = tableScorer(c.scores, c.dataset.numItems, path);
              const r = evaluateRanking(scorer, c.dataset, { protocol, ks, coverage: true });
              const expected = bruteForce(c, protocol, ks);
              assert.equal(r.protocol, protocol);
              assert.equal(r.users, c.dataset.numUsers);
              close(r.hr, expected.hr, "hr");
              close(r.ndcg, expected.ndcg, "ndcg");
              close(r.mrr, expected.mrr, "mrr");
              assert.deepEqual(r.byK.map((m) => m.k), ks);
              r.byK.forEach((m, j) => {
                close(m.hr, expected.byK[j].hr, `hr@${m.k}`);
                close(m.ndcg, expected.byK[j].ndcg, `ndcg@${m.k}`);
                assert.equal(m.coverage, expected.byK[j].coverage, `coverage@${m.k}`);
              });
            },
          ),
          { numRuns: 300 },
        );
      });
    }
  }
});

Deno.test("the full protocol equals the sampled one when every item a user has not trained on is sampled", () => {
  fc.assert(
    fc.property(rankingCase, (c) => {
      const d = c.dataset;
      // Each user's negatives: every item but the training items and the positive.
      const users = Array.from({ length: d.numUsers }, (_, u) => {
        const train = [...d.trainItems.subarray(d.trainOffsets[u], d.trainOffsets[u + 1])];
        const positive = d.evalItems[u];
        const negatives = Array.from({ length: d.numItems }, (_, i) => i)
          .filter((i) => i !== positive && !train.includes(i))
          .reverse(); // the sampled order does not matter
        return { train, positive, negatives };
      });
      const all = caseDataset(d.numItems, users);
      const scorer = tableScorer(c.scores, d.numItems);
      const options = { ks: [1, 3, 10], coverage: true };
      const full = evaluateRanking(scorer, all, { ...options, protocol: "full" });
      const sampled = evaluateRanking(scorer, all, { ...options, protocol: "sampled" });
      assert.deepEqual(
        { ...full, seconds: 0, protocol: "" },
        { ...sampled, seconds: 0, protocol: "" },
      );
    }),
    { numRuns: 300 },
  );
});

Deno.test("MRR and coverage@K on a hand-checked case", () => {
  // 3 users, 6 items. Scores by item (the same for every user): 0:5 1:4 2:3 3:2 4:1 5:0.
  const scorer = table({ 0: 5, 1: 4, 2: 3, 3: 2, 4: 1, 5: 0 });
  const d = caseDataset(6, [
    { train: [0], positive: 1, negatives: [2, 5] }, // full: 1 is first of 1..5 → rank 0
    { train: [1, 2], positive: 4, negatives: [0, 5] }, // full: 0, 3 above → rank 2
    { train: [], positive: 5, negatives: [3] }, // full: 0..4 above → rank 5
  ]);
  const full = evaluateRanking(scorer, d, { protocol: "full", ks: [1, 2, 3], coverage: true });
  close(full.mrr, (1 + 1 / 3 + 1 / 6) / 3, "full mrr");
  // Top 1: {1}, {0}, {0} → 2 of 6 items; top 2: {1,2}, {0,3}, {0,1} → 4; top 3: + 3, 4, 2 → 5.
  assert.deepEqual(full.byK.map((m) => m.coverage), [2 / 6, 4 / 6, 5 / 6]);
  assert.deepEqual(full.byK.map((m) => m.hr), [1 / 3, 1 / 3, 2 / 3]);
  const sampled = evaluateRanking(scorer, d, { ks: [1, 2], coverage: true });
  // Ranks 0 (1 over 2, 5), 1 (0 over 4 over 5), 1 (3 over 5).
  close(sampled.mrr, (1 + 1 / 2 + 1 / 2) / 3, "sampled mrr");
  // Top 1: {1}, {0}, {3}; top 2: + 2, 4, 5 → all six.
  assert.deepEqual(sampled.byK.map((m) => m.coverage), [3 / 6, 6 / 6]);
});

Deno.test("evaluateRanking() reports hr and ndcg at the first K, and no coverage unless asked", () => {
  const scorer = table({ 0: 9, 1: 8, 2: 7, 4: 1 });
  const r = evaluateRanking(scorer, dataset(), { ks: [20, 1, 5] });
  assert.deepEqual(r.byK.map((m) => m.k), [20, 1, 5]);
  assert.equal(r.hr, r.byK[0].hr);
  assert.equal(r.ndcg, r.byK[0].ndcg);
  assert.ok(r.byK.every((m) => m.coverage === undefined));
  assert.equal(r.protocol, "sampled");
});

Deno.test("the default evaluation (sampled, K = 10) keeps the bits of the rank-bucket means", () => {
  // Today's formula, spelled out: hits and NDCG terms summed by rank bucket below 10.
  fc.assert(
    fc.property(rankingCase, (c) => {
      const scorer = tableScorer(c.scores, c.dataset.numItems);
      const r = evaluateRanking(scorer, c.dataset);
      const buckets = new Float64Array(10);
      const { evalItems, evalNegOffsets, evalNegatives, numItems } = c.dataset;
      for (let u = 0; u < c.dataset.numUsers; u++) {
        const p = c.scores[u * numItems + evalItems[u]];
        const negs = evalNegatives.subarray(evalNegOffsets[u], evalNegOffsets[u + 1]);
        const rank = rankOfPositive(p, Float32Array.from(negs, (i) => c.scores[u * numItems + i]));
        if (rank < 10) buckets[rank]++;
      }
      let hits = 0;
      let ndcg = 0;
      for (let k = 0; k < 10; k++) {
        hits += buckets[k];
        ndcg += buckets[k] * ndcgAt(k, 10);
      }
      assert.equal(r.hr, hits / c.dataset.numUsers);
      assert.equal(r.ndcg, ndcg / c.dataset.numUsers);
    }),
  );
});

Deno.test("evaluateRanking() refuses a bad protocol, bad cutoffs and a full ranking without training rows", async (t) => {
  const cases: [string, EvaluationOptions, string, RegExp][] = [
    ["an unknown protocol", { protocol: "fast" as "full" }, "eval_protocol", /'fast'/],
    ["no cutoff", { ks: [] }, "eval_k", /at least one K/],
    ["a cutoff of 0", { ks: [10, 0] }, "eval_k", /K = 0/],
    ["a fractional cutoff", { ks: [2.5] }, "eval_k", /K = 2\.5/],
    ["a cutoff twice", { ks: [5, 10, 5] }, "eval_k", /5 twice/],
  ];
  for (const [name, options, setting, message] of cases) {
    await t.step(name, () => {
      assert.throws(
        () => evaluateRanking(table({}), dataset(), options),
        (e: unknown) =>
          e instanceof SettingError && e.setting === setting && message.test(e.message),
      );
    });
  }
  await t.step("full without training rows", () => {
    const { trainOffsets: _o, trainItems: _i, ...rest } = dataset();
    assert.throws(
      () => evaluateRanking(table({}), rest as Dataset, { protocol: "full" }),
      /Cannot rank against every item: .* no training rows/,
    );
  });
});

Deno.test("the full protocol's scans give the same result with and without WebAssembly", () => {
  // A scorer on the ts kernel set keeps the scans off WebAssembly.
  assert.equal(scansUseWasm({ kernels: { name: "ts" } }), false);
  assert.equal(scansUseWasm({ kernels: { name: "wasm" } }), true);
  assert.equal(scansUseWasm({}), true);
  fc.assert(
    fc.property(rankingCase, (c) => {
      const wasm = tableScorer(c.scores, c.dataset.numItems, "scoreUsersAll");
      const ts = Object.assign(tableScorer(c.scores, c.dataset.numItems, "scoreUsersAll"), {
        kernels: { name: "ts" },
      });
      const options = { protocol: "full", ks: [1, 4], coverage: true } as const;
      assert.deepEqual(
        { ...evaluateRanking(ts, c.dataset, options), seconds: 0 },
        { ...evaluateRanking(wasm, c.dataset, options), seconds: 0 },
      );
    }),
  );
});

Deno.test("the full protocol asks scoreUsersAll for blocks of consecutive users at multiples of the block size", () => {
  assert.deepEqual([fullBlock(3706), fullBlock(26744), fullBlock(1_000_000), fullBlock(1e8)], [
    64,
    64,
    4,
    1,
  ]);
  const numUsers = 150;
  const d = caseDataset(
    5,
    Array.from(
      { length: numUsers },
      (_, u) => ({ train: [u % 5], positive: (u + 1) % 5, negatives: [] }),
    ),
  );
  const calls: [number, number][] = [];
  const scorer = tableScorer(new Float32Array(numUsers * 5), 5, "scoreUsersAll");
  const inner = scorer.scoreUsersAll!;
  scorer.scoreUsersAll = (users, o) => {
    for (let b = 1; b < o.count; b++) assert.equal(users[b], users[0] + b);
    calls.push([users[0], o.count]);
    inner(users, o);
  };
  evaluateRanking(scorer, d, { protocol: "full" });
  assert.deepEqual(calls, [[0, 64], [64, 64], [128, 22]]);
});
