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

/**
 * Interns the string ids of one column as a file is parsed: a code per
 * distinct id (0, 1, 2, … in order of first appearance) and the ids as
 * written (`names`). Ids are looked up by their UTF-8 bytes in an
 * open-addressing hash table, so a row allocates nothing; only a new id is
 * decoded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RawIdInterner } from "./raw_ids.ts";
 * const bytes = new TextEncoder().encode("u1,café,u1");
 * const interner = new RawIdInterner();
 * assert.equal(interner.code(bytes, 0, 2, true), 0);
 * assert.equal(interner.code(bytes, 3, 8, false), 1);
 * assert.equal(interner.code(bytes, 9, 11, true), 0);
 * assert.deepEqual(interner.names, ["u1", "café"]);
 * assert.equal(interner.code(Uint8Array.of(0xe9), 0, 1, false), -1); // not UTF-8
 * ```
 */
export class RawIdInterner {
  /** The distinct ids, by code. */
  readonly names: string[] = [];
  /** The bytes of every distinct id, back to back, and where each starts (length + 1). */
  #arena = new Uint8Array(1 << 16);
  #arenaUsed = 0;
  #starts = new Int32Array(1024 + 1);
  /** Slots holding code + 1 (0 = empty); a power of two, at most half full. */
  #table = new Int32Array(2048);

  /**
   * The code of the id held in `bytes[start, end)`, or -1 when it is not
   * valid UTF-8. `ascii` promises that every byte is below 0x80.
   */
  code(bytes: Uint8Array, start: number, end: number, ascii: boolean): number {
    const length = end - start;
    const table = this.#table;
    const mask = table.length - 1;
    const arena = this.#arena;
    const starts = this.#starts;
    let slot = _hash(bytes, start, end) & mask;
    for (;;) {
      const entry = table[slot];
      if (entry === 0) break;
      const code = entry - 1;
      const at = starts[code];
      if (starts[code + 1] - at === length) {
        let same = true;
        for (let i = 0; i < length; i++) {
          if (arena[at + i] !== bytes[start + i]) {
            same = false;
            break;
          }
        }
        if (same) return code;
      }
      slot = (slot + 1) & mask;
    }
    // A new id: decode it, store its bytes, and take the empty slot.
    let name: string;
    if (ascii) {
      name = "";
      for (let i = start; i < end; i += 1024) {
        const part = bytes.subarray(i, Math.min(end, i + 1024));
        name += String.fromCharCode.apply(null, part as unknown as number[]);
      }
    } else {
      try {
        name = _UTF8_FATAL.decode(bytes.subarray(start, end));
      } catch {
        return -1;
      }
    }
    const code = this.names.length;
    this.names.push(name);
    if (this.#arenaUsed + length > this.#arena.length) {
      const bigger = new Uint8Array(Math.max(this.#arena.length * 2, this.#arenaUsed + length));
      bigger.set(this.#arena.subarray(0, this.#arenaUsed));
      this.#arena = bigger;
    }
    this.#arena.set(bytes.subarray(start, end), this.#arenaUsed);
    this.#arenaUsed += length;
    if (code + 2 > this.#starts.length) {
      const bigger = new Int32Array(this.#starts.length * 2);
      bigger.set(this.#starts);
      this.#starts = bigger;
    }
    this.#starts[code + 1] = this.#arenaUsed;
    table[slot] = code + 1;
    if (2 * (code + 1) > table.length) this.#rehash();
    return code;
  }

  /** Doubles the table. */
  #rehash(): void {
    const table = new Int32Array(this.#table.length * 2);
    const mask = table.length - 1;
    for (let code = 0; code < this.names.length; code++) {
      let slot = _hash(this.#arena, this.#starts[code], this.#starts[code + 1]) & mask;
      while (table[slot] !== 0) slot = (slot + 1) & mask;
      table[slot] = code + 1;
    }
    this.#table = table;
  }
}

const _UTF8_FATAL = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** FNV-1a of `bytes[start, end)`. */
function _hash(bytes: Uint8Array, start: number, end: number): number {
  let hash = 0x811c9dc5;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ bytes[i], 0x01000193);
  return hash;
}
