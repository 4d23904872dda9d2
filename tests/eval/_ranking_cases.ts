/**
 * Small random ranking cases for the evaluation tests: a data set with
 * training rows, held-out items and sampled negatives, one score per (user,
 * item) with many ties (and sometimes NaN or ±∞), scorers over that table
 * through each scoring method, and the metrics by brute force: every
 * candidate list sorted.
 *
 * @module
 */

import fc from "fast-check";
import type { Dataset } from "../../lib/data/types.ts";
import type { EvalProtocol } from "../../lib/data/eval_protocol.ts";
import type { Scorer } from "../../lib/eval/scorer.ts";

/** A data set and every user's score of every item (`scores[u·numItems + i]`). */
export interface RankingCase {
  dataset: Dataset;
  scores: Float32Array;
}

/** The data set of a case: users' training rows, held-out items and sampled negatives. */
export function caseDataset(
  numItems: number,
  users: { train: number[]; positive: number; negatives: number[] }[],
): Dataset {
  const trainOffsets = new Int32Array(users.length + 1);
  const evalNegOffsets = new Int32Array(users.length + 1);
  users.forEach((u, i) => {
    trainOffsets[i + 1] = trainOffsets[i] + u.train.length;
    evalNegOffsets[i + 1] = evalNegOffsets[i] + u.negatives.length;
  });
  return {
    numUsers: users.length,
    numItems,
    userIds: Float64Array.from(users, (_, i) => i),
    itemIds: Float64Array.from({ length: numItems }, (_, i) => i),
    trainOffsets,
    trainItems: Int32Array.from(users.flatMap((u) => u.train)),
    evalItems: Int32Array.from(users, (u) => u.positive),
    evalNegOffsets,
    evalNegatives: Int32Array.from(users.flatMap((u) => u.negatives)),
    numEvalCappedUsers: 0,
  };
}

/**
 * Random cases: 1–7 users, 2–14 items, scores 0–3 (ties everywhere), now and
 * then NaN, ±∞; training rows ascending, now and then with an item twice or
 * holding the held-out item.
 */
export const rankingCase: fc.Arbitrary<RankingCase> = fc.integer({ min: 2, max: 14 }).chain((
  numItems,
) =>
  fc.record({
    users: fc.array(
      fc.record({
        train: fc.uniqueArray(fc.integer({ min: 0, max: numItems - 1 }), { maxLength: numItems }),
        positive: fc.integer({ min: 0, max: numItems - 1 }),
        negatives: fc.uniqueArray(fc.integer({ min: 0, max: numItems - 1 }), {
          maxLength: numItems,
        }),
        repeat: fc.boolean(),
        keepPositive: fc.integer({ min: 0, max: 9 }),
      }),
      { minLength: 1, maxLength: 7 },
    ),
    scores: fc.array(
      fc.oneof(
        { arbitrary: fc.integer({ min: 0, max: 3 }), weight: 20 },
        { arbitrary: fc.constantFrom(NaN, Infinity, -Infinity), weight: 1 },
      ),
      { minLength: 7 * numItems, maxLength: 7 * numItems },
    ),
  }).map(({ users, scores }) => {
    const rows = users.map((u) => {
      // Training rows never hold the positive, except now and then (a tenth of users).
      let train = u.train.filter((i) => i !== u.positive || u.keepPositive === 0);
      train.sort((a, b) => a - b);
      if (u.repeat && train.length > 0) train = [train[0], ...train];
      const known = new Set([...train, u.positive]);
      return { train, positive: u.positive, negatives: u.negatives.filter((i) => !known.has(i)) };
    });
    return {
      dataset: caseDataset(numItems, rows),
      scores: Float32Array.from(scores.slice(0, rows.length * numItems)),
    };
  })
);

/** Which scoring method a table scorer offers besides `scoreUserItems`. */
export type ScorerPath = "scoreUserItems" | "scoreUserAll" | "scoreUsersAll";

/** A scorer reading `scores` (`numItems` per user), offering `path`. */
export function tableScorer(
  scores: Float32Array,
  numItems: number,
  path: ScorerPath = "scoreUserItems",
): Scorer {
  const scorer: Scorer = {
    scoreUserItems(user, items, { out, count }) {
      for (let c = 0; c < (count ?? items.length); c++) out[c] = scores[user * numItems + items[c]];
    },
  };
  if (path === "scoreUserAll") {
    scorer.scoreUserAll = (user, out) =>
      out.set(scores.subarray(user * numItems, (user + 1) * numItems));
  }
  if (path === "scoreUsersAll") {
    scorer.scoreUsersAll = (users, { out, count }) => {
      for (let b = 0; b < count; b++) {
        out.set(scores.subarray(users[b] * numItems, (users[b] + 1) * numItems), b * numItems);
      }
    };
  }
  return scorer;
}

/** Metrics by brute force (see the module doc). */
export interface BruteForce {
  hr: number;
  ndcg: number;
  mrr: number;
  byK: { k: number; hr: number; ndcg: number; coverage: number }[];
}

/**
 * Every user's candidates sorted: the rank of the positive counts the other
 * candidates not below it; the top K sorts by score (NaN as −∞), ties to the
 * lower item id.
 */
export function bruteForce(
  { dataset, scores }: RankingCase,
  protocol: EvalProtocol,
  ks: readonly number[],
): BruteForce {
  const n = dataset.numItems;
  const hits = ks.map(() => 0);
  const gains = ks.map(() => 0);
  const covered = ks.map(() => new Set<number>());
  let rr = 0;
  for (let u = 0; u < dataset.numUsers; u++) {
    const positive = dataset.evalItems[u];
    let candidates: number[];
    if (protocol === "full") {
      const train = new Set(
        dataset.trainItems.subarray(dataset.trainOffsets[u], dataset.trainOffsets[u + 1]),
      );
      train.delete(positive);
      candidates = Array.from({ length: n }, (_, i) => i).filter((i) => !train.has(i));
    } else {
      candidates = [
        positive,
        ...dataset.evalNegatives.subarray(dataset.evalNegOffsets[u], dataset.evalNegOffsets[u + 1]),
      ];
    }
    const score = (i: number) => scores[u * n + i];
    const p = score(positive);
    const rank = candidates.filter((i) => i !== positive && !(score(i) < p)).length;
    rr += 1 / (rank + 1);
    const key = (i: number) => (Number.isNaN(score(i)) ? -Infinity : score(i));
    const sorted = [...candidates].sort((a, b) => key(b) - key(a) || a - b);
    ks.forEach((k, j) => {
      if (rank < k) {
        hits[j]++;
        gains[j] += 1 / Math.log2(rank + 2);
      }
      for (const i of sorted.slice(0, k)) covered[j].add(i);
    });
  }
  const users = dataset.numUsers;
  const byK = ks.map((k, j) => ({
    k,
    hr: hits[j] / users,
    ndcg: gains[j] / users,
    coverage: covered[j].size / n,
  }));
  return { hr: byK[0].hr, ndcg: byK[0].ndcg, mrr: rr / users, byK };
}
