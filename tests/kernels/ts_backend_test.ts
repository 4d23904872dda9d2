/**
 * `--backend ts` runs TypeScript throughout: its memory is plain
 * `ArrayBuffer`s and no WebAssembly is compiled or instantiated.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { MemoryPlan } from "../../lib/kernels/kernels.ts";
import { selectKernels } from "../../lib/kernels/select_kernels.ts";
import { tsKernels } from "../../lib/kernels/ts_kernels.ts";
import { wasmArenaOf } from "../../lib/kernels/wasm_arena.ts";
import { NeuMF } from "../../lib/model/neumf.ts";
import { buildModel, modelConfig, MODELS } from "../../lib/model/registry.ts";
import { buildOptimizer, OPTIMIZERS } from "../../lib/optim/optimizers.ts";
import { Prng } from "../../lib/random/prng.ts";

/** Not WebAssembly memory: a plain, unshared `ArrayBuffer` that no arena owns. */
function assertPlain(x: Float32Array, what: string): void {
  assert.ok(x.buffer instanceof ArrayBuffer, `${what}: an ArrayBuffer`);
  assert.ok(!(x.buffer instanceof SharedArrayBuffer), `${what}: not shared`);
  assert.equal(wasmArenaOf(x), undefined, `${what}: in no WebAssembly arena`);
}

Deno.test("selectKernels('ts') is the TypeScript set, and its memory hands out plain ArrayBuffers", () => {
  assert.equal(selectKernels("ts"), tsKernels);
  assert.equal(tsKernels.name, "ts");
  const plans: MemoryPlan[] = [
    { floats: 16, scratchBytes: 64, idsBytes: 64 },
    { floats: 1 << 20, scratchBytes: 1 << 16, idsBytes: 1 << 12 },
  ];
  for (const plan of plans) {
    const memory = tsKernels.memory(plan);
    for (const n of [0, 1, 7, 1024]) {
      const x = memory.alloc(n);
      assert.equal(x.length, n);
      assert.ok(x.every((v) => v === 0));
      assertPlain(x, `alloc(${n})`);
    }
  }
});

Deno.test("a NeuMF on the ts kernels keeps its parameters, gradients and optimizer moments out of WebAssembly memory", async (t) => {
  for (const kind of ["NeuMF", "GMF", "MLP"] as const) {
    await t.step(kind, () => {
      const model = new NeuMF({
        numUsers: 5,
        numItems: 6,
        kind,
        numFactors: 3,
        layers: [4, 2],
        kernels: tsKernels,
        prng: new Prng(1),
      });
      assert.equal(model.kernels, tsKernels);
      assert.equal(model.parameters.kernels, tsKernels);
      assertPlain(model.parameters.values, "parameter values");
      assertPlain(model.parameters.grads, "parameter gradients");
      for (const e of model.parameters.entries) {
        assertPlain(e.values, e.name);
        assertPlain(e.grads, `${e.name} gradient`);
      }
      const moments = model.parameters.memory.alloc(model.parameters.size);
      assertPlain(moments, "optimizer state from the parameters' memory");
      const adam = buildOptimizer("adam", model.parameters);
      model.trainStep({
        users: Int32Array.of(0, 4),
        items: Int32Array.of(5, 1),
        labels: Int8Array.of(1, 0),
        count: 2,
      }, { optimizer: adam });
      for (const m of Object.values(adam.getState().m)) assertPlain(m, "Adam m");
    });
  }
});

Deno.test("a ts model built, trained with every optimizer and scored instantiates no WebAssembly (fresh process)", async () => {
  const script = new URL("./_ts_backend_probe.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  const report = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.equal(report.kernels, "ts");
  assert.equal(
    report.scores,
    MODELS.length * OPTIMIZERS.length * 9,
    "every model scored every item",
  );
  assert.deepEqual(report.calls, [], "no WebAssembly API was used");
});

Deno.test("the counting would notice WebAssembly: a wasm model uses it where a ts model does not", () => {
  // The control for the test above: the same counting, with a wasm model.
  const calls: string[] = [];
  const api = WebAssembly as unknown as Record<string, unknown>;
  const saved = new Map<string, unknown>();
  for (const name of ["Memory", "Instance"]) {
    const original = api[name] as new (...a: unknown[]) => object;
    saved.set(name, original);
    api[name] = new Proxy(original, {
      construct(target, args, newTarget) {
        calls.push(name);
        return Reflect.construct(target, args, newTarget);
      },
    });
  }
  try {
    const config = modelConfig("GMF", {
      numUsers: 3,
      numItems: 4,
      numFactors: 2,
      layers: [4],
      mfRegularization: 0,
      mlpRegularization: 0,
    });
    buildModel(config, { backend: "ts" });
    assert.equal(calls.length, 0, `ts: ${calls}`);
    const model = buildModel(config, { backend: "wasm" });
    assert.ok(calls.includes("Memory") && calls.includes("Instance"), `wasm: ${calls}`);
    assert.notEqual(wasmArenaOf(model.parameters.values), undefined);
  } finally {
    for (const [name, original] of saved) api[name] = original;
  }
});
