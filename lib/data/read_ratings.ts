/**
 * The ratings-file reader: a streaming, byte-level parser of rows holding a
 * user, an item, an optional rating and a timestamp (comma, tab or `::`
 * separated, optional header line), shared by the MovieLens, `csv` and `ncf`
 * data sets.
 *
 * Format rules:
 * - Columns: a header's names decide them, in any order (see
 *   {@linkcode COLUMN_ALIASES}; case is ignored); without a header they are
 *   `user,item,timestamp` (3 fields) or `user,item,rating,timestamp` (4),
 *   unless the `columns` option names them. With `columns` a header line is
 *   skipped whatever it says. A user, an item and a timestamp column are
 *   required (the timestamp decides which interaction is held out); rating is
 *   optional (validated, then discarded); any other column is refused.
 * - Only the first line may be a header: it is one when none of its fields is
 *   a decimal number (a data row always has its timestamp; a line without
 *   separator is a header only without digits). A header with an
 *   unknown name, a name twice, or no user, item or timestamp column is an
 *   error naming line 1, the names found and the names expected.
 * - The separator (`::`, else tab, else comma) is fixed by the first data
 *   line; the field count by the header or `columns`, else by the first data
 *   line (3 or 4).
 * - Ids: a user (or item) column whose every id is an integer literal
 *   (`-?\d+`, a leading `+` allowed) with |id| ≤ 2^53 − 1 is numeric. Any
 *   other token (`u1`, an ASIN, a hash, an integer beyond 2^53 − 1) makes the
 *   whole column a string column: every id of it is kept exactly as written
 *   (spaces around a field are trimmed), so `007` and `7` are two ids there.
 *   String ids may be any UTF-8 text without control characters, separators
 *   or surrounding double quotes; they come back as codes into `userNames`
 *   (`itemNames`), numbered in order of first appearance. With `denseIds`
 *   (the NCF split) ids must be integers in [0, {@linkcode MAX_DENSE_ID}].
 * - rating and timestamp are decimal numbers (`12`, `-3`, `4.5`, `.5`; no
 *   exponent). Spaces around any field are allowed. Fields are not quoted.
 * - Line ends: `\n`, `\r\n`, `\r\r\n` (a CRLF file converted once more) and a
 *   lone `\r` (old Mac/Excel). A UTF-8 byte-order mark, a last line without
 *   line end and trailing blank lines are tolerated; a blank line followed by
 *   more data is an error, as is a control byte (other than tab) or invalid
 *   UTF-8 anywhere.
 *
 * @module
 */

import { SettingError } from "../errors.ts";
import { RawIdInterner } from "./raw_ids.ts";
import { readChunks } from "./read_chunks.ts";
import type { RawInteractions } from "./types.ts";

/** Largest id allowed when `denseIds` is set (so that `id + 1` fits an Int32). */
export const MAX_DENSE_ID = 2147483646;

/** Longest line accepted (a longer one is junk, not a ratings row). */
export const MAX_LINE_BYTES = 65536;

/**
 * The columns a ratings file may have, by their canonical names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RATINGS_COLUMNS } from "./read_ratings.ts";
 * assert.deepEqual(RATINGS_COLUMNS, ["user", "item", "rating", "timestamp"]);
 * ```
 */
export const RATINGS_COLUMNS = ["user", "item", "rating", "timestamp"] as const;

/** A column of a ratings file. */
export type RatingsColumn = typeof RATINGS_COLUMNS[number];

/**
 * The names a header (or the `columns` option) may give each column,
 * compared without regard to case: MovieLens' (`userId`, `movieId`), the
 * common snake_case forms, and Amazon reviews' (`reviewerID`, `asin`,
 * `overall`, `unixReviewTime`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { COLUMN_ALIASES } from "./read_ratings.ts";
 * assert.ok(COLUMN_ALIASES.item.includes("movieId") && COLUMN_ALIASES.timestamp.includes("ts"));
 * ```
 */
export const COLUMN_ALIASES: Readonly<Record<RatingsColumn, readonly string[]>> = Object.freeze({
  user: Object.freeze(["user", "userId", "user_id", "uid", "reviewerID"]),
  item: Object.freeze([
    "item",
    "itemId",
    "item_id",
    "movie",
    "movieId",
    "movie_id",
    "iid",
    "asin",
  ]),
  rating: Object.freeze(["rating", "score", "overall"]),
  timestamp: Object.freeze(["timestamp", "time", "ts", "unixReviewTime"]),
});

