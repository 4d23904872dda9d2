import assert from "node:assert/strict";
import type { Kernels } from "../../lib/kernels/kernels.ts";
import { tsKernels } from "../../lib/kernels/ts_kernels.ts";
import { binaryCrossEntropy, bprLoss } from "../../lib/model/loss.ts";
import type { LabeledBatch, PairBatch } from "../../lib/model/model.ts";
import { NeuMF, type NeuMFOptions } from "../../lib/model/neumf.ts";
import { Adam } from "../../lib/optim/adam.ts";
import { buildOptimizer, type OptimizerKind } from "../../lib/optim/optimizers.ts";
import { Prng } from "../../lib/random/prng.ts";
import { wasmArenaOf } from "../../lib/kernels/wasm_arena.ts";
import { kernelSets, withPlainMemory } from "../kernels/_kernel_sets.ts";
import { assertGradient } from "./_grad_check.ts";

/** Replaces the small initial weights with O(1) ones so gradients are well above float32 noise. */
function randomizeWeights(model: NeuMF, seed: number): void {
  const prng = new Prng(seed);
  for (const e of model.parameters.entries) {
    const scale = e.name.endsWith("_bias") ? 0.2 : 0.6;
    for (let i = 0; i < e.length; i++) e.values[i] = scale * prng.nextGaussian();
  }
}

function randomBatch(prng: Prng, numUsers: number, numItems: number, count: number): LabeledBatch {
  const users = new Int32Array(count);
  const items = new Int32Array(count);
  const labels = new Int8Array(count);
  for (let b = 0; b < count; b++) {
    users[b] = prng.nextInt(numUsers);
    items[b] = prng.nextInt(numItems);
    labels[b] = prng.nextInt(4) === 0 ? 1 : 0;
  }
  return { users, items, labels, count };
}

const SMALL = { numUsers: 4, numItems: 5, numFactors: 3, layers: [6, 5, 3] };

Deno.test("NeuMF declares the named tensors of each variant", async (t) => {
  const cases: [NeuMFOptions["kind"], string[]][] = [
    ["NeuMF", [
      "mf_user_embedding:4x3",
      "mf_item_embedding:5x3",
      "mlp_user_embedding:4x3",
      "mlp_item_embedding:5x3",
      "dense_0_kernel:6x5",
      "dense_0_bias:5",
      "dense_1_kernel:5x3",
      "dense_1_bias:3",
      "output_kernel:6x1",
      "output_bias:1",
    ]],
    ["GMF", [
      "mf_user_embedding:4x3",
      "mf_item_embedding:5x3",
      "output_kernel:3x1",
      "output_bias:1",
    ]],
    ["MLP", [
      "mlp_user_embedding:4x3",
      "mlp_item_embedding:5x3",
      "dense_0_kernel:6x5",
      "dense_0_bias:5",
      "dense_1_kernel:5x3",
      "dense_1_bias:3",
      "output_kernel:3x1",
      "output_bias:1",
    ]],
  ];
  for (const [kind, expected] of cases) {
    await t.step(kind!, () => {
      const m = new NeuMF({ ...SMALL, kind });
      assert.equal(m.config.kind, kind);
      assert.equal(m.kernels, tsKernels, "the ts kernels by default");
      assert.deepEqual(m.parameters.entries.map((e) => `${e.name}:${e.shape.join("x")}`), expected);
    });
  }
});

Deno.test("NeuMF initialises embeddings N(0, 0.01²), kernels within Glorot/LeCun limits, biases 0", () => {
  const m = new NeuMF({ numUsers: 500, numItems: 700, prng: new Prng(3) });
  const emb = m.parameters.get("mlp_item_embedding").values;
  let q = 0;
  for (const v of emb) q += v * v;
  assert.ok(Math.abs(Math.sqrt(q / emb.length) - 0.01) < 3e-4);
  const k0 = m.parameters.get("dense_0_kernel").values;
  assert.ok(k0.every((v) => Math.abs(v) <= Math.sqrt(6 / (64 + 32))));
  assert.ok(k0.some((v) => Math.abs(v) > 0.9 * Math.sqrt(6 / (64 + 32))));
  const out = m.parameters.get("output_kernel").values;
  assert.ok(out.every((v) => Math.abs(v) <= Math.sqrt(3 / 16)));
  for (const name of ["dense_0_bias", "dense_1_bias", "dense_2_bias", "output_bias"]) {
    assert.ok(m.parameters.get(name).values.every((v) => v === 0), name);
  }
});

