/**
 * `ncf export`: a trained model's tables as `.npy` files (one per tensor)
 * and its id maps as CSV, for numpy and pandas.
 *
 * @module
 */

import { join } from "node:path";
import { writeFileAtomic } from "../io/atomic_write.ts";
import { loadModelCheckpoint } from "../train/model_checkpoint.ts";
import { encodeNpy } from "../io/npy.ts";
import { buildModel } from "../model/registry.ts";
import { SettingError } from "../errors.ts";
import { csvLine } from "./csv_field.ts";

/**
 * Writes `<out>/<tensor>.npy` for every model tensor, plus `user_ids.csv`
 * and `item_ids.csv` (`index,user_id` / `index,item_id`: the embedding row
 * of each original id; string ids quoted as RFC 4180 asks when they hold a
 * comma, a quote or a line break). Returns the files written.
 *
 * @param modelDir The trained model's folder (or its `checkpoint.ncf`).
 * @param out The folder to write into (created if missing).
 * @throws {SettingError} naming "out" when `out` is a file, "model_dir" when
 *   `modelDir` is no model folder.
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
export async function exportModel(modelDir: string, out: string): Promise<string[]> {
  const info = await Deno.stat(out).catch((e) => {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  });
  if (info !== undefined && !info.isDirectory) {
    throw new SettingError("out", `Cannot export to ${out}: it is a file; expected a folder`);
  }
  const checkpoint = await loadModelCheckpoint(modelDir, { setting: "model_dir" });
  await Deno.mkdir(out, { recursive: true });
  const written: string[] = [];
  // The model's own tensor list (names and shapes), from its registry entry.
  const model = buildModel(checkpoint.meta.model, { backend: "ts", maxBatchSize: 1 });
  for (const { name, shape } of model.parameters.entries) {
    const values = checkpoint.data.arrays[`param/${name}`] as Float32Array | undefined;
    if (values === undefined) {
      throw new SyntaxError(`Cannot export ${modelDir}: the checkpoint lacks tensor ${name}`);
    }
    const path = join(out, `${name}.npy`);
    await writeFileAtomic(path, encodeNpy(values, [...shape]));
    written.push(path);
  }
  for (
    const [file, header, ids] of [
      ["user_ids.csv", "index,user_id", checkpoint.maps.userIds],
      ["item_ids.csv", "index,item_id", checkpoint.maps.itemIds],
    ] as const
  ) {
    const lines: string[] = [`${header}\n`];
    for (let i = 0; i < ids.length; i++) lines.push(csvLine([i, ids[i]]));
    const path = join(out, file);
    await writeFileAtomic(path, lines.join(""));
    written.push(path);
  }
  return written;
}
