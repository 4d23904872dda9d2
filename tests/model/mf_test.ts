import assert from "node:assert/strict";
import type { Kernels } from "../../lib/kernels/kernels.ts";
import { MF_SGD_BLOCK } from "../../lib/kernels/mf_sgd.ts";
import { tsKernels } from "../../lib/kernels/ts_kernels.ts";
import { binaryCrossEntropy, bprLoss, type TrainingLoss } from "../../lib/model/loss.ts";
import { MF, type MFOptions } from "../../lib/model/mf.ts";
import type { LabeledBatch, PairBatch, TrainingBatch } from "../../lib/model/model.ts";
import { buildOptimizer } from "../../lib/optim/optimizers.ts";
import { Sgd } from "../../lib/optim/sgd.ts";
import { Prng } from "../../lib/random/prng.ts";
import { assertSameBits, kernelSets, withPlainMemory } from "../kernels/_kernel_sets.ts";
import { assertGradient } from "./_grad_check.ts";

/** Replaces the initial weights with O(1) ones (biases too) so gradients stand above float32 noise. */
function randomizeWeights(model: MF, seed: number): void {
  const prng = new Prng(seed);
  for (const e of model.parameters.entries) {
    const scale = e.name.endsWith("_bias") ? 0.3 : 0.6;
    for (let i = 0; i < e.length; i++) e.values[i] = scale * prng.nextGaussian();
  }
}

/** `count` random examples: labelled pairs (a third positive) and triples over the same users. */
function randomExamples(
  prng: Prng,
  sizes: { numUsers: number; numItems: number; count: number },
): { pairs: LabeledBatch; triples: PairBatch } {
  const { numUsers, numItems, count } = sizes;
  const users = Int32Array.from({ length: count }, () => prng.nextInt(numUsers));
  const items = Int32Array.from({ length: count }, () => prng.nextInt(numItems));
  const labels = Int8Array.from({ length: count }, () => prng.nextInt(3) === 0 ? 1 : 0);
  const negItems = Int32Array.from({ length: count }, () => prng.nextInt(numItems));
  return { pairs: { users, items, labels, count }, triples: { users, items, negItems, count } };
}

/** Example `e` of a chunk as a one-example batch. */
function one(chunk: TrainingBatch, e: number): TrainingBatch {
  const users = chunk.users.subarray(e, e + 1);
  const items = chunk.items.subarray(e, e + 1);
  if ("negItems" in chunk) {
    return { users, items, negItems: chunk.negItems.subarray(e, e + 1), count: 1 };
  }
  return { users, items, labels: (chunk as LabeledBatch).labels.subarray(e, e + 1), count: 1 };
}

const SMALL = { numUsers: 4, numItems: 5, numFactors: 3 };

Deno.test("MF declares its embeddings and biases as named tensors, user and item rows grouped", () => {
  const m = new MF({ ...SMALL });
  assert.deepEqual(
    m.parameters.entries.map((e) =>
      `${e.name}:${e.shape.join("x")}:${e.sparse ? e.rowGroup : "dense"}`
    ),
    [
      "mf_user_embedding:4x3:user",
      "mf_item_embedding:5x3:item",
      "user_bias:4:user",
      "item_bias:5:item",
      "global_bias:1:dense",
    ],
  );
  assert.equal(m.kernels, tsKernels, "the ts kernels by default");
  assert.equal(m.describe(), "MF: 3 factors + biases, 37 parameters");
  assert.deepEqual(m.config, {
    kind: "MF",
    numUsers: 4,
    numItems: 5,
    numFactors: 3,
    mfRegularization: 0,
    initStddev: 0.01,
  });
});

Deno.test("MF draws its embeddings N(0, initStddev²) and starts every bias at 0", async (t) => {
  for (const initStddev of [0.01, 0.1, 1]) {
    await t.step(`initStddev ${initStddev}`, () => {
      const m = new MF({
        numUsers: 300,
        numItems: 200,
        numFactors: 40,
        initStddev,
        prng: new Prng(3),
      });
      for (const name of ["mf_user_embedding", "mf_item_embedding"]) {
        const v = m.parameters.get(name).values;
        let s = 0;
        let q = 0;
        for (const x of v) {
          s += x;
          q += x * x;
        }
        const mean = s / v.length;
        const std = Math.sqrt(q / v.length - mean * mean);
        // 8,000+ draws: the sample std is within 3% of σ, the mean within 4σ/√n.
        assert.ok(Math.abs(std - initStddev) < 0.03 * initStddev, `${name} std ${std}`);
        assert.ok(Math.abs(mean) < 4 * initStddev / Math.sqrt(v.length), `${name} mean ${mean}`);
      }
      for (const name of ["user_bias", "item_bias", "global_bias"]) {
        assert.ok(m.parameters.get(name).values.every((x) => x === 0), name);
      }
    });
  }
});

