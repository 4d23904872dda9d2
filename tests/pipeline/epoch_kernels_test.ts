import assert from "node:assert/strict";
import {
  countBuckets,
  fillBuckets,
  shuffleBucket,
  shuffleTripleBucket,
  wordBelow,
} from "../../lib/pipeline/epoch_kernels.ts";
import { Prng } from "../../lib/random/prng.ts";
import { randomPositives } from "./_fixtures.ts";

const TWO_POW_32 = 2 ** 32;

/** Lemire's multiply-shift with rejection, in exact BigInt arithmetic. */
function referenceBelow(x: number, n: number): number {
  const m = BigInt(x) * BigInt(n);
  const low = Number(m & 0xffffffffn);
  if (low < TWO_POW_32 % n) return -1;
  return Number(m >> 32n);
}

/** Upper-tail p-value bound check: chi-square statistic against df (Wilson–Hilferty, z < 4). */
function chiSquareOk(counts: ArrayLike<number>, expected: number): boolean {
  let chi = 0;
  for (let i = 0; i < counts.length; i++) chi += (counts[i] - expected) ** 2 / expected;
  const df = counts.length - 1;
  const z = (Math.cbrt(chi / df) - (1 - 2 / (9 * df))) / Math.sqrt(2 / (9 * df));
  return z < 4;
}

Deno.test("Prng.fillUint32() continues the very stream of nextUint32()", () => {
  for (const length of [0, 1, 7, 1024, 3000]) {
    const bulk = new Prng(9, 4);
    const one = new Prng(9, 4);
    const words = new Uint32Array(length);
    bulk.fillUint32(words);
    for (let i = 0; i < length; i++) assert.equal(words[i], one.nextUint32());
    assert.equal(bulk.nextUint32(), one.nextUint32());
  }
});

Deno.test("wordBelow() is Lemire's exact multiply-shift with rejection", async (t) => {
  const ns = [1, 2, 3, 7, 10, 1000, 26744, 65535, 65536, 131071, 2 ** 21 - 1, 2 ** 21, 2 ** 21 + 1];
  ns.push(123456789, 2 ** 31 - 1, 2 ** 31, 3 * 2 ** 30 + 7, TWO_POW_32 - 1, TWO_POW_32);
  await t.step("it agrees with exact arithmetic on random and extreme words", () => {
    const prng = new Prng(5);
    for (const n of ns) {
      const words = [0, 1, 2, 0x7fffffff, 0x80000000, 0x80000001, TWO_POW_32 - 2, TWO_POW_32 - 1];
      for (let i = 0; i < 2000; i++) words.push(prng.nextUint32());
      for (const x of words) assert.equal(wordBelow(x, n), referenceBelow(x, n), `x ${x}, n ${n}`);
    }
  });
  await t.step("every result has exactly floor(2^32 / n) words", () => {
    // x -> floor(x n / 2^32) is non-decreasing, and within one result the low
    // part x n mod 2^32 increases with x, so the rejected words of result r
    // are its first ones: checking both edges of every result's accepted run
    // proves the count, for every r < n (all n of the small cases, the first
    // and last 500 of the others).
    for (const n of ns) {
      const t32 = TWO_POW_32 % n;
      const rs = n <= 1000 ? [...Array(n).keys()] : [
        ...Array.from({ length: 500 }, (_, i) => i),
        ...Array.from({ length: 500 }, (_, i) => n - 1 - i),
      ];
      for (const r of rs) {
        // First accepted word: smallest x with x n >= r 2^32 + t32.
        const first = Number((BigInt(r) * 2n ** 32n + BigInt(t32) + BigInt(n) - 1n) / BigInt(n));
        // Last word of r: largest x with x n < (r + 1) 2^32.
        const last = Number(((BigInt(r) + 1n) * 2n ** 32n - 1n) / BigInt(n));
        assert.equal(last - first + 1, Math.floor(TWO_POW_32 / n), `n ${n}, r ${r}`);
        assert.equal(wordBelow(first, n), r);
        assert.equal(wordBelow(last, n), r);
        if (first > 0) assert.notEqual(wordBelow(first - 1, n), r);
        if (last < TWO_POW_32 - 1) assert.notEqual(wordBelow(last + 1, n), r);
      }
    }
  });
  await t.step("its draws pass a chi-square test", () => {
    const prng = new Prng(6);
    const words = new Uint32Array(1 << 16);
    for (const n of [3, 10, 26744, 3 * 2 ** 21]) {
      const bins = Math.min(n, 1000);
      const counts = new Float64Array(bins);
      let drawn = 0;
      while (drawn < bins * 200) {
        prng.fillUint32(words);
        for (const x of words) {
          const r = wordBelow(x, n);
          if (r >= 0 && drawn < bins * 200) {
            counts[Math.floor(r * bins / n)]++;
            drawn++;
          }
        }
      }
      // With n not a multiple of bins the bins differ by at most one value.
      if (n % bins === 0) assert.ok(chiSquareOk(counts, 200), `n ${n}`);
      else assert.ok(counts.every((c) => Math.abs(c - 200) < 100), `n ${n}`);
    }
  });
});

