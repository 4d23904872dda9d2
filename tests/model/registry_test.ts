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

Deno.test("MODELS lists GMF, MLP and NeuMF, and only NeuMF starts from trained parts", () => {
  assert.deepEqual([...MODELS], ["GMF", "MLP", "NeuMF"]);
  for (const kind of MODELS) assert.ok(isModelKind(kind));
  assert.ok(!isModelKind("SVD") && !isModelKind("toString") && !isModelKind(3));
  assert.deepEqual(pretrainedPartsOf("NeuMF"), ["GMF", "MLP"]);
  assert.deepEqual(pretrainedPartsOf("GMF"), []);
  assert.deepEqual(pretrainedPartsOf("MLP"), []);
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
      // The same model as NeuMF's constructor builds from the same options.
      const direct = new NeuMF({ ...HYPER, kind, prng: new Prng(1) });
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
  assert.throws(() => buildModel({ ...config, kind: "SVD" }), /the models are GMF, MLP, NeuMF/);
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
