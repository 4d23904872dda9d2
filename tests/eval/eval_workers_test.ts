import assert from "node:assert/strict";
import { loadDataset } from "../../lib/data/load_dataset.ts";
import { evaluateRanking } from "../../lib/eval/evaluate.ts";
import { startEvalWorkers } from "../../lib/eval/eval_workers.ts";
import type { LabeledBatch } from "../../lib/model/model.ts";
import { NeuMF, type NeuMFOptions } from "../../lib/model/neumf.ts";
import { type BackendChoice, selectKernels } from "../../lib/kernels/select_kernels.ts";
import { Adam } from "../../lib/optim/adam.ts";
import { Prng } from "../../lib/random/prng.ts";
import { backendChoices } from "../kernels/_kernel_sets.ts";

const { dataset } = await loadDataset({
  dataset: "synthetic",
  seed: 3,
  syntheticUsers: 300,
  syntheticItems: 400,
  numEvalNegatives: 99,
});

/** A model trained a little on the data set's positives, so the metrics are not trivial. */
function trainedModel(backend: BackendChoice, extra: Partial<NeuMFOptions> = {}): NeuMF {
  const model = new NeuMF({
    numUsers: dataset.numUsers,
    numItems: dataset.numItems,
    prng: new Prng(4),
    kernels: selectKernels(backend),
    ...extra,
  });
  assert.equal(model.kernels.name, backend);
  const optimizer = new Adam(model.parameters, { learningRate: 0.01 });
  const prng = new Prng(5);
  const n = 256;
  const batch: LabeledBatch = {
    users: new Int32Array(n),
    items: new Int32Array(n),
    labels: new Int8Array(n),
    count: n,
  };
  const { trainOffsets, trainItems } = dataset;
  for (let step = 0; step < 150; step++) {
    for (let b = 0; b < n; b++) {
      const u = prng.nextInt(dataset.numUsers);
      const positive = b % 2 === 0;
      const start = trainOffsets[u];
      const items = trainOffsets[u + 1] - start;
      batch.users[b] = u;
      batch.items[b] = positive
        ? trainItems[start + prng.nextInt(items)]
        : prng.nextInt(dataset.numItems);
      batch.labels[b] = positive ? 1 : 0;
    }
    model.trainStep(batch, { optimizer });
  }
  return model;
}

/** The backends this machine has (blas needs a CBLAS library and --allow-ffi). */
function backends(): BackendChoice[] {
  return backendChoices();
}

Deno.test("startEvalWorkers() gives evaluateRanking()'s bits with 0, 1 and 2 workers", async (t) => {
  for (const backend of backends()) {
    for (const variant of [{}, { kind: "GMF" as const }, { kind: "MLP" as const }]) {
      await t.step(`${backend} ${JSON.stringify(variant)}`, async () => {
        const model = trainedModel(backend, variant);
        const serial = evaluateRanking(model, dataset);
        assert.ok(serial.hr > 0.15, `the model learned something (HR@10 ${serial.hr})`);
        for (const workers of [0, 1, 2]) {
          const pool = startEvalWorkers(model, dataset, { workers });
          try {
            for (let repeat = 0; repeat < 2; repeat++) {
              const parallel = await pool.evaluate(model);
              assert.equal(parallel.hr, serial.hr, `${workers} workers, repeat ${repeat}`);
              assert.equal(parallel.ndcg, serial.ndcg, `${workers} workers, repeat ${repeat}`);
              assert.equal(parallel.users, serial.users);
            }
          } finally {
            pool.close();
          }
        }
      });
    }
  }
});

Deno.test("startEvalWorkers() gives evaluateRanking()'s bits for both protocols, K lists and coverage", async (t) => {
  const options = [
    { protocol: "full", ks: [10, 1, 50], coverage: true },
    { protocol: "full" },
    { protocol: "sampled", ks: [5, 20], coverage: true },
  ] as const;
  for (const backend of backends()) {
    for (const variant of [{}, { kind: "GMF" as const }, { kind: "MLP" as const }]) {
      await t.step(`${backend} ${JSON.stringify(variant)}`, async () => {
        const model = trainedModel(backend, variant);
        for (const o of options) {
          const serial = evaluateRanking(model, dataset, o);
          assert.equal(serial.protocol, o.protocol);
          for (const workers of [0, 1, 2]) {
            const pool = startEvalWorkers(model, dataset, { workers });
            try {
              const parallel = await pool.evaluate(model, o);
              assert.deepEqual(
                { ...parallel, seconds: 0 },
                { ...serial, seconds: 0 },
                `${workers} workers, ${JSON.stringify(o)}`,
              );
            } finally {
              pool.close();
            }
          }
        }
      });
    }
  }
});