Deno.test("MF gradients match central differences for bce and bpr, with and without L2 (eps 1e-3, rtol 1e-2, atol 1e-4)", async (t) => {
  // Repeated users, items and triples; a triple whose negative is its positive;
  // user 3 and item 4 unused (their gradient must be 0, L2 included).
  const users = Int32Array.of(0, 2, 1, 2, 0, 1);
  const items = Int32Array.of(3, 1, 1, 0, 3, 0);
  const pairs: LabeledBatch = { users, items, labels: Int8Array.of(1, 0, 1, 1, 0, 0), count: 6 };
  const soft: LabeledBatch = { ...pairs, labels: Float32Array.of(1, 0.25, 0.9, 1, 0, 0.5) };
  const triples: PairBatch = { users, items, negItems: Int32Array.of(2, 0, 1, 3, 0, 2), count: 6 };
  const cases: [string, TrainingBatch, TrainingLoss, number][] = [
    ["bce", pairs, binaryCrossEntropy, 0],
    ["bce with L2", pairs, binaryCrossEntropy, 0.05],
    ["bce, float labels, L2", soft, binaryCrossEntropy, 0.02],
    ["bpr", triples, bprLoss, 0],
    ["bpr with L2", triples, bprLoss, 0.05],
  ];
  for (const kernels of kernelSets()) {
    for (const [name, batch, loss, mfRegularization] of cases) {
      await t.step(`${kernels.name} ${name}`, () => {
        const model = new MF({ ...SMALL, mfRegularization, kernels, prng: new Prng(1) });
        randomizeWeights(model, 2);
        model.computeGradients(batch, { loss });
        const grads = model.parameters.grads.slice();
        let checked = 0;
        for (const e of model.parameters.entries) {
          checked += assertGradient(
            () => model.loss(batch, { loss }),
            e.values,
            grads.subarray(e.offset, e.offset + e.length),
            { label: `${name} ${e.name}` },
          );
        }
        assert.equal(checked, model.parameters.size);
        const p = model.parameters;
        const userRow3 = p.get("mf_user_embedding").offset + 3 * 3;
        assert.ok(grads.subarray(userRow3, userRow3 + 3).every((g) => g === 0), "user 3");
        assert.equal(grads[p.get("user_bias").offset + 3], 0, "user 3's bias");
        assert.equal(grads[p.get("item_bias").offset + 4], 0, "item 4's bias");
        if (loss === bprLoss && mfRegularization === 0) {
          // y(u,i) − y(u,j) does not depend on b and b_u: only L2 moves them.
          assert.equal(grads[p.get("global_bias").offset], 0);
          assert.ok(p.get("user_bias").grads.every((g) => g === 0));
        }
      });
    }
  }
});

Deno.test("MF trainSequential() gives the bits of count trainStep() calls at batch size 1 with Sgd, and the mean loss within 1e-9", async (t) => {
  const numUsers = 9;
  const numItems = 7; // few items: bpr draws triples whose negative is the positive
  const count = 300;
  for (const kernels of kernelSets()) {
    for (const numFactors of [1, 4, 7, 13]) {
      for (const loss of [binaryCrossEntropy, bprLoss]) {
        for (const mfRegularization of [0, 0.02]) {
          await t.step(
            `${kernels.name} ${numFactors} factors ${loss.name} λ ${mfRegularization}`,
            () => {
              const options: MFOptions = {
                numUsers,
                numItems,
                numFactors,
                mfRegularization,
                initStddev: 0.3,
                kernels,
              };
              const { pairs, triples } = randomExamples(new Prng(numFactors), {
                numUsers,
                numItems,
                count,
              });
              const chunk = loss === bprLoss ? triples : pairs;
              if (loss === bprLoss) {
                assert.ok(
                  triples.items.some((i, e) => i === triples.negItems[e]),
                  "an i = j triple",
                );
              }
              const sequential = new MF({ ...options, prng: new Prng(4) });
              const mean = sequential.trainSequential(chunk, { learningRate: 0.05, loss });
              const stepped = new MF({ ...options, prng: new Prng(4) });
              const sgd = new Sgd(stepped.parameters, { learningRate: 0.05 });
              let sum = 0;
              for (let e = 0; e < count; e++) {
                sum += stepped.trainStep(one(chunk, e), { optimizer: sgd, loss });
              }
              assertSameBits(sequential.parameters.values, stepped.parameters.values, "parameters");
              assert.ok(
                Math.abs(mean - sum / count) <= 1e-9 * Math.abs(mean),
                `${mean} vs ${sum / count}`,
              );
              assert.notDeepEqual(
                sequential.parameters.values,
                new MF({ ...options, prng: new Prng(4) }).parameters.values,
                "it trained",
              );
            },
          );
        }
      }
    }
  }
});

