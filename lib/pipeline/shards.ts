/**
 * Training shards: Apache Arrow IPC **file** format with the fixed schema
 * `user_id: int32, item_id: int32, label: int8`, readable by any Arrow
 * implementation.
 *
 * @module
 */

import { DataType, makeTable, tableFromIPC, tableToIPC } from "apache-arrow";
import type { ExampleColumns } from "./epoch_kernels.ts";

/** The column names and types of every shard. */
export const SHARD_SCHEMA = [
  { name: "user_id", type: "Int32" },
  { name: "item_id", type: "Int32" },
  { name: "label", type: "Int8" },
] as const;

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
  const table = makeTable({
    user_id: _copy(columns.users, start, end),
    item_id: _copy(columns.items, start, end),
    label: _copy(columns.labels, start, end),
  });
  return tableToIPC(table, "file");
}

function _copy<T extends Int32Array | Int8Array>(a: T, start: number, end: number): T {
  // Arrow keeps a reference; copy out of the (shared, reused) epoch buffers.
  return a.slice(start, end) as T;
}

/**
 * Decodes and checks a shard. A truncated or corrupted file, or one whose
 * schema is not the shard schema, throws a `SyntaxError` naming `name`.
 */
export function decodeShard(bytes: Uint8Array, name: string): ExampleColumns {
  let table;
  try {
    table = tableFromIPC(bytes);
  } catch (e) {
    throw new SyntaxError(
      `Cannot read shard ${name}: not an Arrow IPC file (${(e as Error).message})`,
    );
  }
  const fields = table.schema.fields;
  const ok = fields.length === SHARD_SCHEMA.length &&
    fields.every((f, i) =>
      f.name === SHARD_SCHEMA[i].name &&
      DataType.isInt(f.type) && f.type.isSigned && f.type.bitWidth === (i < 2 ? 32 : 8)
    );
  if (!ok) {
    const found = fields.map((f) => `${f.name}: ${f.type}`).join(", ");
    throw new SyntaxError(`Cannot read shard ${name}: unexpected schema (${found})`);
  }
  const column = <T>(i: number) => table.getChildAt(i)!.toArray() as T;
  const columns = {
    users: column<Int32Array>(0),
    items: column<Int32Array>(1),
    labels: column<Int8Array>(2),
  };
  if (
    columns.users.length !== table.numRows || columns.items.length !== table.numRows ||
    columns.labels.length !== table.numRows
  ) {
    throw new SyntaxError(`Cannot read shard ${name}: columns of unequal length`);
  }
  return columns;
}
