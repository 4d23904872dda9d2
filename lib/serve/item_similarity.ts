/**
 * Item–item similarity of a trained model: the cosine of the items'
 * embedding rows. An item's vector is its rows of every per-item embedding
 * table, concatenated (NeuMF: the GMF and the MLP item embeddings); per-item
 * scalars such as MF's item bias are left out.
 *
 * @module
 */

import type { Model } from "../model/model.ts";
import { topK } from "./top_k.ts";

/**
 * Unit-length item vectors, for cosine similarity between items.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ItemSimilarity } from "./item_similarity.ts";
 * const table = {
 *   name: "item_embedding", rowGroup: "item", shape: [3, 2], rows: 3, rowLength: 2,
 *   values: Float32Array.of(1, 0, 0.9, 0.1, -1, 0),
 * };
 * const similarity = new ItemSimilarity([table]);
 * const { items, scores } = similarity.similar(0, 2);
 * assert.deepEqual([...items], [1, 2]);
 * assert.ok(Math.abs(scores[1] + 1) < 1e-6);
 * ```
 */
export class ItemSimilarity {
  readonly #vectors: Float32Array;
  readonly #width: number;
  readonly #numItems: number;
  readonly #cosines: Float32Array;

  /**
   * @param entries A model's tensors (`parameters.entries`): those of row
   *   group "item" with two or more dimensions are the item embeddings.
   * @throws {RangeError} when the model has no item embedding table.
   */
  constructor(
    entries: readonly Pick<
      Model["parameters"]["entries"][number],
      "name" | "rowGroup" | "shape" | "rows" | "rowLength" | "values"
    >[],
  ) {
    const tables = entries.filter((e) => e.rowGroup === "item" && e.shape.length >= 2);
    if (tables.length === 0) {
      throw new RangeError("Cannot compare items: the model has no item embedding table");
    }
    const numItems = tables[0].rows;
    const width = tables.reduce((sum, e) => sum + e.rowLength, 0);
    const vectors = new Float32Array(numItems * width);
    for (let i = 0; i < numItems; i++) {
      let at = i * width;
      for (const e of tables) {
        vectors.set(e.values.subarray(i * e.rowLength, (i + 1) * e.rowLength), at);
        at += e.rowLength;
      }
      let norm = 0;
      for (let j = i * width; j < (i + 1) * width; j++) norm += vectors[j] * vectors[j];
      const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
      for (let j = i * width; j < (i + 1) * width; j++) vectors[j] *= scale;
    }
    this.#vectors = vectors;
    this.#width = width;
    this.#numItems = numItems;
    this.#cosines = new Float32Array(numItems);
  }

  /**
   * The `k` items most similar to dense item `item` (itself left out), best
   * first, ties by dense id ascending, with their cosines.
   * @throws {RangeError} when `item` is out of range.
   */
  similar(item: number, k: number): { items: Int32Array; scores: Float32Array } {
    const numItems = this.#numItems;
    if (!Number.isInteger(item) || item < 0 || item >= numItems) {
      throw new RangeError(`Cannot compare item ${item}: expected 0..${numItems - 1}`);
    }
    const width = this.#width;
    const v = this.#vectors;
    const cosines = this.#cosines;
    const at = item * width;
    for (let i = 0; i < numItems; i++) {
      let dot = 0;
      const row = i * width;
      for (let j = 0; j < width; j++) dot += v[at + j] * v[row + j];
      cosines[i] = dot;
    }
    cosines[item] = -Infinity;
    const top = topK(cosines, Math.min(k, numItems - 1));
    const items = new Int32Array(top.length);
    const scores = new Float32Array(top.length);
    for (let r = 0; r < top.length; r++) {
      items[r] = top[r];
      scores[r] = cosines[top[r]];
    }
    return { items, scores };
  }
}
