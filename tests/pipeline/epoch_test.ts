import assert from "node:assert/strict";
import {
  allocateEpochBuffers,
  BUCKET_SIZE,
  type EpochContext,
  epochLayout,
  inlineRunner,
  makeEpoch,
} from "../../lib/pipeline/epoch.ts";
import {
  type ExampleColumns,
  nthNonPositive,
  type Positives,
} from "../../lib/pipeline/epoch_kernels.ts";
import { startEpochWorkers } from "../../lib/pipeline/epoch_workers.ts";
import type { NegativeSampling, ShardSchema } from "../../lib/flags/specs.ts";
import { Prng } from "../../lib/random/prng.ts";
import { randomPositives } from "./_fixtures.ts";

function context<S extends ShardSchema = "pairs">(
  positives: Positives,
  o: {
    numItems: number;
    numNeg: number;
    seed?: number;
    schema?: S;
    negativeSampling?: NegativeSampling | undefined;
  },
): EpochContext<S> {
  const layout = epochLayout(positives, o);
  return { layout, buffers: allocateEpochBuffers(positives, layout), seed: o.seed ?? 7 };
}

function copy<C extends ExampleColumns>(c: C): C {
  return Object.fromEntries(
    Object.entries(c).map(([k, v]) => [k, (v as Int32Array).slice()]),
  ) as unknown as C;
}