Deno.test("the full protocol ranks each held-out item against the items its user has not trained on", () => {
  // A trained model ranks the held-out item higher among all items than the
  // sampled protocol's 100 candidates would suggest it can: a sanity check
  // of the candidate count (the rank can reach numItems - 1 - train items).
  const model = trainedModel("wasm");
  const full = evaluateRanking(model, dataset, { protocol: "full", ks: [10, 400] });
  const sampled = evaluateRanking(model, dataset, { ks: [10, 400] });
  assert.ok(full.hr < sampled.hr, `full HR@10 ${full.hr} < sampled ${sampled.hr}`);
  assert.ok(full.mrr < sampled.mrr);
  assert.equal(full.byK[1].hr, 1, "every rank is below 400 items");
});

Deno.test("startEvalWorkers() evaluates other tables of the same users and items when given", async () => {
  const model = trainedModel("wasm");
  // Another view: each user's first training item held out instead.
  const view = {
    ...dataset,
    evalItems: Int32Array.from(
      { length: dataset.numUsers },
      (_, u) => dataset.trainItems[dataset.trainOffsets[u]],
    ),
  };
  const pool = startEvalWorkers(model, dataset, { workers: 1 });
  try {
    for (const protocol of ["sampled", "full"] as const) {
      const o = { protocol, ks: [10, 3], coverage: true };
      const other = await pool.evaluate(model, { ...o, tables: view });
      assert.deepEqual({ ...other, seconds: 0 }, {
        ...evaluateRanking(model, view, o),
        seconds: 0,
      });
      const own = await pool.evaluate(model, o);
      assert.deepEqual({ ...own, seconds: 0 }, {
        ...evaluateRanking(model, dataset, o),
        seconds: 0,
      });
      assert.notEqual(own.mrr, other.mrr);
    }
  } finally {
    pool.close();
  }
});

Deno.test("startEvalWorkers() follows the model's weights from one evaluation to the next", async () => {
  const model = trainedModel("wasm");
  const pool = startEvalWorkers(model, dataset, { workers: 1 });
  try {
    const before = await pool.evaluate(model);
    model.parameters.values.fill(0.01);
    model.prepareEval();
    const after = await pool.evaluate(model);
    const serial = evaluateRanking(model, dataset);
    assert.notEqual(after.ndcg, before.ndcg);
    assert.equal(after.hr, serial.hr);
    assert.equal(after.ndcg, serial.ndcg);
  } finally {
    pool.close();
  }
});

Deno.test("a failed or crashed evaluation worker leaves the evaluation complete and unchanged", async (t) => {
  const model = trainedModel("wasm");
  const serial = evaluateRanking(model, dataset);
  for (const query of ["", "?crash"]) {
    await t.step(query === "" ? "fails" : "crashes", async () => {
      const url = new URL(`./_failing_eval_worker.ts${query}`, import.meta.url);
      const pool = startEvalWorkers(model, dataset, { workers: 2, workerUrl: url });
      try {
        assert.equal(pool.workers, 2);
        const result = await pool.evaluate(model);
        assert.equal(result.hr, serial.hr);
        assert.equal(result.ndcg, serial.ndcg);
        assert.equal(pool.workers, 0, "the failed workers are dropped");
        const again = await pool.evaluate(model);
        assert.equal(again.ndcg, serial.ndcg);
        // The full protocol too: a dropped worker's chunks are ranked by the caller.
        const broken = startEvalWorkers(model, dataset, { workers: 2, workerUrl: url });
        try {
          const o = { protocol: "full", ks: [10, 2], coverage: true } as const;
          const full = await broken.evaluate(model, o);
          assert.deepEqual({ ...full, seconds: 0 }, {
            ...evaluateRanking(model, dataset, o),
            seconds: 0,
          });
        } finally {
          broken.close();
        }
      } finally {
        pool.close();
      }
    });
  }
});

Deno.test("startEvalWorkers() refuses a model of another shape or backend and a bad worker count", async () => {
  const model = trainedModel("ts");
  assert.throws(() => startEvalWorkers(model, dataset, { workers: -1 }), RangeError);
  const pool = startEvalWorkers(model, dataset, { workers: 0 });
  const other = new NeuMF({
    numUsers: dataset.numUsers,
    numItems: dataset.numItems,
    numFactors: 4,
  });
  await assert.rejects(() => pool.evaluate(other), /Cannot evaluate: the model/);
  const elsewhere = new NeuMF({
    numUsers: dataset.numUsers,
    numItems: dataset.numItems,
    kernels: selectKernels("wasm"),
  });
  assert.deepEqual(elsewhere.config, model.config);
  await assert.rejects(() => pool.evaluate(elsewhere), /"backend":"wasm"/);
});

Deno.test("a loaded data set's evaluation negatives live in shared memory, so the pool does not copy them", () => {
  assert.ok(dataset.evalNegatives.buffer instanceof SharedArrayBuffer);
});

Deno.test("without read access to the worker module the pool starts no worker and still evaluates", async () => {
  const script = new URL("./_no_read_pool.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-env", "--allow-ffi", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  assert.doesNotMatch(stderr, /Uncaught/);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), { workers: 0, same: true });
});
