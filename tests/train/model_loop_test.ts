import assert from "node:assert/strict";
import { join } from "node:path";
import { loadDataset } from "../../lib/data/load_dataset.ts";
import { buildModel, modelConfig } from "../../lib/model/registry.ts";
import { buildOptimizer } from "../../lib/optim/optimizers.ts";
import { Prng } from "../../lib/random/prng.ts";
import type { TrainingCycle } from "../../lib/pipeline/data_pipeline.ts";
import { BEST_DIR, ModelLoop, type ModelLoopOptions } from "../../lib/train/model_loop.ts";

const { dataset } = await loadDataset({
  dataset: "synthetic",
  seed: 1,
  syntheticUsers: 30,
  syntheticItems: 60,
  numEvalNegatives: 20,
});

/** A loop whose evaluations return `hrs` in turn. */
function loopWith(hrs: number[], options: Partial<ModelLoopOptions> = {}) {
  const model = buildModel(
    modelConfig("GMF", {
      numUsers: 30,
      numItems: 60,
      numFactors: 4,
      layers: [8, 4],
      mfRegularization: 0,
      mlpRegularization: 0,
    }),
    {
      backend: "ts",
      prng: new Prng(1),
    },
  );
  let next = 0;
  return new ModelLoop({
    model,
    optimizer: buildOptimizer("adam", model.parameters, {}),
    dataset,
    run: {
      seed: 9,
      dataset: "synthetic",
      dataFingerprint: "x",
      epochsBetweenEvals: 1,
      trainEpochs: hrs.length,
      batchSize: 8,
      numNeg: 4,
      spillover: true,
    },
    prngState: new Uint32Array(4),
    evaluate: () => {
      const hr = hrs[next++];
      return Promise.resolve({
        hr,
        ndcg: hr / 2,
        users: 30,
        mrr: hr / 3,
        protocol: "sampled" as const,
        byK: [{ k: 10, hr, ndcg: hr / 2 }],
        seconds: 0,
      });
    },
    ...options,
  });
}

const cycle = (index: number) => ({ index }) as TrainingCycle;

Deno.test("--patience stops once HR@10 has not improved for that many evaluations", async (t) => {
  const cases: [number[], number, number][] = [
    // hrs, patience, evaluations until the loop asks to stop
    [[0.3, 0.5, 0.4, 0.45, 0.6], 2, 4],
    [[0.3, 0.5, 0.5, 0.6], 1, 3],
    [[0.1, 0.2, 0.3, 0.4], 1, 0],
  ];
  for (const [hrs, patience, stopsAt] of cases) {
    await t.step(`${hrs.join(",")} with patience ${patience}`, async () => {
      const lines: string[] = [];
      const loop = loopWith(hrs, { patience, print: (l) => lines.push(l) });
      let stoppedAt = 0;
      for (let i = 0; i < hrs.length; i++) {
        if (await loop.endCycle(cycle(i))) {
          stoppedAt = i + 1;
          break;
        }
      }
      assert.equal(stoppedAt, stopsAt);
      if (stopsAt > 0) assert.match(lines.at(-1)!, /has not improved for \d+ evaluation/);
    });
  }
});

Deno.test("metrics rows carry the run id and seed, and cycles count from 1 as epochs do", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    const loop = loopWith([0.2, 0.4], {
      metricsFile: join(dir, "m.jsonl"),
      modelDir: join(dir, "model"),
      keepBest: true,
    });
    loop.identifyRun("run_a");
    await loop.endCycle(cycle(0));
    await loop.endCycle(cycle(1));
    const rows = (await Deno.readTextFile(join(dir, "m.jsonl"))).trim().split("\n")
      .map((l) => JSON.parse(l));
    assert.deepEqual(rows.map((r) => [r.epoch, r.cycle, r.run_id, r.seed]), [
      [1, 1, "run_a", 9],
      [2, 2, "run_a", 9],
    ]);
    assert.ok((await Deno.stat(join(dir, "model", BEST_DIR, "checkpoint.ncf"))).isFile);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("with a validation split, the validation item selects the best epoch and both are recorded", async () => {
  const { dataset: withValid } = await loadDataset({
    dataset: "synthetic",
    seed: 1,
    syntheticUsers: 30,
    syntheticItems: 60,
    numEvalNegatives: 20,
    validation: true,
  });
  // test HR rises, validation HR falls after epoch 1: patience 1 stops at epoch 2.
  const seq = { test: [0.2, 0.3, 0.4], validation: [0.5, 0.4, 0.3] };
  const at = { test: 0, validation: 0 };
  const lines: string[] = [];
  const loop = loopWith([], {
    dataset: withValid,
    patience: 1,
    print: (l) => lines.push(l),
    evaluate: (_m, which) => {
      const hr = seq[which][at[which]++];
      return Promise.resolve({
        hr,
        ndcg: hr / 2,
        users: 30,
        mrr: hr / 3,
        protocol: "sampled" as const,
        byK: [{ k: 10, hr, ndcg: hr / 2 }],
        seconds: 0,
      });
    },
  });
  assert.equal(await loop.endCycle(cycle(0)), false);
  assert.equal(await loop.endCycle(cycle(1)), true);
  assert.deepEqual(loop.history.map((r) => [r.hr, r.valid?.hr]), [[0.2, 0.5], [0.3, 0.4]]);
  assert.match(lines[0], /valid HR@10 0\.5000/);
  assert.match(lines.at(-1)!, /validation HR@10 has not improved/);
});