Deno.test("MF trainSequential() gives the same bits on every kernel set, memory and chunking, over several kernel blocks", async (t) => {
  const numUsers = 50;
  const numItems = 40;
  const count = 2 * MF_SGD_BLOCK + 77;
  const { pairs, triples } = randomExamples(new Prng(8), { numUsers, numItems, count });
  const options = { numUsers, numItems, numFactors: 10, mfRegularization: 0.01, initStddev: 0.1 };
  const run = (kernels: Kernels, chunk: TrainingBatch, cuts: number[]) => {
    const model = new MF({ ...options, kernels, prng: new Prng(9) });
    let sum = 0;
    let start = 0;
    for (const end of [...cuts, count]) {
      const part: TrainingBatch = "negItems" in chunk
        ? {
          users: chunk.users.subarray(start),
          items: chunk.items.subarray(start),
          negItems: chunk.negItems.subarray(start),
          count: end - start,
        }
        : {
          users: chunk.users.subarray(start),
          items: chunk.items.subarray(start),
          labels: (chunk as LabeledBatch).labels.subarray(start),
          count: end - start,
        };
      sum += model.trainSequential(part, { learningRate: 0.03 }) * (end - start);
      start = end;
    }
    return { values: model.parameters.values.slice(), sum };
  };
  for (const [name, chunk] of [["bce", pairs], ["bpr", triples]] as const) {
    const reference = run(tsKernels, chunk, []);
    for (const kernels of kernelSets()) {
      for (const memory of ["own", "plain"] as const) {
        await t.step(`${name} ${kernels.name} ${memory} memory`, () => {
          const k = memory === "own" ? kernels : withPlainMemory(kernels);
          const whole = run(k, chunk, []);
          assertSameBits(whole.values, reference.values, "parameters");
          assert.ok(Object.is(whole.sum, reference.sum), `${whole.sum} vs ts ${reference.sum}`);
          // Cut into uneven chunks: the parameters do not depend on the cuts.
          const cut = run(k, chunk, [1, 700, MF_SGD_BLOCK + 3]);
          assertSameBits(cut.values, reference.values, "parameters, chunked");
          assert.ok(Math.abs(cut.sum - reference.sum) <= 1e-9 * reference.sum);
        });
      }
    }
  }
});

Deno.test("MF trainSequential() honours count, returns 0 for none, and refuses what it cannot run", () => {
  const { pairs, triples } = randomExamples(new Prng(10), { numUsers: 4, numItems: 5, count: 8 });
  const model = new MF({ ...SMALL, prng: new Prng(11) });
  const before = model.parameters.values.slice();
  assert.equal(model.trainSequential(pairs, { learningRate: 0.1, count: 0 }), 0);
  assert.deepEqual(model.parameters.values, before);
  const firstThree = new MF({ ...SMALL, prng: new Prng(11) });
  firstThree.trainSequential({ ...pairs, count: 3 }, { learningRate: 0.1 });
  model.trainSequential(pairs, { learningRate: 0.1, count: 3 });
  assert.deepEqual(model.parameters.values, firstThree.parameters.values);
  const custom = { ...binaryCrossEntropy, name: "custom" };
  assert.throws(
    () => model.trainSequential(pairs, { learningRate: 0.1, loss: custom }),
    (e: Error) => e instanceof TypeError && /'custom' has no per-example kernel/.test(e.message),
  );
  assert.throws(
    () => model.trainSequential(pairs, { learningRate: 0.1, loss: bprLoss }),
    (e: Error) => e instanceof TypeError && /'bpr' is pairwise.*a LabeledBatch/.test(e.message),
  );
  assert.throws(
    () => model.trainSequential(triples, { learningRate: 0.1, loss: binaryCrossEntropy }),
    (e: Error) => e instanceof TypeError && /'bce' is pointwise.*a PairBatch/.test(e.message),
  );
  assert.throws(() => model.trainSequential(pairs, { learningRate: -1 }), RangeError);
  assert.throws(() => model.trainSequential(pairs, { learningRate: NaN }), RangeError);
  assert.throws(() => model.trainSequential(pairs, { learningRate: 0.1, count: 9 }), RangeError);
  const snapshot = model.parameters.values.slice();
  const bad = { ...pairs, items: Int32Array.of(0, 1, 2, 3, 4, 5, 0, 0) };
  assert.throws(
    () => model.trainSequential(bad, { learningRate: 0.1 }),
    /item 5 at position 5 is outside the 5 rows/,
  );
  assert.deepEqual(model.parameters.values, snapshot, "nothing trained before the bad id");
});

