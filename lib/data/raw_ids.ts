/**
 * Raw ids: the ids a data set's own files use for users and items, kept as
 * they are beside the dense 0-based ids the model trains on. A column of
 * integers (any integer up to 2^53) is a `Float64Array`; a column with any
 * other token ("u1", an ASIN, a hash) is a list of strings.
 *
 * @module
 */

/** The raw id of each dense id: integers, or strings as written in the data. */
export type RawIds = Float64Array | readonly string[];

/** One raw id: a number for an integer column, else the string as written. */
export type RawId = number | string;

/**
 * The raw id of dense id `i`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rawIdAt } from "./raw_ids.ts";
 * assert.equal(rawIdAt(Float64Array.of(196, 186), 1), 186);
 * assert.equal(rawIdAt(["u1", "u2"], 0), "u1");
 * ```
 */
export function rawIdAt(ids: RawIds, i: number): RawId {
  return ids[i];
}

/** Whether `ids` are strings (the data's column held a token that is not an integer). */
export function isStringIds(ids: RawIds): ids is readonly string[] {
  return !(ids instanceof Float64Array);
}

/**
 * Finds dense ids from the text a user typed (a flag, a file line, a URL):
 * for integer ids the text must be an integer literal ("007" finds 7); for
 * string ids it must match exactly. Builds its map once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RawIdIndex } from "./raw_ids.ts";
 * const numeric = new RawIdIndex(Float64Array.of(196, 186));
 * assert.equal(numeric.find("186"), 1);
 * assert.equal(numeric.find("u1"), -1);
 * const strings = new RawIdIndex(["u1", "u2"]);
 * assert.equal(strings.find("u2"), 1);
 * assert.equal(strings.find("3"), -1);
 * ```
 */
export class RawIdIndex {
  readonly #map = new Map<RawId, number>();
  readonly #strings: boolean;

  /** @param ids The raw id of each dense id. */
  constructor(ids: RawIds) {
    this.#strings = isStringIds(ids);
    for (let i = 0; i < ids.length; i++) this.#map.set(ids[i], i);
  }

  /** The dense id of a raw id given as text or value, or -1 when it is unknown. */
  find(id: RawId): number {
    if (this.#strings) return this.#map.get(String(id)) ?? -1;
    if (typeof id === "number") return this.#map.get(id) ?? -1;
    const text = id.trim();
    if (!/^[+-]?\d+$/.test(text)) return -1;
    return this.#map.get(Number(text)) ?? -1;
  }
}
