import assert from "node:assert/strict";
import { Parameters } from "../../lib/model/parameters.ts";

Deno.test("Parameters lays tensors out contiguously in declaration order, as views", () => {
  const p = new Parameters([
    { name: "emb", shape: [3, 2], sparse: true },
    { name: "kernel", shape: [2, 4] },
    { name: "bias", shape: [4] },
  ]);
  assert.equal(p.size, 6 + 8 + 4);
  assert.deepEqual(
    p.entries.map((e) => [e.name, e.offset, e.length, e.rows, e.rowLength, e.sparse]),
    [
      ["emb", 0, 6, 3, 2, true],
      ["kernel", 6, 8, 2, 4, false],
      ["bias", 14, 4, 4, 1, false],
    ],
  );
  p.get("kernel").values[0] = 7;
  p.get("bias").grads[3] = 9;
  assert.equal(p.values[6], 7);
  assert.equal(p.grads[17], 9);
  assert.ok(p.has("emb") && !p.has("nope"));
});

Deno.test("Parameters.snapshot() and restore() round-trip and check names and sizes", () => {
  const p = new Parameters([{ name: "a", shape: [2] }, { name: "b", shape: [1, 3] }]);
  p.values.set([1, 2, 3, 4, 5]);
  const saved = p.snapshot();
  p.values.fill(0);
  p.restore(saved);
  assert.deepEqual([...p.values], [1, 2, 3, 4, 5]);
  saved.a[0] = 100; // a copy, not a view
  assert.equal(p.values[0], 1);
  assert.throws(() => p.restore({ a: [1, 2] }), RangeError);
  assert.throws(() => p.restore({ a: [1, 2], b: [1, 2] }), RangeError);
  assert.throws(() => p.restore({ a: [1, 2], b: [1, 2, 3], c: [0] }), RangeError);
});

Deno.test("Parameters refuses duplicate names, bad shapes and unknown lookups", () => {
  assert.throws(
    () => new Parameters([{ name: "a", shape: [1] }, { name: "a", shape: [2] }]),
    RangeError,
  );
  assert.throws(() => new Parameters([{ name: "a", shape: [0, 2] }]), RangeError);
  assert.throws(() => new Parameters([{ name: "a", shape: [1.5] }]), RangeError);
  assert.throws(() => new Parameters([]).get("x"), RangeError);
});
