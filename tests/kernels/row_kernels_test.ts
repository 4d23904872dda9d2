/**
 * The embedding-row kernels (`gatherRows`, `scatterAddRows`, `l2RowPenalty`)
 * and {@linkcode TouchedRows}, as one suite over every kernel set, on
 * arrays from the set's memory (so the WebAssembly sets run their fast path).
 *
 * @module
 */

import assert from "node:assert/strict";
import { TouchedRows } from "../../lib/kernels/touched_rows.ts";
import { Prng } from "../../lib/random/prng.ts";
import { assertGradient } from "../model/_grad_check.ts";
import { from, overKernelSets, randomArray } from "./_kernel_sets.ts";

Deno.test("gatherRows() copies rows into a strided, offset buffer", async (t) => {
  await overKernelSets(t, (k, memory) => {
    const table = from(memory, [0, 1, 10, 11, 20, 21]);
    const out = memory.alloc(8).fill(-1);
    k.gatherRows(table, Int32Array.of(2, 0, 1), { dim: 2, count: 2, out, stride: 4, offset: 1 });
    assert.deepEqual([...out], [-1, 20, 21, -1, -1, 0, 1, -1]);
  });
});

Deno.test("gatherRows() and scatterAddRows() refuse ids outside the table", async (t) => {
  await overKernelSets(t, (k, memory) => {
    const table = memory.alloc(6);
    const out = memory.alloc(4);
    assert.throws(
      () => k.gatherRows(table, Int32Array.of(0, 3), { dim: 2, count: 2, out }),
      RangeError,
    );
    assert.throws(
      () => k.gatherRows(table, Int32Array.of(-1), { dim: 2, count: 1, out }),
      RangeError,
    );
    assert.throws(
      () => k.scatterAddRows(table, Int32Array.of(3), { dim: 2, count: 1, src: out }),
      RangeError,
    );
    assert.throws(
      () => k.gatherRows(table, Int32Array.of(0), { dim: 2, count: 2, out }),
      RangeError,
    );
  });
});

Deno.test("scatterAddRows() is the gradient of gatherRows() (repeated ids accumulate)", async (t) => {
  await overKernelSets(t, (k, memory) => {
    const prng = new Prng(1);
    const rows = 5;
    const dim = 3;
    const table = randomArray(memory, rows * dim, prng);
    const ids = Int32Array.of(4, 1, 4, 0, 4);
    const count = ids.length;
    const stride = 2 * dim;
    const out = memory.alloc(count * stride);
    const r = randomArray(memory, count * stride, prng);
    const loss = () => {
      k.gatherRows(table, ids, { dim, count, out, stride, offset: dim });
      let s = 0;
      for (let b = 0; b < count; b++) {
        for (let d = 0; d < dim; d++) s += r[b * stride + dim + d] * out[b * stride + dim + d];
      }
      return s;
    };
    const grads = memory.alloc(rows * dim);
    const touched = new TouchedRows(rows);
    k.scatterAddRows(grads, ids, { dim, count, src: r, stride, offset: dim, touched });
    assertGradient(loss, table, grads, { label: "table" });
    assert.deepEqual([...touched.rows.subarray(0, touched.count)], [4, 1, 0]);
    assert.deepEqual([...grads.subarray(2 * dim, 4 * dim)], new Array(2 * dim).fill(0));
  });
});

Deno.test("l2RowPenalty() returns Σ‖row‖² per lookup and adds gradScale·row, matching central differences", async (t) => {
  await overKernelSets(t, (k, memory) => {
    const prng = new Prng(2);
    const dim = 4;
    const table = randomArray(memory, 6 * dim, prng);
    const ids = Int32Array.of(5, 2, 5);
    const c = 0.3;
    const grads = memory.alloc(table.length);
    const s = k.l2RowPenalty(table, ids, { dim, count: 3, grads, gradScale: 2 * c });
    let expected = 0;
    for (const id of ids) for (let d = 0; d < dim; d++) expected += table[id * dim + d] ** 2;
    assert.ok(Math.abs(s - expected) < 1e-9);
    assertGradient(() => c * k.l2RowPenalty(table, ids, { dim, count: 3 }), table, grads, {
      label: "penalty",
    });
  });
});

Deno.test("TouchedRows deduplicates, clears in O(1) and survives many epochs", () => {
  const t = new TouchedRows(4);
  for (let epoch = 0; epoch < 1000; epoch++) {
    t.mark(epoch % 4);
    t.mark(epoch % 4);
    t.mark(3);
    assert.equal(t.count, epoch % 4 === 3 ? 1 : 2);
    t.clear();
    assert.equal(t.count, 0);
    assert.ok(!t.has(3));
  }
});