Deno.test("NeuMF gradients match central differences for every tensor of every variant (eps 1e-3, rtol 1e-2, atol 1e-4)", async (t) => {
  // Repeated users, items and pairs; user 3 and items 2, 4 unused (their gradient must be 0).
  const batch: LabeledBatch = {
    users: Int32Array.of(0, 2, 1, 2, 0, 1),
    items: Int32Array.of(3, 1, 1, 0, 3, 0),
    labels: Int8Array.of(1, 0, 1, 1, 0, 0),
    count: 6,
  };
  const variants: [string, Partial<NeuMFOptions>][] = [
    ["NeuMF", {}],
    ["NeuMF with L2", { mfRegularization: 0.05, mlpRegularization: 0.02 }],
    ["GMF with L2", { kind: "GMF", mfRegularization: 0.1 }],
    ["MLP", { kind: "MLP" }],
    ["MLP with L2", { kind: "MLP", mlpRegularization: 0.07 }],
    ["MLP without hidden layers", { kind: "MLP", layers: [6] }],
    ["NeuMF, float labels", { numFactors: 2, layers: [4, 4] }],
  ];
  for (const kernels of kernelSets()) {
    for (const [name, extra] of variants) {
      await t.step(`${kernels.name} ${name}`, () => {
        const model = new NeuMF({ ...SMALL, ...extra, kernels, prng: new Prng(1) });
        randomizeWeights(model, 2);
        const b = name.includes("float")
          ? { ...batch, labels: Float32Array.of(1, 0.25, 0.9, 1, 0, 0.5) }
          : batch;
        model.computeGradients(b);
        const grads = model.parameters.grads.slice();
        let checked = 0;
        for (const e of model.parameters.entries) {
          checked += assertGradient(
            () => model.loss(b),
            e.values,
            grads.subarray(e.offset, e.offset + e.length),
            { label: `${name} ${e.name}` },
          );
        }
        assert.equal(checked, model.parameters.size);
        for (const table of ["mf_user_embedding", "mlp_user_embedding"]) {
          if (!model.parameters.has(table)) continue;
          const e = model.parameters.get(table);
          const row3 = grads.subarray(e.offset + 3 * e.rowLength, e.offset + 4 * e.rowLength);
          assert.ok(row3.every((g) => g === 0), `${table} row 3`);
        }
      });
    }
  }
});

Deno.test("computeGradients() discards earlier unapplied gradients", async (t) => {
  for (const kernels of kernelSets()) {
    await t.step(kernels.name, () => {
      const model = new NeuMF({ ...SMALL, kernels, prng: new Prng(4) });
      const b = randomBatch(new Prng(5), 4, 5, 6);
      model.computeGradients(b);
      const first = model.parameters.grads.slice();
      model.computeGradients(b);
      assert.deepEqual(model.parameters.grads.slice(), first);
    });
  }
});

Deno.test("NeuMF overfits a tiny synthetic problem within a few hundred steps", async (t) => {
  const numUsers = 6;
  const numItems = 8;
  const count = numUsers * numItems;
  const batch: LabeledBatch = {
    users: new Int32Array(count),
    items: new Int32Array(count),
    labels: new Int8Array(count),
    count,
  };
  for (let u = 0, b = 0; u < numUsers; u++) {
    for (let i = 0; i < numItems; i++, b++) {
      batch.users[b] = u;
      batch.items[b] = i;
      batch.labels[b] = (u * 3 + i * 5) % 7 < 3 ? 1 : 0;
    }
  }
  for (const kernels of kernelSets()) {
    for (
      const [optimizerKind, learningRate] of [["adam", 0.01], ["lazy_adam", 0.01], [
        "sgd",
        1,
      ]] as const
    ) {
      for (const kind of ["NeuMF", "GMF", "MLP"] as const) {
        await t.step(`${kernels.name} ${kind} ${optimizerKind}`, () => {
          const m = new NeuMF({ numUsers, numItems, kind, kernels, prng: new Prng(6) });
          const optimizer = buildOptimizer(optimizerKind, m.parameters, { learningRate });
          const first = m.trainStep(batch, { optimizer });
          let last = first;
          for (let s = 0; s < 400; s++) last = m.trainStep(batch, { optimizer });
          assert.ok(Math.abs(first - Math.LN2) < 0.01, `initial loss ${first}`);
          assert.ok(last < 0.25 * first, `loss ${first} → ${last}`);
        });
      }
    }
  }
});

