import assert from "node:assert/strict";
import { Parameters } from "../../lib/kernels/parameters.ts";
import { tsKernels } from "../../lib/kernels/ts_kernels.ts";
import { wasmArenaOf } from "../../lib/kernels/wasm_arena.ts";
import { kernelSets, testMemory } from "./_kernel_sets.ts";

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

Deno.test("Parameters tracks touched rows per row group only once asked, and clearGrads() forgets them", () => {
  const p = new Parameters([
    { name: "user_a", shape: [4, 2], sparse: true, rowGroup: "user" },
    { name: "user_b", shape: [4, 3], sparse: true, rowGroup: "user" },
    { name: "item", shape: [5, 2], sparse: true },
    { name: "bias", shape: [2] },
  ]);
  assert.equal(p.touchedRows("user"), null, "not tracked until asked");
  const byName = p.trackTouchedRows();
  assert.deepEqual([...byName.keys()], ["user_a", "user_b", "item"]);
  assert.equal(byName.get("user_a"), byName.get("user_b"), "one set per row group");
  assert.notEqual(byName.get("item"), byName.get("user_a"));
  assert.equal(p.touchedRows("user"), byName.get("user_a"));
  assert.equal(p.touchedRows("item"), byName.get("item"), "the group defaults to the name");
  assert.equal(p.touchedRows("bias"), null, "dense tensors have no set");
  assert.equal(p.trackTouchedRows().get("item"), byName.get("item"), "idempotent");
  const user = p.touchedRows("user")!;
  assert.equal(user.rows.length, 4);
  user.mark(3);
  p.touchedRows("item")!.mark(0);
  p.grads.fill(1);
  p.clearGrads();
  assert.ok(p.grads.every((g) => g === 0));
  assert.equal(user.count, 0);
  assert.equal(p.touchedRows("item")!.count, 0);
});

Deno.test("Parameters takes its buffers from the kernel set's memory and carries the set", async (t) => {
  const plain = new Parameters([{ name: "w", shape: [3] }]);
  assert.equal(plain.kernels, tsKernels, "the ts set by default");
  assert.equal(wasmArenaOf(plain.values), undefined);
  for (const kernels of kernelSets()) {
    await t.step(kernels.name, () => {
      const memory = testMemory(kernels);
      const p = new Parameters([{ name: "emb", shape: [3, 2], sparse: true }, {
        name: "w",
        shape: [4],
      }], { kernels, memory });
      assert.equal(p.kernels, kernels);
      assert.equal(p.memory, memory);
      assert.equal(p.values.length, 10);
      const arena = wasmArenaOf(p.values);
      if (kernels.name === "ts") assert.equal(arena, undefined);
      else assert.ok(arena !== undefined && arena.owns(p.grads, p.get("w").values));
    });
  }
  assert.throws(
    () =>
      new Parameters([{ name: "w", shape: [3] }], { memory: { alloc: () => new Float32Array(2) } }),
    RangeError,
  );
});
