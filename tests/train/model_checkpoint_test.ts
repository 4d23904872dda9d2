import assert from "node:assert/strict";
import { TINY_RUN, tinyDataset } from "./_checkpoint_fixtures.ts";
import type { Dataset } from "../../lib/data/types.ts";
import { SettingError } from "../../lib/errors.ts";
import { NeuMF } from "../../lib/model/neumf.ts";
import { buildOptimizer } from "../../lib/optim/optimizers.ts";
import { Prng } from "../../lib/random/prng.ts";
import {
  CHECKPOINT_FILE,
  type CheckpointArray,
  decodeCheckpoint,
  encodeCheckpoint,
  saveCheckpoint,
} from "../../lib/train/checkpoint_file.ts";
import {
  loadModelCheckpoint,
  MODEL_CHECKPOINT_VERSION,
  type ModelCheckpointMeta,
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

/** A small GMF and its optimizer, for checkpoints whose weights do not matter. */
function smallModel() {
  const model = new NeuMF({
    numUsers: USERS,
    numItems: ITEMS,
    kind: "GMF",
    numFactors: 2,
    layers: [4],
    prng: new Prng(1),
  });
  return { model, optimizer: buildOptimizer("sgd", model.parameters) };
}

async function saveWith(dir: string, dataset: Dataset): Promise<void> {
  await saveModelCheckpoint(dir, smallModel(), {
    dataset,
    run: RUN,
    prngState: new Uint32Array(4),
    history: [],
  });
}

const STRING_USERS = ["u1", "émile", "李", 'say "hi"', "a,b"];
const STRING_ITEMS = ["", "line\nbreak", "tab\there", "🎬 film", "x", "007", " spaced "];

Deno.test("string ids round-trip through a checkpoint as UTF-8 bytes and offsets", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    await saveWith(dir, { ...DATASET, userIds: STRING_USERS, itemIds: STRING_ITEMS });
    const loaded = await loadModelCheckpoint(dir);
    assert.deepEqual(loaded.maps.userIds, STRING_USERS);
    assert.deepEqual(loaded.maps.itemIds, STRING_ITEMS);
    const arrays = loaded.data.arrays;
    assert.equal(arrays.user_ids, undefined);
    assert.ok(arrays.user_id_bytes instanceof Uint8Array);
    assert.deepEqual(
      arrays.user_id_offsets,
      Uint32Array.of(0, 2, 8, 11, 19, 22),
      "byte offsets: é and 李 take 2 and 3 bytes",
    );
    assert.equal(
      new TextDecoder().decode(arrays.item_id_bytes as Uint8Array),
      STRING_ITEMS.join(""),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("integer ids are saved as before string ids, to the byte", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    await saveWith(dir, DATASET);
    const bytes = await Deno.readFile(`${dir}/${CHECKPOINT_FILE}`);
    const { meta, arrays } = decodeCheckpoint<ModelCheckpointMeta>(bytes, "c");
    // The layout of the checkpoints ncf wrote before string ids: the model's
    // tensors, then these five arrays, ids as f64.
    const params = Object.fromEntries(
      Object.entries(arrays).filter(([name]) => name.startsWith("param/")),
    );
    const before = encodeCheckpoint({
      meta,
      arrays: {
        ...params,
        user_ids: DATASET.userIds as Float64Array,
        item_ids: DATASET.itemIds as Float64Array,
        train_offsets: DATASET.trainOffsets,
        train_items: DATASET.trainItems,
        eval_items: DATASET.evalItems,
      },
    });
    assert.deepEqual(bytes, before);
    const loaded = await loadModelCheckpoint(dir);
    assert.deepEqual(loaded.maps.userIds, DATASET.userIds);
    assert.deepEqual(loaded.maps.itemIds, DATASET.itemIds);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a checkpoint whose id maps do not fit the model is refused, naming the folder", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    await saveWith(`${dir}/strings`, { ...DATASET, userIds: STRING_USERS, itemIds: STRING_ITEMS });
    const good = decodeCheckpoint<ModelCheckpointMeta>(
      await Deno.readFile(`${dir}/strings/${CHECKPOINT_FILE}`),
      "c",
    );
    const cases: [string, Record<string, CheckpointArray>, RegExp][] = [
      ["one integer user id short", {
        user_id_bytes: undefined!,
        user_id_offsets: undefined!,
        user_ids: new Float64Array(USERS - 1),
      }, /its user ids \(5 users\) do not fit the model/],
      ["integer user ids of another type", {
        user_id_bytes: undefined!,
        user_id_offsets: undefined!,
        user_ids: new Float32Array(USERS),
      }, /its user ids \(5 users\)/],
      ["one string item id short", {
        item_id_offsets: (good.arrays.item_id_offsets as Uint32Array).slice(0, ITEMS),
      }, /its item ids \(7 items\)/],
      ["offsets past the bytes", {
        user_id_offsets: Uint32Array.of(0, 2, 8, 11, 19, 23),
      }, /its user ids/],
      ["offsets going back", {
        user_id_offsets: Uint32Array.of(0, 9, 8, 11, 19, 22),
      }, /its user ids/],
      ["bytes that are not UTF-8", {
        user_id_bytes: Uint8Array.from({ length: 22 }, () => 0xff),
      }, /its user ids/],
      ["no user ids at all", {
        user_id_bytes: undefined!,
        user_id_offsets: undefined!,
      }, /its user ids/],
    ];
    for (const [name, changes, message] of cases) {
      await t.step(name, async () => {
        const arrays = { ...good.arrays, ...changes };
        for (const key of Object.keys(arrays)) if (arrays[key] === undefined) delete arrays[key];
        await saveCheckpoint(`${dir}/bad`, { meta: good.meta, arrays });
        await assert.rejects(
          () => loadModelCheckpoint(`${dir}/bad`),
          (e: Error) =>
            e instanceof SyntaxError &&
            e.message.startsWith(`Cannot read checkpoint in ${dir}/bad:`) &&
            message.test(e.message),
        );
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadModelCheckpoint() takes a model folder or its checkpoint.ncf, and says what it expected otherwise", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    await saveWith(`${dir}/model`, DATASET);
    await Deno.mkdir(`${dir}/empty`);
    await Deno.writeTextFile(`${dir}/ratings.csv`, "1,2,3\n");
    for (const path of [`${dir}/model`, `${dir}/model/${CHECKPOINT_FILE}`]) {
      await t.step(`${path.slice(dir.length + 1)} loads`, async () => {
        const loaded = await loadModelCheckpoint(path);
        assert.equal(loaded.dir, `${dir}/model`);
        assert.equal(loaded.path, `${dir}/model/${CHECKPOINT_FILE}`);
        assert.equal(loaded.meta.model.numUsers, USERS);
      });
    }
    const expected =
      "; expected a trained model's folder (the model_dir given to the trainer), holding checkpoint.ncf";
    const refused: [string, string][] = [
      ["missing", "it does not exist"],
      ["empty", "it holds no checkpoint.ncf"],
      ["ratings.csv", "it is a file"],
      ["model/checkpoint.ncf/checkpoint.ncf", "it does not exist"],
    ];
    for (const [name, state] of refused) {
      await t.step(`${name} is refused: ${state}`, async () => {
        const message = `Cannot load a model from ${dir}/${name}: ${state}${expected}`;
        await assert.rejects(
          () => loadModelCheckpoint(`${dir}/${name}`),
          (e: Error) => e instanceof Deno.errors.NotFound && e.message === message,
        );
        await assert.rejects(
          () => loadModelCheckpoint(`${dir}/${name}`, { setting: "model_dir" }),
          (e: Error) =>
            e instanceof SettingError && e.setting === "model_dir" && e.message === message,
        );
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a checkpoint of a newer format version is refused with a message to upgrade, not misread", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    await saveWith(dir, DATASET);
    const path = `${dir}/${CHECKPOINT_FILE}`;
    const { meta, arrays } = decodeCheckpoint<ModelCheckpointMeta>(await Deno.readFile(path), "c");
    assert.equal(meta.version, MODEL_CHECKPOINT_VERSION);
    await t.step("a larger meta.version", async () => {
      await Deno.writeFile(path, encodeCheckpoint({ meta: { ...meta, version: 2 }, arrays }));
      await assert.rejects(
        () => loadModelCheckpoint(dir),
        /format version 2, written by a newer ncf \(this one reads version 1\); upgrade ncf/,
      );
    });
    await t.step("a newer container", async () => {
      const bytes = encodeCheckpoint({ meta, arrays });
      bytes.set(new TextEncoder().encode("NCFCKPT2"), 0);
      await Deno.writeFile(path, bytes);
      await assert.rejects(
        () => loadModelCheckpoint(dir),
        /container is version 2, written by a newer ncf \(this one reads version 1\)/,
      );
    });
    await t.step("no version at all", async () => {
      const { version: _, ...rest } = meta;
      await Deno.writeFile(path, encodeCheckpoint({ meta: rest, arrays }));
      await assert.rejects(() => loadModelCheckpoint(dir), /not an ncf model checkpoint/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
