/**
 * Every element-wise kernel of every kernel set gives the `ts` set's bits:
 * one table of cases × sets, each case run on arrays from the set's own
 * memory (so the WebAssembly sets run their SIMD fast path, which the test
 * checks the arrays qualify for) and compared bit for bit with the `ts`
 * kernels on plain arrays.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { AdamConstants, Kernels, TensorMemory } from "../../lib/kernels/kernels.ts";
import { TouchedRows } from "../../lib/kernels/touched_rows.ts";
import { tsKernels } from "../../lib/kernels/ts_kernels.ts";
import { wasmArenaOf } from "../../lib/kernels/wasm_arena.ts";
import { Prng } from "../../lib/random/prng.ts";
import { assertSameBits, kernelSets, testMemory } from "./_kernel_sets.ts";

/** What a case hands back: arrays compared bit for bit, numbers with `Object.is`. */
type Outputs = Record<string, Float32Array | number>;

/** A source of arrays for one run of a case. */
interface Arrays {
  /** A zeroed array of the run's memory. */
  alloc(n: number): Float32Array;
  /** An array of the run's memory filled with edge cases, then Gaussians. */
  edgy(n: number): Float32Array;
  /** An array of the run's memory filled with finite values (edge cases without NaN/∞). */
  finite(n: number): Float32Array;
}

/** ±0, NaN, subnormals, values near the float32 limits. */
const _SPECIAL = [0, -0, NaN, 1e-40, -1e-40, 3e38, -3e38];

function arrays(memory: TensorMemory, seed: number): Arrays & { allocated: Float32Array[] } {
  const prng = new Prng(seed);
  const allocated: Float32Array[] = [];
  const alloc = (n: number) => {
    const x = memory.alloc(n);
    allocated.push(x);
    return x;
  };
  const fillWith = (special: number[]) => (n: number) => {
    const x = alloc(n);
    for (let i = 0; i < n; i++) x[i] = i < special.length ? special[i] : prng.nextGaussian();
    return x;
  };
  return {
    allocated,
    alloc,
    edgy: fillWith(_SPECIAL),
    finite: fillWith(_SPECIAL.filter((v) => !Number.isNaN(v))),
  };
}

/** The float32 constants of an Adam step, as `lib/optim/adam.ts` computes them. */
function adamConstants(t: number, lr: number): AdamConstants {
  const f = Math.fround;
  const lrT = lr * Math.sqrt(1 - Math.pow(0.999, t)) / (1 - Math.pow(0.9, t));
  return { b1: f(0.9), b2: f(0.999), c1: f(1 - 0.9), c2: f(1 - 0.999), lr: f(lrT), eps: f(1e-8) };
}

/**
 * An MF's tables in the run's memory: Gaussians of σ 0.7 with zeros (±0),
 * subnormals and large values mixed in, and `count` examples over them.
 */
function mfOperands(a: Arrays, sizes: { users: number; items: number; nf: number; count: number }) {
  const prng = new Prng(11);
  const fill = (n: number) => {
    const x = a.alloc(n);
    for (let i = 0; i < n; i++) {
      const r = prng.nextInt(20);
      x[i] = r === 0
        ? 0
        : r === 1
        ? -0
        : r === 2
        ? 1e-40
        : r === 3
        ? 30
        : 0.7 * prng.nextGaussian();
    }
    return x;
  };
  const { users, items, nf, count } = sizes;
  const ids = (n: number) => Int32Array.from({ length: count }, () => prng.nextInt(n));
  return {
    tables: {
      userTable: fill(users * nf),
      itemTable: fill(items * nf),
      userBias: fill(users),
      itemBias: fill(items),
      globalBias: fill(1),
      factors: nf,
    },
    users: ids(users),
    items: ids(items),
    negItems: ids(items),
    labels: Int8Array.from({ length: count }, () => prng.nextInt(3) === 0 ? 1 : 0),
  };
}

