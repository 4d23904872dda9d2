import assert from "node:assert/strict";
import {
  fillGlorotUniform,
  fillLecunUniform,
  fillNormal,
  fillUniform,
} from "../../lib/model/init.ts";
import { Prng } from "../../lib/random/prng.ts";

function stats(x: Float32Array): { mean: number; std: number; maxAbs: number } {
  let s = 0;
  let q = 0;
  let maxAbs = 0;
  for (const v of x) {
    s += v;
    q += v * v;
    maxAbs = Math.max(maxAbs, Math.abs(v));
  }
  const mean = s / x.length;
  return { mean, std: Math.sqrt(q / x.length - mean * mean), maxAbs };
}

Deno.test("fillNormal() draws N(mean, std²) within sampling tolerance", () => {
  const x = new Float32Array(40_000);
  fillNormal(x, new Prng(1), { std: 0.01 });
  const { mean, std } = stats(x);
  assert.ok(Math.abs(mean) < 3e-4, `mean ${mean}`);
  assert.ok(Math.abs(std - 0.01) < 3e-4, `std ${std}`);
  fillNormal(x, new Prng(1), { std: 2, mean: 5 });
  assert.ok(Math.abs(stats(x).mean - 5) < 0.05);
});

Deno.test("Glorot and LeCun uniform stay within their limits and fill them (variance limit²/3)", async (t) => {
  const cases: [string, (x: Float32Array, p: Prng) => void, number][] = [
    [
      "glorot 64→32",
      (x, p) => fillGlorotUniform(x, p, { fanIn: 64, fanOut: 32 }),
      Math.sqrt(6 / 96),
    ],
    ["lecun 16", (x, p) => fillLecunUniform(x, p, { fanIn: 16 }), Math.sqrt(3 / 16)],
    ["uniform 1", (x, p) => fillUniform(x, p, { limit: 1 }), 1],
  ];
  for (const [name, fill, limit] of cases) {
    await t.step(name, () => {
      const x = new Float32Array(30_000);
      fill(x, new Prng(2));
      const { std, maxAbs } = stats(x);
      assert.ok(maxAbs <= limit && maxAbs > 0.99 * limit, `max ${maxAbs} limit ${limit}`);
      assert.ok(Math.abs(std - limit / Math.sqrt(3)) < 0.02 * limit, `std ${std}`);
    });
  }
});

Deno.test("initialisers are reproducible from the seed", () => {
  const a = new Float32Array(100);
  const b = new Float32Array(100);
  fillGlorotUniform(a, new Prng(9), { fanIn: 10, fanOut: 10 });
  fillGlorotUniform(b, new Prng(9), { fanIn: 10, fanOut: 10 });
  assert.deepEqual(a, b);
});
