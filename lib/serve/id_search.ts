/**
 * Finding users or items by the text a person types: their raw id or their
 * label (an item's title) contains the text, case-insensitively. Matches
 * rank an exact id first, then a label that starts with the text, then by
 * weight (an item's popularity), then by dense id. The lower-cased texts
 * are built once; a query scans them without allocating per entry.
 *
 * @module
 */

import type { RawIds } from "../data/raw_ids.ts";
import { topK } from "./top_k.ts";

/** Options of {@linkcode IdSearch}'s constructor. */
export interface IdSearchOptions {
  /** A label of each dense id (e.g. a title), or undefined where it has none. */
  labels?: ((i: number) => string | undefined) | undefined;
  /** A weight ≥ 0 of each dense id: heavier matches rank first (default none: dense order). */
  weights?: ArrayLike<number> | undefined;
}

/** One page of matches. */
export interface IdSearchResult {
  /** How many entries match in all. */
  total: number;
  /** The dense ids of the page, best first. */
  found: Int32Array;
}

/** Rank bonus of an id equal to the query (above any weight). */
const _EXACT = 2 ** 40;
/** Rank bonus of a label starting with the query. */
const _PREFIX = 2 ** 39;

/**
 * A case-insensitive substring search over raw ids and their labels.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IdSearch } from "./id_search.ts";
 * const titles = ["Star Wars (1977)", "Stargate (1994)", "Lone Star (1996)"];
 * const search = new IdSearch(Float64Array.of(50, 7, 8), {
 *   labels: (i) => titles[i],
 *   weights: [10, 3, 5],
 * });
 * const { total, found } = search.search("STAR", { limit: 2 });
 * assert.equal(total, 3);
 * assert.deepEqual([...found], [0, 1]); // labels starting with "star", heavier first
 * assert.deepEqual([...search.search("7").found], [1, 0]); // id 7 exactly, then "(1977)"
 * ```
 */
export class IdSearch {
  readonly #ids: string[];
  readonly #labels: (string | undefined)[];
  readonly #weights: Float64Array;
  readonly #weighted: boolean;
  readonly #ranks: Float64Array;
  readonly #positions: Int32Array;

  /** @param ids The raw id of each dense id. */
  constructor(ids: RawIds, options: IdSearchOptions = {}) {
    const count = ids.length;
    this.#ids = Array.from({ length: count }, (_, i) => String(ids[i]).toLowerCase());
    this.#labels = Array.from({ length: count }, (_, i) => options.labels?.(i)?.toLowerCase());
    this.#weights = new Float64Array(count);
    if (options.weights !== undefined) this.#weights.set(options.weights);
    this.#weighted = options.weights !== undefined;
    this.#ranks = new Float64Array(count);
    this.#positions = new Int32Array(count);
  }

  /** How many entries there are. */
  get size(): number {
    return this.#ids.length;
  }

  /**
   * The entries matching `query` (all of them when it is blank), best first:
   * `limit` of them (default 20) after skipping `offset` (default 0).
   */
  search(
    query: string,
    options: { offset?: number | undefined; limit?: number | undefined } = {},
  ): IdSearchResult {
    const offset = options.offset ?? 0;
    const limit = options.limit ?? 20;
    const text = query.trim().toLowerCase();
    if (text === "" && !this.#weighted) {
      // Every entry, in dense order: the page is a range.
      const total = this.#ids.length;
      const start = Math.min(offset, total);
      const found = new Int32Array(Math.min(limit, total - start));
      for (let n = 0; n < found.length; n++) found[n] = start + n;
      return { total, found };
    }
    const ids = this.#ids;
    const labels = this.#labels;
    const weights = this.#weights;
    const ranks = this.#ranks;
    const positions = this.#positions;
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      const label = labels[i];
      let rank = weights[i];
      if (text !== "") {
        if (id === text) rank += _EXACT;
        else if (label !== undefined && label.startsWith(text)) rank += _PREFIX;
        else if (!id.includes(text) && (label === undefined || !label.includes(text))) continue;
      }
      ranks[total] = rank;
      positions[total++] = i;
    }
    const end = Math.min(total, offset + limit);
    const page = offset >= end
      ? new Int32Array(0)
      : topK(ranks, end, { count: total }).slice(offset);
    for (let n = 0; n < page.length; n++) page[n] = positions[page[n]];
    return { total, found: page };
  }
}
