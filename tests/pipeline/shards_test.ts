import assert from "node:assert/strict";
import { RecordBatchFileReader, RecordBatchStreamReader } from "apache-arrow";
import {
  decodeShard,
  encodeShard,
  encodeShardInto,
  shardByteLength,
} from "../../lib/pipeline/shards.ts";

function columns(n: number) {
  return {
    users: Int32Array.from({ length: n }, (_, i) => i * 7 - 3),
    items: Int32Array.from({ length: n }, (_, i) => 2 ** 31 - 1 - i),
    labels: Int8Array.from({ length: n }, (_, i) => i % 3 === 0 ? 1 : 0),
  };
}

Deno.test("encodeShard() writes Arrow IPC files that apache-arrow reads back exactly", async (t) => {
  for (const n of [0, 1, 2, 7, 8, 9, 1000, 65537]) {
    await t.step(`${n} rows`, () => {
      const c = columns(n);
      const bytes = encodeShard(c, 0, n);
      assert.equal(bytes.length, shardByteLength(n));
      const decoded = decodeShard(bytes, "s.arrow");
      assert.deepEqual(decoded.users, c.users);
      assert.deepEqual(decoded.items, c.items);
      assert.deepEqual(decoded.labels, c.labels);
    });
  }
});

Deno.test("a shard is a well-formed Arrow file: magic, schema, one record batch, footer", () => {
  const bytes = encodeShard(columns(10), 0, 10);
  const magic = [..."ARROW1"].map((c) => c.charCodeAt(0));
  assert.deepEqual([...bytes.subarray(0, 6)], magic);
  assert.deepEqual([...bytes.subarray(bytes.length - 6)], magic);
  const file = RecordBatchFileReader.from(bytes);
  file.open();
  assert.equal(file.numRecordBatches, 1);
  assert.deepEqual(
    file.schema.fields.map((f) => `${f.name}: ${f.type} ${f.nullable}`),
    ["user_id: Int32 false", "item_id: Int32 false", "label: Int8 false"],
  );
  assert.deepEqual([...file].map((b) => b.numRows), [10]);
  // After the 8-byte prefix, the body is a valid IPC stream for sequential readers.
  const stream = RecordBatchStreamReader.from(bytes.subarray(8));
  stream.open();
  assert.deepEqual([...stream].map((b) => b.numRows), [10]);
});

Deno.test("encodeShardInto() encodes a range into a reused buffer, every byte written", () => {
  const c = columns(100);
  const out = new Uint8Array(shardByteLength(100)).fill(0xaa);
  const whole = encodeShardInto(out, c, { start: 0, end: 100 });
  assert.deepEqual(whole, encodeShard(c, 0, 100));
  out.fill(0xaa);
  const part = encodeShardInto(out, c, { start: 10, end: 15 });
  assert.deepEqual(part, encodeShard(c, 10, 15));
  assert.deepEqual(decodeShard(part, "s.arrow").users, c.users.subarray(10, 15));
  assert.throws(() => encodeShardInto(new Uint8Array(10), c, { start: 0, end: 5 }), RangeError);
  assert.throws(() => encodeShardInto(out, c, { start: 5, end: 4 }), RangeError);
});

Deno.test("shards read the same from shared memory", () => {
  const c = columns(50);
  const shared = {
    users: new Int32Array(new SharedArrayBuffer(200)),
    items: new Int32Array(new SharedArrayBuffer(200)),
    labels: new Int8Array(new SharedArrayBuffer(50)),
  };
  shared.users.set(c.users);
  shared.items.set(c.items);
  shared.labels.set(c.labels);
  assert.deepEqual(encodeShard(shared, 3, 40), encodeShard(c, 3, 40));
});
