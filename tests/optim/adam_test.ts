import assert from "node:assert/strict";
import type { Kernels } from "../../lib/kernels/kernels.ts";
import { Parameters, type ParameterSpec } from "../../lib/kernels/parameters.ts";
import { TouchedRows } from "../../lib/kernels/touched_rows.ts";
import { Adam, LazyAdam } from "../../lib/optim/adam.ts";
import { updatePlan } from "../../lib/optim/_update_plan.ts";
import { overKernelSets, testMemory } from "../kernels/_kernel_sets.ts";

// Expected values below were computed by hand (float64) from
// m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², lr_t = lr·√(1−β2^t)/(1−β1^t),
// θ ← θ − lr_t·m/(√v + ε), with lr 0.1, β1 0.9, β2 0.999, ε 1e-8.
const TOL = 1e-6; // the update runs in float32 (a few ulps ≈ 1e-7 relative)

function close(actual: ArrayLike<number>, expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= TOL * Math.max(1, Math.abs(expected[i])),
      `${what}[${i}] = ${actual[i]}, expected ${expected[i]}`,
    );
  }
}

/** Tensors in the memory of `kernels` (so the WebAssembly sets run their Adam kernel). */
function params(specs: ParameterSpec[], kernels: Kernels): Parameters {
  return new Parameters(specs, { kernels, memory: testMemory(kernels, 1 << 12) });
}

Deno.test("Adam takes the hand-computed steps and zeroes the gradients", (t) =>
  overKernelSets(t, (kernels) => {
    const p = params([{ name: "w", shape: [2] }], kernels);
    p.values.set([1, -2]);
    const adam = new Adam(p, { learningRate: 0.1 });
    p.grads.set([0.5, -1]);
    adam.step();
    close(p.values, [0.9000000632455132, -1.9000000316227665], "θ after step 1");
    assert.deepEqual([...p.grads], [0, 0]);
    p.grads.set([0.1, 0.2]);
    adam.step();
    close(p.values, [0.8196960152288328, -1.8488974397582967], "θ after step 2");
    const state = adam.getState();
    assert.equal(state.kind, "adam");
    assert.equal(state.step, 2);
    close(state.m.w, [0.055, -0.07], "m");
    close(state.v.w, [0.00025975, 0.001039], "v");
  }));

function tableWithDense(kernels?: Kernels): Parameters {
  const specs = [
    { name: "emb", shape: [3, 1], sparse: true },
    { name: "bias", shape: [1] },
  ];
  const p = kernels === undefined ? new Parameters(specs) : params(specs, kernels);
  p.get("emb").values.set([0.1, 0.2, 0.3]);
  return p;
}

// Step 1: rows 0 and 1 get gradients -1 and 0.5; step 2: only row 1 (0.25).
function runTwoSteps(p: Parameters, step: () => void, touched: TouchedRows | null): void {
  const g = p.get("emb").grads;
  g.set([-1, 0.5, 0]);
  touched?.mark(0);
  touched?.mark(1);
  step();
  g.set([0, 0.25, 0]);
  touched?.mark(1);
  step();
}

Deno.test("LazyAdam updates only touched rows and leaves the others' values and moments unchanged", (t) =>
  overKernelSets(t, (kernels) => {
    const p = tableWithDense(kernels);
    assert.equal(p.touchedRows("emb"), null, "rows are not tracked before LazyAdam asks");
    const opt = new LazyAdam(p, { learningRate: 0.1 });
    const touched = p.touchedRows("emb")!;
    assert.ok(touched !== null, "LazyAdam starts the tracking");
    const g = p.get("emb").grads;
    g.set([-1, 0.5, 0]);
    touched.mark(0);
    touched.mark(1);
    opt.step();
    close(p.get("emb").values, [0.19999996837723338, 0.10000006324551322, 0.3], "θ after step 1");
    assert.equal(touched.count, 0); // consumed
    const afterFirst = opt.getState();
    const row0AfterFirst = p.get("emb").values[0];
    g.set([0, 0.25, 0]);
    touched.mark(1);
    opt.step();
    const emb = p.get("emb").values;
    close(emb, [0.19999996837723338, 0.006782152117492141, 0.3], "θ after step 2");
    const state = opt.getState();
    assert.equal(state.kind, "lazy_adam");
    assert.equal(state.step, 2);
    // Row 0 was not touched in step 2: value and moments exactly as after step 1.
    assert.equal(state.m.emb[0], afterFirst.m.emb[0]);
    assert.equal(state.v.emb[0], afterFirst.v.emb[0]);
    assert.equal(emb[0], row0AfterFirst);
    // Row 2 was never touched.
    assert.equal(state.m.emb[2], 0);
    assert.equal(state.v.emb[2], 0);
    assert.equal(emb[2], Math.fround(0.3));
    close(state.m.emb, [-0.1, 0.07, 0], "m");
    close(state.v.emb, [0.001, 0.00031225, 0], "v");
    assert.deepEqual([...p.grads], [0, 0, 0, 0]);
  }));

Deno.test("dense Adam moves an untouched row whose moment is non-zero; LazyAdam does not", (t) =>
  overKernelSets(t, (kernels) => {
    const dense = tableWithDense(kernels);
    const adam = new Adam(dense, { learningRate: 0.1 });
    runTwoSteps(dense, () => adam.step(), null);
    close(dense.get("emb").values, [0.26700577259118896, 0.006782152117492141, 0.3], "Adam θ");
    close(adam.getState().m.emb, [-0.09, 0.07, 0], "Adam m");

    const lazy = tableWithDense(kernels);
    const opt = new LazyAdam(lazy, { learningRate: 0.1 });
    runTwoSteps(lazy, () => opt.step(), lazy.touchedRows("emb"));
    close(lazy.get("emb").values, [0.19999996837723338, 0.006782152117492141, 0.3], "LazyAdam θ");
  }));