Deno.test("countBuckets() draws uniform buckets and fillBuckets() replays them", () => {
  const positives = randomPositives(8, { numUsers: 300, numItems: 200, maxPerUser: 60 });
  const numNeg = 3;
  const examples = positives.items.length * (1 + numNeg);
  const counts = new Int32Array(8);
  countBuckets(counts, { examples, prng: new Prng(1, 2) });
  assert.equal(counts.reduce((a, b) => a + b), examples);
  assert.ok(chiSquareOk(counts, examples / 8), `counts ${counts}`);
  const cursor = new Int32Array(8);
  for (let b = 1; b < 8; b++) cursor[b] = cursor[b - 1] + counts[b - 1];
  const starts = cursor.slice();
  const packed = new Int32Array(2 * examples).fill(-1);
  fillBuckets(positives, packed, {
    userStart: 0,
    userEnd: 300,
    numItems: 200,
    numNeg,
    cursor,
    negativePrng: new Prng(1, 1),
    bucketPrng: new Prng(1, 2),
  });
  // Each bucket is filled exactly: its cursor reached the next bucket's start.
  for (let b = 0; b < 8; b++) assert.equal(cursor[b], b < 7 ? starts[b + 1] : examples);
  assert.ok(!packed.includes(-1));
});

Deno.test("countBuckets() and fillBuckets() refuse a bucket count that is not a power of two", () => {
  assert.throws(
    () => countBuckets(new Int32Array(3), { examples: 1, prng: new Prng(1) }),
    RangeError,
  );
});