Deno.test("a pointwise loss with a PairBatch, or a pairwise one with a LabeledBatch, is a TypeError naming both", () => {
  const { pairs, triples } = randomExamples(new Prng(12), { numUsers: 4, numItems: 5, count: 4 });
  const model = new MF({ ...SMALL });
  const optimizer = new Sgd(model.parameters);
  const cases: [TrainingBatch, TrainingLoss, RegExp][] = [
    [triples, binaryCrossEntropy, /the loss 'bce' is pointwise .* the batch is a PairBatch/],
    [pairs, bprLoss, /the loss 'bpr' is pairwise .* the batch is a LabeledBatch/],
  ];
  for (const [batch, loss, message] of cases) {
    const check = (e: Error) => e instanceof TypeError && message.test(e.message);
    assert.throws(() => model.trainStep(batch, { optimizer, loss }), check);
    assert.throws(() => model.computeGradients(batch, { loss }), check);
    assert.throws(() => model.loss(batch, { loss }), check);
  }
  // Without a loss, the batch's fields choose: labels → bce, negItems only → bpr.
  assert.equal(model.loss(triples), model.loss(triples, { loss: bprLoss }));
  assert.equal(model.loss(pairs), model.loss(pairs, { loss: binaryCrossEntropy }));
});

Deno.test("MF learns a tiny synthetic problem with every optimizer, bce and bpr", async (t) => {
  const numUsers = 6;
  const numItems = 8;
  const liked = (u: number, i: number) => (u * 3 + i * 5) % 7 < 3;
  const cells = numUsers * numItems;
  const pairs: LabeledBatch = {
    users: new Int32Array(cells),
    items: new Int32Array(cells),
    labels: new Int8Array(cells),
    count: cells,
  };
  const triples: PairBatch = {
    users: new Int32Array(cells * cells),
    items: new Int32Array(cells * cells),
    negItems: new Int32Array(cells * cells),
    count: 0,
  };
  for (let u = 0, b = 0; u < numUsers; u++) {
    for (let i = 0; i < numItems; i++, b++) {
      pairs.users[b] = u;
      pairs.items[b] = i;
      pairs.labels[b] = liked(u, i) ? 1 : 0;
      for (let j = 0; j < numItems; j++) {
        if (!liked(u, i) || liked(u, j)) continue;
        triples.users[triples.count] = u;
        triples.items[triples.count] = i;
        triples.negItems[triples.count++] = j;
      }
    }
  }
  for (const kernels of kernelSets()) {
    for (const [kind, learningRate] of [["adam", 0.05], ["lazy_adam", 0.05], ["sgd", 1]] as const) {
      for (const [batch, loss] of [[pairs, binaryCrossEntropy], [triples, bprLoss]] as const) {
        await t.step(`${kernels.name} ${kind} ${loss.name}`, () => {
          const m = new MF({ numUsers, numItems, numFactors: 4, kernels, prng: new Prng(6) });
          const optimizer = buildOptimizer(kind, m.parameters, { learningRate });
          const first = m.trainStep(batch, { optimizer, loss });
          let last = first;
          for (let s = 0; s < 300; s++) last = m.trainStep(batch, { optimizer, loss });
          assert.ok(Math.abs(first - Math.LN2) < 0.01, `initial loss ${first}`);
          assert.ok(last < 0.3 * first, `loss ${first} → ${last}`);
        });
      }
    }
  }
});