/** Options of {@linkcode readRatings}. */
export interface ReadRatingsOptions {
  /** Aborts between chunks. */
  signal?: AbortSignal | undefined;
  /**
   * Require ids in [0, {@linkcode MAX_DENSE_ID}] (already dense files such as
   * the NCF split); default false.
   */
  denseIds?: boolean | undefined;
  /** Also return each row's 1-based line number (`lineNumbers`); default false. */
  lineNumbers?: boolean | undefined;
  /**
   * The file's columns in order, by name or alias (see
   * {@linkcode checkColumns}), e.g. `["item", "user", "rating", "timestamp"]`;
   * a header line is then skipped. Default (undefined or empty): the
   * header's names, else `user,item[,rating],timestamp`.
   */
  columns?: readonly string[] | undefined;
}

/** Rows read by {@linkcode readRatings}: raw interactions plus optional line numbers. */
export interface RatingsTable extends RawInteractions {
  /** 1-based line number of each row, when `lineNumbers` was requested. */
  lineNumbers?: Int32Array;
}

/**
 * Checks a column list (the `columns` setting) and returns its canonical
 * names: each name a column name or alias of {@linkcode COLUMN_ALIASES}
 * (case ignored, spaces trimmed), none twice, user, item and timestamp
 * present, rating optional. Throws a `SettingError` for `columns` otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkColumns } from "./read_ratings.ts";
 * assert.deepEqual(checkColumns(["movieId", "userId", "ts"]), ["item", "user", "timestamp"]);
 * assert.throws(() => checkColumns(["user", "item"]), /no timestamp column/);
 * ```
 */
export function checkColumns(columns: readonly string[]): RatingsColumn[] {
  const resolved = _resolveColumns(columns);
  if (typeof resolved === "string") {
    throw new SettingError(
      "columns",
      `Cannot read ratings with columns ${
        JSON.stringify(columns.join(","))
      }: ${resolved} (expected ${_expectedColumns()})`,
    );
  }
  return resolved.map((kind) => RATINGS_COLUMNS[kind]);
}

/**
 * Reads a ratings file, streaming it in ~1 MiB chunks (memory: the rows plus
 * one chunk). A user or item column found to hold string ids part-way
 * through makes the reader start over with that column read as strings (at
 * most twice). Throws `SyntaxError("Cannot parse ratings: <path>:<line>: …")`
 * for a malformed line or header, a `SyntaxError` naming the path when there
 * is no data row, `Deno.errors.NotFound("Cannot read ratings: <path> does not
 * exist")`, and a `SettingError` for bad `columns` ({@linkcode checkColumns}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readRatings } from "./read_ratings.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "movieId,userId,rating,timestamp\r\n10,1,4.5,100\r\n10,2,3,200\r\n");
 * const raw = await readRatings(path);
 * assert.ok(raw.length === 2 && raw.users[1] === 2 && raw.items[1] === 10 && raw.timestamps[1] === 200);
 * await Deno.remove(path);
 * ```
 */
export async function readRatings(
  path: string,
  options: ReadRatingsOptions = {},
): Promise<RatingsTable> {
  const columns = _optionColumns(options.columns);
  let strings = 0;
  for (;;) {
    const parser = new _RatingsParser(path, options, columns, strings);
    try {
      await readChunks(
        path,
        (bytes, final, fileSize) => parser.feed(bytes, final, fileSize),
        { what: "ratings", signal: options.signal },
      );
      return parser.finish();
    } catch (error) {
      if (!(error instanceof _Restart)) throw error;
      strings |= error.mask;
    }
  }
}

/**
 * Parses a whole ratings file held in memory, with the same rules and
 * messages as {@linkcode readRatings} (`path` only names it in messages).
 * A string column comes with its names: `users[r]` is then an index into
 * `userNames` (likewise `items` and `itemNames`), in order of first
 * appearance.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRatingsBytes } from "./read_ratings.ts";
 * const raw = parseRatingsBytes(new TextEncoder().encode("1::10::5::978300760\r\n"), "r.dat");
 * assert.ok(raw.length === 1 && raw.users[0] === 1 && raw.timestamps[0] === 978300760);
 * const named = parseRatingsBytes(new TextEncoder().encode("u1,7,1\nu2,7,2\nu1,8,3\n"), "r.csv");
 * assert.deepEqual([...named.users.subarray(0, 3)], [0, 1, 0]);
 * assert.deepEqual(named.userNames, ["u1", "u2"]);
 * ```
 */