Deno.test("scoreUserItems() agrees with predict() within 1e-5 for every variant and kernel set, after training", async (t) => {
  const numUsers = 20;
  const numItems = 60;
  // `plainMemory`: the set's kernels on plain arrays (no WebAssembly fast path).
  const variants: (Partial<NeuMFOptions> & { plainMemory?: boolean })[] = [
    {},
    { kind: "GMF" },
    { kind: "MLP" },
    { kind: "MLP", layers: [8] },
    { layers: [8] },
    { numFactors: 5, layers: [10, 7, 5] },
    { plainMemory: true },
    { kind: "GMF", numFactors: 7, plainMemory: true },
    { kind: "MLP", plainMemory: true },
  ];
  for (const kernels of kernelSets()) {
    for (const { plainMemory, ...extra } of variants) {
      const label = JSON.stringify(plainMemory ? { ...extra, plainMemory } : extra);
      await t.step(`${kernels.name} ${label}`, () => {
        const model = new NeuMF({
          numUsers,
          numItems,
          prng: new Prng(7),
          kernels: plainMemory ? withPlainMemory(kernels) : kernels,
          ...extra,
        });
        const optimizer = new Adam(model.parameters, { learningRate: 0.01 });
        const prng = new Prng(8);
        for (let s = 0; s < 200; s++) {
          model.trainStep(randomBatch(prng, numUsers, numItems, 64), { optimizer });
        }
        const items = new Int32Array(numItems + 3);
        for (let i = 0; i < items.length; i++) items[i] = (i * 7) % numItems; // repeats
        const fast = new Float32Array(items.length);
        const full = new Float32Array(items.length);
        let maxLogit = 0;
        for (let u = 0; u < numUsers; u++) {
          model.scoreUserItems(u, items, { out: fast });
          model.predict(
            { users: new Int32Array(items.length).fill(u), items, count: items.length },
            full,
          );
          for (let c = 0; c < items.length; c++) {
            assert.ok(
              Math.abs(fast[c] - full[c]) <= 1e-5,
              `user ${u} item ${items[c]}: ${fast[c]} vs ${full[c]}`,
            );
            maxLogit = Math.max(maxLogit, Math.abs(full[c]));
          }
        }
        assert.ok(maxLogit > 0.5, `trained logits are not trivial (${maxLogit})`);
      });
    }
  }
});

Deno.test("scoreUserItems() refreshes its cache after training and honours count", () => {
  const model = new NeuMF({ numUsers: 3, numItems: 5, layers: [4, 4], prng: new Prng(9) });
  const items = Int32Array.of(4, 0, 2);
  const before = new Float32Array(3);
  model.scoreUserItems(1, items, { out: before });
  model.trainStep({
    users: Int32Array.of(1, 1),
    items: Int32Array.of(4, 0),
    labels: Int8Array.of(1, 1),
    count: 2,
  }, { optimizer: new Adam(model.parameters) });
  const after = new Float32Array(3).fill(NaN);
  model.scoreUserItems(1, items, { out: after, count: 2 });
  const full = new Float32Array(2);
  model.predict({ users: Int32Array.of(1, 1), items, count: 2 }, full);
  assert.ok(Math.abs(after[0] - full[0]) <= 1e-6 && Math.abs(after[1] - full[1]) <= 1e-6);
  assert.notEqual(after[0], before[0]);
  assert.ok(Number.isNaN(after[2]));
});

Deno.test("the same seed gives identical parameters and an identical loss sequence", async (t) => {
  for (const kernels of kernelSets()) {
    for (const optimizerKind of ["adam", "lazy_adam", "sgd"] as const) {
      await t.step(`${kernels.name} ${optimizerKind}`, () => {
        const run = (seed: number) => {
          const model = new NeuMF({ numUsers: 30, numItems: 40, kernels, prng: new Prng(seed) });
          const optimizer = buildOptimizer(optimizerKind, model.parameters);
          const init = model.parameters.values.slice();
          const prng = new Prng(100);
          const losses: number[] = [];
          for (let s = 0; s < 30; s++) {
            losses.push(model.trainStep(randomBatch(prng, 30, 40, 32), { optimizer }));
          }
          return { init, losses, final: model.parameters.values.slice() };
        };
        const a = run(1);
        const b = run(1);
        assert.deepEqual(b.init, a.init);
        assert.deepEqual(b.losses, a.losses);
        assert.deepEqual(b.final, a.final);
        assert.notDeepEqual(run(2).init, a.init);
      });
    }
  }
});

