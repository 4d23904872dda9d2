/**
 * The ratings-file reader: a streaming, byte-level parser of
 * `user,item[,rating],timestamp` rows (comma, tab or `::` separated, optional
 * header line), shared by the MovieLens, `csv` and `ncf` data sets.
 *
 * Format rules:
 * - The separator (`::`, else tab, else comma) and the field count (3 or 4)
 *   are fixed by the first data line.
 * - Only the first line may be a header: it is one when its first field does
 *   not start like a number (a digit, `-`, `+` or `.`).
 * - user and item are integers (optional leading `-`) with |id| ≤ 2^53 − 1;
 *   rating (validated, then discarded) and timestamp are decimal numbers
 *   (`12`, `-3`, `4.5`, `.5`; no exponent). Spaces around a field are allowed.
 * - `\r\n` line ends, a UTF-8 byte-order mark, a last line without newline and
 *   trailing blank lines are tolerated; a blank line followed by more data is
 *   an error, as is any control or non-ASCII byte in a data line.
 *
 * @module
 */

import { readChunks } from "./read_chunks.ts";
import type { RawInteractions } from "./types.ts";

/** Largest id allowed when `denseIds` is set (so that `id + 1` fits an Int32). */
export const MAX_DENSE_ID = 2147483646;

/** Longest line accepted (a longer one is junk, not a ratings row). */
export const MAX_LINE_BYTES = 65536;

/** Options of {@linkcode readRatings}. */
export interface ReadRatingsOptions {
  /** Aborts between chunks. */
  signal?: AbortSignal;
  /**
   * Require ids in [0, {@linkcode MAX_DENSE_ID}] (already dense files such as
   * the NCF split); default false.
   */
  denseIds?: boolean;
  /** Also return each row's 1-based line number (`lineNumbers`); default false. */
  lineNumbers?: boolean;
}

/** Rows read by {@linkcode readRatings}: raw interactions plus optional line numbers. */
export interface RatingsTable extends RawInteractions {
  /** 1-based line number of each row, when `lineNumbers` was requested. */
  lineNumbers?: Int32Array;
}

/**
 * Reads a ratings file, streaming it in ~1 MiB chunks (memory: the rows plus
 * one chunk). Throws `SyntaxError("Cannot parse ratings: <path>:<line>: …")`
 * for a malformed line, a `SyntaxError` naming the path when there is no data
 * row, and `Deno.errors.NotFound("Cannot read ratings: <path> does not exist")`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readRatings } from "./read_ratings.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "userId,movieId,rating,timestamp\n1,10,4.5,100\n2,10,3,200\n");
 * const raw = await readRatings(path);
 * assert.ok(raw.length === 2 && raw.items[1] === 10 && raw.timestamps[1] === 200);
 * await Deno.remove(path);
 * ```
 */
export async function readRatings(
  path: string,
  options: ReadRatingsOptions = {},
): Promise<RatingsTable> {
  const parser = new _RatingsParser(path, options);
  await readChunks(
    path,
    (bytes, final, fileSize) => parser.feed(bytes, final, fileSize),
    { what: "ratings", signal: options.signal },
  );
  return parser.finish();
}

/**
 * Parses a whole ratings file held in memory, with the same rules and
 * messages as {@linkcode readRatings} (`path` only names it in messages).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRatingsBytes } from "./read_ratings.ts";
 * const raw = parseRatingsBytes(new TextEncoder().encode("1::10::5::978300760\r\n"), "r.dat");
 * assert.ok(raw.length === 1 && raw.users[0] === 1 && raw.timestamps[0] === 978300760);
 * ```
 */