export function parseRatingsBytes(
  bytes: Uint8Array,
  path: string,
  options: Omit<ReadRatingsOptions, "signal"> = {},
): RatingsTable {
  const columns = _optionColumns(options.columns);
  let strings = 0;
  for (;;) {
    const parser = new _RatingsParser(path, options, columns, strings);
    try {
      parser.feed(bytes, true, bytes.length);
      return parser.finish();
    } catch (error) {
      if (!(error instanceof _Restart)) throw error;
      strings |= error.mask;
    }
  }
}

const _NL = 10;
const _CR = 13;
const _SPACE = 32;
const _TAB = 9;
const _COMMA = 44;
const _COLON = 58;
const _MINUS = 45;
const _PLUS = 43;
const _DOT = 46;
const _QUOTE = 34;
const _DEL = 127;
/** Column kinds, as indexes of {@linkcode RATINGS_COLUMNS}. */
const _USER = 0;
const _ITEM = 1;
const _RATING = 2;
const _TIME = 3;
/** Bits of the string-column mask. */
const _USER_STRINGS = 1;
const _ITEM_STRINGS = 2;
const _KIND_NAMES = ["user id", "item id", "rating", "timestamp"];
const _DEFAULT_3 = Uint8Array.of(_USER, _ITEM, _TIME);
const _DEFAULT_4 = Uint8Array.of(_USER, _ITEM, _RATING, _TIME);
/** Decimal numbers with at most this many digits are converted exactly in the fast path. */
const _FAST_DIGITS = 15;
const _POW10 = Array.from({ length: _FAST_DIGITS + 1 }, (_, k) => 10 ** k);
const _INITIAL_CAPACITY = 1024;
const _DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)$/;
const _INTEGER = /^[+-]?\d+$/;
const _UTF8 = new TextDecoder();
const _ALIAS_KIND: ReadonlyMap<string, number> = new Map(
  RATINGS_COLUMNS.flatMap((name, kind) =>
    COLUMN_ALIASES[name].map((alias) => [alias.toLowerCase(), kind] as const)
  ),
);

/** Thrown inside the parser when a numeric id column turns out to hold strings. */
class _Restart {
  constructor(readonly mask: number) {}
}

/** The column kinds `columns` names (checked), or null when it is unset or empty. */
function _optionColumns(columns: readonly string[] | undefined): Uint8Array | null {
  if (columns === undefined || columns.length === 0) return null;
  checkColumns(columns);
  return Uint8Array.from(_resolveColumns(columns) as number[]);
}

/** Column kinds for names, or what is wrong with them. */
function _resolveColumns(names: readonly string[]): number[] | string {
  const kinds: number[] = [];
  const unknown: string[] = [];
  for (const name of names) {
    const kind = _ALIAS_KIND.get(name.trim().toLowerCase());
    if (kind === undefined) unknown.push(JSON.stringify(name.trim()));
    else kinds.push(kind);
  }
  if (unknown.length > 0) {
    return `${unknown.join(", ")} ${
      unknown.length === 1 ? "is not a column name" : "are not column names"
    }`;
  }
  for (let k = 0; k < kinds.length; k++) {
    if (kinds.indexOf(kinds[k]) !== k) {
      return `the ${RATINGS_COLUMNS[kinds[k]]} column is named twice`;
    }
  }
  for (const kind of [_USER, _ITEM, _TIME]) {
    if (!kinds.includes(kind)) {
      const why = kind === _TIME ? " (the timestamp decides which interaction is held out)" : "";
      return `no ${RATINGS_COLUMNS[kind]} column${why}`;
    }
  }
  return kinds;
}

function _expectedColumns(): string {
  const list = (name: RatingsColumn) => `${name} (${COLUMN_ALIASES[name].join("/")})`;
  return `${list("user")}, ${list("item")}, optionally ${list("rating")}, and ${
    list("timestamp")
  }, in any order`;
}

