import assert from "node:assert/strict";
import { TINY_RUN, tinyDataset } from "./_checkpoint_fixtures.ts";
import { NeuMF } from "../../lib/model/neumf.ts";
import { Prng } from "../../lib/random/prng.ts";
import { applyPretraining } from "../../lib/train/pretrain.ts";
import {
  loadModelCheckpoint,
  modelFromCheckpoint,
  saveModelCheckpoint,
} from "../../lib/train/model_checkpoint.ts";

const USERS = 6;
const ITEMS = 9;
const DATASET = tinyDataset(USERS, ITEMS);
const RUN = TINY_RUN;

async function trained(model: "GMF" | "MLP", dir: string) {
  const m = new NeuMF({
    numUsers: USERS,
    numItems: ITEMS,
    model,
    numFactors: 4,
    layers: [8, 4],
    prng: new Prng(model === "GMF" ? 1 : 2),
  });
  const batch = {
    users: Int32Array.of(0, 1, 2, 3),
    items: Int32Array.of(1, 2, 3, 4),
    labels: Int8Array.of(1, 0, 1, 0),
    count: 4,
  };
  for (let i = 0; i < 20; i++) m.trainStep(batch);
  await saveModelCheckpoint(dir, m, {
    dataset: DATASET,
    run: RUN,
    prngState: new Uint32Array(4),
    history: [],
  });
  return m;
}

Deno.test("a pretrained NeuMF scores α·GMF + (1 − α)·MLP before any training", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    const gmf = await trained("GMF", `${dir}/gmf`);
    const mlp = await trained("MLP", `${dir}/mlp`);
    const alpha = 0.3;
    const neumf = new NeuMF({
      numUsers: USERS,
      numItems: ITEMS,
      numFactors: 4,
      layers: [8, 4],
      prng: new Prng(9),
    });
    applyPretraining(neumf, {
      gmf: await loadModelCheckpoint(`${dir}/gmf`),
      mlp: await loadModelCheckpoint(`${dir}/mlp`),
      alpha,
    });
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
    neumf.predict(batch, n);
    for (let i = 0; i < users.length; i++) {
      assert.ok(Math.abs(n[i] - (alpha * g[i] + (1 - alpha) * m[i])) < 1e-5, `pair ${i}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pretraining refuses checkpoints of the wrong kind or size", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    await trained("GMF", `${dir}/gmf`);
    await trained("MLP", `${dir}/mlp`);
    const gmf = await loadModelCheckpoint(`${dir}/gmf`);
    const mlp = await loadModelCheckpoint(`${dir}/mlp`);
    const neumf = (layers: number[]) =>
      new NeuMF({ numUsers: USERS, numItems: ITEMS, numFactors: 4, layers, prng: new Prng(9) });
    assert.throws(
      () => applyPretraining(neumf([8, 4]), { gmf: mlp, mlp: gmf, alpha: 0.5 }),
      /holds a MLP model/,
    );
    assert.throws(
      () => applyPretraining(neumf([8, 2]), { gmf, mlp, alpha: 0.5 }),
      /layers 8,4, expected 8,2/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a model rebuilt from its checkpoint predicts the same and continues training identically", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    const original = await trained("MLP", dir);
    const copy = modelFromCheckpoint(await loadModelCheckpoint(dir));
    const batch = {
      users: Int32Array.of(4, 5),
      items: Int32Array.of(5, 6),
      labels: Int8Array.of(1, 0),
      count: 2,
    };
    assert.equal(copy.trainStep(batch), original.trainStep(batch));
    assert.deepEqual(copy.parameters.values, original.parameters.values);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
