/**
 * Training shards: Apache Arrow IPC **file** format with one of two fixed
 * schemas (every column not nullable), readable by any Arrow implementation:
 * - `pairs`: `user_id: int32, item_id: int32, label: int8`;
 * - `triples`: `user_id: int32, item_id: int32, neg_item_id: int32`.
 *
 * Shards are written by a small purpose-built encoder (the schemas are
 * fixed, so the file is a few hundred bytes of flatbuffer metadata around
 * the three column buffers, copied once) and read with apache-arrow.
 *
 * File layout (Arrow columnar format, IPC file format, metadata V5):
 * `ARROW1\0\0`, the schema message, one record batch message (metadata,
 * then the body: the three columns in schema order, each padded to 8
 * bytes), the end-of-stream marker, the footer (schema and the record
 * batch's block), its length, `ARROW1`.
 *
 * @module
 */

import { DataType, tableFromIPC } from "apache-arrow";
import type { ShardSchema } from "../flags/specs.ts";
import type { ExampleColumns } from "./epoch_kernels.ts";

/** One column of a shard: its name and its signed integer width in bits. */
export interface ShardColumn {
  name: string;
  bitWidth: 8 | 32;
}

/** The columns (names and types, in order) of each shard schema. */
export const SHARD_COLUMNS: { readonly [S in ShardSchema]: readonly ShardColumn[] } = {
  pairs: [
    { name: "user_id", bitWidth: 32 },
    { name: "item_id", bitWidth: 32 },
    { name: "label", bitWidth: 8 },
  ],
  triples: [
    { name: "user_id", bitWidth: 32 },
    { name: "item_id", bitWidth: 32 },
    { name: "neg_item_id", bitWidth: 32 },
  ],
};

const _MAGIC = [0x41, 0x52, 0x52, 0x4f, 0x57, 0x31]; // "ARROW1"
const _METADATA_V5 = 4;
const _HEADER_SCHEMA = 1;
const _HEADER_RECORD_BATCH = 3;
const _TYPE_INT = 2;
const _MAX_ROWS = 2 ** 31 - 1;

/** Rows rounded up to a multiple of 8 bytes. */
function _pad8(bytes: number): number {
  return Math.ceil(bytes / 8) * 8;
}

/** The body of `rows` rows: the three columns, each padded to 8. */
function _bodyLength(rows: number, schema: ShardSchema): number {
  return SHARD_COLUMNS[schema].reduce((sum, c) => sum + _pad8(rows * c.bitWidth / 8), 0);
}

/** The schema whose columns `columns` holds. */
function _schemaOf(columns: ExampleColumns): ShardSchema {
  return columns.labels === undefined ? "triples" : "pairs";
}

/** A scalar table field of 1, 2, 4 or 8 bytes, or (`offset`) a 4-byte offset patched later. */
type _Field = { size: 1 | 2 | 4 | 8; value?: number } | "offset";

/**
 * Writes flatbuffers front to back at absolute positions of one byte array:
 * a parent is written first with placeholder offsets, patched once its
 * children are placed (always at higher addresses, as flatbuffer offsets
 * require). Every flatbuffer starts 8-aligned, so absolute alignment is
 * alignment within the flatbuffer.
 */
class _FlatWriter {
  readonly view: DataView;
  pos: number;