/** The incremental parser behind both entry points. */
class _RatingsParser {
  readonly path: string;
  readonly dense: boolean;
  /** The `columns` option's kinds, or null. */
  readonly columns: Uint8Array | null;
  /** Lines seen so far (the current line's number while parsing it). */
  line = 0;
  /** Separator byte (`_COLON` stands for `::`), 0 until the first data line. */
  sep = 0;
  /** Fields per row, 0 until the first data line. */
  fields = 0;
  /** Column kind of each field, once known (from `columns`, the header or the field count). */
  kinds: Uint8Array | null;
  /** Where the field count came from, for messages. */
  fieldsFrom = "";
  header = false;
  /** Line number of the first blank line since the last row, else 0. */
  blankLine = 0;
  length = 0;
  capacity = _INITIAL_CAPACITY;
  users: Float64Array = new Float64Array(_INITIAL_CAPACITY);
  items: Float64Array = new Float64Array(_INITIAL_CAPACITY);
  timestamps: Float64Array = new Float64Array(_INITIAL_CAPACITY);
  lineNumbers: Int32Array | null;
  /** Interners of string columns (null: the column is numeric). */
  userNames: RawIdInterner | null;
  itemNames: RawIdInterner | null;
  /** Bytes consumed before the current chunk, and the file's size. */
  bytesBefore = 0;
  linePos = 0;
  fileSize = 0;
  /** The value of the number (or the code of the string id) parsed last. */
  value = 0;

  constructor(
    path: string,
    options: Omit<ReadRatingsOptions, "signal">,
    columns: Uint8Array | null,
    strings: number,
  ) {
    this.path = path;
    this.dense = options.denseIds ?? false;
    this.lineNumbers = (options.lineNumbers ?? false) ? new Int32Array(_INITIAL_CAPACITY) : null;
    this.columns = columns;
    this.kinds = columns;
    if (columns !== null) this.fieldsFrom = `as the columns option names: ${this._kindList()}`;
    this.userNames = (strings & _USER_STRINGS) !== 0 ? new RawIdInterner() : null;
    this.itemNames = (strings & _ITEM_STRINGS) !== 0 ? new RawIdInterner() : null;
  }

  /** Parses the whole lines of `bytes`; returns how many bytes were consumed. */
  feed(bytes: Uint8Array, final: boolean, fileSize: number): number {
    this.fileSize = fileSize;
    const end = bytes.length;
    let pos = 0;
    if (this.bytesBefore === 0) {
      if (end < 3 && !final) return 0;
      if (end >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) pos = 3;
    }
    for (;;) {
      if (this.fields !== 0 && pos < end) {
        // Fast path: parse the row straight from the chunk, up to its line end.
        this.line++;
        this.linePos = pos;
        const after = this._row(bytes, pos, end, true);
        if (after >= 0) {
          pos = after;
          continue;
        }
        this.line--;
      }
      // Slow path: find the line's end (LF, CR LF, CR CR LF or a lone CR).
      const scanEnd = Math.min(end, pos + MAX_LINE_BYTES + 1);
      let lineEnd = pos;
      while (lineEnd < scanEnd && bytes[lineEnd] !== _NL && bytes[lineEnd] !== _CR) lineEnd++;
      if (lineEnd - pos > MAX_LINE_BYTES) {
        this._fail(this.line + 1, `line is longer than ${MAX_LINE_BYTES} bytes`);
      }
      let next: number;
      if (lineEnd === end) {
        if (!final || pos >= end) break;
        next = end;
      } else if (bytes[lineEnd] === _NL) {
        next = lineEnd + 1;
      } else {
        let q = lineEnd;
        while (q < end && bytes[q] === _CR) q++;
        if (q === end && !final) break; // a line feed may follow in the next chunk
        next = q < end && bytes[q] === _NL ? q + 1 : lineEnd + 1;
      }
      this.line++;
      this.linePos = pos;
      if (lineEnd === pos) {
        if (this.blankLine === 0) this.blankLine = this.line;
      } else if (this.sep === 0) {
        this._firstLines(bytes, pos, lineEnd);
      } else if (this._row(bytes, pos, lineEnd, false) < 0) {
        this._explain(bytes, pos, lineEnd);
      }
      pos = next;
    }
    const used = pos < end ? pos : end;
    this.bytesBefore += used;
    return used;
  }