const CASES: Record<string, (k: Kernels, a: Arrays) => Outputs> = {
  broadcastRows(k, a) {
    const row = a.edgy(7);
    const out = a.edgy(5 * 7 + 3); // the tail past `count` rows stays
    k.broadcastRows(row, out, { count: 5 });
    return { out };
  },

  biasGrad(k, a) {
    const dy = a.edgy(7 * 5);
    const bias = a.edgy(5);
    k.biasGrad(dy, bias, { count: 7, accumulate: false });
    const overwritten = bias.slice();
    k.biasGrad(dy, bias, { count: 6, accumulate: true });
    return { overwritten, accumulated: bias };
  },

  relu(k, a) {
    const v = a.edgy(23); // 4k+3 elements, the last two past `length`
    k.relu(v, 21);
    return { v };
  },

  reluBackward(k, a) {
    const acts = a.edgy(23);
    k.relu(acts, 23);
    const grads = a.edgy(23);
    k.reluBackward(acts, grads, 22);
    const raw = a.edgy(23); // activations that are not a ReLU's output (NaN, −0 …)
    const g2 = a.edgy(23);
    k.reluBackward(raw, g2, 23);
    return { grads, g2 };
  },

  gatherRows(k, a) {
    const table = a.edgy(10 * 6);
    const out = a.edgy(5 * 14);
    k.gatherRows(table, Int32Array.of(3, 9, 3, 0, 7), {
      dim: 6,
      count: 5,
      out,
      stride: 14,
      offset: 5,
    });
    const packed = a.alloc(4 * 6);
    k.gatherRows(table, Int32Array.of(9, 9, 1, 2, 5), { dim: 6, count: 4, out: packed });
    return { out, packed };
  },

  scatterAddRows(k, a) {
    const grads = a.edgy(10 * 6);
    const src = a.edgy(5 * 14);
    const touched = new TouchedRows(10);
    k.scatterAddRows(grads, Int32Array.of(3, 9, 3, 0, 7), {
      dim: 6,
      count: 5,
      src,
      stride: 14,
      offset: 5,
      touched,
    });
    const packed = a.finite(4 * 6);
    k.scatterAddRows(grads, Int32Array.of(1, 1, 3, 8), { dim: 6, count: 4, src: packed });
    return { grads, touched: Float32Array.from(touched.rows.subarray(0, touched.count)) };
  },

  l2RowPenalty(k, a) {
    const table = a.finite(10 * 6);
    const grads = a.edgy(10 * 6);
    const ids = Int32Array.of(3, 9, 3, 0, 7);
    const penalty = k.l2RowPenalty(table, ids, { dim: 6, count: 5, grads, gradScale: 0.3 });
    const forward = k.l2RowPenalty(table, ids, { dim: 6, count: 4 });
    return { penalty, forward, grads };
  },

  mulRows(k, a) {
    const x = a.edgy(7 * 9);
    const y = a.finite(7 * 6);
    const out = a.edgy(7 * 8);
    k.mulRows(x, y, { sx: 9, sy: 6, out, so: 8, rows: 7, cols: 5 });
    const packed = a.alloc(3 * 6);
    k.mulRows(y, y, { sx: 6, sy: 6, out: packed, so: 6, rows: 3, cols: 6 });
    return { out, packed };
  },

  copyColumns(k, a) {
    const src = a.edgy(6 * 4);
    const wide = a.edgy(6 * 10);
    k.copyColumns(src, wide, { count: 6, width: 4, at: 3, to: 10 });
    const narrow = a.edgy(6 * 4);
    k.copyColumns(wide, narrow, { count: 6, width: 4, at: 5, from: 10 });
    return { wide, narrow };
  },

  addReluRowsWidth32(k, a) {
    // The unrolled width-32 path, edge values included (NaN becomes 0).
    const row = a.edgy(32);
    const src = a.edgy(7 * 32);
    const out = a.alloc(7 * 32);
    k.addReluRows(src, row, out, { count: 7 });
    return { out };
  },

  addReluRowsOddWidth(k, a) {
    const row = a.edgy(13);
    const src = a.edgy(5 * 13);
    const out = a.alloc(5 * 13);
    k.addReluRows(src, row, out, { count: 5 });
    return { out };
  },

  scoreRowsJoint(k, a) {
    // NeuMF's layout: one table of [GMF row | first-layer shares] per item.
    const nf = 5;
    const width = 7;
    const table = a.edgy(11 * (nf + width));
    const items = Int32Array.of(3, 10, 0, 3, 7, 1, 1, 9, 4);
    const logits = a.edgy(items.length);
    const act = a.edgy(items.length * width);
    k.scoreRows(items, {
      count: 8,
      gmf: table,
      gmfStride: nf + width,
      nf,
      uw: a.finite(nf),
      base: Math.fround(0.25),
      logits,
      mlp: table,
      mlpStride: nf + width,
      mlpOffset: nf,
      width,
      userPart: a.finite(width),
      act,
    });
    return { logits, act };
  },

  scoreRowsGmf(k, a) {
    // A GMF: no MLP term, the act buffer is the logits (as NeuMF passes it).
    const nf = 6;
    const table = a.edgy(11 * nf);
    const items = Int32Array.of(10, 0, 5, 5, 2);
    const logits = a.edgy(items.length);
    const uw = a.finite(nf);
    k.scoreRows(items, {
      count: items.length,
      gmf: table,
      gmfStride: nf,
      nf,
      uw,
      base: Math.fround(-1.5),
      logits,
      mlp: new Float32Array(0),
      mlpStride: 1,
      mlpOffset: 0,
      width: 0,
      userPart: uw,
      act: logits,
    });
    return { logits };
  },

  scoreRowsMlp(k, a) {
    // An MLP: no GMF term, the first-layer shares alone.
    const width = 9;
    const table = a.edgy(11 * width);
    const items = Int32Array.of(4, 4, 10, 0, 8, 6);
    const logits = a.edgy(items.length);
    const act = a.edgy(items.length * width);
    k.scoreRows(items, {
      count: items.length,
      gmf: new Float32Array(0),
      gmfStride: 1,
      nf: 0,
      uw: a.alloc(1),
      base: Math.fround(0.5),
      logits,
      mlp: table,
      mlpStride: width,
      mlpOffset: 0,
      width,
      userPart: a.finite(width),
      act,
    });
    return { logits, act };
  },

  adamUpdate(k, a) {
    // 37 rows of 3 (updated a row at a time, as LazyAdam does) and 13 dense values.
    const size = 37 * 3 + 13;
    const values = a.finite(size);
    const grads = a.alloc(size);
    const m = a.alloc(size);
    const v = a.alloc(size);
    const prng = new Prng(5);
    const range = { m, v, start: 0, end: 0, constants: adamConstants(1, 0.01) };
    for (let s = 0; s < 40; s++) {
      for (let i = 0; i < size; i++) {
        // Gradients that vanish now and then drive moments into the flush range.
        const g = i < _SPECIAL.length && !Number.isNaN(_SPECIAL[i])
          ? _SPECIAL[i]
          : prng.nextGaussian();
        grads[i] = s % 9 === 4 || i % 7 === 3 ? 0 : g;
      }
      range.constants = adamConstants(s + 1, 0.01);
      for (let r = s % 3; r < 37; r += 3) {
        range.start = 3 * r;
        range.end = 3 * r + 3;
        k.adamUpdate(values, grads, range);
      }
      range.start = 37 * 3;
      range.end = size;
      k.adamUpdate(values, grads, range);
    }
    // One sweep of everything, as Adam does.
    grads.set(a.finite(size));
    range.start = 0;
    range.end = size;
    k.adamUpdate(values, grads, range);
    return { values, grads, m, v };
  },

  sgdUpdate(k, a) {
    const values = a.finite(40);
    const grads = a.finite(40);
    k.sgdUpdate(values, grads, { start: 3, end: 29, lr: Math.fround(0.01) });
    return { values, grads };
  },

  mfSgdLogistic(k, a) {
    // 7 factors: a lane block and a tail; 150 examples: two loss blocks and a rest.
    const o = mfOperands(a, { users: 6, items: 9, nf: 7, count: 150 });
    const run = { ...o.tables, users: o.users, items: o.items, negItems: null, count: 150 };
    const f = Math.fround;
    const hard = k.mfSgd({
      ...run,
      labels: o.labels,
      learningRate: f(0.05),
      reg: f(0.02),
      penalty: 0.01,
    });
    const soft = a.alloc(150);
    for (let e = 0; e < 150; e++) soft[e] = (e % 5) / 4;
    const float = k.mfSgd({ ...run, labels: soft, learningRate: f(0.1), reg: 0, penalty: 0 });
    return { hard, float, ...o.tables, factors: o.tables.factors };
  },

  mfSgdBpr(k, a) {
    // 8 factors (lanes only), 4 items: many triples whose negative is the positive.
    const o = mfOperands(a, { users: 5, items: 4, nf: 8, count: 130 });
    const run = { ...o.tables, users: o.users, items: o.items, labels: null, count: 130 };
    const f = Math.fround;
    const first = k.mfSgd({
      ...run,
      negItems: o.negItems,
      learningRate: f(0.05),
      reg: f(0.02),
      penalty: 0.01,
    });
    const again = k.mfSgd({
      ...run,
      negItems: o.negItems,
      count: 64,
      learningRate: f(0.2),
      reg: 0,
      penalty: 0,
    });
    return { first, again, ...o.tables, factors: o.tables.factors };
  },

  mfSgdOneFactor(k, a) {
    const o = mfOperands(a, { users: 3, items: 3, nf: 1, count: 40 });
    const run = {
      ...o.tables,
      users: o.users,
      items: o.items,
      count: 40,
      learningRate: Math.fround(0.3),
      reg: Math.fround(0.1),
      penalty: 0.05,
    };
    const logistic = k.mfSgd({ ...run, labels: o.labels, negItems: null });
    const bpr = k.mfSgd({ ...run, labels: null, negItems: o.negItems });
    return { logistic, bpr, ...o.tables, factors: o.tables.factors };
  },

  sigmoidCrossEntropy(k, a) {
    const logits = a.finite(19);
    logits.set([100, -100, 1e30, -1e30, 0, -0, 12, -12]);
    for (let i = 8; i < 19; i++) logits[i] *= 4;
    const labels = Int8Array.from({ length: 19 }, (_, i) => (i * 5) % 3 === 0 ? 1 : 0);
    const soft = a.alloc(19);
    for (let i = 0; i < 19; i++) soft[i] = ((i * 7) % 11) / 10;
    const grad = a.edgy(19);
    const hard = k.sigmoidCrossEntropy(logits, labels, { count: 17, grad });
    const hardGrad = grad.slice();
    const float = k.sigmoidCrossEntropy(logits, soft, { count: 19, grad });
    const forward = k.sigmoidCrossEntropy(logits, soft, { count: 18 });
    return { hard, hardGrad, float, grad, forward };
  },
};

