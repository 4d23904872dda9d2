import assert from "node:assert/strict";
import type { Kernels } from "../../lib/kernels/kernels.ts";
import { Parameters, type ParameterSpec } from "../../lib/kernels/parameters.ts";
import { TouchedRows } from "../../lib/kernels/touched_rows.ts";
import { Adam } from "../../lib/optim/adam.ts";
import { Sgd } from "../../lib/optim/sgd.ts";
import { updatePlan } from "../../lib/optim/_update_plan.ts";
import { overKernelSets, testMemory } from "../kernels/_kernel_sets.ts";

/** Tensors in the memory of `kernels` (the plain ts set when not given). */
function params(specs: ParameterSpec[], kernels?: Kernels): Parameters {
  return kernels === undefined
    ? new Parameters(specs)
    : new Parameters(specs, { kernels, memory: testMemory(kernels, 1 << 12) });
}

function tableWithDense(kernels?: Kernels): Parameters {
  const p = params([
    { name: "emb", shape: [3, 2], sparse: true },
    { name: "bias", shape: [1] },
  ], kernels);
  p.values.set([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, -0.7]);
  return p;
}

Deno.test("Sgd takes the hand-computed steps θ − lr·g, rounded to float32, and zeroes the gradients", (t) =>
  overKernelSets(t, (kernels) => {
    const p = params([{ name: "w", shape: [3] }], kernels);
    p.values.set([1, -2, 0.3]);
    const sgd = new Sgd(p, { learningRate: 0.1 });
    p.grads.set([0.5, -1, 0]);
    sgd.step();
    // By hand: 1 − 0.05 = 0.95, −2 + 0.1 = −1.9, 0.3 unchanged.
    const tol = 1e-7;
    for (const [i, want] of [0.95, -1.9, 0.3].entries()) {
      assert.ok(Math.abs(p.values[i] - want) <= tol, `θ[${i}] = ${p.values[i]}, expected ${want}`);
    }
    assert.deepEqual([...p.grads], [0, 0, 0]);
    // Bit for bit: fround(θ − fround(fround(lr)·g)).
    const f = Math.fround;
    const before = [...p.values];
    p.grads.set([0.3, 0.7, -1e-3]);
    sgd.step();
    const expected = before.map((v, i) => f(v - f(f(0.1) * f([0.3, 0.7, -1e-3][i]))));
    assert.deepEqual([...p.values], expected);
    assert.equal(sgd.stepCount, 2);
  }));

Deno.test("Sgd over touched rows gives the same bits as Sgd over every parameter", (t) =>
  overKernelSets(t, (kernels) => {
    const dense = tableWithDense(kernels);
    const sparse = tableWithDense(kernels);
    const a = new Sgd(dense, { learningRate: 0.2, lazy: false });
    assert.equal(dense.touchedRows("emb"), null, "a sweeping Sgd tracks no rows");
    const b = new Sgd(sparse, { learningRate: 0.2 });
    const touched = sparse.touchedRows("emb")!;
    assert.ok(touched !== null, "a lazy Sgd (the default) tracks the touched rows");
    for (const [row, g] of [[0, 0.5], [2, -0.25], [0, 1.5]]) {
      for (const p of [dense, sparse]) {
        p.get("emb").grads.set([g, -g], row * 2);
        p.get("bias").grads[0] = g;
      }
      touched.mark(row);
      a.step();
      b.step();
      assert.equal(touched.count, 0, "the touched rows are consumed");
      assert.deepEqual(sparse.values.slice(), dense.values.slice(), `after row ${row}`);
    }
    assert.equal(sparse.get("emb").values[2], Math.fround(0.3), "row 1 never moved");
    assert.notEqual(sparse.get("bias").values[0], Math.fround(-0.7), "the dense tensor moved");
  }));

Deno.test("an Sgd restored from getState() continues exactly like the original", (t) =>
  overKernelSets(t, (kernels) => {
    const make = () => {
      const p = tableWithDense(kernels);
      const opt = new Sgd(p);
      return { p, touched: p.touchedRows("emb")!, opt };
    };
    const feed = (m: ReturnType<typeof make>, s: number) => {
      m.p.get("emb").grads[(s % 3) * 2] = 0.1 * (s + 1);
      m.p.get("bias").grads[0] = -0.05 * s;
      m.touched.mark(s % 3);
      m.opt.step();
    };
    const original = make();
    for (let s = 0; s < 3; s++) feed(original, s);
    const state = original.opt.getState();
    assert.deepEqual(state, { kind: "sgd", step: 3, m: {}, v: {} });
    const resumed = make();
    resumed.p.restore(original.p.snapshot());
    resumed.opt.setState(state);
    for (let s = 3; s < 6; s++) {
      feed(original, s);
      feed(resumed, s);
    }
    assert.deepEqual(resumed.p.values.slice(), original.p.values.slice());
    assert.equal(resumed.opt.stepCount, 6);
  }));

Deno.test("Sgd and Adam refuse each other's states, and Sgd refuses bad settings", async (t) => {
  const p = tableWithDense();
  const sgd = new Sgd(p);
  const adam = new Adam(p);
  await t.step("states", () => {
    assert.throws(() => sgd.setState(adam.getState()), /it is a adam state/);
    assert.throws(() => adam.setState(sgd.getState()), /it is an sgd state/);
    assert.throws(() => sgd.setState({ ...sgd.getState(), step: 1.5 }), RangeError);
  });
  await t.step("settings", () => {
    assert.throws(() => new Sgd(p, { learningRate: -0.1 }), RangeError);
    assert.throws(() => new Sgd(p, { learningRate: Number.NaN }), RangeError);
    // Sgd takes its touched-row sets from the tensors (trackTouchedRows); the
    // plan it builds from them refuses maps that do not fit.
    const who = { who: "Sgd" };
    assert.throws(
      () => updatePlan(p, new Map(), who),
      /Cannot build Sgd: sparse tensor 'emb' has no touched-row set/,
    );
    assert.throws(
      () => updatePlan(p, new Map([["bias", new TouchedRows(1)]]), who),
      /'bias' is not a sparse tensor/,
    );
  });
});