  /** The rows read; throws when there was none. */
  finish(): RatingsTable {
    if (this.length === 0) {
      const state = this.bytesBefore === 0
        ? "the file is empty"
        : this.header
        ? "no data rows (only a header line)"
        : "no data rows";
      throw new SyntaxError(`Cannot parse ratings: ${this.path}: ${state}`);
    }
    const table: RatingsTable = {
      users: this.users,
      items: this.items,
      timestamps: this.timestamps,
      length: this.length,
    };
    if (this.userNames !== null) table.userNames = this.userNames.names;
    if (this.itemNames !== null) table.itemNames = this.itemNames.names;
    if (this.lineNumbers !== null) table.lineNumbers = this.lineNumbers;
    return table;
  }

  /** Handles a line before the format is known: a header or the first data line. */
  _firstLines(bytes: Uint8Array, start: number, end: number): void {
    this._checkText(bytes, start, end);
    if (_isBlank(bytes, start, end)) {
      if (this.blankLine === 0) this.blankLine = this.line;
      return;
    }
    const sep = _separator(bytes, start, end);
    if (this.line === 1 && !this.header) {
      const names = _split(_UTF8.decode(bytes.subarray(start, end)), sep);
      // A header has no number (and, without a separator, no digit: "1;2;3" is a data line).
      const isHeader = sep === 0
        ? !/\d/.test(names[0])
        : !names.some((name) => _DECIMAL.test(name));
      if (isHeader) {
        this.header = true;
        if (this.columns === null) this._readHeader(names);
        return;
      }
    }
    // The first data line fixes the separator (and, without a header or columns, the fields).
    if (sep === 0) {
      this._explain(bytes, start, end, sep);
      return;
    }
    let count = 1;
    for (let i = start; i < end; i++) {
      if (bytes[i] === sep) {
        if (sep !== _COLON) count++;
        else if (i + 1 < end && bytes[i + 1] === _COLON) (count++, i++);
      }
    }
    if (this.kinds === null) {
      if (count !== 3 && count !== 4) {
        this._explain(bytes, start, end, sep);
        return;
      }
      this.kinds = count === 3 ? _DEFAULT_3 : _DEFAULT_4;
      this.fieldsFrom = `as on line ${this.line}`;
    } else if (count !== this.kinds.length) {
      this._explain(bytes, start, end, sep);
      return;
    }
    this.sep = sep;
    this.fields = count;
    if (this._row(bytes, start, end, false) < 0) this._explain(bytes, start, end);
  }

  /** Takes the columns from a header's names, or throws naming what is wrong. */
  _readHeader(names: string[]): void {
    for (const name of names) {
      const n = name.length;
      if (n >= 2 && name.charCodeAt(0) === _QUOTE && name.charCodeAt(n - 1) === _QUOTE) {
        this._fail(
          this.line,
          `header name ${name} is quoted (quoted fields are not supported; save the file without quotes)`,
        );
      }
    }
    const kinds = _resolveColumns(names);
    if (typeof kinds === "string") {
      const taken = names.some((name) => _ALIAS_KIND.has(name.toLowerCase()))
        ? ""
        : ", taken for a header as none of its fields is a number";
      this._fail(
        this.line,
        `cannot read the header (columns ${
          names.join(", ")
        }${taken}): ${kinds} (expected ${_expectedColumns()}; or name the columns with the columns option)`,
      );
    }
    this.kinds = Uint8Array.from(kinds);
    this.fieldsFrom = `as the header on line ${this.line}`;
  }

