import assert from "node:assert/strict";
import { RecordBatchFileReader, RecordBatchStreamReader, tableFromIPC } from "apache-arrow";
import {
  decodeShard,
  encodeShard,
  encodeShardInto,
  shardByteLength,
} from "../../lib/pipeline/shards.ts";

function triples(n: number) {
  return {
    users: Int32Array.from({ length: n }, (_, i) => i * 7 - 3),
    items: Int32Array.from({ length: n }, (_, i) => 2 ** 31 - 1 - i),
    negItems: Int32Array.from({ length: n }, (_, i) => (i * 13) % 5),
  };
}

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

Deno.test("a pairs shard keeps the bytes it had before triples existed", async () => {
  const bytes = encodeShard(columns(10), 0, 10);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes.slice()));
  assert.equal(
    [...digest].map((b) => b.toString(16).padStart(2, "0")).join(""),
    "9b2706395141882894d41364bfc8e5d54814845438707550d4edde5b4446eab7",
  );
});

Deno.test("triple shards round-trip through apache-arrow with user_id, item_id, neg_item_id: int32", async (t) => {
  for (const n of [0, 1, 7, 9, 1000, 65537]) {
    await t.step(`${n} rows`, () => {
      const c = triples(n);
      const bytes = encodeShard(c, 0, n);
      assert.equal(bytes.length, shardByteLength(n, "triples"));
      const table = tableFromIPC(bytes);
      assert.deepEqual(
        table.schema.fields.map((f) => `${f.name}: ${f.type} ${f.nullable}`),
        ["user_id: Int32 false", "item_id: Int32 false", "neg_item_id: Int32 false"],
      );
      assert.deepEqual(table.getChild("neg_item_id")?.toArray(), c.negItems);
      assert.deepEqual(table.getChild("user_id")?.toArray(), c.users);
      const decoded = decodeShard(bytes, "s.arrow", { schema: "triples" });
      assert.equal(decoded.labels, undefined);
      assert.deepEqual(decoded, c);
    });
  }
  await t.step("a range into a reused buffer, as a well-formed file", () => {
    const c = triples(100);
    const out = new Uint8Array(shardByteLength(100, "triples")).fill(0xaa);
    const part = encodeShardInto(out, c, { start: 10, end: 15 });
    assert.deepEqual(part, encodeShard(c, 10, 15));
    const file = RecordBatchFileReader.from(part);
    file.open();
    assert.deepEqual([...file].map((b) => b.numRows), [5]);
    const stream = RecordBatchStreamReader.from(part.subarray(8));
    stream.open();
    assert.deepEqual([...stream].map((b) => b.numRows), [5]);
  });
});

Deno.test("decodeShard() refuses a shard of the other schema, naming both", async (t) => {
  const cases = [
    {
      bytes: encodeShard(triples(3), 0, 3),
      schema: "pairs" as const,
      message:
        "Cannot read shard /x/s.arrow: it holds triples (user_id, item_id, neg_item_id), but the run expects pairs (user_id, item_id, label)",
    },
    {
      bytes: encodeShard(columns(3), 0, 3),
      schema: "triples" as const,
      message:
        "Cannot read shard /x/s.arrow: it holds pairs (user_id, item_id, label), but the run expects triples (user_id, item_id, neg_item_id)",
    },
  ];
  for (const c of cases) {
    await t.step(`expecting ${c.schema}`, () => {
      assert.throws(
        () => decodeShard(c.bytes, "/x/s.arrow", { schema: c.schema }),
        (e: Error) => e instanceof SyntaxError && e.message === c.message,
      );
    });
  }
});