Deno.test("lazy_adam and sgd leave rows outside the batch untouched while adam keeps moving them", async (t) => {
  for (const kernels of kernelSets()) {
    await t.step(kernels.name, () => {
      const steps = (optimizerKind: OptimizerKind) => {
        const model = new NeuMF({ numUsers: 3, numItems: 4, kernels, prng: new Prng(10) });
        const optimizer = buildOptimizer(optimizerKind, model.parameters);
        model.trainStep({
          users: Int32Array.of(0),
          items: Int32Array.of(0),
          labels: Int8Array.of(1),
          count: 1,
        }, { optimizer });
        const row0 = model.parameters.get("mf_user_embedding").values.slice(0, 8);
        model.trainStep({
          users: Int32Array.of(1),
          items: Int32Array.of(1),
          labels: Int8Array.of(0),
          count: 1,
        }, { optimizer });
        return { row0, after: model.parameters.get("mf_user_embedding").values.slice(0, 8) };
      };
      const lazy = steps("lazy_adam");
      assert.deepEqual(lazy.after, lazy.row0);
      const sgd = steps("sgd");
      assert.deepEqual(sgd.after, sgd.row0);
      const dense = steps("adam");
      assert.notDeepEqual(dense.after, dense.row0);
    });
  }
});

Deno.test("batches larger than maxBatchSize grow the buffers and give the same results", async (t) => {
  for (const kernels of kernelSets()) {
    await t.step(kernels.name, () => {
      const make = (maxBatchSize: number) =>
        new NeuMF({ numUsers: 10, numItems: 12, maxBatchSize, kernels, prng: new Prng(11) });
      const small = make(4);
      const big = make(64);
      const smallOptimizer = new Adam(small.parameters);
      const bigOptimizer = new Adam(big.parameters);
      const prng = new Prng(12);
      for (let s = 0; s < 3; s++) {
        const b = randomBatch(prng, 10, 12, 37);
        assert.equal(
          small.trainStep(b, { optimizer: smallOptimizer }),
          big.trainStep(b, { optimizer: bigOptimizer }),
        );
      }
      const b = randomBatch(prng, 10, 12, 50);
      const x = new Float32Array(50);
      const y = new Float32Array(50);
      make(4).predict(b, x); // chunked through the 4-row buffers
      make(64).predict(b, y);
      assert.deepEqual(x, y);
    });
  }
});

Deno.test("trainStep() runs the forward and backward pass with the given loss, then the given optimizer's step once", () => {
  const model = new NeuMF({ ...SMALL, prng: new Prng(13) });
  const batch = randomBatch(new Prng(14), 4, 5, 6);
  const before = model.parameters.values.slice();
  let steps = 0;
  let gradsAtStep = new Float32Array(0);
  const stepper = {
    step() {
      steps++;
      gradsAtStep = model.parameters.grads.slice();
    },
  };
  const doubled = {
    name: "2·bce",
    compute(
      kernels: Kernels,
      logits: Float32Array,
      labels: Int8Array | Float32Array,
      options: { count: number; grad?: Float32Array | null },
    ) {
      const loss = kernels.sigmoidCrossEntropy(logits, labels, options);
      const grad = options.grad ?? null;
      if (grad !== null) { for (let b = 0; b < options.count; b++) grad[b] *= 2; }
      return 2 * loss;
    },
  };
  const loss = model.trainStep(batch, { optimizer: stepper, loss: doubled });
  assert.equal(steps, 1);
  assert.deepEqual(model.parameters.values, before, "the stepper applied nothing");
  assert.ok(Math.abs(loss - 2 * model.loss(batch)) <= 1e-12 * Math.abs(loss));
  const reference = new NeuMF({ ...SMALL, prng: new Prng(13) });
  reference.computeGradients(batch);
  for (let i = 0; i < gradsAtStep.length; i++) {
    const want = 2 * reference.parameters.grads[i];
    assert.ok(Math.abs(gradsAtStep[i] - want) <= 1e-6 * (1 + Math.abs(want)), `gradient ${i}`);
  }
});