  /**
   * The fast path: parses one data row and appends it. With `open`, `end` is
   * the chunk's end and the row must end with a line end; otherwise `end` is
   * the line's end. Returns the position after the row, or -1 when anything
   * is off (the caller then finds out what).
   */
  _row(bytes: Uint8Array, start: number, end: number, open: boolean): number {
    const kinds = this.kinds!;
    const fields = this.fields;
    let p = start;
    let user = 0;
    let item = 0;
    let time = 0;
    for (let f = 0; f < fields; f++) {
      if (f !== 0) {
        p = this._sep(bytes, p, end);
        if (p < 0) return -1;
      }
      const kind = kinds[f];
      if (kind === _USER) {
        p = this.userNames === null
          ? this._int(bytes, p, end)
          : this._string(bytes, p, end, open, this.userNames);
        user = this.value;
      } else if (kind === _ITEM) {
        p = this.itemNames === null
          ? this._int(bytes, p, end)
          : this._string(bytes, p, end, open, this.itemNames);
        item = this.value;
      } else {
        p = this._decimal(bytes, p, end);
        if (kind === _TIME) time = this.value;
      }
      if (p < 0) return -1;
    }
    let next = end;
    if (p === end) {
      if (open) return -1;
    } else {
      const c = bytes[p];
      if (c === _NL) next = p + 1;
      else if (c !== _CR) return -1;
      else {
        // CR LF, CR CR LF, or a lone CR; at the chunk's end the rest is not known yet.
        let q = p + 1;
        while (q < end && bytes[q] === _CR) q++;
        if (q === end) return -1;
        next = bytes[q] === _NL ? q + 1 : p + 1;
      }
    }
    if (
      this.dense &&
      !(user >= 0 && user <= MAX_DENSE_ID && item >= 0 && item <= MAX_DENSE_ID)
    ) {
      return -1;
    }
    if (this.blankLine !== 0) {
      this._fail(
        this.blankLine,
        "blank line before more data (only trailing blank lines are allowed)",
      );
    }
    const n = this.length;
    if (n === this.capacity) this._grow();
    this.users[n] = user;
    this.items[n] = item;
    this.timestamps[n] = time;
    if (this.lineNumbers !== null) this.lineNumbers[n] = this.line;
    this.length = n + 1;
    return next;
  }

  /** Parses an integer id field into `value`; returns the position after it, or -1. */
  _int(bytes: Uint8Array, start: number, end: number): number {
    let p = start;
    while (p < end && bytes[p] === _SPACE) p++;
    let negative = false;
    if (p < end) {
      const c = bytes[p];
      if (c === _MINUS) (negative = true, p++);
      else if (c === _PLUS) p++;
    }
    const first = p;
    let v = 0;
    while (p < end) {
      const d = bytes[p] - 48;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
      p++;
    }
    if (p === first || v > Number.MAX_SAFE_INTEGER) return -1;
    while (p < end && bytes[p] === _SPACE) p++;
    this.value = negative && v !== 0 ? -v : v;
    return p;
  }

  /**
   * Parses a string id field into `value` (its code); returns the position
   * after it, or -1 for an empty, quoted or invalid id, or one that may go on
   * past the chunk (`open`), so that only whole ids are interned.
   */
  _string(
    bytes: Uint8Array,
    start: number,
    end: number,
    open: boolean,
    names: RawIdInterner,
  ): number {
    let p = start;
    while (p < end && bytes[p] === _SPACE) p++;
    const first = p;
    const sep = this.sep;
    let ascii = true;
    while (p < end) {
      const c = bytes[p];
      if (c === sep) {
        if (sep !== _COLON || (p + 1 < end && bytes[p + 1] === _COLON)) break;
      } else if (c < 32 || c === _DEL) {
        if (c === _NL || c === _CR) break;
        return -1;
      } else if (c > _DEL) {
        ascii = false;
      }
      p++;
    }
    if (p === end && open) return -1;
    let last = p;
    while (last > first && bytes[last - 1] === _SPACE) last--;
    if (last === first || (bytes[first] === _QUOTE && bytes[last - 1] === _QUOTE)) return -1;
    const code = names.code(bytes, first, last, ascii);
    if (code < 0) return -1;
    this.value = code;
    return p;
  }

  /** Parses a decimal number field into `value`; returns the position after it, or -1. */
  _decimal(bytes: Uint8Array, start: number, end: number): number {
    let p = start;
    while (p < end && bytes[p] === _SPACE) p++;
    const first = p;
    let negative = false;
    if (p < end && (bytes[p] === _MINUS || bytes[p] === _PLUS)) {
      (negative = bytes[p] === _MINUS, p++);
    }
    let mantissa = 0;
    let digits = 0;
    let fraction = 0;
    while (p < end) {
      const d = bytes[p] - 48;
      if (d < 0 || d > 9) break;
      mantissa = mantissa * 10 + d;
      digits++;
      p++;
    }
    if (p < end && bytes[p] === _DOT) {
      p++;
      while (p < end) {
        const d = bytes[p] - 48;
        if (d < 0 || d > 9) break;
        mantissa = mantissa * 10 + d;
        digits++;
        fraction++;
        p++;
      }
    }
    if (digits === 0) return -1;
    let v: number;
    if (digits <= _FAST_DIGITS) {
      // Both operands are exact, so one division rounds correctly (= Number(text)).
      v = fraction === 0 ? mantissa : mantissa / _POW10[fraction];
      if (negative) v = -v;
    } else {
      v = Number(_latin1(bytes, first, p));
      if (!Number.isFinite(v)) return -1;
    }
    while (p < end && bytes[p] === _SPACE) p++;
    this.value = v;
    return p;
  }

