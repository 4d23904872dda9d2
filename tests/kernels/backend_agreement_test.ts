import assert from "node:assert/strict";
import type { Kernels } from "../../lib/kernels/kernels.ts";
import type { LabeledBatch } from "../../lib/model/model.ts";
import { NeuMF, type NeuMFOptions } from "../../lib/model/neumf.ts";
import { buildOptimizer, type OptimizerKind } from "../../lib/optim/optimizers.ts";
import { Prng } from "../../lib/random/prng.ts";
import { kernelSets, withPlainMemory } from "./_kernel_sets.ts";

/** The kernel sets this machine has (blas needs a CBLAS library and --allow-ffi), ts first. */
function availableBackends(): [string, Kernels][] {
  return kernelSets().map((k) => [k.name, k]);
}

const NUM_USERS = 40;
const NUM_ITEMS = 60;
const BATCH = 64;

/** Batches with a learnable signal and 20% label noise, so the loss stays well above 0. */
function batches(count: number): LabeledBatch[] {
  const prng = new Prng(2);
  const out: LabeledBatch[] = [];
  for (let s = 0; s < count; s++) {
    const users = new Int32Array(BATCH);
    const items = new Int32Array(BATCH);
    const labels = new Int8Array(BATCH);
    for (let b = 0; b < BATCH; b++) {
      users[b] = prng.nextInt(NUM_USERS);
      items[b] = prng.nextInt(NUM_ITEMS);
      const signal = (users[b] * 3 + items[b] * 7) % 5 < 2 ? 1 : 0;
      labels[b] = prng.nextInt(5) === 0 ? 1 - signal : signal;
    }
    out.push({ users, items, labels, count: BATCH });
  }
  return out;
}

function train(
  kernels: Kernels,
  data: LabeledBatch[],
  extra: Partial<NeuMFOptions> & { optimizer: OptimizerKind },
): { losses: number[]; values: Float32Array; m: Float32Array; early: Float32Array } {
  const { optimizer: optimizerKind, ...options } = extra;
  const model = new NeuMF({
    numUsers: NUM_USERS,
    numItems: NUM_ITEMS,
    maxBatchSize: BATCH,
    prng: new Prng(1),
    kernels,
    ...options,
  });
  assert.equal(model.kernels, kernels);
  const optimizer = buildOptimizer(optimizerKind, model.parameters, { learningRate: 0.005 });
  let early = new Float32Array(0);
  const losses = data.map((b, s) => {
    if (s === _EARLY) early = model.parameters.values.slice();
    return model.trainStep(b, { optimizer });
  });
  const state = optimizer.getState();
  const m = new Float32Array(model.parameters.size);
  for (const e of model.parameters.entries) m.set(state.m[e.name] ?? [], e.offset);
  return { losses, values: model.parameters.values.slice(), m, early };
}

/**
 * Steps over which runs on different backends still agree closely: later, a
 * ReLU input that float32 rounding puts on the other side of 0 can switch a
 * unit and send the runs (equally good) different ways, so the long run is
 * compared by its loss level.
 */
const _EARLY = 30;

Deno.test("every backend trains NeuMF like the ts backend: 30 steps within 1e-5 (loss) and 2e-3 (parameters, under half an Adam step), 300 steps to the same loss level (±5e-3)", async (t) => {
  const data = batches(300);
  const backends = availableBackends();
  const tailMean = (losses: number[]) => losses.slice(-100).reduce((a, b) => a + b, 0) / 100;
  // The optimizer's update is the same code on every backend (sgd included:
  // see the bit-identical test below); this compares the products.
  for (const optimizer of ["adam", "lazy_adam"] as const) {
    const reference = train(backends[0][1], data, { optimizer });
    const first = reference.losses[0];
    const level = tailMean(reference.losses);
    assert.ok(
      level < 0.9 * first && level > 0.2,
      `the run learns but does not overfit (${first} → ${level})`,
    );
    for (const [name, backend] of backends.slice(1)) {
      await t.step(`${name} ${optimizer}`, () => {
        const run = train(backend, data, { optimizer });
        for (let s = 0; s < _EARLY; s++) {
          assert.ok(
            Math.abs(run.losses[s] - reference.losses[s]) <= 1e-5,
            `step ${s}: loss ${run.losses[s]} vs ts ${reference.losses[s]}`,
          );
        }
        for (let i = 0; i < run.early.length; i++) {
          assert.ok(
            Math.abs(run.early[i] - reference.early[i]) <= 2e-3,
            `parameter ${i} after ${_EARLY} steps: ${run.early[i]} vs ts ${reference.early[i]}`,
          );
        }
        const got = tailMean(run.losses);
        assert.ok(
          Math.abs(got - level) <= 5e-3,
          `mean loss of steps 200-299: ${got} vs ts ${level}`,
        );
      });
    }
  }
});

Deno.test("each backend is bit-identical with and without the WebAssembly kernels, and run to run", async (t) => {
  const data = batches(60);
  for (const [name, backend] of availableBackends()) {
    for (const optimizer of ["adam", "lazy_adam", "sgd"] as const) {
      await t.step(`${name} ${optimizer}`, () => {
        const withKernels = train(backend, data, { optimizer });
        const again = train(backend, data, { optimizer });
        // The same set on plain arrays: every element-wise kernel runs its TypeScript loop.
        const without = train(withPlainMemory(backend), data, { optimizer });
        assert.deepEqual(again.losses, withKernels.losses);
        assert.deepEqual(again.values, withKernels.values);
        assert.deepEqual(without.losses, withKernels.losses);
        assert.deepEqual(without.values, withKernels.values);
        assert.deepEqual(without.m, withKernels.m);
      });
    }
  }
});

Deno.test("scoreUserItems() gives the same bits with and without the WebAssembly kernels", () => {
  const data = batches(40);
  for (const [name, backend] of availableBackends()) {
    const make = (wasmKernels: boolean) => {
      const model = new NeuMF({
        numUsers: NUM_USERS,
        numItems: NUM_ITEMS,
        numFactors: 5,
        layers: [12, 9, 6],
        maxBatchSize: BATCH,
        prng: new Prng(3),
        kernels: wasmKernels ? backend : withPlainMemory(backend),
      });
      const optimizer = buildOptimizer("adam", model.parameters, { learningRate: 0.01 });
      for (const b of data) model.trainStep(b, { optimizer });
      return model;
    };
    const a = make(true);
    const b = make(false);
    const items = new Int32Array(NUM_ITEMS + 7);
    for (let i = 0; i < items.length; i++) items[i] = (i * 11) % NUM_ITEMS;
    const x = new Float32Array(items.length);
    const y = new Float32Array(items.length);
    for (let u = 0; u < NUM_USERS; u++) {
      a.scoreUserItems(u, items, { out: x });
      b.scoreUserItems(u, items, { out: y });
      assert.deepEqual(x, y, `${name} user ${u}`);
    }
  }
});