const PLAIN: TensorMemory = { alloc: (n) => new Float32Array(n) };

Deno.test("every element-wise kernel of every kernel set gives the ts kernels' bits on its own memory", async (t) => {
  for (const [name, run] of Object.entries(CASES)) {
    const expected = run(tsKernels, arrays(PLAIN, 9));
    for (const k of kernelSets()) {
      await t.step(`${name} on ${k.name}`, () => {
        const a = arrays(testMemory(k), 9);
        const got = run(k, a);
        if (k.name !== "ts") {
          // Every array lives in the set's memory: the WebAssembly fast path runs.
          const arena = wasmArenaOf(a.allocated[0]);
          assert.ok(arena !== undefined, `${k.name} memory is a WebAssembly arena`);
          assert.ok(arena.owns(...a.allocated), "every array in one arena");
        }
        assert.deepEqual(Object.keys(got), Object.keys(expected));
        for (const [key, want] of Object.entries(expected)) {
          const value = got[key];
          if (typeof want === "number") {
            assert.ok(Object.is(value, want), `${name} ${key}: ${value} vs ts ${want}`);
          } else {
            assertSameBits(value as Float32Array, want, `${name} ${key} on ${k.name}`);
          }
        }
      });
    }
  }
});

Deno.test("the cases above do compute something (not all zeros or all NaN)", () => {
  for (const [name, run] of Object.entries(CASES)) {
    const out = run(tsKernels, arrays(PLAIN, 9));
    for (const [key, value] of Object.entries(out)) {
      const values = typeof value === "number" ? [value] : [...value];
      if (name === "adamUpdate" && key === "grads") {
        assert.ok(values.every((x) => x === 0), "Adam consumes every gradient it updates");
      } else {
        assert.ok(values.some((x) => Number.isFinite(x) && x !== 0), `${name} ${key}`);
      }
    }
  }
});
