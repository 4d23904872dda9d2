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

/**
 * Writes `<out>/<tensor>.npy` for every model tensor, plus `user_ids.csv`
 * and `item_ids.csv` (`index,<raw id>`: the embedding row of each original
 * id). Returns the files written.
 */
export async function exportModel(modelDir: string, out: string): Promise<string[]> {
  const checkpoint = await loadModelCheckpoint(modelDir);
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
    const lines: string[] = [header];
    for (let i = 0; i < ids.length; i++) lines.push(`${i},${ids[i]}`);
    const path = join(out, file);
    await writeFileAtomic(path, lines.join("\n") + "\n");
    written.push(path);
  }
  return written;
}