Deno.test("NeuMF refuses impossible configurations and ids outside the tables", () => {
  assert.throws(() => new NeuMF({ numUsers: 0, numItems: 5 }), RangeError);
  assert.throws(() => new NeuMF({ numUsers: 2, numItems: 5, layers: [7, 4] }), RangeError);
  assert.throws(() => new NeuMF({ numUsers: 2, numItems: 5, kind: "XYZ" as "GMF" }), RangeError);
  assert.throws(() => new NeuMF({ numUsers: 2, numItems: 5, mfRegularization: -1 }), RangeError);
  assert.throws(() => new NeuMF({ numUsers: 2, numItems: 5, maxBatchSize: 0 }), RangeError);
  const m = new NeuMF({ numUsers: 2, numItems: 5 });
  // The optimizer is built outside the model now; an unknown one is refused there.
  assert.throws(() => buildOptimizer("rmsprop" as "adam", m.parameters), RangeError);
  const optimizer = new Adam(m.parameters);
  const bad = {
    users: Int32Array.of(0, 2),
    items: Int32Array.of(0, 1),
    labels: Int8Array.of(1, 0),
    count: 2,
  };
  assert.throws(() => m.trainStep(bad, { optimizer }), RangeError);
  assert.throws(
    () => m.trainStep({ ...bad, users: Int32Array.of(0, 1), count: 3 }, { optimizer }),
    RangeError,
  );
  assert.throws(
    () => m.scoreUserItems(2, Int32Array.of(0), { out: new Float32Array(1) }),
    RangeError,
  );
  assert.throws(
    () => m.scoreUserItems(0, Int32Array.of(5), { out: new Float32Array(1) }),
    RangeError,
  );
  assert.throws(
    () => m.scoreUserItems(0, Int32Array.of(1, 2), { out: new Float32Array(1) }),
    RangeError,
  );
});

/** Triples with repeated users and items, one whose negative is its positive; user 3 and item 4 unused. */
const TRIPLES: PairBatch = {
  users: Int32Array.of(0, 2, 1, 2, 0, 1),
  items: Int32Array.of(3, 1, 1, 0, 3, 0),
  negItems: Int32Array.of(2, 0, 1, 3, 0, 2),
  count: 6,
};

Deno.test("NeuMF, GMF and MLP gradients with the bpr loss match central differences (eps 1e-3, rtol 1e-2, atol 1e-4)", async (t) => {
  const variants: [string, Partial<NeuMFOptions>][] = [
    ["NeuMF", {}],
    ["NeuMF with L2", { mfRegularization: 0.05, mlpRegularization: 0.02 }],
    ["GMF", { kind: "GMF" }],
    ["GMF with L2", { kind: "GMF", mfRegularization: 0.1 }],
    ["MLP with L2", { kind: "MLP", mlpRegularization: 0.07 }],
  ];
  for (const kernels of kernelSets()) {
    for (const [name, extra] of variants) {
      await t.step(`${kernels.name} ${name}`, () => {
        const model = new NeuMF({ ...SMALL, ...extra, kernels, prng: new Prng(1) });
        randomizeWeights(model, 2);
        model.computeGradients(TRIPLES, { loss: bprLoss });
        const grads = model.parameters.grads.slice();
        let checked = 0;
        for (const e of model.parameters.entries) {
          checked += assertGradient(
            () => model.loss(TRIPLES, { loss: bprLoss }),
            e.values,
            grads.subarray(e.offset, e.offset + e.length),
            { label: `${name} ${e.name}` },
          );
        }
        assert.equal(checked, model.parameters.size);
      });
    }
  }
});

Deno.test("the bpr loss of NeuMF is the mean −log σ(y(u,i) − y(u,j)) plus L2 on each triple's user row once and both item rows", () => {
  const mfRegularization = 0.05;
  const mlpRegularization = 0.02;
  const model = new NeuMF({ ...SMALL, mfRegularization, mlpRegularization, prng: new Prng(3) });
  randomizeWeights(model, 4);
  const { users, items, negItems, count } = TRIPLES;
  const pos = new Float32Array(count);
  const neg = new Float32Array(count);
  model.predict({ users, items, count }, pos);
  model.predict({ users, items: negItems, count }, neg);
  let want = 0;
  for (let k = 0; k < count; k++) want += Math.log1p(Math.exp(-(pos[k] - neg[k])));
  want /= count;
  const sq = (name: string, row: number) => {
    const e = model.parameters.get(name);
    let s = 0;
    for (let d = 0; d < e.rowLength; d++) s += e.values[row * e.rowLength + d] ** 2;
    return s;
  };
  for (let k = 0; k < count; k++) {
    want += mfRegularization / count *
      (sq("mf_user_embedding", users[k]) + sq("mf_item_embedding", items[k]) +
        sq("mf_item_embedding", negItems[k]));
    want += mlpRegularization / count *
      (sq("mlp_user_embedding", users[k]) + sq("mlp_item_embedding", items[k]) +
        sq("mlp_item_embedding", negItems[k]));
  }
  const got = model.loss(TRIPLES, { loss: bprLoss });
  assert.ok(Math.abs(got - want) <= 1e-9 * want, `${got} vs ${want}`);
  // Without a loss, a batch with only negItems trains with bpr.
  assert.equal(model.loss(TRIPLES), got);
});