Deno.test("LazyAdam updates dense tensors every step, like Adam", (t) =>
  overKernelSets(t, (kernels) => {
    const a = tableWithDense(kernels);
    const b = tableWithDense(kernels);
    const adam = new Adam(a, { learningRate: 0.1 });
    const lazy = new LazyAdam(b, { learningRate: 0.1 });
    for (const [g, step] of [[0.5, 0], [0, 1], [-0.3, 2]]) {
      a.get("bias").grads[0] = g;
      b.get("bias").grads[0] = g;
      adam.step();
      lazy.step();
      assert.equal(b.get("bias").values[0], a.get("bias").values[0], `step ${step}`);
    }
    assert.notEqual(a.get("bias").values[0], 0);
  }));

Deno.test("an optimizer restored from getState() continues exactly like the original", (t) =>
  overKernelSets(t, (kernels) => {
    for (const kind of ["adam", "lazy_adam"] as const) {
      const make = () => {
        const p = tableWithDense(kernels);
        const opt = kind === "adam" ? new Adam(p, {}) : new LazyAdam(p);
        return { p, touched: p.touchedRows("emb"), opt };
      };
      const feed = (m: ReturnType<typeof make>, s: number) => {
        m.p.get("emb").grads[s % 3] = 0.1 * (s + 1);
        m.p.get("bias").grads[0] = -0.05 * s;
        m.touched?.mark(s % 3);
        m.opt.step();
      };
      const original = make();
      for (let s = 0; s < 3; s++) feed(original, s);
      const resumed = make();
      resumed.p.restore(original.p.snapshot());
      resumed.opt.setState(original.opt.getState());
      for (let s = 3; s < 6; s++) {
        feed(original, s);
        feed(resumed, s);
      }
      assert.deepEqual(resumed.p.values.slice(), original.p.values.slice(), kind);
      assert.equal(resumed.opt.stepCount, 6);
    }
  }));

Deno.test("optimizers refuse bad hyper-parameters, states and touched-row maps", () => {
  const p = tableWithDense();
  assert.throws(() => new Adam(p, { beta1: 1 }), RangeError);
  assert.throws(() => new Adam(p, { learningRate: -1 }), RangeError);
  assert.throws(() => new LazyAdam(p, { beta2: 1 }), RangeError);
  // LazyAdam takes its touched-row sets from the tensors (trackTouchedRows);
  // the plan it builds from them refuses maps that do not fit.
  const who = { who: "LazyAdam" };
  assert.throws(() => updatePlan(p, new Map(), who), /'emb' has no touched-row set/);
  assert.throws(
    () => updatePlan(p, new Map([["emb", new TouchedRows(2)]]), who),
    /holds 2 rows, the tensor 3/,
  );
  assert.throws(
    () => updatePlan(p, new Map([["emb", new TouchedRows(3)], ["bias", new TouchedRows(1)]]), who),
    /'bias' is not a sparse tensor/,
  );
  assert.doesNotThrow(() => new LazyAdam(p));
  assert.ok(p.touchedRows("emb")!.rows.length === 3);
  const adam = new Adam(p);
  const state = adam.getState();
  assert.throws(() => adam.setState({ ...state, step: -1 }), RangeError);
  assert.throws(() => adam.setState({ ...state, m: { emb: state.m.emb } }), RangeError);
  assert.throws(
    () => adam.setState({ ...state, v: { ...state.v, extra: new Float32Array(1) } }),
    RangeError,
  );
});

Deno.test("Adam flushes moments that decay below the float32 normal range to zero", (t) =>
  overKernelSets(t, (kernels) => {
    const p = params([{ name: "w", shape: [1] }], kernels);
    const adam = new Adam(p);
    p.grads[0] = 1e-3;
    adam.step();
    for (let s = 0; s < 900; s++) adam.step(); // 0.9^900 · 1e-4 < 1.2e-38
    const { m, v } = adam.getState();
    assert.equal(m.w[0], 0);
    assert.ok(v.w[0] > 0);
  }));

Deno.test("Adam rounds every operation to float32, as the formula reads", (t) =>
  overKernelSets(t, (kernels) => {
    const p = params([{ name: "w", shape: [3] }], kernels);
    p.values.set([0.3, -1.7, 2.5]);
    const adam = new Adam(p, { learningRate: 0.05 });
    const f = Math.fround;
    const expected = [...p.values];
    const m = [0, 0, 0];
    const v = [0, 0, 0];
    for (let step = 1; step <= 3; step++) {
      const g = [0.1 * step, -0.2, 3e-3 / step];
      p.grads.set(g);
      const lr = f(0.05 * Math.sqrt(1 - Math.pow(0.999, step)) / (1 - Math.pow(0.9, step)));
      for (let i = 0; i < 3; i++) {
        const gi = f(g[i]);
        m[i] = f(f(f(0.9) * m[i]) + f(f(1 - 0.9) * gi));
        v[i] = f(f(f(0.999) * v[i]) + f(f(f(1 - 0.999) * gi) * gi));
        expected[i] = f(expected[i] - f(f(lr * m[i]) / f(f(Math.sqrt(v[i])) + f(1e-8))));
      }
      adam.step();
      assert.deepEqual([...p.values], expected, `step ${step}`);
    }
  }));
