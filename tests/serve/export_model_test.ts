import assert from "node:assert/strict";
import { join } from "node:path";
import {
  saveSmallModel,
  smallDataset,
  STRING_ITEM_IDS,
  STRING_USER_IDS,
} from "./_model_fixture.ts";
import { SettingError } from "../../lib/errors.ts";
import { exportModel } from "../../lib/serve/export_model.ts";
import { CHECKPOINT_FILE } from "../../lib/train/checkpoint_file.ts";

/** The records of RFC 4180 CSV text (quoted fields may hold commas, quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') field += text[++i];
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") (row.push(field), field = "");
    else if (c === "\n") (row.push(field), rows.push(row), row = [], field = "");
    else field += c;
  }
  return rows;
}

Deno.test("export writes every tensor and id maps that read back as the data's ids", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    for (const ids of ["integer", "string"] as const) {
      await t.step(`${ids} ids`, async () => {
        const model = join(dir, ids, "model");
        const trained = await saveSmallModel(model, smallDataset(ids));
        const out = join(dir, ids, "export");
        const written = await exportModel(model, out);
        assert.deepEqual(
          written.map((path) => path.slice(out.length + 1)),
          [
            ...trained.parameters.entries.map((e) => `${e.name}.npy`),
            "user_ids.csv",
            "item_ids.csv",
          ],
        );
        const users = parseCsv(await Deno.readTextFile(join(out, "user_ids.csv")));
        const items = parseCsv(await Deno.readTextFile(join(out, "item_ids.csv")));
        assert.deepEqual(users[0], ["index", "user_id"]);
        assert.deepEqual(items[0], ["index", "item_id"]);
        const wantUsers = ids === "string"
          ? STRING_USER_IDS
          : ["100", "101", "102", "103", "104", "105"];
        const wantItems = ids === "string"
          ? STRING_ITEM_IDS
          : STRING_ITEM_IDS.map((_, i) => `${200 + i}`);
        assert.deepEqual(users.slice(1), wantUsers.map((id, i) => [`${i}`, id]));
        assert.deepEqual(items.slice(1), wantItems.map((id, i) => [`${i}`, id]));
      });
    }
    await t.step("integer ids are written as before: bare, one per line", async () => {
      const text = await Deno.readTextFile(join(dir, "integer", "export", "user_ids.csv"));
      assert.equal(text, "index,user_id\n0,100\n1,101\n2,102\n3,103\n4,104\n5,105\n");
    });
    await t.step("the checkpoint file itself names its folder", async () => {
      const written = await exportModel(
        join(dir, "integer", "model", CHECKPOINT_FILE),
        join(dir, "integer", "again"),
      );
      assert.equal(
        written.length,
        (await Array.fromAsync(Deno.readDir(join(dir, "integer", "again")))).length,
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("export refuses an out that is a file and a model_dir that is no model folder", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    await saveSmallModel(join(dir, "model"), smallDataset("integer"));
    await Deno.writeTextFile(join(dir, "file.txt"), "x");
    const cases: [string, string, string, string, string][] = [
      [
        "out is a file",
        join(dir, "model"),
        join(dir, "file.txt"),
        "out",
        `Cannot export to ${join(dir, "file.txt")}: it is a file; expected a folder`,
      ],
      [
        "model_dir is a file",
        join(dir, "file.txt"),
        join(dir, "out"),
        "model_dir",
        `Cannot load a model from ${join(dir, "file.txt")}: it is a file; expected a trained ` +
        "model's folder (the model_dir given to the trainer), holding checkpoint.ncf",
      ],
      [
        "model_dir has no checkpoint",
        dir,
        join(dir, "out"),
        "model_dir",
        `Cannot load a model from ${dir}: it holds no checkpoint.ncf; expected a trained ` +
        "model's folder (the model_dir given to the trainer), holding checkpoint.ncf",
      ],
    ];
    for (const [name, modelDir, out, setting, message] of cases) {
      await t.step(name, async () => {
        await assert.rejects(
          () => exportModel(modelDir, out),
          (e: Error) => e instanceof SettingError && e.setting === setting && e.message === message,
        );
      });
    }
    await assert.rejects(
      () => Deno.stat(join(dir, "out")),
      Deno.errors.NotFound,
      "nothing written",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