Deno.test("fillBuckets() draws exact, uniform negatives for a user with most items (bisection)", () => {
  // 20 items, positives all but {3, 11, 17}: fewer than a quarter are left.
  const items = [...Array(20).keys()].filter((i) => ![3, 11, 17].includes(i));
  const positives = { offsets: Int32Array.of(0, items.length), items: Int32Array.from(items) };
  const numNeg = 2000;
  const n = items.length * (1 + numNeg);
  const packed = new Int32Array(2 * n);
  fillBuckets(positives, packed, {
    userStart: 0,
    userEnd: 1,
    numItems: 20,
    numNeg,
    cursor: Int32Array.of(0),
    negativePrng: new Prng(3),
    bucketPrng: new Prng(4),
  });
  const counts = new Map<number, number>();
  let positivesSeen = 0;
  for (let i = 0; i < n; i++) {
    const word = packed[2 * i + 1];
    if (word < 0) positivesSeen++;
    else counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  assert.equal(positivesSeen, items.length);
  assert.deepEqual([...counts.keys()].sort((a, b) => a - b), [3, 11, 17]);
  const expected = (n - items.length) / 3;
  for (const c of counts.values()) assert.ok(Math.abs(c / expected - 1) < 0.03, `${c}`);
});

Deno.test("fillBuckets() refuses a user with a positive for every item", () => {
  const positives = { offsets: Int32Array.of(0, 2), items: Int32Array.of(0, 1) };
  assert.throws(
    () =>
      fillBuckets(positives, new Int32Array(12), {
        userStart: 0,
        userEnd: 1,
        numItems: 2,
        numNeg: 2,
        cursor: Int32Array.of(0),
        negativePrng: new Prng(1),
        bucketPrng: new Prng(2),
      }),
    /Cannot sample negatives for user 0/,
  );
});

Deno.test("shuffleBucket() draws every permutation equally often", () => {
  // 4 examples: 24 permutations, 24 000 shuffles.
  const counts = new Map<string, number>();
  const out = { users: new Int32Array(6), items: new Int32Array(6), labels: new Int8Array(6) };
  for (let s = 0; s < 24000; s++) {
    const packed = Int32Array.of(9, 9, 0, 0, 1, 1, 2, 2, 3, 3, 9, 9);
    shuffleBucket(packed, out, { start: 1, end: 5, prng: new Prng(s) });
    const key = out.users.subarray(1, 5).join();
    assert.equal(key, out.items.subarray(1, 5).join());
    counts.set(key, (counts.get(key) ?? 0) + 1);
    assert.equal(packed[0], 9);
    assert.equal(packed[10], 9);
  }
  assert.equal(counts.size, 24);
  assert.ok(chiSquareOk([...counts.values()], 1000), `${[...counts.values()]}`);
});

Deno.test("fillBuckets() writes numNeg triples per positive, with exact or uniform negatives", async (t) => {
  // 20 items; user 0 has all but {3, 11, 17} (bisection), user 1 has {0, 5} (rejection).
  const most = [...Array(20).keys()].filter((i) => ![3, 11, 17].includes(i));
  const positives = {
    offsets: Int32Array.of(0, most.length, most.length + 2),
    items: Int32Array.from([...most, 0, 5]),
  };
  for (const sampling of ["exact", "uniform"] as const) {
    await t.step(`${sampling} negatives`, () => {
      const numNeg = 300;
      const n = positives.items.length * numNeg;
      const packed = new Int32Array(3 * n).fill(-1);
      fillBuckets(positives, packed, {
        userStart: 0,
        userEnd: 2,
        numItems: 20,
        numNeg,
        cursor: Int32Array.of(0),
        negativePrng: new Prng(3),
        bucketPrng: new Prng(4),
        schema: "triples",
        sampling,
      });
      const times = new Map<string, number>();
      const negatives = [new Set<number>(), new Set<number>()];
      for (let i = 0; i < n; i++) {
        const [u, item, negative] = packed.subarray(3 * i, 3 * i + 3);
        const row = [...positives.items.subarray(positives.offsets[u], positives.offsets[u + 1])];
        assert.ok(row.includes(item), `(${u}, ${item}) is not a positive`);
        times.set(`${u},${item}`, (times.get(`${u},${item}`) ?? 0) + 1);
        negatives[u].add(negative);
      }
      assert.equal(times.size, positives.items.length);
      assert.ok([...times.values()].every((x) => x === numNeg));
      if (sampling === "exact") {
        assert.deepEqual([...negatives[0]].sort((a, b) => a - b), [3, 11, 17]);
        assert.ok(!negatives[1].has(0) && !negatives[1].has(5) && negatives[1].size === 18);
      } else {
        // All 20 items, positives included, for both users.
        assert.equal(negatives[0].size, 20);
        assert.equal(negatives[1].size, 20);
      }
    });
  }
});

Deno.test("fillBuckets() refuses triples without negatives", () => {
  const positives = { offsets: Int32Array.of(0, 1), items: Int32Array.of(0) };
  assert.throws(
    () =>
      fillBuckets(positives, new Int32Array(3), {
        userStart: 0,
        userEnd: 1,
        numItems: 2,
        numNeg: 0,
        cursor: Int32Array.of(0),
        negativePrng: new Prng(1),
        bucketPrng: new Prng(2),
        schema: "triples",
      }),
    /Cannot make triples with 0 negatives per positive/,
  );
});

Deno.test("shuffleTripleBucket() draws every permutation equally often and keeps triples whole", () => {
  // 4 triples: 24 permutations, 24 000 shuffles.
  const counts = new Map<string, number>();
  const out = { users: new Int32Array(6), items: new Int32Array(6), negItems: new Int32Array(6) };
  for (let s = 0; s < 24000; s++) {
    const packed = Int32Array.of(9, 9, 9, 0, 10, 20, 1, 11, 21, 2, 12, 22, 3, 13, 23, 9, 9, 9);
    shuffleTripleBucket(packed, out, { start: 1, end: 5, prng: new Prng(s) });
    const users = out.users.subarray(1, 5);
    assert.deepEqual([...out.items.subarray(1, 5)], [...users].map((u) => u + 10));
    assert.deepEqual([...out.negItems.subarray(1, 5)], [...users].map((u) => u + 20));
    const key = users.join();
    counts.set(key, (counts.get(key) ?? 0) + 1);
    assert.deepEqual([...packed.subarray(0, 3), ...packed.subarray(15)], [9, 9, 9, 9, 9, 9]);
  }
  assert.equal(counts.size, 24);
  assert.ok(chiSquareOk([...counts.values()], 1000), `${[...counts.values()]}`);
});
