import assert from "node:assert/strict";
import { preprocess } from "../../lib/data/preprocess.ts";
import {
  generateSynthetic,
  generateSyntheticTruth,
  syntheticScore,
} from "../../lib/data/synthetic.ts";

Deno.test("generateSynthetic() is deterministic for a seed and differs for another", () => {
  const a = generateSynthetic({ seed: 4, numUsers: 100, numItems: 300 });
  const b = generateSynthetic({ seed: 4, numUsers: 100, numItems: 300 });
  const c = generateSynthetic({ seed: 5, numUsers: 100, numItems: 300 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.items.subarray(0, 50), c.items.subarray(0, 50));
});

Deno.test("generateSynthetic() makes MovieLens-like users: 1-based ids, ≥ 20 distinct items, increasing times", () => {
  const numUsers = 1500;
  const numItems = 1500;
  const raw = generateSynthetic({ seed: 1 }); // the defaults
  const counts = new Map<number, number>();
  const seen = new Set<number>();
  for (let r = 0; r < raw.length; r++) {
    const u = raw.users[r];
    const i = raw.items[r];
    assert.ok(Number.isInteger(u) && u >= 1 && u <= numUsers);
    assert.ok(Number.isInteger(i) && i >= 1 && i <= numItems);
    assert.ok(!seen.has(u * 10_000 + i), "a (user, item) pair repeats");
    seen.add(u * 10_000 + i);
    if (r > 0 && raw.users[r - 1] === u) assert.ok(raw.timestamps[r] > raw.timestamps[r - 1]);
    counts.set(u, (counts.get(u) ?? 0) + 1);
  }
  assert.equal(counts.size, numUsers);
  const perUser = [...counts.values()];
  assert.ok(Math.min(...perUser) >= 20);
  assert.ok(Math.max(...perUser) <= numItems / 2);
  assert.ok(Math.abs(raw.length / numUsers - 40) < 4, `mean ${raw.length / numUsers}`);
  perUser.sort((a, b) => a - b);
  assert.ok(perUser[numUsers - 1] > 3 * perUser[numUsers >> 1], "per-user counts are heavy-tailed");
});

Deno.test("generateSynthetic() follows the size options", () => {
  const raw = generateSynthetic({ seed: 2, numUsers: 50, numItems: 80, meanRatingsPerUser: 30 });
  assert.equal(new Set(raw.users.subarray(0, raw.length)).size, 50);
  assert.ok(Math.max(...raw.items.subarray(0, raw.length)) <= 80);
  assert.ok(raw.length >= 50 * 20 && raw.length <= 50 * 40);
  assert.throws(() => generateSynthetic({ seed: 1, numItems: 3 }), RangeError);
  assert.throws(() => generateSynthetic({ seed: 1, numUsers: 0 }), RangeError);
  assert.throws(() => generateSynthetic({ seed: 1, meanRatingsPerUser: 1 }), RangeError);
  const capped = generateSynthetic({ seed: 1, numUsers: 10, numItems: 30, meanRatingsPerUser: 60 });
  assert.equal(capped.length, 10 * 15);
});

Deno.test("generateSynthetic() has a skewed item popularity", () => {
  const raw = generateSynthetic({ seed: 3 });
  const popularity = new Float64Array(1000);
  for (let r = 0; r < raw.length; r++) popularity[raw.items[r] - 1]++;
  popularity.sort().reverse();
  const top = popularity.subarray(0, 100).reduce((s, v) => s + v, 0);
  // Uniform popularity would give the top 10% of items about 10-15% of interactions.
  assert.ok(top / raw.length > 0.25, `top 10% share ${top / raw.length}`);
});

Deno.test("generateSynthetic() is learnable: the true factors rank far above popularity", () => {
  const truth = generateSyntheticTruth({ seed: 1 });
  const ds = preprocess(truth.interactions, { numEvalNegatives: 99, seed: 1 });
  const popularity = new Float64Array(ds.numItems);
  for (const i of ds.trainItems) popularity[i]++;
  let oracleHits = 0;
  let popularityHits = 0;
  for (let u = 0; u < ds.numUsers; u++) {
    const user = ds.userIds[u] as number;
    const held = ds.evalItems[u];
    const heldScore = syntheticScore(truth, user, ds.itemIds[held] as number);
    let oracleRank = 0;
    let popularityRank = 0;
    for (let k = ds.evalNegOffsets[u]; k < ds.evalNegOffsets[u + 1]; k++) {
      const n = ds.evalNegatives[k];
      if (syntheticScore(truth, user, ds.itemIds[n] as number) >= heldScore) oracleRank++;
      if (popularity[n] >= popularity[held]) popularityRank++;
    }
    if (oracleRank < 10) oracleHits++;
    if (popularityRank < 10) popularityHits++;
  }
  const oracle = oracleHits / ds.numUsers;
  const popular = popularityHits / ds.numUsers;
  assert.ok(oracle > 0.8, `oracle HR@10 ${oracle}`);
  assert.ok(oracle - popular > 0.3, `oracle HR@10 ${oracle}, popularity HR@10 ${popular}`);
});
