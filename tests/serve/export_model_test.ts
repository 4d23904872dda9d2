import assert from "node:assert/strict";
import { join } from "node:path";
import {
  ITEMS,
  saveModel,
  saveSmallModel,
  smallDataset,
  STRING_ITEM_IDS,
  STRING_USER_IDS,
  USERS,
} from "./_model_fixture.ts";
import { SettingError } from "../../lib/errors.ts";
import { scoreFormula, type ScoreGraph } from "../../lib/model/score_graph.ts";
import { exportModel } from "../../lib/serve/export_model.ts";
import { MODEL_JSON_VERSION, type ModelJson } from "../../lib/serve/model_json.ts";
import { CHECKPOINT_FILE } from "../../lib/train/checkpoint_file.ts";
import { interpretScoreGraph } from "../model/_score_graph_interpreter.ts";
import {
  predictPairs,
  RANDOM_MODEL_CASES,
  randomModel,
  randomPairs,
} from "../model/_random_models.ts";
import { scoreWithOnnxRuntime } from "./_onnx_session.ts";

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
            "model.json",
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

/** The shape and float32 values of `.npy` bytes (format 1.0, '<f4', C order). */
function decodeNpy(bytes: Uint8Array): { shape: number[]; values: Float32Array } {
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint16(8, true);
  const header = new TextDecoder().decode(bytes.subarray(10, 10 + headerLength));
  assert.match(header, /'descr': '<f4', 'fortran_order': False/);
  const shape = header.match(/'shape': \(([^)]*)\)/)![1].split(",").filter((d) => d.trim())
    .map(Number);
  const data = bytes.slice(10 + headerLength);
  return { shape, values: new Float32Array(data.buffer, 0, data.byteLength / 4) };
}

/** The four model kinds (one case each). */
const KINDS = RANDOM_MODEL_CASES.filter((c) => c.label === c.kind);

/** A random-weight `kind` model of the small data set, saved into `dir`. */
async function savedRandomModel(
  dir: string,
  c: (typeof KINDS)[number],
  options: { seed: number },
) {
  const model = randomModel(c, { seed: options.seed, numUsers: USERS, numItems: ITEMS });
  await saveModel(dir, model, smallDataset("string"));
  return model;
}

