import assert from "node:assert/strict";
import { hashSeed, Prng, shuffle } from "../../lib/random/prng.ts";

Deno.test("Prng gives the same sequence for the same seed and streams", () => {
  const a = new Prng(123, 4, 5);
  const b = new Prng(123, 4, 5);
  for (let i = 0; i < 1000; i++) assert.equal(a.nextUint32(), b.nextUint32());
});

Deno.test("Prng streams differ by seed and by stream index", () => {
  const first = (p: Prng) => Array.from({ length: 8 }, () => p.nextUint32()).join();
  const seen = new Set([
    first(new Prng(1)),
    first(new Prng(2)),
    first(new Prng(1, 0)),
    first(new Prng(1, 1)),
    first(new Prng(2 ** 40)),
    first(new Prng(2 ** 40 + 1)),
  ]);
  assert.equal(seen.size, 6);
});

Deno.test("Prng.nextInt() is uniform within tolerance and in range", () => {
  const p = new Prng(9);
  const counts = new Float64Array(7);
  const n = 70_000;
  for (let i = 0; i < n; i++) counts[p.nextInt(7)]++;
  for (const c of counts) assert.ok(Math.abs(c / n - 1 / 7) < 0.01, `share ${c / n}`);
  assert.equal(p.nextInt(1), 0);
  assert.throws(() => p.nextInt(0), RangeError);
});

Deno.test("Prng.nextFloat() lies in [0, 1) with mean 1/2 and nextGaussian() has unit variance", () => {
  const p = new Prng(10);
  let sum = 0;
  let sq = 0;
  const n = 50_000;
  for (let i = 0; i < n; i++) {
    const f = p.nextFloat();
    assert.ok(f >= 0 && f < 1);
    sum += f;
    const g = p.nextGaussian();
    sq += g * g;
  }
  assert.ok(Math.abs(sum / n - 0.5) < 0.01);
  assert.ok(Math.abs(sq / n - 1) < 0.03);
});

Deno.test("Prng state round-trips through getState() and setState()", () => {
  const p = new Prng(11);
  p.nextUint32();
  const state = p.getState();
  const expected = [p.nextUint32(), p.nextUint32()];
  const q = new Prng(0);
  q.setState(state);
  assert.deepEqual([q.nextUint32(), q.nextUint32()], expected);
  assert.throws(() => q.setState([1, 2]), RangeError);
});

Deno.test("hashSeed() rejects non-integers and negative numbers", () => {
  assert.throws(() => hashSeed(1.5), RangeError);
  assert.throws(() => hashSeed(-1), RangeError);
  assert.throws(() => new Prng(2 ** 53), RangeError);
});

Deno.test("shuffle() permutes and depends only on the seed", () => {
  const a = Int32Array.from({ length: 100 }, (_, i) => i);
  const b = a.slice();
  shuffle(a, new Prng(5));
  shuffle(b, new Prng(5));
  assert.deepEqual(a, b);
  assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
  assert.notDeepEqual([...a], Array.from({ length: 100 }, (_, i) => i));
});