Deno.test("NeuMF refuses a pointwise loss with a PairBatch and a pairwise one with a LabeledBatch (TypeError naming both)", () => {
  const model = new NeuMF({ ...SMALL });
  const optimizer = new Adam(model.parameters);
  const pairs = randomBatch(new Prng(5), 4, 5, 6);
  const cases: [LabeledBatch | PairBatch, typeof bprLoss | typeof binaryCrossEntropy, RegExp][] = [
    [TRIPLES, binaryCrossEntropy, /the loss 'bce' is pointwise .* the batch is a PairBatch/],
    [pairs, bprLoss, /the loss 'bpr' is pairwise .* the batch is a LabeledBatch/],
  ];
  for (const [batch, loss, message] of cases) {
    const check = (e: Error) => e instanceof TypeError && message.test(e.message);
    assert.throws(() => model.trainStep(batch, { optimizer, loss }), check);
    assert.throws(() => model.computeGradients(batch, { loss }), check);
    assert.throws(() => model.loss(batch, { loss }), check);
  }
  assert.throws(
    () => model.trainStep({ ...TRIPLES, negItems: Int32Array.of(0, 5, 0, 0, 0, 0) }, { optimizer }),
    RangeError,
  );
});

Deno.test("NeuMF, GMF and MLP learn to rank liked items first with bpr", async (t) => {
  const numUsers = 6;
  const numItems = 8;
  const liked = (u: number, i: number) => (u * 3 + i * 5) % 7 < 3;
  const triples: PairBatch = {
    users: new Int32Array(numUsers * numItems * numItems),
    items: new Int32Array(numUsers * numItems * numItems),
    negItems: new Int32Array(numUsers * numItems * numItems),
    count: 0,
  };
  for (let u = 0; u < numUsers; u++) {
    for (let i = 0; i < numItems; i++) {
      for (let j = 0; j < numItems; j++) {
        if (!liked(u, i) || liked(u, j)) continue;
        triples.users[triples.count] = u;
        triples.items[triples.count] = i;
        triples.negItems[triples.count++] = j;
      }
    }
  }
  for (const kernels of kernelSets()) {
    for (const kind of ["NeuMF", "GMF", "MLP"] as const) {
      await t.step(`${kernels.name} ${kind}`, () => {
        const m = new NeuMF({ numUsers, numItems, kind, kernels, prng: new Prng(6) });
        const optimizer = buildOptimizer("adam", m.parameters, { learningRate: 0.01 });
        const first = m.trainStep(triples, { optimizer, loss: bprLoss });
        let last = first;
        for (let s = 0; s < 300; s++) last = m.trainStep(triples, { optimizer, loss: bprLoss });
        assert.ok(Math.abs(first - Math.LN2) < 0.01, `initial loss ${first}`);
        assert.ok(last < 0.25 * first, `loss ${first} → ${last}`);
      });
    }
  }
});

Deno.test("scoreUserItems() keeps a WebAssembly set's fast path for candidate lists up to the whole catalogue", async (t) => {
  // A server ranks every unseen item of a user: lists of a few thousand,
  // of a different length each time. The buffers must stay in the set's
  // memory (else every element-wise kernel falls back to TypeScript).
  const numItems = 3000;
  for (const kernels of kernelSets().filter((k) => k.name !== "ts")) {
    await t.step(kernels.name, () => {
      const inArena: boolean[] = [];
      const spy: Kernels = {
        ...kernels,
        scoreRows(items, o) {
          inArena.push(wasmArenaOf(o.logits) !== undefined && wasmArenaOf(o.act) !== undefined);
          kernels.scoreRows(items, o);
        },
      };
      const model = new NeuMF({ numUsers: 3, numItems, kernels: spy, prng: new Prng(5) });
      const items = Int32Array.from({ length: numItems }, (_, i) => i);
      const out = new Float32Array(numItems);
      for (const count of [100, 1100, 1500, 2200, 2999, 3000, 2000]) {
        model.scoreUserItems(1, items, { out, count });
      }
      assert.deepEqual(inArena, [true, true, true, true, true, true, true]);
    });
  }
});