/** SHA-256 of the columns' bytes, in order, as hex. */
async function sha256(...arrays: ArrayBufferView[]): Promise<string> {
  const all = new Uint8Array(arrays.reduce((n, a) => n + a.byteLength, 0));
  let at = 0;
  for (const a of arrays) {
    all.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
    at += a.byteLength;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Whether chi-square of `counts` against `expected` each stays below z = 4 (Wilson–Hilferty). */
function chiSquareOk(counts: ArrayLike<number>, expected: ArrayLike<number>): boolean {
  let chi = 0;
  for (let i = 0; i < counts.length; i++) chi += (counts[i] - expected[i]) ** 2 / expected[i];
  const df = counts.length - 1;
  const z = (Math.cbrt(chi / df) - (1 - 2 / (9 * df))) / Math.sqrt(2 / (9 * df));
  return z < 4;
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
  const ctx = context(positives, { numItems, numNeg: 4 });
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
  const ctx = context(positives, { numItems, numNeg: 4 });
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
  const ctx = context(positives, { numItems: 10, numNeg: 4000 });
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
    const ctx = context(positives, { numItems, numNeg: 4, seed: 11 });
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
  const other = context(positives, { numItems, numNeg: 4, seed: 12 });
  assert.notDeepEqual(copy(await makeEpoch(other, inlineRunner(other), 3)).items, results[0].items);
});

Deno.test("workers that start the next epoch ahead give the same epochs in any order", async () => {
  const numItems = 600;
  const positives = randomPositives(5, { numUsers: 2000, numItems, maxPerUser: 40 });
  const inline = context(positives, { numItems, numNeg: 4, seed: 13 });
  const expected = new Map<number, ReturnType<typeof copy>>();
  for (const e of [2, 3, 4, 5]) {
    expected.set(e, copy(await makeEpoch(inline, inlineRunner(inline), e)));
  }
  const ctx = context(positives, { numItems, numNeg: 4, seed: 13 });
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
  const ctx = context(positives, { numItems, numNeg: 4, seed: 3 });
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

Deno.test("pairs with exact negatives keep the bytes they had before triples existed", async () => {
  // The hash of this epoch as the generator made it before issue 13.
  const positives = randomPositives(4, { numUsers: 300, numItems: 80, maxPerUser: 70 });
  for (const negativeSampling of [undefined, "exact"] as const) {
    const ctx = context(positives, { numItems: 80, numNeg: 4, seed: 11, negativeSampling });
    const epoch = await makeEpoch(ctx, inlineRunner(ctx), 3);
    assert.equal(ctx.layout.size, 55050);
    assert.equal(
      await sha256(epoch.users, epoch.items, epoch.labels),
      "5b18326e3ea80c399cbfd82d136a702693ca23465c2e104e3b914d725c58dc16",
    );
  }
});

Deno.test("a triples epoch holds every positive numNeg times, each with its own exact negative", async (t) => {
  // Users with up to 290 of 300 items: both the rejection and the bisection paths.
  const numItems = 300;
  const positives = randomPositives(2, { numUsers: 700, numItems, maxPerUser: 290 });
  for (const numNeg of [1, 4]) {
    await t.step(`${numNeg} negatives per positive`, async () => {
      const ctx = context(positives, { numItems, numNeg, schema: "triples" });
      const epoch = await makeEpoch(ctx, inlineRunner(ctx), 0);
      const n = ctx.layout.size;
      assert.equal(n, positives.items.length * numNeg);
      assert.equal(epoch.labels, undefined);
      assert.equal(epoch.negItems.length, n);
      const times = new Int32Array(positives.items.length);
      for (let i = 0; i < n; i++) {
        const u = epoch.users[i];
        const row = positives.items.subarray(positives.offsets[u], positives.offsets[u + 1]);
        const at = row.indexOf(epoch.items[i]);
        assert.ok(at >= 0, `(${u}, ${epoch.items[i]}) is not a training positive`);
        times[positives.offsets[u] + at]++;
        const negative = epoch.negItems[i];
        assert.ok(negative >= 0 && negative < numItems);
        assert.equal(row.indexOf(negative), -1, `negative (${u}, ${negative}) is a positive`);
      }
      assert.ok(times.every((x) => x === numNeg), "a positive not exactly numNeg times");
    });
  }
});

Deno.test("triples epochs are shuffled, get fresh negatives, and are the same bytes with 0, 1 and 2 workers", async () => {
  const numItems = 800;
  const positives = randomPositives(4, { numUsers: 3000, numItems, maxPerUser: 40 });
  const results = [];
  for (const workers of [0, 1, 2]) {
    const ctx = context(positives, { numItems, numNeg: 4, seed: 11, schema: "triples" });
    const runner = workers === 0 ? inlineRunner(ctx) : startEpochWorkers(ctx, workers);
    try {
      results.push(copy(await makeEpoch(ctx, runner, 3)));
      if (workers === 0) results.push(copy(await makeEpoch(ctx, runner, 4)));
    } finally {
      if ("close" in runner) (runner as { close(): void }).close();
    }
  }
  const [first, next, one, two] = results;
  assert.ok(first.users.length > BUCKET_SIZE);
  assert.deepEqual(one, first);
  assert.deepEqual(two, first);
  // Epoch 4 pairs other negatives with the positives, in another order.
  assert.notDeepEqual(next.negItems, first.negItems);
  assert.notDeepEqual(next.users, first.users);
  // The first tenth of the epoch holds users from all over.
  const firstTenth = new Set(first.users.subarray(0, Math.floor(first.users.length / 10)));
  assert.ok(firstTenth.size > 2500, `only ${firstTenth.size} users in the first tenth`);
});

Deno.test("uniform negatives are drawn from all items, the user's positives included", async (t) => {
  // One user with positives {0, 1} of 10 items: 8000 negatives per positive.
  const positives = { offsets: Int32Array.of(0, 2), items: Int32Array.of(0, 1) };
  for (const schema of ["pairs", "triples"] as const) {
    await t.step(schema, async () => {
      const ctx = context(positives, {
        numItems: 10,
        numNeg: 8000,
        seed: 5,
        schema,
        negativeSampling: "uniform",
      });
      const epoch: ExampleColumns = await makeEpoch(ctx, inlineRunner(ctx), 0);
      const counts = new Float64Array(10);
      let positivesSeen = 0;
      for (let i = 0; i < epoch.users.length; i++) {
        if (epoch.labels !== undefined) {
          if (epoch.labels[i] === 1) positivesSeen++;
          else counts[epoch.items[i]]++;
        } else {
          assert.ok(epoch.items[i] === 0 || epoch.items[i] === 1);
          counts[epoch.negItems[i]]++;
        }
      }
      if (schema === "pairs") assert.equal(positivesSeen, 2);
      assert.equal(counts.reduce((a, b) => a + b), 16000);
      assert.ok(counts[0] > 0 && counts[1] > 0, "the user's positives are never drawn");
      assert.ok(chiSquareOk(counts, new Float64Array(10).fill(1600)), `counts ${counts}`);
    });
  }
});

Deno.test("uniform sampling serves a user with a positive for every item, which exact refuses", async () => {
  const positives = { offsets: Int32Array.of(0, 3), items: Int32Array.of(0, 1, 2) };
  const uniform = context(positives, { numItems: 3, numNeg: 2, negativeSampling: "uniform" });
  const epoch = await makeEpoch(uniform, inlineRunner(uniform), 0);
  assert.equal(epoch.users.length, 9);
  const exact = context(positives, { numItems: 3, numNeg: 2 });
  await assert.rejects(
    () => makeEpoch(exact, inlineRunner(exact), 0),
    /Cannot sample negatives for user 0: they have a positive for every item/,
  );
});

Deno.test("epochLayout() refuses triples without negatives", () => {
  const positives = { offsets: Int32Array.of(0, 1), items: Int32Array.of(0) };
  assert.throws(
    () => epochLayout(positives, { numItems: 3, numNeg: 0, schema: "triples" }),
    /Cannot make triples with 0 negatives per positive: need at least 1/,
  );
});
