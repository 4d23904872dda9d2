import assert from "node:assert/strict";
import { TINY_RUN, tinyDataset } from "./_checkpoint_fixtures.ts";
import { NeuMF } from "../../lib/model/neumf.ts";
import { Prng } from "../../lib/random/prng.ts";
import {
  loadModelCheckpoint,
  modelFromCheckpoint,
  saveModelCheckpoint,
} from "../../lib/train/model_checkpoint.ts";

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
    for (const optimizer of ["adam", "lazy_adam", "sgd"] as const) {
      await t.step(optimizer, async () => {
        const original = new NeuMF({
          numUsers: USERS,
          numItems: ITEMS,
          numFactors: 4,
          layers: [8, 4],
          optimizer,
          learningRate: 0.05,
          prng: new Prng(3),
        });
        for (let s = 0; s < 5; s++) original.trainStep(batch(s));
        await saveModelCheckpoint(`${dir}/${optimizer}`, original, {
          dataset: DATASET,
          run: RUN,
          prngState: new Uint32Array(4),
          history: [],
        });
        const loaded = await loadModelCheckpoint(`${dir}/${optimizer}`);
        assert.equal(loaded.meta.optimizer.kind, optimizer);
        assert.equal(loaded.meta.optimizer.step, 5);
        const moments = Object.keys(loaded.data.arrays).filter((k) => k.startsWith("adam_"));
        assert.equal(
          moments.length,
          optimizer === "sgd" ? 0 : 2 * original.parameters.entries.length,
        );
        const resumed = modelFromCheckpoint(loaded);
        assert.equal(resumed.optimizer.kind, optimizer);
        for (let s = 5; s < 10; s++) {
          assert.equal(resumed.trainStep(batch(s)), original.trainStep(batch(s)), `step ${s}`);
        }
        assert.deepEqual(resumed.parameters.values, original.parameters.values);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
