import assert from "node:assert/strict";
import { Adam, LazyAdam } from "../../lib/optim/adam.ts";
import { Dense } from "../../lib/model/dense.ts";
import type { Kernels, TensorMemory } from "../../lib/kernels/kernels.ts";
import { Parameters } from "../../lib/kernels/parameters.ts";
import { tsKernels } from "../../lib/kernels/ts_kernels.ts";
import { WasmArena, wasmArenaOf, wasmKernelsAvailable } from "../../lib/kernels/wasm_arena.ts";
import { Prng } from "../../lib/random/prng.ts";
import { assertSameBits, kernelSets, testMemory, withPlainMemory } from "./_kernel_sets.ts";

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

/** Values with the edge cases the kernels must keep: ±0, NaN, subnormals, odd lengths. */
function edgy(n: number, prng: Prng): number[] {
  const special = [0, -0, NaN, 1e-40, -1e-40, 3e38, -3e38];
  return Array.from({ length: n }, (_, i) => i < special.length ? special[i] : prng.nextGaussian());
}

/** The `ts` set on plain arrays: the reference every set's element-wise kernels must match. */
const REFERENCE = { kernels: tsKernels, memory: { alloc: (n: number) => new Float32Array(n) } };

Deno.test({
  name: "Adam and LazyAdam take bit-identical steps on parameters in every kernel set's memory",
  ignore: !available,
  async fn(t) {
    for (const kernels of kernelSets()) {
      for (const kind of ["adam", "lazy_adam"] as const) {
        await t.step(`${kernels.name} ${kind}`, () => {
          const run = (on: { kernels: Kernels; memory: TensorMemory }) => {
            const p = new Parameters([
              { name: "emb", shape: [37, 3], sparse: true },
              { name: "w", shape: [13] },
            ], on);
            const opt = kind === "adam"
              ? new Adam(p, { learningRate: 0.01 })
              : new LazyAdam(p, { learningRate: 0.01 });
            const touched = p.touchedRows("emb");
            assert.equal(touched === null, kind === "adam", "LazyAdam tracks the touched rows");
            const prng = new Prng(5);
            p.values.set(edgy(p.size, prng).map((v) => Number.isNaN(v) ? 0.5 : v));
            for (let s = 0; s < 40; s++) {
              const g = edgy(p.size, prng);
              for (let i = 0; i < p.size; i++) {
                // Gradients that vanish now and then drive moments into the flush range.
                p.grads[i] = s % 9 === 4 || i % 7 === 3 ? 0 : Number.isNaN(g[i]) ? 1e-30 : g[i];
              }
              for (let r = s % 3; r < 37; r += 3) touched?.mark(r);
              opt.step();
            }
            return { values: p.values.slice(), state: opt.getState(), grads: p.grads.slice() };
          };
          const memory = testMemory(kernels);
          const a = run({ kernels, memory });
          const b = run(REFERENCE);
          if (kernels.name !== "ts") assert.notEqual(wasmArenaOf(memory.alloc(1)), undefined);
          assertSameBits(a.values, b.values, "values");
          assertSameBits(a.grads, b.grads, "grads");
          assert.deepEqual(a.state, b.state);
          for (const name of ["emb", "w"]) {
            assertSameBits(a.state.m[name], b.state.m[name], `m ${name}`);
            assertSameBits(a.state.v[name], b.state.v[name], `v ${name}`);
          }
          if (kind === "adam") assert.ok(a.grads.every((g) => g === 0));
        });
      }
    }
  },
});

Deno.test({
  name:
    "the ReLU, bias-gradient, gather and scatter kernels give the TypeScript loops' bits, and a dense layer the same bits in or out of the arena",
  ignore: !available,
  async fn(t) {
    const run = (kernels: Kernels, memory: TensorMemory) => {
      const alloc = (n: number) => memory.alloc(n);
      const prng = new Prng(9);
      const fill = (n: number) => {
        const x = alloc(n);
        x.set(edgy(n, prng));
        return x;
      };
      // ReLU forward and backward over 4k+3 elements.
      const acts = fill(23);
      kernels.relu(acts, 23);
      const grads = fill(23);
      kernels.reluBackward(acts, grads, 23);
      // A dense layer's backward (bias sums), overwrite then accumulate.
      const layer = new Dense({
        inputs: 3,
        outputs: 5,
        kernel: fill(15),
        bias: fill(5),
        kernelGrad: alloc(15),
        biasGrad: alloc(5),
      }, { kernels });
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
      kernels.gatherRows(table, ids, { dim: 6, count: 5, out, stride: 14, offset: 5 });
      const tableGrads = fill(10 * 6);
      kernels.scatterAddRows(tableGrads, ids, {
        dim: 6,
        count: 5,
        src: out,
        stride: 14,
        offset: 5,
      });
      return {
        elementwise: [acts, grads, layer.params.biasGrad, out, tableGrads].map((a) => a.slice()),
        products: [layer.params.kernelGrad, y].map((a) => a.slice()),
      };
    };
    const reference = run(REFERENCE.kernels, REFERENCE.memory);
    for (const kernels of kernelSets()) {
      await t.step(kernels.name, () => {
        const inArena = run(kernels, testMemory(kernels));
        const outside = run(kernels, withPlainMemory(kernels).memory(PLAN));
        for (let i = 0; i < reference.elementwise.length; i++) {
          assertSameBits(inArena.elementwise[i], reference.elementwise[i], `array ${i} vs ts`);
          assertSameBits(outside.elementwise[i], reference.elementwise[i], `array ${i} (plain)`);
        }
        for (let i = 0; i < inArena.products.length; i++) {
          assertSameBits(inArena.products[i], outside.products[i], `product ${i}`);
        }
      });
    }
  },
});

/** A memory plan for the plain-memory runs (ignored by them). */
const PLAN = { floats: 0, scratchBytes: 0, idsBytes: 0 };

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
