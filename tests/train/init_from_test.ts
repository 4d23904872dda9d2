import assert from "node:assert/strict";
import { TINY_RUN, tinyDataset } from "./_checkpoint_fixtures.ts";
import type { RawIds } from "../../lib/data/raw_ids.ts";
import { SettingError } from "../../lib/errors.ts";
import type { Model } from "../../lib/model/model.ts";
import { buildModel, modelConfig } from "../../lib/model/registry.ts";
import { buildOptimizer, type OptimizerKind } from "../../lib/optim/optimizers.ts";
import { Prng } from "../../lib/random/prng.ts";
import {
  checkInitFrom,
  formatInitFrom,
  initFromCheckpoint,
  type InitFromSummary,
} from "../../lib/train/init_from.ts";
import {
  type LoadedModelCheckpoint,
  loadModelCheckpoint,
  saveModelCheckpoint,
} from "../../lib/train/model_checkpoint.ts";

/** The old data: 4 users and 6 items. */
const OLD_USERS = [10, 11, 12, 13];
const OLD_ITEMS = [20, 21, 22, 23, 24, 25];
/** The grown data: user 11 left, 99 and 98 are new; item 77 is new; both in a new order. */
const NEW_USERS = [12, 99, 10, 13, 98];
const NEW_ITEMS = [25, 20, 77, 21, 22, 23, 24];
/** For each new dense id, the old one (-1: new). */
const USER_MAP = [2, -1, 0, 3, -1];
const ITEM_MAP = [5, 0, -1, 1, 2, 3, 4];

/** How the raw ids are written: old ids, then new ids. */
const ID_KINDS: [string, (ids: number[]) => RawIds, (ids: number[]) => RawIds][] = [
  ["integer ids", (ids) => Float64Array.from(ids), (ids) => Float64Array.from(ids)],
  ["string ids", (ids) => ids.map((i) => `id${i}`), (ids) => ids.map((i) => `id${i}`)],
  [
    "integer ids, then strings (a new id made the column text)",
    (ids) => Float64Array.from(ids),
    (ids) => ids.map((i) => (i > 90 ? `x${i}` : String(i))),
  ],
];

function model(kind: string, users: number, items: number, seed: number, overrides = {}): Model {
  return buildModel(
    {
      ...modelConfig(kind, {
        numUsers: users,
        numItems: items,
        numFactors: 3,
        layers: [8, 4],
        mfRegularization: 0,
        mlpRegularization: 0,
      }),
      ...overrides,
    },
    { backend: "ts", prng: new Prng(seed) },
  );
}

/** A trained old model's checkpoint (its optimizer took 6 steps). */
async function trainedCheckpoint(
  dir: string,
  o: { kind: string; optimizer: OptimizerKind; userIds: RawIds; itemIds: RawIds },
): Promise<{ old: Model; checkpoint: LoadedModelCheckpoint }> {
  const old = model(o.kind, OLD_USERS.length, OLD_ITEMS.length, 3);
  const optimizer = buildOptimizer(o.optimizer, old.parameters, { learningRate: 0.05 });
  for (let s = 0; s < 6; s++) {
    old.trainStep({
      users: Int32Array.of(s % 4, (s + 1) % 4, (s + 2) % 4, 3),
      items: Int32Array.of(s % 6, (s + 3) % 6, (s + 5) % 6, 5),
      labels: Int8Array.of(1, 0, 1, 0),
      count: 4,
    }, { optimizer });
  }
  const dataset = {
    ...tinyDataset(OLD_USERS.length, OLD_ITEMS.length),
    userIds: o.userIds,
    itemIds: o.itemIds,
  };
  await saveModelCheckpoint(dir, { model: old, optimizer }, {
    dataset,
    run: { ...TINY_RUN, epochsDone: 2 },
    prngState: new Uint32Array(4),
    history: [],
  });
  return { old, checkpoint: await loadModelCheckpoint(dir) };
}

/** Row `r` of a `rows × width` tensor. */
function row(values: Float32Array, r: number, width: number): number[] {
  return [...values.subarray(r * width, (r + 1) * width)];
}

