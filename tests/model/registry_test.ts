import assert from "node:assert/strict";
import { tsKernels } from "../../lib/kernels/ts_kernels.ts";
import {
  buildModel,
  isModelKind,
  modelConfig,
  MODELS,
  modelSpec,
  pretrainedPartsOf,
  rebuildModel,
} from "../../lib/model/registry.ts";
import { MF } from "../../lib/model/mf.ts";
import type { Model, ModelConfig } from "../../lib/model/model.ts";
import { NeuMF } from "../../lib/model/neumf.ts";
import { buildOptimizer } from "../../lib/optim/optimizers.ts";
import { Prng } from "../../lib/random/prng.ts";
import { kernelSets } from "../kernels/_kernel_sets.ts";

const HYPER = {
  numUsers: 7,
  numItems: 11,
  numFactors: 3,
  layers: [6, 4],
  mfRegularization: 0.01,
  mlpRegularization: 0.02,
};

Deno.test("MODELS lists GMF, MLP, NeuMF and MF, and only NeuMF starts from trained parts", () => {
  assert.deepEqual([...MODELS], ["GMF", "MLP", "NeuMF", "MF"]);
  for (const kind of MODELS) assert.ok(isModelKind(kind));
  assert.ok(!isModelKind("SVD") && !isModelKind("toString") && !isModelKind(3));
  assert.deepEqual(pretrainedPartsOf("NeuMF"), ["GMF", "MLP"]);
  assert.deepEqual(pretrainedPartsOf("GMF"), []);
  assert.deepEqual(pretrainedPartsOf("MLP"), []);
  assert.deepEqual(pretrainedPartsOf("MF"), []);
  assert.throws(() => pretrainedPartsOf("SVD"), RangeError);
});

Deno.test("modelConfig() is serialisable and buildModel() builds the model it describes", async (t) => {
  for (const kind of MODELS) {
    await t.step(kind, () => {
      const config = modelConfig(kind, HYPER);
      assert.equal(config.kind, kind);
      assert.deepEqual(JSON.parse(JSON.stringify(config)), config);
      const model = buildModel(config, { kernels: tsKernels, prng: new Prng(1) });
      assert.deepEqual(model.config, config);
      assert.equal(model.kernels, tsKernels);
      assert.match(
        model.describe(),
        new RegExp(`^${kind}: .*${model.parameters.size.toLocaleString("en-US")} parameters`),
      );
      // The same model as its class's constructor builds from the same options.
      const direct: Model = kind === "MF"
        ? new MF({ ...HYPER, prng: new Prng(1) })
        : new NeuMF({ ...HYPER, kind, prng: new Prng(1) });
      assert.deepEqual(model.parameters.values, direct.parameters.values);
    });
  }
});

Deno.test("buildModel() takes the kernel set from `backend` and refuses an unknown kind", async (t) => {
  const config = modelConfig("NeuMF", HYPER);
  for (const kernels of kernelSets()) {
    await t.step(kernels.name, () => {
      const model = buildModel(config, { backend: kernels.name });
      assert.equal(model.kernels, kernels);
      assert.equal(model.parameters.kernels, kernels);
    });
  }
  assert.throws(() => buildModel({ ...config, kind: "SVD" }), /the models are GMF, MLP, NeuMF, MF/);
});

Deno.test("rebuildModel(modelSpec()) gives the model's config and backend, and with its weights its scores bit for bit", async (t) => {
  for (const kernels of kernelSets()) {
    for (const kind of MODELS) {
      await t.step(`${kernels.name} ${kind}`, () => {
        const model = buildModel(modelConfig(kind, HYPER), { kernels, prng: new Prng(2) });
        const optimizer = buildOptimizer("adam", model.parameters, { learningRate: 0.05 });
        const prng = new Prng(3);
        const count = 12;
        for (let s = 0; s < 10; s++) {
          model.trainStep({
            users: Int32Array.from({ length: count }, () => prng.nextInt(HYPER.numUsers)),
            items: Int32Array.from({ length: count }, () => prng.nextInt(HYPER.numItems)),
            labels: Int8Array.from({ length: count }, (_, i) => i % 2),
            count,
          }, { optimizer });
        }
        const spec = modelSpec(model, { blasThreads: 1 });
        assert.deepEqual(JSON.parse(JSON.stringify(spec)), spec);
        assert.equal(spec.backend, kernels.name);
        const copy = rebuildModel(spec);
        assert.deepEqual(copy.config, model.config);
        assert.equal(copy.kernels.name, kernels.name);
        copy.parameters.values.set(model.parameters.values);
        copy.prepareEval();
        const items = Int32Array.from({ length: HYPER.numItems }, (_, i) => i);
        const a = new Float32Array(items.length);
        const b = new Float32Array(items.length);
        for (let u = 0; u < HYPER.numUsers; u++) {
          model.scoreUserItems(u, items, { out: a });
          copy.scoreUserItems(u, items, { out: b });
          assert.deepEqual(b, a, `user ${u}`);
        }
      });
    }
  }
});

/** A config's initStddev field (every model's config has one). */
function withStddev(config: ModelConfig): ModelConfig & { initStddev?: number } {
  return config;
}

Deno.test("modelConfig() records initStddev (default 0.01) and the models draw their embeddings with it", async (t) => {
  for (const kind of MODELS) {
    await t.step(kind, () => {
      assert.equal(withStddev(modelConfig(kind, HYPER)).initStddev, 0.01);
      const wide = { ...HYPER, numUsers: 400, numItems: 500, initStddev: 0.5 };
      const config = modelConfig(kind, wide);
      assert.equal(withStddev(config).initStddev, 0.5);
      const model = buildModel(config, { kernels: tsKernels, prng: new Prng(4) });
      for (const e of model.parameters.entries) {
        if (!e.sparse || e.shape.length < 2) continue;
        let q = 0;
        for (const v of e.values) q += v * v;
        const rms = Math.sqrt(q / e.length);
        assert.ok(Math.abs(rms - 0.5) < 0.05, `${e.name}: rms ${rms}`);
      }
    });
  }
});

Deno.test("a config without initStddev (an older checkpoint's) builds with 0.01, the same bits as before", async (t) => {
  for (const kind of MODELS) {
    await t.step(kind, () => {
      const { initStddev: _, ...old } = withStddev(modelConfig(kind, HYPER));
      const a = buildModel(old, { kernels: tsKernels, prng: new Prng(5) });
      const b = buildModel(modelConfig(kind, HYPER), { kernels: tsKernels, prng: new Prng(5) });
      assert.deepEqual(a.parameters.values, b.parameters.values);
      assert.equal(withStddev(a.config).initStddev, 0.01);
    });
  }
});
