import assert from "node:assert/strict";
import { Adam, LazyAdam } from "../../lib/optim/adam.ts";
import { Dense, reluBackward, reluForward } from "../../lib/model/dense.ts";
import { gatherRows, scatterAddRows, TouchedRows } from "../../lib/model/embedding.ts";
import { Parameters } from "../../lib/model/parameters.ts";
import { WasmArena, wasmArenaOf, wasmKernelsAvailable } from "../../lib/kernels/wasm_arena.ts";
import { Prng } from "../../lib/random/prng.ts";

const available = wasmKernelsAvailable();
if (!available) console.log("WebAssembly SIMD is unavailable: arena tests skipped");

Deno.test({
  name: "WasmArena hands out zeroed, aligned, disjoint views it owns",
  ignore: !available,
  fn() {
    const arena = WasmArena.create({ bytes: 1 << 16 })!;
    const a = arena.alloc(3);
    const b = arena.alloc(5);
    const ids = arena.allocInt32(2);
    for (const x of [a, b, ids]) {
      assert.equal(wasmArenaOf(x), arena);
      assert.equal(x.byteOffset % 64, 0);
      assert.ok(x.every((v) => v === 0));
    }
    a.fill(1);
    assert.ok(b.every((v) => v === 0), "blocks do not overlap");
    assert.ok(arena.owns(a, b, ids));
    assert.ok(!arena.owns(a, new Float32Array(1)));
    assert.equal(wasmArenaOf(new Float32Array(1)), undefined);
    assert.ok(arena.bytesUsed >= 3 * 64 && arena.bytesUsed <= arena.bytes);
  },
});

Deno.test({
  name: "WasmArena falls back to ordinary arrays once full, and its scratch does not move",
  ignore: !available,
  fn() {
    const arena = WasmArena.create({ bytes: 1 << 16 })!;
    const s0 = arena.scratch(256);
    const s1 = arena.scratch(256, 1);
    assert.ok(s0 !== null && s1 !== null && s0 !== s1);
    assert.equal(arena.scratch(100), s0);
    const big = arena.alloc(1 << 20);
    assert.equal(big.length, 1 << 20);
    assert.equal(wasmArenaOf(big), undefined);
    assert.equal(arena.scratch(1 << 20), null);
  },
});

Deno.test({
  name: "WasmArena.ids() copies ordinary ids into scratch and passes its own through",
  ignore: !available,
  fn() {
    const arena = WasmArena.create({ bytes: 1 << 16 })!;
    const plain = Int32Array.of(7, 8, 9, 10);
    const at = arena.ids(plain, 3)!;
    assert.deepEqual([...new Int32Array(arena.memory.buffer, at, 3)], [7, 8, 9]);
    const own = arena.allocInt32(4);
    assert.equal(arena.ids(own, 4), own.byteOffset);
  },
});

/** An allocator for the arena (or plain arrays), for tests that run both paths. */
function allocator(arena: WasmArena | null): (n: number) => Float32Array {
  return arena === null ? (n) => new Float32Array(n) : (n) => arena.alloc(n);
}

/** Values with the edge cases the kernels must keep: ±0, NaN, subnormals, odd lengths. */
function edgy(n: number, prng: Prng): number[] {
  const special = [0, -0, NaN, 1e-40, -1e-40, 3e38, -3e38];
  return Array.from({ length: n }, (_, i) => i < special.length ? special[i] : prng.nextGaussian());
}

Deno.test({
  name: "Adam and LazyAdam take bit-identical steps on parameters in a WasmArena",
  ignore: !available,
  fn() {
    for (const kind of ["adam", "lazy_adam"] as const) {
      const run = (arena: WasmArena | null) => {
        const p = new Parameters([
          { name: "emb", shape: [37, 3], sparse: true },
          { name: "w", shape: [13] },
        ], { allocate: allocator(arena) });
        const touched = new TouchedRows(37);
        const opt = kind === "adam"
          ? new Adam(p, { learningRate: 0.01 })
          : new LazyAdam(p, { learningRate: 0.01, touched: new Map([["emb", touched]]) });
        const prng = new Prng(5);
        p.values.set(edgy(p.size, prng).map((v) => Number.isNaN(v) ? 0.5 : v));
        for (let s = 0; s < 40; s++) {
          const g = edgy(p.size, prng);
          for (let i = 0; i < p.size; i++) {
            // Gradients that vanish now and then drive moments into the flush range.
            p.grads[i] = s % 9 === 4 || i % 7 === 3 ? 0 : Number.isNaN(g[i]) ? 1e-30 : g[i];
          }
          for (let r = s % 3; r < 37; r += 3) touched.mark(r);
          opt.step();
        }
        return { values: p.values.slice(), state: opt.getState(), grads: p.grads.slice() };
      };
      const a = run(WasmArena.create());
      const b = run(null);
      assert.deepEqual(a.values, b.values, kind);
      assert.deepEqual(a.state, b.state, kind);
      assert.deepEqual(a.grads, b.grads, kind);
      if (kind === "adam") assert.ok(a.grads.every((g) => g === 0));
    }
  },
});

Deno.test({
  name: "the ReLU, bias-gradient, gather and scatter kernels give the TypeScript loops' bits",
  ignore: !available,
  fn() {
    const run = (arena: WasmArena | null) => {
      const alloc = allocator(arena);
      const prng = new Prng(9);
      const fill = (n: number) => {
        const x = alloc(n);
        x.set(edgy(n, prng));
        return x;
      };
      // ReLU forward and backward over 4k+3 elements.
      const acts = fill(23);
      reluForward(acts, 23);
      const grads = fill(23);
      reluBackward(acts, grads);
      // A dense layer's backward (bias sums), overwrite then accumulate.
      const layer = new Dense({
        inputs: 3,
        outputs: 5,
        kernel: fill(15),
        bias: fill(5),
        kernelGrad: alloc(15),
        biasGrad: alloc(5),
      });
      const x = fill(21);
      const dy = fill(35);
      layer.backward(x, dy, { count: 7 });
      layer.backward(x, dy, { count: 7, accumulate: true });
      const y = alloc(35);
      layer.forward(x, y, { count: 7 });
      // Gather and scatter with strides, offsets and repeated ids.
      const table = fill(10 * 6);
      const ids = Int32Array.of(3, 9, 3, 0, 7);
      const out = alloc(5 * 14);
      gatherRows(table, ids, { dim: 6, count: 5, out, stride: 14, offset: 5 });
      const tableGrads = fill(10 * 6);
      scatterAddRows(tableGrads, ids, { dim: 6, count: 5, src: out, stride: 14, offset: 5 });
      return [acts, grads, layer.params.biasGrad, y, out, tableGrads].map((a) => a.slice());
    };
    const a = run(WasmArena.create());
    const b = run(null);
    for (let i = 0; i < a.length; i++) assert.deepEqual(a[i], b[i], `array ${i}`);
  },
});

Deno.test({
  name: "the embedded kernel module exports exactly the functions wasm_kernels.wat exports",
  ignore: !available,
  fn() {
    const wat = Deno.readTextFileSync(
      new URL("../../lib/kernels/wasm_kernels.wat", import.meta.url),
    );
    const declared = [...wat.matchAll(/\(export "([a-z_0-9]+)"\)/g)].map((m) => m[1]).sort();
    const arena = WasmArena.create()!;
    const exported = Object.keys(arena.kernels).sort();
    assert.deepEqual(exported, declared);
  },
});
