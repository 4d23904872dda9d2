import assert from "node:assert/strict";
import { join } from "node:path";
import { ITEMS, saveSmallModel, smallDataset, STRING_ITEM_IDS, USERS } from "./_model_fixture.ts";
import type { NeuMF } from "../../lib/model/neumf.ts";
import { sigmoid } from "../../lib/model/loss.ts";
import { FoldIn } from "../../lib/serve/fold_in.ts";
import { ItemSimilarity } from "../../lib/serve/item_similarity.ts";
import { ServedModel } from "../../lib/serve/served_model.ts";
import { CHECKPOINT_FILE } from "../../lib/train/checkpoint_file.ts";

/** Runs `fn` with a small trained model saved and loaded (ids 100+u, 200+i, or strings). */
async function withModel(
  fn: (served: ServedModel, trained: NeuMF, dir: string) => Promise<void> | void,
  ids: "integer" | "string" = "integer",
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "ncf_served_model_test_" });
  try {
    const dir = join(root, "model");
    const trained = await saveSmallModel(dir, smallDataset(ids), { epochs: 3 });
    await fn(await ServedModel.load(dir, { backend: "ts" }), trained, dir);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("ServedModel.load() reads a model folder's checkpoint", async (t) => {
  await withModel(async (served, _trained, dir) => {
    await t.step("it knows its path, epoch and load time", () => {
      assert.equal(served.path, join(dir, CHECKPOINT_FILE));
      assert.equal(served.epoch, 3);
      assert.ok(served.loadSeconds >= 0 && served.loadSeconds < 60);
    });
    await t.step("it maps raw ids to dense ids and back, -1 for unknown ids", () => {
      assert.equal(served.findUser(103), 3);
      assert.equal(served.findUser("103"), 3);
      assert.equal(served.findUser(99), -1);
      assert.equal(served.findItem(211), 11);
      assert.equal(served.findItem(212), -1);
      assert.equal(served.userId(5), 105);
      assert.equal(served.itemId(0), 200);
    });
    await t.step("the checkpoint file itself loads the same model", async () => {
      const again = await ServedModel.load(join(dir, CHECKPOINT_FILE), { backend: "ts" });
      assert.deepEqual(again.scores(1, Int32Array.of(0, 4)), served.scores(1, Int32Array.of(0, 4)));
    });
  });
});

Deno.test("ServedModel keeps string ids as they are", async () => {
  await withModel((served) => {
    assert.equal(served.findItem(STRING_ITEM_IDS[4]), 4);
    assert.equal(served.itemId(7), STRING_ITEM_IDS[7]);
    assert.equal(served.findUser("李"), 4);
  }, "string");
});

Deno.test("ServedModel.scores() are the trained model's probabilities, in the order asked", async () => {
  await withModel((served, trained) => {
    const items = Int32Array.of(5, 0, 11, 5);
    for (let u = 0; u < USERS; u++) {
      const logits = new Float32Array(items.length);
      trained.scoreUserItems(u, items, { out: logits });
      const got = served.scores(u, items);
      assert.equal(got.length, items.length);
      for (let n = 0; n < items.length; n++) {
        assert.ok(Math.abs(got[n] - sigmoid(logits[n])) < 1e-6, `user ${u} item ${items[n]}`);
      }
    }
  });
});

Deno.test("ServedModel.recommend() leaves seen items out unless asked, best first", async (t) => {
  await withModel(async (served) => {
    const dataset = smallDataset("integer");
    for (const u of [0, 3]) {
      const seen = new Set(
        Array.from(
          dataset.trainItems.subarray(dataset.trainOffsets[u], dataset.trainOffsets[u + 1]),
        )
          .concat(dataset.evalItems[u]).map((i) => 200 + i),
      );
      await t.step(`user ${u}'s top 20 are its ${ITEMS - seen.size} unseen items`, () => {
        const recs = served.recommend(u, 20);
        assert.equal(recs.length, ITEMS - seen.size);
        for (const r of recs) assert.ok(!seen.has(r.item as number));
        for (let r = 1; r < recs.length; r++) assert.ok(recs[r - 1].score >= recs[r].score);
      });
      await t.step(`user ${u}'s top 20 with seen items are all ${ITEMS}`, () => {
        assert.equal(served.recommend(u, 20, { includeSeen: true }).length, ITEMS);
      });
    }
  });
});

Deno.test("ServedModel.foldIn() ranks FoldIn's logits without the posted items", async (t) => {
  await withModel(async (served, trained) => {
    const tensors = Object.fromEntries(
      trained.parameters.entries.map((e) => [e.name, e.values.slice()]),
    );
    const logits = new FoldIn(trained.config, tensors, { backend: "ts" }).fit(Int32Array.of(2, 7))
      .slice();
    const expected = Array.from({ length: ITEMS }, (_, i) => i)
      .filter((i) => i !== 2 && i !== 7)
      .sort((a, b) => logits[b] - logits[a] || a - b);
    await t.step(
      "the top 4 are FoldIn's best unposted items, scores their sigmoids within 1e-6",
      () => {
        const recs = served.foldIn(Int32Array.of(7, 2, 7), 4);
        assert.deepEqual(recs.map((r) => r.item), expected.slice(0, 4).map((i) => 200 + i));
        recs.forEach((r, n) => assert.ok(Math.abs(r.score - sigmoid(logits[expected[n]])) < 1e-6));
      },
    );
    await t.step("a k beyond the catalogue gives every unposted item", () => {
      assert.equal(served.foldIn(Int32Array.of(2, 7), 1000).length, ITEMS - 2);
    });
    await t.step("a second call is not affected by the first's posted items", () => {
      served.foldIn(Int32Array.of(0, 1, 3), 5);
      const recs = served.foldIn(Int32Array.of(2, 7), 20);
      assert.deepEqual(recs.map((r) => r.item), expected.map((i) => 200 + i));
    });
  });
});

Deno.test("ServedModel.similar() gives ItemSimilarity's items as raw ids", async () => {
  await withModel((served, trained) => {
    const { items, scores } = new ItemSimilarity(trained.parameters.entries).similar(3, 4);
    const recs = served.similar(3, 4);
    assert.deepEqual(recs.map((r) => r.item), Array.from(items, (i) => 200 + i));
    recs.forEach((r, n) => assert.ok(Math.abs(r.score - scores[n]) < 1e-6));
    assert.ok(!recs.some((r) => r.item === 203));
  });
});

Deno.test("ServedModel.load() rejects a folder without a model", async () => {
  await assert.rejects(() => ServedModel.load("/nonexistent/ncf/model"), /Cannot load a model/);
});

Deno.test("ServedModel gives a user's training items and held-out item as stored", async (t) => {
  await withModel(async (served) => {
    const dataset = smallDataset("integer");
    assert.equal(served.numUsers, USERS);
    assert.equal(served.numItems, ITEMS);
    for (let u = 0; u < USERS; u++) {
      await t.step(`user ${u}`, () => {
        assert.deepEqual(
          [...served.userItems(u)],
          [...dataset.trainItems.subarray(dataset.trainOffsets[u], dataset.trainOffsets[u + 1])],
        );
        assert.equal(served.heldOutItem(u), dataset.evalItems[u]);
      });
    }
  });
});

Deno.test("ServedModel.training() is the checkpoint's run and every evaluation", async (t) => {
  const root = await Deno.makeTempDir({ prefix: "ncf_served_model_test_" });
  try {
    await t.step(
      "a checkpoint without evaluations has an empty curve and no protocol",
      async () => {
        const dir = join(root, "empty");
        await saveSmallModel(dir, smallDataset("integer"), { epochs: 2 });
        const served = await ServedModel.load(dir, { backend: "ts" });
        assert.deepEqual(served.training(), {
          epoch: 2,
          model: "NeuMF",
          dataset: "small",
          protocol: null,
          trainEpochs: 5,
          finished: false,
          history: [],
        });
      },
    );
    await t.step("a checkpoint's history comes back whole, its last protocol named", async () => {
      const dir = join(root, "history");
      const history = [1, 2, 3].map((epoch) => ({
        epoch,
        cycle: epoch,
        hr: 0.1 * epoch,
        ndcg: 0.05 * epoch,
        loss: 1 / epoch,
        train_examples_per_sec: 1000,
        eval_seconds: 0.1,
        wall_seconds: epoch,
        protocol: epoch < 3 ? "sampled" : "full",
        byK: [{ k: 10, hr: 0.1 * epoch, ndcg: 0.05 * epoch }],
      }));
      await saveSmallModel(dir, smallDataset("integer"), { epochs: 3, history });
      const curve = (await ServedModel.load(dir, { backend: "ts" })).training();
      assert.equal(curve.epoch, 3);
      assert.equal(curve.protocol, "full");
      assert.deepEqual(curve.history, history);
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("ServedModel searches users by id and items by id or title", async (t) => {
  await withModel(async (served) => {
    const titles = new Map([["200", "Star Wars (1977)"], ["203", "Lone Star (1996)"]]);
    const items = (query: string, limit?: number) =>
      [...served.searchItems(query, { titles, limit }).found].map((i) => served.itemId(i));
    const users = (query: string, offset?: number, limit?: number) =>
      [...served.searchUsers(query, { offset, limit }).found].map((u) => served.userId(u));
    await t.step("every user in dense order, a page at a time", () => {
      assert.deepEqual(users(""), [100, 101, 102, 103, 104, 105]);
      assert.deepEqual(users("", 4, 5), [104, 105]);
      assert.equal(served.searchUsers("", { offset: 9 }).total, USERS);
      assert.deepEqual(users("", 9), []);
    });
    await t.step("users whose id contains the text, an exact id first", () => {
      assert.deepEqual(users("103"), [103]);
      assert.deepEqual(users(" 10", 0, 2), [100, 101]);
      assert.deepEqual(users("x"), []);
    });
    await t.step("items: a title starting with the text before one containing it", () => {
      assert.deepEqual(items("STAR"), [200, 203]);
      assert.deepEqual(items("lone"), [203]);
    });
    await t.step("items: an exact id first, then by popularity in training", () => {
      const dataset = smallDataset("integer");
      const popularity = new Array(ITEMS).fill(0);
      for (const i of dataset.trainItems) popularity[i]++;
      const byPopularity = popularity.map((_, i) => i)
        .sort((a, b) => popularity[b] - popularity[a] || a - b).map((i) => 200 + i);
      assert.deepEqual(items("", 100), byPopularity);
      assert.deepEqual(items("211")[0], 211);
      assert.equal(served.searchItems("2", { titles }).total, ITEMS);
    });
    await t.step("items without titles are found by id only", () => {
      assert.deepEqual([...served.searchItems("star").found], []);
      assert.deepEqual([...served.searchItems("205").found].map((i) => served.itemId(i)), [205]);
    });
  });
});