Deno.test("export --format onnx writes graphs that onnxruntime scores as the model, by the rows of the id maps", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    for (const [n, c] of KINDS.entries()) {
      await t.step(c.label, async () => {
        const modelDir = join(dir, c.kind, "model");
        const model = await savedRandomModel(modelDir, c, { seed: 500 + n });
        const out = join(dir, c.kind, "onnx");
        const written = await exportModel(modelDir, out, { format: "onnx", sigmoid: true });
        assert.deepEqual(written.map((path) => path.slice(out.length + 1)), [
          "model.onnx",
          "model_sigmoid.onnx",
          "user_ids.csv",
          "item_ids.csv",
          "model.json",
        ]);
        // A client's path: original ids → rows through the CSVs → the ONNX inputs.
        const rowOf = async (file: string) =>
          new Map(
            parseCsv(await Deno.readTextFile(join(out, file))).slice(1).map(([i, id]) => [
              id,
              Number(i),
            ]),
          );
        const userRows = await rowOf("user_ids.csv");
        const itemRows = await rowOf("item_ids.csv");
        const pairs = randomPairs(model, { count: 200, seed: 9 + n });
        const users = Array.from(pairs.users, (u) => userRows.get(STRING_USER_IDS[u])!);
        const items = Array.from(pairs.items, (i) => itemRows.get(STRING_ITEM_IDS[i])!);
        const want = predictPairs(model, pairs);
        const plain = await scoreWithOnnxRuntime(join(out, "model.onnx"), [{ users, items }]);
        const probability = await scoreWithOnnxRuntime(join(out, "model_sigmoid.onnx"), [
          { users, items },
        ]);
        for (let k = 0; k < want.length; k++) {
          assert.ok(
            Math.abs(plain.outputs[0][k] - want[k]) <= 1e-5,
          );
          assert.ok(Math.abs(probability.outputs[0][k] - 1 / (1 + Math.exp(-want[k]))) <= 1e-6);
        }
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("model.json names every tensor with its shape and role, and its steps rebuild the score from the .npy files", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    for (const [n, c] of KINDS.entries()) {
      await t.step(c.label, async () => {
        const modelDir = join(dir, c.kind, "model");
        const model = await savedRandomModel(modelDir, c, { seed: 700 + n });
        const npyOut = join(dir, c.kind, "npy");
        const onnxOut = join(dir, c.kind, "onnx");
        const npyWritten = await exportModel(modelDir, npyOut);
        await exportModel(modelDir, onnxOut, { format: "onnx" });
        const doc = JSON.parse(await Deno.readTextFile(join(npyOut, "model.json"))) as ModelJson;
        const onnxDoc = JSON.parse(
          await Deno.readTextFile(join(onnxOut, "model.json")),
        ) as ModelJson;
        assert.equal(doc.format, "ncf-export");
        assert.equal(doc.version, MODEL_JSON_VERSION);
        assert.equal(doc.kind, c.kind);
        assert.deepEqual(doc.config, model.config);
        assert.deepEqual(
          doc.tensors.map((e) => [e.name, e.shape, e.file]),
          model.parameters.entries.map((e) => [e.name, [...e.shape], `${e.name}.npy`]),
        );
        assert.deepEqual(doc.inputs.map((i) => [i.name, i.rows, i.dtype, i.idMap]), [
          ["user", USERS, "int64", "user_ids.csv"],
          ["item", ITEMS, "int64", "item_ids.csv"],
        ]);
        assert.deepEqual(doc.formula, scoreFormula(model.scoreGraph()));
        assert.deepEqual(
          Object.keys(doc.files),
          npyWritten.slice(0, -1).map((path) => path.slice(npyOut.length + 1)),
        );
        // Both formats describe the same model; only the tensors' files differ.
        const withoutFiles = (d: ModelJson) => ({
          ...d,
          tensors: d.tensors.map(({ file: _, ...rest }) => rest),
          files: {},
        });
        assert.deepEqual(withoutFiles(onnxDoc), withoutFiles(doc));
        assert.ok(onnxDoc.tensors.every((e) => e.file === undefined));
        assert.deepEqual(Object.keys(onnxDoc.files), [
          "model.onnx",
          "user_ids.csv",
          "item_ids.csv",
        ]);
        // Someone with only model.json and the .npy files: the steps give predict's logits.
        const tensors: Record<string, Float32Array> = {};
        for (const e of doc.tensors) {
          const npy = decodeNpy(await Deno.readFile(join(npyOut, e.file!)));
          assert.deepEqual(npy.shape, e.shape);
          tensors[e.name] = npy.values;
        }
        const graph: ScoreGraph = {
          summary: doc.summary,
          inputs: { user: doc.inputs[0].rows, item: doc.inputs[1].rows },
          tensors: doc.tensors,
          steps: doc.steps,
          output: doc.output.name,
        };
        const pairs = randomPairs(model, { count: 100, seed: n });
        const want = predictPairs(model, pairs);
        const got = interpretScoreGraph(graph, tensors, pairs);
        for (let k = 0; k < want.length; k++) {
          assert.ok(Math.abs(got[k] - want[k]) <= 1e-5);
        }
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("export refuses --sigmoid outside the onnx format, before writing anything", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    await saveSmallModel(join(dir, "model"), smallDataset("integer"));
    await assert.rejects(
      () => exportModel(join(dir, "model"), join(dir, "out"), { format: "npy", sigmoid: true }),
      (e: Error) =>
        e instanceof SettingError && e.setting === "sigmoid" &&
        e.message ===
          "Cannot export a probability output in format npy: only the onnx format has a graph " +
            "to end in a sigmoid; expected format onnx",
    );
    await assert.rejects(() => Deno.stat(join(dir, "out")), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Whether `python3` with numpy runs here (the formula test needs it). */
async function hasNumpy(): Promise<boolean> {
  try {
    const r = await new Deno.Command("python3", {
      args: ["-c", "import numpy"],
      stdout: "null",
      stderr: "null",
    }).output();
    return r.success;
  } catch {
    return false;
  }
}

const NUMPY = await hasNumpy();
if (!NUMPY) console.log("the numpy formula test is skipped: python3 with numpy is not installed");

/** Runs model.json's formula with numpy on the .npy files of `dir` for `pairs`. */
const _RUN_FORMULA = `
import json, sys
import numpy as np
d = sys.argv[1]
doc = json.load(open(d + "/model.json"))
env = {}
for t in doc["tensors"]:
    env[t["name"]] = np.load(d + "/" + t["file"])
pairs = json.loads(sys.stdin.read())
env["user"] = np.array(pairs["users"], dtype=np.int64)
env["item"] = np.array(pairs["items"], dtype=np.int64)
exec("from numpy import *\\n" + "\\n".join(doc["formula"]), env)
print(json.dumps(env[doc["output"]["name"]].astype(float).tolist()))
`;

Deno.test({
  name: "model.json's formula, run as numpy on the .npy files, gives the model's logits",
  ignore: !NUMPY,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
    try {
      for (const [n, c] of KINDS.entries()) {
        await t.step(c.label, async () => {
          const modelDir = join(dir, c.kind, "model");
          const model = await savedRandomModel(modelDir, c, { seed: 900 + n });
          const out = join(dir, c.kind, "npy");
          await exportModel(modelDir, out);
          const pairs = randomPairs(model, { count: 50, seed: n });
          const child = new Deno.Command("python3", {
            args: ["-c", _RUN_FORMULA, out],
            stdin: "piped",
            stdout: "piped",
            stderr: "piped",
          }).spawn();
          const writer = child.stdin.getWriter();
          await writer.write(
            new TextEncoder().encode(
              JSON.stringify({ users: [...pairs.users], items: [...pairs.items] }),
            ),
          );
          await writer.close();
          const r = await child.output();
          assert.ok(r.success, new TextDecoder().decode(r.stderr));
          const got = JSON.parse(new TextDecoder().decode(r.stdout)) as number[];
          const want = predictPairs(model, pairs);
          assert.equal(got.length, want.length);
          for (let k = 0; k < want.length; k++) {
            assert.ok(Math.abs(got[k] - want[k]) <= 1e-5);
          }
        });
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