  constructor(bytes: Uint8Array, pos: number) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = pos;
  }

  /** Zero-pads until `pos % n === shift`. */
  align(n: number, shift = 0): void {
    while (this.pos % n !== shift) this.view.setUint8(this.pos++, 0);
  }

  int64(at: number, value: number): void {
    // Little-endian; every value here is in [0, 2^53).
    this.view.setUint32(at, value % 4294967296, true);
    this.view.setUint32(at + 4, Math.floor(value / 4294967296), true);
  }

  /** Points the offset at `at` to `target` (which must come later). */
  patch(at: number, target: number): void {
    this.view.setUint32(at, target - at, true);
  }

  /**
   * Writes a table with one entry per slot (`null`: absent) and returns
   * its start and each slot's position. Layout: the vtable, then the
   * 8-aligned table: its vtable offset, then the 8-, 4-, 2- and 1-byte
   * fields, zero-padded to 8 bytes.
   */
  table(fields: (_Field | null)[]): { start: number; at: number[] } {
    const v = this.view;
    this.align(2);
    const vtable = this.pos;
    const vtableSize = 4 + 2 * fields.length;
    this.pos += vtableSize;
    this.align(8);
    const start = this.pos;
    const sizeOf = (f: _Field | null) => f === null ? 0 : f === "offset" ? 4 : f.size;
    const at: number[] = fields.map(() => 0);
    let offset = fields.some((f) => sizeOf(f) === 8) ? 8 : 4;
    for (const size of [8, 4, 2, 1]) {
      fields.forEach((f, slot) => {
        if (sizeOf(f) !== size) return;
        at[slot] = start + offset;
        offset += size;
      });
    }
    const tableSize = _pad8(offset);
    for (let p = start; p < start + tableSize; p++) v.setUint8(p, 0);
    v.setInt32(start, start - vtable, true);
    v.setUint16(vtable, vtableSize, true);
    v.setUint16(vtable + 2, tableSize, true);
    fields.forEach((f, slot) => {
      v.setUint16(vtable + 4 + 2 * slot, f === null ? 0 : at[slot] - start, true);
      if (f === null || f === "offset") return;
      const value = f.value ?? 0;
      if (f.size === 8) this.int64(at[slot], value);
      else if (f.size === 4) v.setInt32(at[slot], value, true);
      else if (f.size === 2) v.setInt16(at[slot], value, true);
      else v.setUint8(at[slot], value);
    });
    this.pos = start + tableSize;
    return { start, at };
  }

  /** A vector of `count` offsets; returns its start and each element's position. */
  offsets(count: number): { start: number; at: number[] } {
    this.align(4);
    const start = this.pos;
    this.view.setUint32(start, count, true);
    this.pos += 4 + 4 * count;
    return { start, at: Array.from({ length: count }, (_, i) => start + 4 + 4 * i) };
  }

  /**
   * A vector of structs of 8-byte words (int64; the word at `int32At`, if
   * any, is an int32 and 4 padding bytes), elements 8-aligned.
   */
  structs(rows: number[][], int32At = -1): number {
    this.align(8, 4);
    const start = this.pos;
    this.view.setUint32(start, rows.length, true);
    this.pos += 4;
    for (const row of rows) {
      row.forEach((value, w) => {
        if (w === int32At) {
          this.view.setInt32(this.pos, value, true);
          this.view.setInt32(this.pos + 4, 0, true);
        } else {
          this.int64(this.pos, value);
        }
        this.pos += 8;
      });
    }
    return start;
  }

  /** An ASCII string. */
  string(text: string): number {
    this.align(4);
    const start = this.pos;
    this.view.setUint32(start, text.length, true);
    for (let i = 0; i < text.length; i++) this.view.setUint8(start + 4 + i, text.charCodeAt(i));
    this.view.setUint8(start + 4 + text.length, 0);
    this.pos = start + 5 + text.length;
    return start;
  }

  /** The shard schema `columns` as a `Schema` table; returns its start. */
  schema(columns: readonly ShardColumn[]): number {
    // endianness (little), fields
    const schema = this.table([{ size: 2, value: 0 }, "offset"]);
    const fields = this.offsets(columns.length);
    this.patch(schema.at[1], fields.start);
    columns.forEach((column, i) => {
      // name, nullable, type_type, type, dictionary, children
      const field = this.table([
        "offset",
        { size: 1, value: 0 },
        { size: 1, value: _TYPE_INT },
        "offset",
        null,
        "offset",
      ]);
      this.patch(fields.at[i], field.start);
      this.patch(field.at[0], this.string(column.name));
      // bitWidth, is_signed
      const int = this.table([{ size: 4, value: column.bitWidth }, { size: 1, value: 1 }]);
      this.patch(field.at[3], int.start);
      this.patch(field.at[5], this.offsets(0).start);
    });
    return schema.start;
  }
}

/**
 * Writes an encapsulated message at `w.pos`: continuation marker, metadata
 * length, then the `Message` flatbuffer (its header made by `header`),
 * zero-padded to 8 bytes. Returns the end of the metadata (where a body
 * starts).
 */
function _message(
  w: _FlatWriter,
  options: { headerType: number; bodyLength: number; header: (w: _FlatWriter) => number },
): number {
  const start = w.pos;
  w.view.setInt32(start, -1, true);
  const root = start + 8;
  w.pos = root + 4;
  // version, header_type, header, bodyLength
  const message = w.table([
    { size: 2, value: _METADATA_V5 },
    { size: 1, value: options.headerType },
    "offset",
    { size: 8, value: options.bodyLength },
  ]);
  w.patch(root, message.start);
  w.patch(message.at[2], options.header(w));
  w.align(8);
  w.view.setInt32(start + 4, w.pos - root, true);
  return w.pos;
}

/**
 * Writes all of a shard of `rows` rows but the columns' bytes; returns where
 * those go (each column's start, in schema order) and the file's end.
 */