  /** Skips one separator at `p`; returns the position after it, or -1. */
  _sep(bytes: Uint8Array, p: number, end: number): number {
    if (p >= end) return -1;
    const sep = this.sep;
    if (bytes[p] !== sep) return -1;
    if (sep !== _COLON) return p + 1;
    return p + 1 < end && bytes[p + 1] === _COLON ? p + 2 : -1;
  }

  _grow(): void {
    const consumed = this.bytesBefore + this.linePos;
    let capacity = Math.ceil(this.capacity * 1.5);
    if (consumed > 0 && this.fileSize > consumed) {
      // Size the arrays for the whole file from the bytes per row seen so far.
      const estimate = Math.ceil((this.fileSize / consumed) * this.length * 1.05) + 1024;
      if (estimate > capacity) capacity = estimate;
    }
    this.users = _resized(this.users, capacity, this.length);
    this.items = _resized(this.items, capacity, this.length);
    this.timestamps = _resized(this.timestamps, capacity, this.length);
    if (this.lineNumbers !== null) {
      const lines = new Int32Array(capacity);
      lines.set(this.lineNumbers.subarray(0, this.length));
      this.lineNumbers = lines;
    }
    this.capacity = capacity;
  }

  /** Throws for a control byte or invalid UTF-8 in `bytes[start, end)`. */
  _checkText(bytes: Uint8Array, start: number, end: number): void {
    let high = false;
    for (let i = start; i < end; i++) {
      const c = bytes[i];
      if ((c < 32 && c !== _TAB) || c === _DEL) this._fail(this.line, _binaryByte(c, i - start));
      if (c > _DEL) high = true;
    }
    if (!high) return;
    const bad = _invalidUtf8(bytes, start, end);
    if (bad >= 0) {
      const hex = bytes[bad].toString(16).toUpperCase().padStart(2, "0");
      this._fail(
        this.line,
        `byte 0x${hex} at column ${
          bad - start + 1
        } is not valid UTF-8 (not a text ratings file, or not saved as UTF-8?)`,
      );
    }
  }

  /**
   * The slow path for a line the fast path refused: finds what is wrong and
   * throws, records the line as blank when it holds only whitespace, or,
   * when an id column turns out to hold strings, starts the reading over.
   */
  _explain(bytes: Uint8Array, start: number, end: number, sep = this.sep): void {
    this._checkText(bytes, start, end);
    if (_isBlank(bytes, start, end)) {
      if (this.blankLine === 0) this.blankLine = this.line;
      return;
    }
    if (sep === 0) {
      const expected = this.kinds === null
        ? "3 or 4 fields (user, item[, rating], timestamp)"
        : `${this.kinds.length} fields (${this._kindList()})`;
      this._fail(
        this.line,
        `expected ${expected} separated by comma, tab or '::', found 1`,
      );
    }
    const parts = _split(_UTF8.decode(bytes.subarray(start, end)), sep);
    if (this.kinds === null) {
      if (parts.length !== 3 && parts.length !== 4) {
        this._fail(
          this.line,
          `expected 3 or 4 fields (user, item[, rating], timestamp), found ${parts.length}`,
        );
      }
    } else if (parts.length !== this.kinds.length) {
      this._fail(
        this.line,
        `expected ${this.kinds.length} fields (${this.fieldsFrom}), found ${parts.length}`,
      );
    }
    const kinds = this.kinds ?? (parts.length === 3 ? _DEFAULT_3 : _DEFAULT_4);
    let strings = 0;
    for (let f = 0; f < parts.length; f++) {
      const field = parts[f];
      const kind = kinds[f];
      const name = _KIND_NAMES[kind];
      if (field === "") this._fail(this.line, `empty ${name} field`);
      const n = field.length;
      if (n >= 2 && field.charCodeAt(0) === _QUOTE && field.charCodeAt(n - 1) === _QUOTE) {
        this._fail(
          this.line,
          `${name} ${
            _quote(field)
          } is quoted (quoted fields are not supported; save the file without quotes)`,
        );
      }
      if (kind === _USER || kind === _ITEM) {
        const names = kind === _USER ? this.userNames : this.itemNames;
        const integer = _INTEGER.test(field);
        const tooBig = integer && Math.abs(Number(field)) > Number.MAX_SAFE_INTEGER;
        if (this.dense) {
          if (!integer) this._fail(this.line, `${name} ${_quote(field)} is not an integer`);
          const value = Number(field);
          if (tooBig || value < 0 || value > MAX_DENSE_ID) {
            this._fail(this.line, `${name} ${field} is not a dense id in [0, ${MAX_DENSE_ID}]`);
          }
        } else {
          if (_hasControl(field)) {
            this._fail(this.line, `${name} ${_quote(field)} has a control character (a tab?)`);
          }
          if (names === null && (!integer || tooBig)) {
            strings |= kind === _USER ? _USER_STRINGS : _ITEM_STRINGS;
          }
        }
      } else {
        if (!_DECIMAL.test(field)) {
          this._fail(this.line, `${name} ${_quote(field)} is not a decimal number`);
        }
        if (!Number.isFinite(Number(field))) {
          this._fail(this.line, `${name} ${field} is out of range`);
        }
      }
    }
    if (strings !== 0) {
      throw new _Restart(
        strings | (this.userNames !== null ? _USER_STRINGS : 0) |
          (this.itemNames !== null ? _ITEM_STRINGS : 0),
      );
    }
    this._fail(this.line, "malformed line");
  }

