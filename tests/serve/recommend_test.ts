import assert from "node:assert/strict";
import { join } from "node:path";
import { ITEMS, saveSmallModel, smallDataset, USERS } from "./_model_fixture.ts";
import type { RawId } from "../../lib/data/raw_ids.ts";
import type { Dataset } from "../../lib/data/types.ts";
import { SettingError } from "../../lib/errors.ts";
import { sigmoid } from "../../lib/model/loss.ts";
import {
  readUsersFile,
  recommend,
  recommendUsers,
  type UserRecommendations,
} from "../../lib/serve/recommend.ts";
import { CHECKPOINT_FILE } from "../../lib/train/checkpoint_file.ts";
import { loadModelCheckpoint, modelFromCheckpoint } from "../../lib/train/model_checkpoint.ts";

/** Each user's top `k` by scoring every item and sorting them all (the way recommend always did). */
async function fullSortReference(
  dir: string,
  dataset: Dataset,
  options: { k: number; includeSeen: boolean },
): Promise<UserRecommendations[]> {
  const model = modelFromCheckpoint(await loadModelCheckpoint(dir), { backend: "ts" });
  const all = Int32Array.from({ length: ITEMS }, (_, i) => i);
  const logits = new Float32Array(ITEMS);
  return Array.from({ length: USERS }, (_, u) => {
    model.scoreUserItems(u, all, { out: logits });
    const seen = new Set([
      ...dataset.trainItems.subarray(dataset.trainOffsets[u], dataset.trainOffsets[u + 1]),
      dataset.evalItems[u],
    ]);
    const candidates = [...all].filter((i) => options.includeSeen || !seen.has(i));
    candidates.sort((a, b) => logits[b] - logits[a] || a - b);
    return {
      user: dataset.userIds[u],
      recommendations: candidates.slice(0, options.k).map((i) => ({
        item: dataset.itemIds[i],
        score: sigmoid(logits[i]),
      })),
    };
  });
}