function _frame(out: Uint8Array, rows: number, schema: ShardSchema) {
  const columns = SHARD_COLUMNS[schema];
  const w = new _FlatWriter(out, 0);
  _MAGIC.forEach((b, i) => w.view.setUint8(i, b));
  w.view.setUint16(6, 0, true);
  w.pos = 8;
  _message(w, { headerType: _HEADER_SCHEMA, bodyLength: 0, header: (w) => w.schema(columns) });
  const batchStart = w.pos;
  // Each column's offset in the body and its data length.
  const offsets: number[] = [];
  const lengths: number[] = [];
  let bodyLength = 0;
  for (const column of columns) {
    offsets.push(bodyLength);
    lengths.push(rows * column.bitWidth / 8);
    bodyLength += _pad8(rows * column.bitWidth / 8);
  }
  const bodyStart = _message(w, {
    headerType: _HEADER_RECORD_BATCH,
    bodyLength,
    header: (w) => {
      // length, nodes, buffers
      const batch = w.table([{ size: 8, value: rows }, "offset", "offset"]);
      // (length, null_count) per column
      w.patch(batch.at[1], w.structs(columns.map(() => [rows, 0])));
      // (offset, length) of each column's validity (none) and data buffers
      w.patch(
        batch.at[2],
        w.structs(offsets.flatMap((offset, i) => [[offset, 0], [offset, lengths[i]]])),
      );
      return batch.start;
    },
  });
  w.pos = bodyStart + bodyLength;
  // End-of-stream marker for sequential readers.
  w.view.setInt32(w.pos, -1, true);
  w.view.setInt32(w.pos + 4, 0, true);
  w.pos += 8;
  const footer = w.pos;
  w.pos = footer + 4;
  // version, schema, dictionaries, recordBatches
  const table = w.table([{ size: 2, value: _METADATA_V5 }, "offset", "offset", "offset"]);
  w.patch(footer, table.start);
  w.patch(table.at[1], w.schema(columns));
  w.patch(table.at[2], w.structs([]));
  // Block: offset, metaDataLength (int32), bodyLength
  w.patch(table.at[3], w.structs([[batchStart, bodyStart - batchStart, bodyLength]], 1));
  w.align(8);
  w.view.setInt32(w.pos, w.pos - footer, true);
  _MAGIC.forEach((b, i) => w.view.setUint8(w.pos + 4 + i, b));
  return { columns: offsets.map((offset) => bodyStart + offset), end: w.pos + 10 };
}

/** Bytes of a shard besides its body: the same for every row count. */
const _FRAME_BYTES: { readonly [S in ShardSchema]: number } = {
  pairs: _frame(new Uint8Array(4096), 1, "pairs").end - _bodyLength(1, "pairs"),
  triples: _frame(new Uint8Array(4096), 1, "triples").end - _bodyLength(1, "triples"),
};

/**
 * The size in bytes of a shard of `rows` rows of `schema` (default pairs).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeShard, shardByteLength } from "./shards.ts";
 * const columns = { users: new Int32Array(5), items: new Int32Array(5), labels: new Int8Array(5) };
 * assert.ok(encodeShard(columns, 0, 5).length === shardByteLength(5));
 * const triples = { users: new Int32Array(5), items: new Int32Array(5), negItems: new Int32Array(5) };
 * assert.ok(encodeShard(triples, 0, 5).length === shardByteLength(5, "triples"));
 * ```
 */
export function shardByteLength(rows: number, schema: ShardSchema = "pairs"): number {
  return _FRAME_BYTES[schema] + _bodyLength(rows, schema);
}

/**
 * Encodes examples `[start, end)` of `columns` as an Arrow IPC file into
 * `out` (at least {@linkcode shardByteLength} bytes) and returns the
 * file's bytes, a view of `out`. Every byte of the file is written. The
 * schema is the columns': pairs (with `labels`) or triples (with
 * `negItems`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeShard, encodeShardInto, shardByteLength } from "./shards.ts";
 * const columns = { users: Int32Array.of(1, 2), items: Int32Array.of(3, 4), labels: Int8Array.of(1, 0) };
 * const out = new Uint8Array(shardByteLength(2));
 * const bytes = encodeShardInto(out, columns, { start: 1, end: 2 });
 * assert.ok(decodeShard(bytes, "s.arrow").items.join() === "4");
 * ```
 */
