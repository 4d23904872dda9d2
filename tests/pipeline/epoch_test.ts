import assert from "node:assert/strict";
import {
  allocateEpochBuffers,
  BUCKET_SIZE,
  type EpochContext,
  epochLayout,
  inlineRunner,
  makeEpoch,
} from "../../lib/pipeline/epoch.ts";
import { nthNonPositive, type Positives } from "../../lib/pipeline/epoch_kernels.ts";
import { startEpochWorkers } from "../../lib/pipeline/epoch_workers.ts";
import { Prng } from "../../lib/random/prng.ts";
import { randomPositives } from "./_fixtures.ts";

function context(positives: Positives, numItems: number, numNeg: number, seed = 7): EpochContext {
  const layout = epochLayout(positives, { numItems, numNeg });
  return { layout, buffers: allocateEpochBuffers(positives, layout), seed };
}

function copy(c: { users: Int32Array; items: Int32Array; labels: Int8Array }) {
  return { users: c.users.slice(), items: c.items.slice(), labels: c.labels.slice() };
}

Deno.test("nthNonPositive() enumerates exactly the items a user has no positive for", () => {
  const prng = new Prng(1);
  for (let trial = 0; trial < 200; trial++) {
    const numItems = 1 + prng.nextInt(40);
    const positives = [
      ...new Set(Array.from({ length: prng.nextInt(numItems) }, () => prng.nextInt(numItems))),
    ].sort((a, b) => a - b);
    const expected = Array.from({ length: numItems }, (_, i) => i).filter((i) =>
      !positives.includes(i)
    );
    const arr = Int32Array.from([99, ...positives, 99]);
    const got = expected.map((_, r) => nthNonPositive(arr, 1, 1 + positives.length, r));
    assert.deepEqual(got, expected);
  }
});

Deno.test("an epoch holds every positive once and numNeg true negatives per positive", async () => {
  const numItems = 300;
  const positives = randomPositives(2, { numUsers: 700, numItems, maxPerUser: 290 });
  const ctx = context(positives, numItems, 4);
  const epoch = await makeEpoch(ctx, inlineRunner(ctx), 0);
  const n = ctx.layout.size;
  assert.equal(n, positives.items.length * 5);
  const seenPositive = new Uint8Array(positives.items.length);
  const negativesPerUser = new Int32Array(700);
  for (let i = 0; i < n; i++) {
    const u = epoch.users[i];
    const item = epoch.items[i];
    const row = positives.items.subarray(positives.offsets[u], positives.offsets[u + 1]);
    const at = row.indexOf(item);
    if (epoch.labels[i] === 1) {
      assert.ok(at >= 0, `positive (${u}, ${item}) is not a training positive`);
      const index = positives.offsets[u] + at;
      assert.equal(seenPositive[index], 0, `positive (${u}, ${item}) appears twice`);
      seenPositive[index] = 1;
    } else {
      assert.equal(epoch.labels[i], 0);
      assert.equal(at, -1, `negative (${u}, ${item}) is a training positive of its user`);
      assert.ok(item >= 0 && item < numItems);
      negativesPerUser[u]++;
    }
  }
  assert.ok(seenPositive.every((x) => x === 1));
  for (let u = 0; u < 700; u++) {
    assert.equal(negativesPerUser[u], 4 * (positives.offsets[u + 1] - positives.offsets[u]));
  }
});

Deno.test("epochs are shuffled as a whole and get fresh negatives", async () => {
  const numItems = 500;
  const positives = randomPositives(3, { numUsers: 4000, numItems, maxPerUser: 30 });
  const ctx = context(positives, numItems, 4);
  assert.ok(ctx.layout.numBuckets > 1, "the test needs several shuffle buckets");
  const first = copy(await makeEpoch(ctx, inlineRunner(ctx), 0));
  const second = copy(await makeEpoch(ctx, inlineRunner(ctx), 1));
  assert.notDeepEqual(first.items, second.items);
  // Users are spread over the whole epoch: the mean position of user 0's
  // examples is near the middle, and the first tenth holds many users.
  const n = ctx.layout.size;
  const firstTenth = new Set(first.users.subarray(0, Math.floor(n / 10)));
  assert.ok(firstTenth.size > 3000, `only ${firstTenth.size} users in the first tenth`);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += first.labels[i] * i;
  const meanPositivePosition = sum / positives.items.length / n;
  assert.ok(Math.abs(meanPositivePosition - 0.5) < 0.02, `mean ${meanPositivePosition}`);
  // Negatives of one user across epochs are not the same multiset.
  const negativesOf = (e: typeof first, u: number) =>
    [...e.items.filter((_, i) => e.users[i] === u && e.labels[i] === 0)].sort().join();
  let differing = 0;
  for (let u = 0; u < 50; u++) if (negativesOf(first, u) !== negativesOf(second, u)) differing++;
  assert.ok(differing >= 45);
});

