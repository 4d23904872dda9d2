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

/**
 * Writes `<out>/<tensor>.npy` for every model tensor, plus `user_ids.csv`
 * and `item_ids.csv` (`index,<raw id>`: the embedding row of each original
 * id). Returns the files written.
 */
export async function exportModel(modelDir: string, out: string): Promise<string[]> {
  const checkpoint = await loadModelCheckpoint(modelDir);
  await Deno.mkdir(out, { recursive: true });
  const written: string[] = [];
  const model = checkpoint.meta.model;
  const shapes = _shapes(model);
  for (const [name, shape] of Object.entries(shapes)) {
    const values = checkpoint.data.arrays[`param/${name}`] as Float32Array | undefined;
    if (values === undefined) {
      throw new SyntaxError(`Cannot export ${modelDir}: the checkpoint lacks tensor ${name}`);
    }
    const path = join(out, `${name}.npy`);
    await writeFileAtomic(path, encodeNpy(values, shape));
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

function _shapes(
  m: { kind: string; numUsers: number; numItems: number; numFactors: number; layers: number[] },
) {
  const shapes: Record<string, number[]> = {};
  const half = m.layers[0] / 2;
  if (m.kind !== "MLP") {
    shapes.mf_user_embedding = [m.numUsers, m.numFactors];
    shapes.mf_item_embedding = [m.numItems, m.numFactors];
  }
  let head = m.kind === "MLP" ? 0 : m.numFactors;
  if (m.kind !== "GMF") {
    shapes.mlp_user_embedding = [m.numUsers, half];
    shapes.mlp_item_embedding = [m.numItems, half];
    for (let l = 0; l + 1 < m.layers.length; l++) {
      shapes[`dense_${l}_kernel`] = [m.layers[l], m.layers[l + 1]];
      shapes[`dense_${l}_bias`] = [m.layers[l + 1]];
    }
    head += m.layers[m.layers.length - 1];
  }
  shapes.output_kernel = [head, 1];
  shapes.output_bias = [1];
  return shapes;
}