async function withModel(
  ids: "integer" | "string",
  fn: (dir: string, dataset: Dataset) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    const dataset = smallDataset(ids);
    await saveSmallModel(join(dir, "model"), dataset);
    await fn(join(dir, "model"), dataset);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("recommendUsers() gives every user the full sort's top k, seen items left out unless asked", async (t) => {
  for (const ids of ["integer", "string"] as const) {
    await withModel(ids, async (dir, dataset) => {
      const cases = [
        { k: 3, includeSeen: false },
        { k: 10, includeSeen: false }, // more than user 5's 1 unseen item
        { k: 5, includeSeen: true },
        { k: ITEMS + 5, includeSeen: true },
      ];
      for (const { k, includeSeen } of cases) {
        await t.step(`${ids} ids, k ${k}, includeSeen ${includeSeen}`, async () => {
          const got = await Array.fromAsync(
            recommendUsers(dir, "all", { k, includeSeen, backend: "ts" }),
          );
          assert.deepEqual(got, await fullSortReference(dir, dataset, { k, includeSeen }));
        });
      }
    });
  }
});

Deno.test("recommendUsers() never recommends a seen item, and a user with one unseen item gets one", async () => {
  await withModel("integer", async (dir, dataset) => {
    for await (const { user, recommendations } of recommendUsers(dir, "all", { k: ITEMS })) {
      const u = (user as number) - 100;
      const seen = new Set(
        [
          ...dataset.trainItems.subarray(dataset.trainOffsets[u], dataset.trainOffsets[u + 1]),
          dataset.evalItems[u],
        ].map((i) => 200 + i),
      );
      assert.equal(recommendations.length, ITEMS - seen.size, `user ${user}`);
      for (const { item, score } of recommendations) {
        assert.ok(!seen.has(item as number), `user ${user} got seen item ${item}`);
        assert.ok(score > 0 && score < 1, `score ${score} is a probability`);
      }
    }
  });
});

Deno.test("recommendUsers() finds users by their ids as typed, in the order given", async (t) => {
  const cases: [string, "integer" | "string", RawId[], RawId[]][] = [
    ["integer ids as text", "integer", ["104", " 101 ", "+100", "0102"], [104, 101, 100, 102]],
    ["integer ids as numbers", "integer", [103, 103], [103, 103]],
    ["string ids", "string", ['say "hi"', "a,b", "李"], ['say "hi"', "a,b", "李"]],
  ];
  for (const [name, ids, users, want] of cases) {
    await t.step(name, async () => {
      await withModel(ids, async (dir) => {
        const got = await Array.fromAsync(recommendUsers(dir, users, { k: 2 }));
        assert.deepEqual(got.map((r) => r.user), want);
        assert.ok(got.every((r) => r.recommendations.length === 2));
      });
    });
  }
});

Deno.test("unknown users are refused before any output, naming the first and how many", async (t) => {
  const cases: [string, "integer" | "string", RawId[], string | undefined, string][] = [
    [
      "one",
      "integer",
      ["99999"],
      undefined,
      "Cannot recommend for user 99999: no such user in the model's data",
    ],
    [
      "several in a list",
      "integer",
      ["100", "u1", "101", "7"],
      "users",
      "Cannot recommend for user u1: no such user in the model's data (2 of the 4 users are unknown)",
    ],
    [
      "an integer among string ids",
      "string",
      ["u0", "100"],
      "users_file",
      "Cannot recommend for user 100: no such user in the model's data",
    ],
    [
      "a string id with other spaces",
      "string",
      [" u0"],
      undefined,
      "Cannot recommend for user  u0: no such user in the model's data",
    ],
  ];
  for (const [name, ids, users, setting, message] of cases) {
    await t.step(name, async () => {
      await withModel(ids, async (dir) => {
        const stream = recommendUsers(dir, users, { setting });
        await assert.rejects(
          () => stream.next(),
          (e: Error) =>
            e instanceof SettingError && e.setting === (setting ?? "user") && e.message === message,
        );
      });
    });
  }
});

Deno.test("recommend() keeps its single-user form, and takes the checkpoint file as the folder", async () => {
  await withModel("integer", async (dir) => {
    const [all] = await Array.fromAsync(recommendUsers(dir, [104], { k: 4, backend: "ts" }));
    assert.deepEqual(
      await recommend(join(dir, CHECKPOINT_FILE), "104", { k: 4, backend: "ts" }),
      all.recommendations,
    );
    await assert.rejects(
      () => recommend(dir, "9"),
      (e: Error) => e instanceof SettingError && e.setting === "user",
    );
  });
});

Deno.test("recommendUsers() refuses a bad k, a folder that is no model, and stops when aborted", async () => {
  await withModel("integer", async (dir) => {
    for (const k of [0, 1.5]) {
      await assert.rejects(
        () => recommendUsers(dir, "all", { k }).next(),
        (e: Error) => e instanceof SettingError && e.setting === "k",
      );
    }
    await assert.rejects(
      () => recommendUsers(join(dir, "nope"), "all").next(),
      (e: Error) =>
        e instanceof SettingError && e.setting === "model_dir" &&
        /it does not exist/.test(e.message),
    );
    const controller = new AbortController();
    const seen: RawId[] = [];
    await assert.rejects(async () => {
      for await (const r of recommendUsers(dir, "all", { signal: controller.signal })) {
        seen.push(r.user);
        controller.abort(new Error("stop"));
      }
    }, /stop/);
    assert.deepEqual(seen, [100]);
  });
});

Deno.test("recommendUsers() takes an already loaded checkpoint", async () => {
  await withModel("string", async (dir) => {
    const checkpoint = await loadModelCheckpoint(dir);
    const [a] = await Array.fromAsync(recommendUsers(checkpoint, ["u5"], { k: 3 }));
    const [b] = await Array.fromAsync(recommendUsers(dir, ["u5"], { k: 3 }));
    assert.deepEqual(a, b);
  });
});

Deno.test("readUsersFile() reads one id per line, skipping blanks and a header", async (t) => {
  const cases: [string, string, string[]][] = [
    ["plain", "196\n186\n", ["196", "186"]],
    ["CRLF and blank lines", "196\r\n\r\n186\r\n\r\n", ["196", "186"]],
    ["a userId header", "userId\n196\n", ["196"]],
    ["a user header after a blank line", "\nuser\n196", ["196"]],
    ["a BOM and a user_id header", "\ufeffuser_id\n7\n", ["7"]],
    ["a header word later is an id", "196\nuser\n", ["196", "user"]],
    ["string ids with inner spaces", "  u 1  \nété\n", ["u 1", "été"]],
    ["empty", "", []],
  ];
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    for (const [name, text, want] of cases) {
      await t.step(name, async () => {
        await Deno.writeTextFile(join(dir, "users.txt"), text);
        assert.deepEqual(await readUsersFile(join(dir, "users.txt")), want);
      });
    }
    await t.step("a missing file is refused, naming it", async () => {
      await assert.rejects(
        () => readUsersFile(join(dir, "none.txt")),
        (e: Error) =>
          e instanceof Deno.errors.NotFound &&
          e.message === `Cannot read users file ${join(dir, "none.txt")}: it does not exist; ` +
              "expected one user id per line",
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