Deno.test("negatives are uniform over the items a user has not interacted with", async () => {
  // One user with positives {0, 1}; 8 candidate items.
  const positives = { offsets: Int32Array.of(0, 2), items: Int32Array.of(0, 1) };
  const ctx = context(positives, 10, 4000);
  const epoch = await makeEpoch(ctx, inlineRunner(ctx), 0);
  const counts = new Float64Array(10);
  for (let i = 0; i < epoch.items.length; i++) if (epoch.labels[i] === 0) counts[epoch.items[i]]++;
  assert.equal(counts[0] + counts[1], 0);
  for (let item = 2; item < 10; item++) {
    assert.ok(Math.abs(counts[item] / 8000 - 1 / 8) < 0.015, `item ${item}: ${counts[item]}`);
  }
});

Deno.test("the same seed gives the same epoch bytes with 0, 1 and 2 workers", async () => {
  const numItems = 800;
  const positives = randomPositives(4, { numUsers: 3000, numItems, maxPerUser: 40 });
  const results = [];
  for (const workers of [0, 1, 2]) {
    const ctx = context(positives, numItems, 4, 11);
    const runner = workers === 0 ? inlineRunner(ctx) : startEpochWorkers(ctx, workers);
    try {
      results.push(copy(await makeEpoch(ctx, runner, 3)));
    } finally {
      if ("close" in runner) (runner as { close(): void }).close();
    }
  }
  assert.ok(results[0].users.length > BUCKET_SIZE);
  assert.deepEqual(results[1], results[0]);
  assert.deepEqual(results[2], results[0]);
  const other = context(positives, numItems, 4, 12);
  assert.notDeepEqual(copy(await makeEpoch(other, inlineRunner(other), 3)).items, results[0].items);
});

Deno.test("workers that start the next epoch ahead give the same epochs in any order", async () => {
  const numItems = 600;
  const positives = randomPositives(5, { numUsers: 2000, numItems, maxPerUser: 40 });
  const inline = context(positives, numItems, 4, 13);
  const expected = new Map<number, ReturnType<typeof copy>>();
  for (const e of [2, 3, 4, 5]) {
    expected.set(e, copy(await makeEpoch(inline, inlineRunner(inline), e)));
  }
  const ctx = context(positives, numItems, 4, 13);
  const pool = startEpochWorkers(ctx, 2);
  try {
    // 3 then 4 (made ahead), then 2 and 2 again (not the one made ahead), then 5 twice.
    for (const e of [3, 4, 2, 2, 5, 5]) {
      assert.deepEqual(copy(await makeEpoch(ctx, pool, e)), expected.get(e), `epoch ${e}`);
    }
  } finally {
    pool.close();
  }
});

Deno.test("an example's place in the epoch does not depend on its place in canonical order", async () => {
  // Canonical order is by user; after the shuffle the users must be spread
  // over the whole epoch, across buckets: no correlation with position.
  const numItems = 400;
  const positives = randomPositives(6, { numUsers: 6000, numItems, maxPerUser: 30 });
  const ctx = context(positives, numItems, 4, 3);
  assert.ok(ctx.layout.numBuckets >= 4, `${ctx.layout.numBuckets} buckets`);
  const epoch = await makeEpoch(ctx, inlineRunner(ctx), 0);
  const n = ctx.layout.size;
  let sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  for (let i = 0; i < n; i++) {
    const x = i / n;
    const y = epoch.users[i] / 6000;
    sx += x;
    sy += y;
    sxx += x * x;
    syy += y * y;
    sxy += x * y;
  }
  const r = (sxy / n - (sx / n) * (sy / n)) /
    Math.sqrt((sxx / n - (sx / n) ** 2) * (syy / n - (sy / n) ** 2));
  assert.ok(Math.abs(r) < 0.01, `correlation ${r}`);
  // Each bucket-sized stretch of the epoch holds users from all over.
  const stretch = Math.floor(n / ctx.layout.numBuckets);
  for (let b = 0; b < ctx.layout.numBuckets; b++) {
    const users = epoch.users.subarray(b * stretch, (b + 1) * stretch);
    const mean = users.reduce((a, u) => a + u, 0) / users.length;
    assert.ok(Math.abs(mean / 6000 - 0.5) < 0.02, `stretch ${b}: mean user ${mean}`);
  }
});

Deno.test("epochLayout() refuses epochs beyond 2^31 - 1 examples", () => {
  const positives = { offsets: Int32Array.of(0, 1), items: new Int32Array(1) };
  assert.throws(
    () =>
      epochLayout({ ...positives, items: { length: 2 ** 29 } as Int32Array }, {
        numItems: 3,
        numNeg: 4,
      }),
    RangeError,
  );
});
