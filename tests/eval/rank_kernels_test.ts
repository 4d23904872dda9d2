import assert from "node:assert/strict";
import fc from "fast-check";
import { RankKernels } from "../../lib/eval/_rank_kernels.ts";
import { RANK_KERNELS_BASE64 } from "../../lib/eval/_rank_kernels_wasm.ts";
import { encodeBase64 } from "../../lib/kernels/wasm_build.ts";
import { compileRankKernels, RANK_WASM_TS, renderRankKernels } from "./_build_rank_kernels.ts";

Deno.test("the committed ranking bytes are what _build_rank_kernels.ts makes of _rank_kernels.wat", async () => {
  const bytes = await compileRankKernels();
  assert.ok(
    encodeBase64(bytes) === RANK_KERNELS_BASE64,
    "_rank_kernels_wasm.ts is stale: run tests/eval/_build_rank_kernels.ts",
  );
  assert.equal(renderRankKernels(bytes), await Deno.readTextFile(RANK_WASM_TS));
});

const value = fc.oneof(
  { arbitrary: fc.integer({ min: -3, max: 3 }), weight: 20 },
  { arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, -0, 1e-30), weight: 2 },
);

Deno.test("RankKernels' scans agree with plain loops, with and without WebAssembly", () => {
  const kernels = [new RankKernels(), new RankKernels({ wasm: false })];
  fc.assert(
    fc.property(
      fc.array(value, { maxLength: 70 }),
      fc.nat(70),
      fc.nat(70),
      value,
      (xs, a, b, value) => {
        const p = Math.fround(value); // the scans take float32 scores
        const from = Math.min(a, xs.length);
        const n = Math.min(b, xs.length - from);
        const row = xs.map(Math.fround);
        const below = row.slice(from, from + n).filter((x) => x < p).length;
        let next = row.slice(from, from + n).findIndex((x) => x > p);
        if (next < 0) next = n;
        for (const k of kernels) {
          const rows = k.rows(xs.length + 3);
          rows.set(row);
          assert.equal(
            k.countNotBelow(rows, from, n, p),
            n - below,
            `count, wasm ${k !== kernels[1]}`,
          );
          assert.equal(k.nextAbove(rows, from, n, p), next, `next, wasm ${k !== kernels[1]}`);
        }
      },
    ),
    { numRuns: 1000 },
  );
});

Deno.test("RankKernels' rows grow beyond one WebAssembly page and stay scannable", () => {
  const k = new RankKernels();
  k.rows(10);
  const big = k.rows(100_000);
  assert.ok(big.length >= 100_000);
  big.fill(1, 0, 100_000);
  big[99_999] = 2;
  assert.equal(k.countNotBelow(big, 0, 100_000, 2), 1);
  assert.equal(k.nextAbove(big, 50_000, 50_000, 1), 49_999);
});
