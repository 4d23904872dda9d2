/**
 * `ncf export`: a trained model as `.npy` files (one per tensor, for numpy)
 * or as one ONNX graph (for onnxruntime, Triton, a browser), with its id
 * maps as CSV and `model.json` (the architecture: tensors, roles, formula)
 * beside it. Both formats are written from the model's score graph.
 *
 * @module
 */

import { join } from "node:path";
import { writeFileAtomic } from "../io/atomic_write.ts";
import { type LoadedModelCheckpoint, loadModelCheckpoint } from "../train/model_checkpoint.ts";
import { encodeNpy } from "../io/npy.ts";
import { buildModel } from "../model/registry.ts";
import { scoreFormula, type ScoreGraph } from "../model/score_graph.ts";
import { SettingError } from "../errors.ts";
import type { ExportFormat } from "../flags/specs.ts";
import { csvLine } from "./csv_field.ts";
import { formatModelJson, modelJson } from "./model_json.ts";
import { scoreGraphToOnnx } from "./onnx_export.ts";

/** The files `ncf export` writes besides the tensors. */
export const EXPORT_FILES = {
  onnx: "model.onnx",
  onnxSigmoid: "model_sigmoid.onnx",
  userIds: "user_ids.csv",
  itemIds: "item_ids.csv",
  modelJson: "model.json",
} as const;

/** Options of {@linkcode exportModel}. */
export interface ExportOptions {
  /** `npy` (default: one `.npy` per tensor) or `onnx` (`model.onnx`). */
  format?: ExportFormat | undefined;
  /** With `onnx`, also write `model_sigmoid.onnx`, whose output is the probability (default false). */
  sigmoid?: boolean | undefined;
}

/**
 * Exports the model of `modelDir` into `out` (created if missing) and
 * returns the files written, in this order:
 * - format `npy`: `<tensor>.npy` for every model tensor;
 * - format `onnx`: `model.onnx` (inputs `user`, `item`: int64 `[N]` row
 *   numbers; output `logit` `[N]`), and with `sigmoid` `model_sigmoid.onnx`
 *   (output `probability`);
 * - then `user_ids.csv` and `item_ids.csv` (`index,user_id` /
 *   `index,item_id`: the row of each original id; string ids quoted as RFC
 *   4180 asks when they hold a comma, a quote or a line break);
 * - last `model.json` (see `model_json.ts`).
 *
 * @param modelDir The trained model's folder (or its `checkpoint.ncf`).
 * @param out The folder to write into.
 * @throws {SettingError} naming "out" when `out` is a file, "model_dir" when
 *   `modelDir` is no model folder, "sigmoid" when asked of the npy format.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exportModel } from "./export_model.ts";
 * const file = await Deno.makeTempFile();
 * await assert.rejects(() => exportModel("/nonexistent/model", file), (e: Error) =>
 *   e.name === "SettingError" && e.message === `Cannot export to ${file}: it is a file; expected a folder`);
 * await Deno.remove(file);
 * ```
 */
export async function exportModel(
  modelDir: string,
  out: string,
  options: ExportOptions = {},
): Promise<string[]> {
  const format = options.format ?? "npy";
  const sigmoid = options.sigmoid ?? false;
  if (sigmoid && format !== "onnx") {
    throw new SettingError(
      "sigmoid",
      `Cannot export a probability output in format ${format}: only the onnx format has a graph to end in a sigmoid; expected format onnx`,
    );
  }
  const info = await Deno.stat(out).catch((e) => {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  });
  if (info !== undefined && !info.isDirectory) {
    throw new SettingError("out", `Cannot export to ${out}: it is a file; expected a folder`);
  }
  const checkpoint = await loadModelCheckpoint(modelDir, { setting: "model_dir" });
  // The model's own description (tensors, shapes, roles, steps), from its registry entry.
  const graph = buildModel(checkpoint.meta.model, { backend: "ts", maxBatchSize: 1 }).scoreGraph();
  const tensors = _tensors(checkpoint, graph, modelDir);
  await Deno.mkdir(out, { recursive: true });
  const written: string[] = [];
  const files: Record<string, string> = {};
  const write = async (file: string, data: Uint8Array | string, what: string) => {
    const path = join(out, file);
    await writeFileAtomic(path, data);
    written.push(path);
    files[file] = what;
  };
  const tensorFiles: Record<string, string> = {};
  if (format === "npy") {
    for (const { name, shape } of graph.tensors) {
      tensorFiles[name] = `${name}.npy`;
      await write(
        tensorFiles[name],
        encodeNpy(tensors[name], [...shape]),
        `tensor ${name} [${shape.join(", ")}], float32`,
      );
    }
  } else {
    const config = checkpoint.meta.model;
    const onnxOptions = {
      name: `ncf_${config.kind}`,
      docString: [graph.summary, "", ...scoreFormula(graph)].join("\n"),
      metadata: {
        kind: config.kind,
        config: JSON.stringify(config),
        user_ids: EXPORT_FILES.userIds,
        item_ids: EXPORT_FILES.itemIds,
      },
    };
    await write(
      EXPORT_FILES.onnx,
      scoreGraphToOnnx(graph, tensors, onnxOptions),
      "ONNX model: inputs user, item (int64 [N] rows of the id maps); output logit [N]",
    );
    if (sigmoid) {
      await write(
        EXPORT_FILES.onnxSigmoid,
        scoreGraphToOnnx(graph, tensors, { ...onnxOptions, sigmoid: true }),
        "ONNX model: inputs user, item (int64 [N] rows of the id maps); output probability [N] = sigmoid(logit)",
      );
    }
  }
  for (
    const [file, header, ids, what] of [
      [EXPORT_FILES.userIds, "index,user_id", checkpoint.maps.userIds, "user"],
      [EXPORT_FILES.itemIds, "index,item_id", checkpoint.maps.itemIds, "item"],
    ] as const
  ) {
    const lines: string[] = [`${header}\n`];
    for (let i = 0; i < ids.length; i++) lines.push(csvLine([i, ids[i]]));
    await write(
      file,
      lines.join(""),
      `${header}: the row (the ${what} input) of each original ${what} id`,
    );
  }
  const doc = modelJson(checkpoint.meta.model, graph, { tensorFiles, files: { ...files } });
  await write(EXPORT_FILES.modelJson, formatModelJson(doc), "this description");
  return written;
}

/** The checkpoint's tensors the graph names, checked against their shapes. */
function _tensors(
  checkpoint: LoadedModelCheckpoint,
  graph: ScoreGraph,
  modelDir: string,
): Record<string, Float32Array> {
  const tensors: Record<string, Float32Array> = {};
  for (const { name, shape } of graph.tensors) {
    const values = checkpoint.data.arrays[`param/${name}`];
    const size = shape.reduce((a, b) => a * b, 1);
    if (!(values instanceof Float32Array) || values.length !== size) {
      throw new SyntaxError(
        `Cannot export ${modelDir}: the checkpoint lacks tensor ${name} of shape [${
          shape.join(", ")
        }]`,
      );
    }
    tensors[name] = values;
  }
  return tensors;
}
