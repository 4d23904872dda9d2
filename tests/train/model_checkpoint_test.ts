import assert from "node:assert/strict";
import { TINY_RUN, tinyDataset } from "./_checkpoint_fixtures.ts";
import { NeuMF } from "../../lib/model/neumf.ts";
import { buildOptimizer } from "../../lib/optim/optimizers.ts";
import { Prng } from "../../lib/random/prng.ts";
import {
  loadModelCheckpoint,
  modelFromCheckpoint,
  restoreModelState,
  restoreOptimizerState,
  saveModelCheckpoint,
} from "../../lib/train/model_checkpoint.ts";
import { kernelSets } from "../kernels/_kernel_sets.ts";

const USERS = 5;
const ITEMS = 7;
const DATASET = tinyDataset(USERS, ITEMS);
const RUN = TINY_RUN;

function batch(step: number) {
  return {
    users: Int32Array.of(step % USERS, (step + 1) % USERS, (step + 2) % USERS, 0),
    items: Int32Array.of(step % ITEMS, (step + 3) % ITEMS, (step + 5) % ITEMS, 6),
    labels: Int8Array.of(1, 0, 1, 0),
    count: 4,
  };
}

Deno.test("a checkpointed model continues with the same bits as the original, for every optimizer", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    for (const optimizerKind of ["adam", "lazy_adam", "sgd"] as const) {
      await t.step(optimizerKind, async () => {
        const original = new NeuMF({
          numUsers: USERS,
          numItems: ITEMS,
          numFactors: 4,
          layers: [8, 4],
          prng: new Prng(3),
        });
        const optimizer = buildOptimizer(optimizerKind, original.parameters, {
          learningRate: 0.05,
        });
        for (let s = 0; s < 5; s++) original.trainStep(batch(s), { optimizer });
        await saveModelCheckpoint(`${dir}/${optimizerKind}`, { model: original, optimizer }, {
          dataset: DATASET,
          run: RUN,
          prngState: new Uint32Array(4),
          history: [],
        });
        const loaded = await loadModelCheckpoint(`${dir}/${optimizerKind}`);
        assert.equal(loaded.meta.optimizer.kind, optimizerKind);
        assert.equal(loaded.meta.optimizer.step, 5);
        assert.equal(loaded.meta.optimizer.learningRate, 0.05);
        assert.deepEqual(loaded.meta.model, JSON.parse(JSON.stringify(original.config)));
        const moments = Object.keys(loaded.data.arrays).filter((k) => k.startsWith("adam_"));
        assert.equal(
          moments.length,
          optimizerKind === "sgd" ? 0 : 2 * original.parameters.entries.length,
        );
        const resumed = modelFromCheckpoint(loaded, { backend: "ts" });
        assert.equal(resumed.kernels.name, "ts");
        assert.deepEqual(resumed.config, original.config);
        const { kind, learningRate, beta1, beta2, epsilon } = loaded.meta.optimizer;
        const resumedOptimizer = buildOptimizer(kind, resumed.parameters, {
          learningRate,
          beta1,
          beta2,
          epsilon,
        });
        restoreOptimizerState(resumedOptimizer, resumed, loaded);
        assert.equal(resumedOptimizer.kind, optimizerKind);
        assert.equal(resumedOptimizer.stepCount, 5);
        for (let s = 5; s < 10; s++) {
          assert.equal(
            resumed.trainStep(batch(s), { optimizer: resumedOptimizer }),
            original.trainStep(batch(s), { optimizer }),
            `step ${s}`,
          );
        }
        assert.deepEqual(resumed.parameters.values.slice(), original.parameters.values.slice());
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a checkpoint restores into a model on any kernel set, which scores as the original", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    const original = new NeuMF({
      numUsers: USERS,
      numItems: ITEMS,
      numFactors: 3,
      layers: [6, 4],
      prng: new Prng(5),
    });
    const optimizer = buildOptimizer("adam", original.parameters, { learningRate: 0.05 });
    for (let s = 0; s < 8; s++) original.trainStep(batch(s), { optimizer });
    await saveModelCheckpoint(dir, { model: original, optimizer }, {
      dataset: DATASET,
      run: RUN,
      prngState: new Uint32Array(4),
      history: [],
    });
    const loaded = await loadModelCheckpoint(dir);
    const items = Int32Array.from({ length: ITEMS }, (_, i) => i);
    const want = new Float32Array(ITEMS);
    const got = new Float32Array(ITEMS);
    for (const kernels of kernelSets()) {
      await t.step(kernels.name, () => {
        const model = modelFromCheckpoint(loaded, { backend: kernels.name });
        assert.equal(model.kernels.name, kernels.name);
        assert.deepEqual(model.parameters.values.slice(), original.parameters.values.slice());
        // restoreModelState() also refreshes the evaluation cache of a used model.
        const used = new NeuMF({ ...original.config, kernels, prng: new Prng(6) });
        used.scoreUserItems(0, items, { out: got });
        restoreModelState(used, loaded);
        for (const m of [model, used]) {
          for (let u = 0; u < USERS; u++) {
            original.scoreUserItems(u, items, { out: want });
            m.scoreUserItems(u, items, { out: got });
            for (let i = 0; i < ITEMS; i++) {
              assert.ok(Math.abs(got[i] - want[i]) <= 1e-5, `user ${u} item ${i}`);
            }
          }
        }
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("restoreOptimizerState() refuses a checkpoint of another optimizer", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    const model = new NeuMF({ numUsers: USERS, numItems: ITEMS, numFactors: 2, layers: [4] });
    const sgd = buildOptimizer("sgd", model.parameters);
    model.trainStep(batch(0), { optimizer: sgd });
    await saveModelCheckpoint(dir, { model, optimizer: sgd }, {
      dataset: DATASET,
      run: RUN,
      prngState: new Uint32Array(4),
      history: [],
    });
    const loaded = await loadModelCheckpoint(dir);
    const adam = buildOptimizer("adam", model.parameters);
    assert.throws(() => restoreOptimizerState(adam, model, loaded), /it is an sgd state/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