Deno.test("MF scoreUserItems() and scoreUserAll() give predict()'s bits on every kernel set, after training", async (t) => {
  const numUsers = 20;
  const numItems = 60;
  for (const kernels of kernelSets()) {
    for (const plainMemory of [false, true]) {
      for (const numFactors of [5, 8]) {
        await t.step(
          `${kernels.name} ${numFactors} factors${plainMemory ? " plain memory" : ""}`,
          () => {
            const model = new MF({
              numUsers,
              numItems,
              numFactors,
              initStddev: 0.3,
              prng: new Prng(7),
              kernels: plainMemory ? withPlainMemory(kernels) : kernels,
            });
            const { pairs } = randomExamples(new Prng(8), { numUsers, numItems, count: 3000 });
            model.trainSequential(pairs, { learningRate: 0.05 });
            // Candidates past the catalogue's size, with repeats.
            const items = new Int32Array(2 * numItems + 3);
            for (let i = 0; i < items.length; i++) items[i] = (i * 7) % numItems;
            const fast = new Float32Array(items.length);
            const full = new Float32Array(items.length);
            const all = new Float32Array(numItems);
            const listed = new Float32Array(numItems);
            const everyItem = Int32Array.from({ length: numItems }, (_, i) => i);
            let maxLogit = 0;
            for (let u = 0; u < numUsers; u++) {
              model.scoreUserItems(u, items, { out: fast });
              model.predict({
                users: new Int32Array(items.length).fill(u),
                items,
                count: items.length,
              }, full);
              assertSameBits(fast, full, `user ${u}`);
              model.scoreUserAll(u, all);
              model.scoreUserItems(u, everyItem, { out: listed });
              assertSameBits(all, listed, `user ${u}, every item`);
              for (const x of full) maxLogit = Math.max(maxLogit, Math.abs(x));
            }
            assert.ok(maxLogit > 0.5, `trained logits are not trivial (${maxLogit})`);
          },
        );
      }
    }
  }
});

Deno.test("MF scoring honours count, refuses ids outside the tables, and is b + b_u + b_i + ⟨p_u, q_i⟩", () => {
  const model = new MF({ numUsers: 2, numItems: 3, numFactors: 2 });
  const p = model.parameters;
  p.get("mf_user_embedding").values.set([1, 2, 0.5, -1]);
  p.get("mf_item_embedding").values.set([3, 4, -2, 1, 0, 0.25]);
  p.get("user_bias").values.set([0.5, -0.5]);
  p.get("item_bias").values.set([1, 2, 3]);
  p.get("global_bias").values.set([10]);
  const out = new Float32Array(3).fill(NaN);
  model.scoreUserItems(1, Int32Array.of(0, 2, 1), { out, count: 2 });
  // user 1: 10 − 0.5 + b_i + (0.5·q0 − q1)
  assert.deepEqual([...out.subarray(0, 2)], [10 - 0.5 + 1 + (1.5 - 4), 10 - 0.5 + 3 - 0.25]);
  assert.ok(Number.isNaN(out[2]));
  assert.throws(() => model.scoreUserItems(2, Int32Array.of(0), { out }), RangeError);
  assert.throws(() => model.scoreUserItems(0, Int32Array.of(3), { out }), RangeError);
  assert.throws(
    () => model.scoreUserItems(0, Int32Array.of(1, 2), { out: new Float32Array(1) }),
    RangeError,
  );
  assert.throws(() => model.scoreUserAll(0, new Float32Array(2)), RangeError);
  assert.throws(
    () => model.predict({ users: Int32Array.of(0), items: Int32Array.of(7), count: 1 }, out),
    RangeError,
  );
});

Deno.test("the same seed gives MF identical parameters and losses; another seed other parameters", () => {
  const run = (seed: number) => {
    const model = new MF({ numUsers: 30, numItems: 40, numFactors: 6, prng: new Prng(seed) });
    const optimizer = buildOptimizer("lazy_adam", model.parameters);
    const init = model.parameters.values.slice();
    const prng = new Prng(100);
    const losses: number[] = [];
    for (let s = 0; s < 20; s++) {
      const { pairs } = randomExamples(prng, { numUsers: 30, numItems: 40, count: 32 });
      losses.push(model.trainStep(pairs, { optimizer }));
    }
    return { init, losses, final: model.parameters.values.slice() };
  };
  const a = run(1);
  assert.deepEqual(run(1), a);
  assert.notDeepEqual(run(2).init, a.init);
});

Deno.test("MF refuses impossible configurations", async (t) => {
  const cases: [string, Partial<MFOptions>][] = [
    ["no users", { numUsers: 0 }],
    ["fractional items", { numItems: 2.5 }],
    ["no factors", { numFactors: 0 }],
    ["negative λ", { mfRegularization: -1 }],
    ["zero stddev", { initStddev: 0 }],
    ["infinite stddev", { initStddev: Infinity }],
    ["no buffer rows", { maxBatchSize: 0 }],
  ];
  for (const [name, extra] of cases) {
    await t.step(name, () => {
      assert.throws(() => new MF({ ...SMALL, ...extra }), /^RangeError: Cannot build MF model/);
    });
  }
});
