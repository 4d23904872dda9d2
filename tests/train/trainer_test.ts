import assert from "node:assert/strict";
import { parseFlags } from "../../lib/flags/flags.ts";
import { TRAINER_FLAGS } from "../../lib/flags/specs.ts";
import { runTrainer } from "../../lib/train/trainer.ts";
import type { Dataset } from "../../lib/data/types.ts";
import { currentProcessContext } from "../../lib/pipeline/spawn.ts";
import { CLI, CONFIG, listDir, SMALL } from "../cli/_process.ts";

Deno.test("the training loop receives every positive once per epoch, true negatives, and exact batches", async (t) => {
  const cache = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    for (const spillover of [true, false]) {
      await t.step(`spillover ${spillover}`, async () => {
        const epochs = 5;
        const batchSize = 300;
        const flags = parseFlags([
          ...SMALL,
          `--train_epochs=${epochs}`,
          "--epochs_between_evals=2",
          `--batch_size=${batchSize}`,
          "--num_workers=2",
          `--spillover=${spillover}`,
          "--seed=21",
          `--cache_dir=${cache}`,
        ], TRAINER_FLAGS).values;
        let dataset: Dataset | undefined;
        const sizes: number[][] = [];
        let positives = new Int32Array(0);
        let negatives = 0;
        let badNegatives = 0;
        const context = currentProcessContext({ dataDir: flags.data_dir, cacheDir: cache });
        const result = await runTrainer(flags, {
          processContext: { ...context, mainModulePath: CLI, denoFlags: [`--config=${CONFIG}`] },
          makeLoop: (d) => {
            dataset = d;
            positives = new Int32Array(d.trainItems.length);
            return {
              trainBatch(batch) {
                if (sizes.length === 0) sizes.push([]);
                sizes[sizes.length - 1].push(batch.size);
                for (let i = 0; i < batch.size; i++) {
                  const u = batch.users[i];
                  const row = d.trainItems.subarray(d.trainOffsets[u], d.trainOffsets[u + 1]);
                  const at = row.indexOf(batch.items[i]);
                  if (batch.labels![i] === 1) positives[d.trainOffsets[u] + at]++;
                  else {
                    negatives++;
                    if (at >= 0) badNegatives++;
                  }
                }
              },
              endCycle() {
                sizes.push([]);
              },
            };
          },
        });
        sizes.pop();
        const ds = dataset!;
        assert.equal(result.cycles.length, 3);
        assert.ok(positives.every((c) => c === 6), "every positive once per epoch (3 cycles × 2)");
        assert.equal(negatives, 4 * 6 * ds.trainItems.length);
        assert.equal(badNegatives, 0);
        const all = sizes.flat();
        assert.equal(all.reduce((a, b) => a + b, 0), 5 * 6 * ds.trainItems.length);
        if (spillover) {
          assert.ok(all.slice(0, -1).every((s) => s === batchSize));
        } else {
          for (const cycle of sizes) assert.ok(cycle.slice(0, -1).every((s) => s === batchSize));
          assert.ok(sizes.every((c) => c.at(-1)! <= batchSize));
        }
        assert.deepEqual(listDir(cache), []);
      });
    }
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});