export function encodeShardInto(
  out: Uint8Array,
  columns: ExampleColumns,
  options: { start: number; end: number },
): Uint8Array {
  const { start, end } = options;
  const rows = end - start;
  if (!Number.isInteger(rows) || rows < 0 || rows > _MAX_ROWS || start < 0) {
    throw new RangeError(`Cannot encode rows [${start}, ${end}) as a shard: not a valid range`);
  }
  const schema = _schemaOf(columns);
  const size = shardByteLength(rows, schema);
  if (out.length < size) {
    throw new RangeError(`Cannot encode ${rows} rows into ${out.length} bytes: need ${size}`);
  }
  const file = out.subarray(0, size);
  const at = _frame(file, rows, schema);
  const data = [columns.users, columns.items, columns.labels ?? columns.negItems];
  data.forEach((column, c) => {
    const width = column.BYTES_PER_ELEMENT;
    const bytes = new Uint8Array(column.buffer, column.byteOffset + start * width, rows * width);
    file.set(bytes, at.columns[c]);
    file.fill(0, at.columns[c] + rows * width, at.columns[c] + _pad8(rows * width));
  });
  return file;
}

/**
 * Encodes examples `[start, end)` of `columns` as an Arrow IPC file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeShard, encodeShard } from "./shards.ts";
 * const columns = { users: Int32Array.of(1, 2), items: Int32Array.of(3, 4), labels: Int8Array.of(1, 0) };
 * const bytes = encodeShard(columns, 0, 2);
 * assert.ok(decodeShard(bytes, "s.arrow").items[1] === 4);
 * ```
 */
export function encodeShard(columns: ExampleColumns, start: number, end: number): Uint8Array {
  const rows = Math.max(0, end - start);
  return encodeShardInto(new Uint8Array(shardByteLength(rows, _schemaOf(columns))), columns, {
    start,
    end,
  });
}

/** `schema` with its column names, for messages. */
function _describe(schema: ShardSchema): string {
  return `${schema} (${SHARD_COLUMNS[schema].map((c) => c.name).join(", ")})`;
}

/**
 * Decodes and checks a shard: pairs or triples, whichever its schema is; with
 * `options.schema`, only that one. A truncated or corrupted file, or one
 * whose schema is neither shard schema (or not the one expected), throws a
 * `SyntaxError` naming `name`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeShard, encodeShard } from "./shards.ts";
 * const triples = { users: Int32Array.of(1), items: Int32Array.of(2), negItems: Int32Array.of(3) };
 * const bytes = encodeShard(triples, 0, 1);
 * assert.ok(decodeShard(bytes, "s.arrow").negItems?.[0] === 3);
 * assert.throws(() => decodeShard(bytes, "s.arrow", { schema: "pairs" }), /holds triples/);
 * ```
 */
export function decodeShard(
  bytes: Uint8Array,
  name: string,
  options: { schema?: ShardSchema | undefined } = {},
): ExampleColumns {
  const n = bytes.length;
  const framed = n >= 20 && _MAGIC.every((b, i) => bytes[i] === b && bytes[n - 6 + i] === b);
  if (!framed) {
    throw new SyntaxError(
      `Cannot read shard ${name}: not an Arrow IPC file (no ARROW1 magic at both ends; truncated?)`,
    );
  }
  let table;
  try {
    table = tableFromIPC(bytes);
  } catch (e) {
    throw new SyntaxError(
      `Cannot read shard ${name}: not an Arrow IPC file (${(e as Error).message})`,
    );
  }
  const fields = table.schema.fields;
  const matches = (schema: ShardSchema) => {
    const expected = SHARD_COLUMNS[schema];
    return fields.length === expected.length &&
      fields.every((f, i) =>
        f.name === expected[i].name &&
        DataType.isInt(f.type) && f.type.isSigned && f.type.bitWidth === expected[i].bitWidth
      );
  };
  const schema = matches("pairs") ? "pairs" : matches("triples") ? "triples" : undefined;
  if (schema === undefined) {
    const found = fields.map((f) => `${f.name}: ${f.type}`).join(", ");
    throw new SyntaxError(
      `Cannot read shard ${name}: unexpected schema (${found}); expected ${_describe("pairs")} or ${
        _describe("triples")
      }`,
    );
  }
  if (options.schema !== undefined && schema !== options.schema) {
    throw new SyntaxError(
      `Cannot read shard ${name}: it holds ${_describe(schema)}, but the run expects ${
        _describe(options.schema)
      }`,
    );
  }
  const column = <T>(i: number) => table.getChildAt(i)!.toArray() as T;
  const users = column<Int32Array>(0);
  const items = column<Int32Array>(1);
  const columns: ExampleColumns = schema === "pairs"
    ? { users, items, labels: column<Int8Array>(2) }
    : { users, items, negItems: column<Int32Array>(2) };
  const third = columns.labels ?? columns.negItems;
  if (
    users.length !== table.numRows || items.length !== table.numRows ||
    third.length !== table.numRows
  ) {
    throw new SyntaxError(`Cannot read shard ${name}: columns of unequal length`);
  }
  return columns;
}