export function parseRatingsBytes(
  bytes: Uint8Array,
  path: string,
  options: Omit<ReadRatingsOptions, "signal"> = {},
): RatingsTable {
  const parser = new _RatingsParser(path, options);
  parser.feed(bytes, true, bytes.length);
  return parser.finish();
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
/** Decimal numbers with at most this many digits are converted exactly in the fast path. */
const _FAST_DIGITS = 15;
const _POW10 = Array.from({ length: _FAST_DIGITS + 1 }, (_, k) => 10 ** k);
const _NAMES_3 = ["user id", "item id", "timestamp"];
const _NAMES_4 = ["user id", "item id", "rating", "timestamp"];
const _INITIAL_CAPACITY = 1024;

/** The incremental parser behind both entry points. */
class _RatingsParser {
  readonly path: string;
  readonly dense: boolean;
  /** Lines seen so far (the current line's number while parsing it). */
  line = 0;
  /** Separator byte (`_COLON` stands for `::`), 0 until the first data line. */
  sep = 0;
  /** Fields per row (3 or 4), 0 until the first data line. */
  fields = 0;
  firstDataLine = 0;
  header = false;
  /** Line number of the first blank line since the last row, else 0. */
  blankLine = 0;
  length = 0;
  capacity = _INITIAL_CAPACITY;
  users: Float64Array = new Float64Array(_INITIAL_CAPACITY);
  items: Float64Array = new Float64Array(_INITIAL_CAPACITY);
  timestamps: Float64Array = new Float64Array(_INITIAL_CAPACITY);
  lineNumbers: Int32Array | null;
  /** Bytes consumed before the current chunk, and the file's size. */
  bytesBefore = 0;
  linePos = 0;
  fileSize = 0;
  /** The value of the number parsed last. */
  value = 0;

  constructor(path: string, options: Omit<ReadRatingsOptions, "signal">) {
    this.path = path;
    this.dense = options.denseIds ?? false;
    this.lineNumbers = (options.lineNumbers ?? false) ? new Int32Array(_INITIAL_CAPACITY) : null;
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
        // Fast path: parse the row straight from the chunk, up to its newline.
        this.line++;
        this.linePos = pos;
        const after = this._row(bytes, pos, end, true);
        if (after >= 0) {
          pos = after;
          continue;
        }
        this.line--;
      }
      let next = bytes.indexOf(_NL, pos);
      if (next < 0) {
        if (end - pos > MAX_LINE_BYTES) {
          this.line++;
          this._fail(this.line, `line is longer than ${MAX_LINE_BYTES} bytes`);
        }
        if (!final || pos >= end) break;
        next = end;
      }
      this.line++;
      let lineEnd = next;
      if (lineEnd > pos && bytes[lineEnd - 1] === _CR) lineEnd--;
      if (lineEnd - pos > MAX_LINE_BYTES) {
        this._fail(this.line, `line is longer than ${MAX_LINE_BYTES} bytes`);
      }
      this.linePos = pos;
      if (lineEnd === pos) {
        if (this.blankLine === 0) this.blankLine = this.line;
      } else if (this.sep === 0) {
        this._firstLines(bytes, pos, lineEnd);
      } else if (this._row(bytes, pos, lineEnd, false) < 0) {
        this._explain(bytes, pos, lineEnd);
      }
      pos = next + 1;
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
    if (this.lineNumbers !== null) table.lineNumbers = this.lineNumbers;
    return table;
  }

  /** Handles a line before the format is known: a header or the first data line. */
  _firstLines(bytes: Uint8Array, start: number, end: number): void {
    let p = start;
    while (p < end && bytes[p] === _SPACE) p++;
    const b = p < end ? bytes[p] : _SPACE;
    const numeric = (b >= 48 && b <= 57) || b === _MINUS || b === _PLUS || b === _DOT;
    if (this.line === 1 && !numeric && b !== _TAB && b !== _SPACE) {
      for (let i = start; i < end; i++) {
        const c = bytes[i];
        if (c < 32 && c !== _TAB) this._fail(this.line, _binaryByte(c, i - start));
      }
      this.header = true;
      return;
    }
    // The first data line fixes the separator and the field count.
    let sep = 0;
    let tab = false;
    let comma = false;
    for (let i = start; i < end; i++) {
      const c = bytes[i];
      if (c === _COLON && i + 1 < end && bytes[i + 1] === _COLON) {
        sep = _COLON;
        break;
      }
      if (c === _TAB) tab = true;
      else if (c === _COMMA) comma = true;
    }
    if (sep === 0) sep = tab ? _TAB : comma ? _COMMA : 0;
    if (sep === 0) {
      this._explain(bytes, start, end);
      return; // whitespace only: a blank line
    }
    let count = 1;
    for (let i = start; i < end; i++) {
      if (bytes[i] === sep) {
        if (sep !== _COLON) count++;
        else if (i + 1 < end && bytes[i + 1] === _COLON) (count++, i++);
      }
    }
    if (count !== 3 && count !== 4) {
      this._explain(bytes, start, end, sep);
      return;
    }
    this.sep = sep;
    this.fields = count;
    this.firstDataLine = this.line;
    if (this._row(bytes, start, end, false) < 0) {
      this._explain(bytes, start, end);
      if (this.length === 0) (this.sep = 0, this.fields = 0); // it was blank after all
    }
  }

  /**
   * The fast path: parses one data row and appends it. With `open`, `end` is
   * the chunk's end and the row must end with a newline; otherwise `end` is
   * the line's end. Returns the position after the row, or -1 when anything
   * is off (the caller then finds out what).
   */
  _row(bytes: Uint8Array, start: number, end: number, open: boolean): number {
    let p = this._int(bytes, start, end);
    if (p < 0) return -1;
    const user = this.value;
    p = this._sep(bytes, p, end);
    if (p < 0) return -1;
    p = this._int(bytes, p, end);
    if (p < 0) return -1;
    const item = this.value;
    p = this._sep(bytes, p, end);
    if (p < 0) return -1;
    if (this.fields === 4) {
      p = this._decimal(bytes, p, end);
      if (p < 0) return -1;
      p = this._sep(bytes, p, end);
      if (p < 0) return -1;
    }
    p = this._decimal(bytes, p, end);
    if (p < 0) return -1;
    let next = end;
    if (p === end) {
      if (open) return -1;
    } else {
      const c = bytes[p];
      if (c === _NL) next = p + 1;
      else if (c === _CR && p + 1 < end && bytes[p + 1] === _NL) next = p + 2;
      else return -1;
    }
    if (this.dense && !(user >= 0 && user <= MAX_DENSE_ID && item >= 0 && item <= MAX_DENSE_ID)) {
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
    this.timestamps[n] = this.value;
    if (this.lineNumbers !== null) this.lineNumbers[n] = this.line;
    this.length = n + 1;
    return next;
  }

  /** Parses an integer id field into `value`; returns the position after it, or -1. */
  _int(bytes: Uint8Array, start: number, end: number): number {
    let p = start;
    while (p < end && bytes[p] === _SPACE) p++;
    let negative = false;
    if (p < end && bytes[p] === _MINUS) (negative = true, p++);
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

  /**
   * The slow path for a line the fast path refused: finds what is wrong and
   * throws, or records the line as blank when it holds only whitespace.
   */
  _explain(bytes: Uint8Array, start: number, end: number, sep = this.sep): void {
    let blank = true;
    for (let i = start; i < end; i++) {
      const c = bytes[i];
      if (c !== _SPACE && c !== _TAB) blank = false;
      if (c < 32 && c !== _TAB || c > 126) this._fail(this.line, _binaryByte(c, i - start));
    }
    if (blank) {
      if (this.blankLine === 0) this.blankLine = this.line;
      return;
    }
    const text = _latin1(bytes, start, end);
    if (sep === 0) {
      this._fail(
        this.line,
        "expected 3 or 4 fields (user, item[, rating], timestamp) separated by comma, tab or '::', found 1",
      );
    }
    const parts = text.split(sep === _COLON ? "::" : String.fromCharCode(sep));
    if (this.fields === 0) {
      if (parts.length !== 3 && parts.length !== 4) {
        this._fail(
          this.line,
          `expected 3 or 4 fields (user, item[, rating], timestamp), found ${parts.length}`,
        );
      }
    } else if (parts.length !== this.fields) {
      this._fail(
        this.line,
        `expected ${this.fields} fields (as on line ${this.firstDataLine}), found ${parts.length}`,
      );
    }
    const names = parts.length === 4 ? _NAMES_4 : _NAMES_3;
    for (let f = 0; f < parts.length; f++) {
      const field = parts[f].replace(/^ +| +$/g, "");
      const name = names[f];
      if (field === "") this._fail(this.line, `empty ${name} field`);
      if (f < 2) {
        if (!/^-?\d+$/.test(field)) {
          this._fail(this.line, `${name} ${_quote(field)} is not an integer`);
        }
        const value = Number(field);
        if (Math.abs(value) > Number.MAX_SAFE_INTEGER) {
          this._fail(this.line, `${name} ${field} is beyond 2^53 - 1`);
        }
        if (this.dense && (value < 0 || value > MAX_DENSE_ID)) {
          this._fail(this.line, `${name} ${field} is not a dense id in [0, ${MAX_DENSE_ID}]`);
        }
      } else {
        if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(field)) {
          this._fail(this.line, `${name} ${_quote(field)} is not a decimal number`);
        }
        if (!Number.isFinite(Number(field))) {
          this._fail(this.line, `${name} ${field} is out of range`);
        }
      }
    }
    this._fail(this.line, "malformed line");
  }

  _fail(line: number, what: string): never {
    throw new SyntaxError(`Cannot parse ratings: ${this.path}:${line}: ${what}`);
  }
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