  /** The known columns, for messages: "user, item, rating, timestamp". */
  _kindList(): string {
    return Array.from(this.kinds!, (kind) => RATINGS_COLUMNS[kind]).join(", ");
  }

  _fail(line: number, what: string): never {
    throw new SyntaxError(`Cannot parse ratings: ${this.path}:${line}: ${what}`);
  }
}

/** The separator of a line: `::` (as `_COLON`), else tab, else comma, else 0. */
function _separator(bytes: Uint8Array, start: number, end: number): number {
  let tab = false;
  let comma = false;
  for (let i = start; i < end; i++) {
    const c = bytes[i];
    if (c === _COLON && i + 1 < end && bytes[i + 1] === _COLON) return _COLON;
    if (c === _TAB) tab = true;
    else if (c === _COMMA) comma = true;
  }
  return tab ? _TAB : comma ? _COMMA : 0;
}

/** A line's fields with the spaces around them trimmed. */
function _split(text: string, sep: number): string[] {
  const parts = sep === 0 ? [text] : text.split(sep === _COLON ? "::" : String.fromCharCode(sep));
  return parts.map((part) => part.replace(/^ +| +$/g, ""));
}

/** Whether `text` has a control character (a tab included). */
function _hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 32 || c === _DEL) return true;
  }
  return false;
}

function _isBlank(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i] !== _SPACE && bytes[i] !== _TAB) return false;
  return true;
}

/** Offset of the first byte of `bytes[start, end)` that breaks UTF-8, or -1. */
function _invalidUtf8(bytes: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let more: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) (more = 1, min = 0x80);
    else if (b >= 0xe0 && b <= 0xef) (more = 2, min = 0x800);
    else if (b >= 0xf0 && b <= 0xf4) (more = 3, min = 0x10000);
    else return i;
    let cp = b & (0x3f >> more);
    for (let k = 1; k <= more; k++) {
      if (i + k >= end || (bytes[i + k] & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (bytes[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += more + 1;
  }
  return -1;
}

function _resized(array: Float64Array, capacity: number, length: number): Float64Array {
  const next = new Float64Array(capacity);
  next.set(array.subarray(0, length));
  return next;
}

function _latin1(bytes: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i += 4096) {
    s += String.fromCharCode(...bytes.subarray(i, Math.min(end, i + 4096)));
  }
  return s;
}

function _binaryByte(byte: number, offset: number): string {
  const hex = byte.toString(16).toUpperCase().padStart(2, "0");
  return `binary byte 0x${hex} at column ${offset + 1} (not a text ratings file?)`;
}

function _quote(field: string): string {
  return JSON.stringify(field.length > 40 ? `${field.slice(0, 40)}…` : field);
}