Deno.test("a warm start copies every known user's and item's rows by raw id, keeps fresh rows for new ones, copies dense tensors, and carries Adam's moments and step", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    for (const kind of ["NeuMF", "MF"]) {
      for (const optimizerKind of ["adam", "lazy_adam"] as const) {
        for (const [idKind, oldIds, newIds] of ID_KINDS) {
          await t.step(`${kind}, ${optimizerKind}, ${idKind}`, async () => {
            const { old, checkpoint } = await trainedCheckpoint(
              `${dir}/${kind}_${optimizerKind}_${idKind.length}`,
              {
                kind,
                optimizer: optimizerKind,
                userIds: oldIds(OLD_USERS),
                itemIds: oldIds(OLD_ITEMS),
              },
            );
            const grown = model(kind, NEW_USERS.length, NEW_ITEMS.length, 4);
            const fresh = grown.parameters.snapshot();
            const got = new Float32Array(2);
            const want = new Float32Array(2);
            grown.prepareEval(); // evaluation caches of the fresh weights, to be refreshed
            grown.scoreUserItems(0, Int32Array.of(1, 0), { out: got });
            const optimizer = buildOptimizer(optimizerKind, grown.parameters);
            const summary = initFromCheckpoint({
              model: grown,
              optimizer,
              userIds: newIds(NEW_USERS),
              itemIds: newIds(NEW_ITEMS),
            }, checkpoint);
            assert.deepEqual(summary.users, { known: 3, total: 5 });
            assert.deepEqual(summary.items, { known: 6, total: 7 });
            assert.deepEqual(summary.optimizer, { carried: true, step: 6, from: optimizerKind });
            assert.equal(summary.epoch, 2);

            const state = optimizer.getState();
            assert.equal(state.step, 6);
            const arrays = checkpoint.data.arrays;
            let rowTensors = 0;
            for (const e of grown.parameters.entries) {
              const held = (prefix: string) => arrays[`${prefix}/${e.name}`] as Float32Array;
              if (!e.sparse) {
                assert.deepEqual([...e.values], [...held("param")], `${e.name} copied whole`);
                assert.deepEqual([...state.m[e.name]], [...held("adam_m")], `${e.name} m`);
                assert.deepEqual([...state.v[e.name]], [...held("adam_v")], `${e.name} v`);
                continue;
              }
              rowTensors++;
              const map = e.rowGroup === "user" ? USER_MAP : ITEM_MAP;
              const w = e.rowLength;
              for (const [r, from] of map.entries()) {
                const where = `${e.name} row ${r}`;
                if (from < 0) {
                  assert.deepEqual(row(e.values, r, w), row(fresh[e.name], r, w), `${where} fresh`);
                  assert.ok(state.m[e.name].subarray(r * w, (r + 1) * w).every((x) => x === 0));
                  assert.ok(state.v[e.name].subarray(r * w, (r + 1) * w).every((x) => x === 0));
                } else {
                  assert.deepEqual(row(e.values, r, w), row(held("param"), from, w), where);
                  assert.deepEqual(row(state.m[e.name], r, w), row(held("adam_m"), from, w));
                  assert.deepEqual(row(state.v[e.name], r, w), row(held("adam_v"), from, w));
                }
              }
            }
            assert.ok(rowTensors >= 2, "the model has per-user and per-item tensors");

            // The evaluation caches were refreshed: a known user scores known items as before.
            grown.scoreUserItems(0, Int32Array.of(1, 0), { out: got }); // raw user 12; items 20, 25
            old.scoreUserItems(2, Int32Array.of(0, 5), { out: want });
            for (let i = 0; i < 2; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-6, `item ${i}`);
          });
        }
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("with plain SGD on either side there is no optimizer state to carry", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  const cases: [OptimizerKind, OptimizerKind, number][] = [
    // [the checkpoint's optimizer, this run's, the step this run continues from]
    ["adam", "sgd", 0],
    ["sgd", "adam", 0],
    ["sgd", "sgd", 0],
  ];
  try {
    for (const [from, to, step] of cases) {
      await t.step(`from ${from} to ${to}`, async () => {
        const { checkpoint } = await trainedCheckpoint(`${dir}/${from}_${to}`, {
          kind: "NeuMF",
          optimizer: from,
          userIds: Float64Array.from(OLD_USERS),
          itemIds: Float64Array.from(OLD_ITEMS),
        });
        const grown = model("NeuMF", NEW_USERS.length, NEW_ITEMS.length, 4);
        const optimizer = buildOptimizer(to, grown.parameters);
        const summary = initFromCheckpoint({
          model: grown,
          optimizer,
          userIds: Float64Array.from(NEW_USERS),
          itemIds: Float64Array.from(NEW_ITEMS),
        }, checkpoint);
        assert.deepEqual(summary.optimizer, { carried: false, step, from });
        const state = optimizer.getState();
        assert.equal(state.step, 0);
        for (const m of Object.values(state.m)) assert.ok(m.every((x) => x === 0));
        // The weights are carried all the same.
        const output = grown.parameters.get("output_bias").values;
        assert.deepEqual([...output], [...checkpoint.data.arrays["param/output_bias"]]);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a checkpoint of another kind or size is refused, naming what differs", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    const { checkpoint } = await trainedCheckpoint(dir, {
      kind: "NeuMF",
      optimizer: "adam",
      userIds: Float64Array.from(OLD_USERS),
      itemIds: Float64Array.from(OLD_ITEMS),
    });
    const cases: [string, string, Record<string, unknown>, RegExp][] = [
      [
        "more factors",
        "NeuMF",
        { numFactors: 16 },
        /it holds a NeuMF with 3 factors, this run asks for 16 factors;/,
      ],
      [
        "other layers",
        "NeuMF",
        { layers: [16, 8, 4] },
        /it holds a NeuMF with layers 8,4, this run asks for layers 16,8,4;/,
      ],
      [
        "factors and a regularization",
        "NeuMF",
        { numFactors: 4, mlpRegularization: 0.01 },
        /with 3 factors, mlp regularization 0, this run asks for 4 factors, mlp regularization 0\.01;/,
      ],
      ["another kind", "GMF", {}, /it holds a NeuMF model, this run asks for a GMF;/],
    ];
    for (const [name, kind, overrides, pattern] of cases) {
      await t.step(name, () => {
        const grown = model(kind, NEW_USERS.length, NEW_ITEMS.length, 4, overrides);
        const before = grown.parameters.values.slice();
        assert.throws(
          () =>
            initFromCheckpoint({
              model: grown,
              optimizer: buildOptimizer("adam", grown.parameters),
              userIds: Float64Array.from(NEW_USERS),
              itemIds: Float64Array.from(NEW_ITEMS),
            }, checkpoint),
          (e: Error) =>
            e instanceof SettingError && e.setting === "init_from" &&
            e.message.startsWith(`Cannot start from ${dir}: `) && pattern.test(e.message),
        );
        assert.deepEqual(grown.parameters.values, before, "nothing was copied");
      });
    }
    await t.step("more users and items alone are fine", () => {
      checkInitFrom(checkpoint, model("NeuMF", 50, 70, 4).config);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a checkpoint tensor that is missing or the wrong size is a SyntaxError naming it", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    const cases: [string, string, (a: Record<string, unknown>) => void, RegExp][] = [
      ["a missing dense tensor", "param/output_bias", (a) => {
        delete a["param/output_bias"];
      }, /its tensor param\/output_bias is missing, expected 1 float32 values/],
      ["a short row tensor", "param/mf_item_embedding", (a) => {
        a["param/mf_item_embedding"] = new Float32Array(5);
      }, /its tensor param\/mf_item_embedding is 5 values of Float32Array, expected 18/],
      ["missing moments", "adam_v/dense_0_kernel", (a) => {
        delete a["adam_v/dense_0_kernel"];
      }, /its tensor adam_v\/dense_0_kernel is missing/],
    ];
    for (const [name, key, damage, pattern] of cases) {
      await t.step(name, async () => {
        const { checkpoint } = await trainedCheckpoint(`${dir}/${key.replace("/", "_")}`, {
          kind: "NeuMF",
          optimizer: "adam",
          userIds: Float64Array.from(OLD_USERS),
          itemIds: Float64Array.from(OLD_ITEMS),
        });
        damage(checkpoint.data.arrays);
        const grown = model("NeuMF", NEW_USERS.length, NEW_ITEMS.length, 4);
        assert.throws(
          () =>
            initFromCheckpoint({
              model: grown,
              optimizer: buildOptimizer("adam", grown.parameters),
              userIds: Float64Array.from(NEW_USERS),
              itemIds: Float64Array.from(NEW_ITEMS),
            }, checkpoint),
          (e: Error) => e instanceof SyntaxError && pattern.test(e.message),
        );
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the log line counts known and new users and items and says what became of the optimizer state", async (t) => {
  const base: InitFromSummary = {
    dir: "runs/may",
    epoch: 20,
    users: { known: 5930, total: 6040 },
    items: { known: 3650, total: 3706 },
    optimizer: { carried: true, step: 123456, from: "lazy_adam" },
  };
  const cases: [string, InitFromSummary, string][] = [
    [
      "carried",
      base,
      "initialised from runs/may (epoch 20): 5,930 of 6,040 users and 3,650 of 3,706 items " +
      "known; 110 users and 56 items new; lazy_adam state carried (step 123,456)",
    ],
    [
      "fresh",
      {
        ...base,
        users: { known: 3, total: 3 },
        optimizer: { carried: false, step: 0, from: "sgd" },
      },
      "initialised from runs/may (epoch 20): 3 of 3 users and 3,650 of 3,706 items known; " +
      "0 users and 56 items new; optimizer state fresh (the checkpoint's is sgd)",
    ],
  ];
  for (const [name, summary, line] of cases) {
    await t.step(name, () => assert.equal(formatInitFrom(summary), line));
  }
});
