import assert from "node:assert/strict";
import { join } from "node:path";
import { TINY_RUN, tinyDataset } from "./_checkpoint_fixtures.ts";
import type { Model } from "../../lib/model/model.ts";
import { NeuMF } from "../../lib/model/neumf.ts";
import type { Optimizer } from "../../lib/optim/optimizer.ts";
import { buildOptimizer } from "../../lib/optim/optimizers.ts";
import { Prng } from "../../lib/random/prng.ts";
import { applyPretraining, loadPretrained } from "../../lib/train/pretrain.ts";
import {
  loadModelCheckpoint,
  modelFromCheckpoint,
  restoreOptimizerState,
  saveModelCheckpoint,
} from "../../lib/train/model_checkpoint.ts";
import { BEST_DIR } from "../../lib/train/model_loop.ts";

/** `text` as a literal inside a RegExp. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

const USERS = 6;
const ITEMS = 9;
const DATASET = tinyDataset(USERS, ITEMS);
const RUN = TINY_RUN;

async function save(dir: string, model: Model, optimizer: Optimizer): Promise<void> {
  const { numUsers, numItems } = model.config;
  await saveModelCheckpoint(dir, { model, optimizer }, {
    dataset: numUsers === USERS && numItems === ITEMS ? DATASET : tinyDataset(numUsers, numItems),
    run: RUN,
    prngState: new Uint32Array(4),
    history: [],
  });
}

async function trained(
  kind: "GMF" | "MLP",
  dir: string,
  options: { steps?: number; numUsers?: number } = {},
): Promise<{ model: NeuMF; optimizer: Optimizer }> {
  const model = new NeuMF({
    numUsers: options.numUsers ?? USERS,
    numItems: ITEMS,
    kind,
    numFactors: 4,
    layers: [8, 4],
    prng: new Prng(kind === "GMF" ? 1 : 2),
  });
  const optimizer = buildOptimizer("adam", model.parameters);
  const batch = {
    users: Int32Array.of(0, 1, 2, 3),
    items: Int32Array.of(1, 2, 3, 4),
    labels: Int8Array.of(1, 0, 1, 0),
    count: 4,
  };
  for (let i = 0; i < (options.steps ?? 20); i++) model.trainStep(batch, { optimizer });
  await save(dir, model, optimizer);
  return { model, optimizer };
}

Deno.test("a pretrained NeuMF scores α·GMF + (1 − α)·MLP before any training", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    const { model: gmf } = await trained("GMF", `${dir}/gmf`);
    const { model: mlp } = await trained("MLP", `${dir}/mlp`);
    const alpha = 0.3;
    const neumf = () =>
      new NeuMF({
        numUsers: USERS,
        numItems: ITEMS,
        numFactors: 4,
        layers: [8, 4],
        prng: new Prng(9),
      });
    const gmfPart = await loadPretrained(`${dir}/gmf`);
    const mlpPart = await loadPretrained(`${dir}/mlp`);
    assert.equal(gmfPart.config.kind, "GMF");
    assert.equal(gmfPart.description, `${dir}/gmf (last epoch, 1)`);
    const a = neumf();
    applyPretraining(a, [gmfPart, mlpPart], { alpha });
    const b = neumf();
    applyPretraining(b, [mlpPart, gmfPart], { alpha }); // either order
    assert.deepEqual(b.parameters.values, a.parameters.values);
    const users = Int32Array.from({ length: USERS * ITEMS }, (_, i) => Math.floor(i / ITEMS));
    const items = Int32Array.from({ length: USERS * ITEMS }, (_, i) => i % ITEMS);
    const batch = { users, items, count: users.length };
    const [g, m, n] = [
      new Float32Array(users.length),
      new Float32Array(users.length),
      new Float32Array(users.length),
    ];
    gmf.predict(batch, g);
    mlp.predict(batch, m);
    a.predict(batch, n);
    for (let i = 0; i < users.length; i++) {
      assert.ok(Math.abs(n[i] - (alpha * g[i] + (1 - alpha) * m[i])) < 1e-5, `pair ${i}`);
    }
    // The evaluation cache follows the new weights.
    const fast = new Float32Array(ITEMS);
    a.scoreUserItems(2, items.subarray(0, ITEMS), { out: fast });
    for (let i = 0; i < ITEMS; i++) assert.ok(Math.abs(fast[i] - n[2 * ITEMS + i]) < 1e-5);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadPretrained() takes a folder's best checkpoint when it kept one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    const { model: last } = await trained("GMF", dir, { steps: 20 });
    const { model: best } = await trained("GMF", join(dir, BEST_DIR), { steps: 5 });
    const part = await loadPretrained(dir);
    assert.equal(part.description, `${dir} (best epoch, 1)`);
    assert.equal(part.dir, dir);
    assert.deepEqual(part.tensors, best.parameters.snapshot());
    assert.notDeepEqual(part.tensors, last.parameters.snapshot());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pretraining refuses checkpoints of the wrong kind or size", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    await trained("GMF", `${dir}/gmf`);
    await trained("MLP", `${dir}/mlp`);
    await trained("MLP", `${dir}/mlp2`);
    await trained("GMF", `${dir}/gmf7`, { numUsers: USERS + 1 });
    const gmf = await loadPretrained(`${dir}/gmf`);
    const mlp = await loadPretrained(`${dir}/mlp`);
    const mlp2 = await loadPretrained(`${dir}/mlp2`);
    const gmf7 = await loadPretrained(`${dir}/gmf7`);
    const neumf = (layers: number[]) =>
      new NeuMF({ numUsers: USERS, numItems: ITEMS, numFactors: 4, layers, prng: new Prng(9) });
    // An MLP where the GMF should be (--pretrain_gmf naming an MLP's folder).
    assert.throws(
      () => applyPretraining(neumf([8, 4]), [mlp, mlp2], { alpha: 0.5 }),
      /no GMF among the parts \(MLP, MLP\)/,
    );
    assert.throws(
      () => applyPretraining(neumf([8, 2]), [gmf, mlp], { alpha: 0.5 }),
      new RegExp(`${literal(`${dir}/mlp`)} \\(MLP\\): layers 8,4, expected 8,2`),
    );
    assert.throws(
      () => applyPretraining(neumf([8, 4]), [gmf7, mlp], { alpha: 0.5 }),
      new RegExp(`${literal(`${dir}/gmf7`)} \\(GMF\\): it has 7 users × 9 items, the data 6 × 9`),
    );
    const gmfModel = new NeuMF({ numUsers: USERS, numItems: ITEMS, kind: "GMF", numFactors: 4 });
    assert.throws(
      () => applyPretraining(gmfModel, [gmf, mlp], { alpha: 0.5 }),
      /the model is GMF, not NeuMF/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a model rebuilt from its checkpoint predicts the same and continues training identically", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    const { model: original, optimizer } = await trained("MLP", dir);
    const checkpoint = await loadModelCheckpoint(dir);
    const copy = modelFromCheckpoint(checkpoint, { backend: "ts" });
    const copyOptimizer = buildOptimizer(checkpoint.meta.optimizer.kind, copy.parameters, {
      learningRate: checkpoint.meta.optimizer.learningRate,
    });
    restoreOptimizerState(copyOptimizer, copy, checkpoint);
    const batch = {
      users: Int32Array.of(4, 5),
      items: Int32Array.of(5, 6),
      labels: Int8Array.of(1, 0),
      count: 2,
    };
    const [a, b] = [new Float32Array(2), new Float32Array(2)];
    copy.predict(batch, a);
    original.predict(batch, b);
    assert.deepEqual(a, b);
    assert.equal(
      copy.trainStep(batch, { optimizer: copyOptimizer }),
      original.trainStep(batch, { optimizer }),
    );
    assert.deepEqual(copy.parameters.values, original.parameters.values);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
