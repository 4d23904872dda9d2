import assert from "node:assert/strict";
import fc from "fast-check";
import { SettingError } from "../../lib/errors.ts";
import {
  checkCutoffs,
  hitAt,
  ndcgAt,
  RankingMetrics,
  rankOfPositive,
} from "../../lib/eval/metrics.ts";

/** 99 negatives: `above` of them score 0.9, the rest 0.1; the positive scores 0.5. */
function row(above: number): Float32Array {
  const negs = new Float32Array(99).fill(0.1);
  negs.fill(0.9, 0, above);
  return negs;
}

Deno.test("rankOfPositive(), hitAt() and ndcgAt() on hand-made score rows", async (t) => {
  const cases: [string, number, Float32Array, number, number, number][] = [
    // name, positive, negatives, rank, HR@10, NDCG@10
    ["positive first", 0.5, row(0), 0, 1, 1],
    ["positive at rank 9 (last inside the top 10)", 0.5, row(9), 9, 1, 1 / Math.log2(11)],
    ["positive at rank 10 (just outside)", 0.5, row(10), 10, 0, 0],
    ["positive last", 0.5, row(99), 99, 0, 0],
    [
      "one tie ranks the negative first",
      0.5,
      Float32Array.of(0.5, 0.1, 0.2),
      1,
      1,
      1 / Math.log2(3),
    ],
    ["all equal", 0.3, new Float32Array(99).fill(0.3), 99, 0, 0],
    [
      "ties and higher scores add up",
      0.5,
      Float32Array.of(0.5, 0.7, 0.5, 0.2, 0.6),
      4,
      1,
      1 / Math.log2(6),
    ],
  ];
  for (const [name, pos, negs, rank, hr, ndcg] of cases) {
    await t.step(name, () => {
      const r = rankOfPositive(pos, negs);
      assert.equal(r, rank);
      assert.equal(hitAt(r), hr);
      assert.ok(Math.abs(ndcgAt(r) - ndcg) < 1e-15, `${ndcgAt(r)} vs ${ndcg}`);
    });
  }
});

Deno.test("rankOfPositive() honours count and never lets NaN flatter", () => {
  const negs = Float32Array.of(0.1, 0.9, 0.9);
  assert.equal(rankOfPositive(0.5, negs, { count: 1 }), 0);
  assert.equal(rankOfPositive(0.5, negs, { count: 0 }), 0);
  assert.equal(rankOfPositive(NaN, negs), 3);
  assert.equal(rankOfPositive(0.5, Float32Array.of(NaN, 0.1)), 1);
  assert.throws(() => rankOfPositive(0.5, negs, { count: 4 }), RangeError);
});

Deno.test("hitAt() and ndcgAt() take another cutoff", () => {
  assert.equal(hitAt(4, 5), 1);
  assert.equal(hitAt(5, 5), 0);
  assert.equal(ndcgAt(2, 3), 0.5);
  assert.equal(ndcgAt(3, 3), 0);
});

Deno.test("RankingMetrics averages HR@10 and NDCG@10 over users", () => {
  const m = new RankingMetrics();
  for (const r of [0, 1, 9, 10, 500]) m.add(r);
  const s = m.summary();
  assert.equal(s.users, 5);
  assert.equal(s.hr, 3 / 5);
  const ndcg = (1 + 1 / Math.log2(3) + 1 / Math.log2(11)) / 5;
  assert.ok(Math.abs(s.ndcg - ndcg) < 1e-15);
});

Deno.test("RankingMetrics gives the same result whatever the order and merging of users", () => {
  const ranks = [3, 0, 7, 12, 1, 1, 9, 0, 30, 2];
  const one = new RankingMetrics();
  for (const r of ranks) one.add(r);
  const a = new RankingMetrics();
  const b = new RankingMetrics();
  for (const r of [...ranks].reverse()) (r % 2 === 0 ? a : b).add(r);
  b.merge(a);
  assert.deepEqual(b.summary(), one.summary());
});

Deno.test("RankingMetrics reports NaN without users and refuses bad ranks, k and merges", () => {
  const m = new RankingMetrics({ k: 5 });
  assert.ok(Number.isNaN(m.summary().hr) && Number.isNaN(m.summary().ndcg));
  assert.throws(() => m.add(-1), RangeError);
  assert.throws(() => m.add(1.5), RangeError);
  assert.throws(() => new RankingMetrics({ k: 0 }), RangeError);
  assert.throws(() => m.merge(new RankingMetrics()), RangeError);
});

Deno.test("RankingMetrics reports HR and NDCG at each cutoff in the order given, and the MRR", () => {
  const m = new RankingMetrics({ ks: [5, 1, 20] });
  for (const r of [0, 3, 4, 5, 19, 100]) m.add(r);
  const s = m.summary();
  assert.deepEqual(s.byK.map((x) => x.k), [5, 1, 20]);
  assert.deepEqual(s.byK.map((x) => x.hr), [3 / 6, 1 / 6, 5 / 6]);
  const ndcg5 = (1 + 1 / Math.log2(5) + 1 / Math.log2(6)) / 6;
  assert.ok(Math.abs(s.byK[0].ndcg - ndcg5) < 1e-15);
  assert.ok(Math.abs(s.byK[1].ndcg - 1 / 6) < 1e-15);
  assert.equal(s.hr, s.byK[0].hr);
  assert.equal(s.ndcg, s.byK[0].ndcg);
  const mrr = (1 + 1 / 4 + 1 / 5 + 1 / 6 + 1 / 20 + 1 / 101) / 6;
  assert.ok(Math.abs(s.mrr - mrr) < 1e-15, `${s.mrr} vs ${mrr}`);
  assert.equal(m.k, 5);
});

Deno.test("RankingMetrics' MRR and cutoffs do not depend on the order and merging of users", () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1 }), (ranks) => {
      const one = new RankingMetrics({ ks: [3, 50] });
      for (const r of ranks) one.add(r);
      const a = new RankingMetrics({ ks: [3, 50] });
      const b = new RankingMetrics({ ks: [3, 50] });
      for (const r of [...ranks].reverse()) (r % 3 === 0 ? a : b).add(r);
      a.merge(b);
      assert.deepEqual(a.summary(), one.summary());
    }),
  );
});

Deno.test("checkCutoffs() and RankingMetrics refuse empty, non-positive and repeated cutoffs, naming eval_k", async (t) => {
  const cases: [string, number[], RegExp][] = [
    ["none", [], /no cutoff/],
    ["zero", [0], /K = 0/],
    ["negative", [10, -1], /K = -1/],
    ["not an integer", [NaN], /K = NaN/],
    ["twice", [10, 20, 10], /10 twice/],
  ];
  for (const [name, ks, message] of cases) {
    await t.step(name, () => {
      for (const f of [() => checkCutoffs(ks), () => new RankingMetrics({ ks })]) {
        assert.throws(
          f,
          (e: unknown) =>
            e instanceof SettingError && e.setting === "eval_k" && message.test(e.message),
        );
      }
    });
  }
  await t.step("merging other cutoffs", () => {
    assert.throws(
      () => new RankingMetrics({ ks: [5, 10] }).merge(new RankingMetrics({ ks: [10, 5] })),
      /K = 10,5, expected 5,10/,
    );
  });
});
