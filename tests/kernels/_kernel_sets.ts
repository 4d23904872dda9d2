/**
 * The kernel sets this machine has, for tests that run one suite over every
 * backend: `ts` always, `wasm` when the runtime has WebAssembly SIMD, `blas`
 * when a CBLAS library loads (and FFI is permitted).
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Kernels, TensorMemory } from "../../lib/kernels/kernels.ts";
import { type BackendChoice, selectKernels } from "../../lib/kernels/select_kernels.ts";
import { tsKernels } from "../../lib/kernels/ts_kernels.ts";
import { wasmKernelsAvailable } from "../../lib/kernels/wasm_arena.ts";
import type { Prng } from "../../lib/random/prng.ts";

let _sets: Kernels[] | undefined;

/** Every kernel set that loads here, `ts` first. */
export function kernelSets(): readonly Kernels[] {
  if (_sets === undefined) {
    _sets = [tsKernels];
    if (wasmKernelsAvailable()) _sets.push(selectKernels("wasm"));
    else console.log("wasm kernels skipped: this runtime lacks WebAssembly SIMD");
    try {
      _sets.push(selectKernels("blas"));
    } catch (e) {
      const why = (e as Error).message;
      console.log(`blas kernels skipped: ${why.length > 160 ? `${why.slice(0, 160)}…` : why}`);
    }
  }
  return _sets;
}

/** The `--backend` names of {@linkcode kernelSets}. */
export function backendChoices(): BackendChoice[] {
  return kernelSets().map((k) => k.name);
}

/**
 * Memory of `kernels` big enough for a small test (`floats` values), so the
 * WebAssembly sets hand out arena views and their fast paths run.
 */
export function testMemory(kernels: Kernels, floats = 1 << 16): TensorMemory {
  return kernels.memory({ floats, scratchBytes: 1 << 14, idsBytes: 1 << 12 });
}

/**
 * The same kernels with plain arrays for memory: every element-wise kernel
 * of a WebAssembly set then runs its TypeScript fallback (the old
 * `wasmKernels: false`), and only the products stay the set's.
 */
export function withPlainMemory(kernels: Kernels): Kernels {
  return { ...kernels, memory: () => ({ alloc: (n: number) => new Float32Array(n) }) };
}

/**
 * Asserts that `a` and `b` hold the same float32 bits (±0 and NaN payloads
 * included), naming the first element that differs.
 */
export function assertSameBits(a: Float32Array, b: Float32Array, label: string): void {
  assert.equal(a.length, b.length, `${label}: lengths differ`);
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== y[i]) {
      assert.fail(
        `${label}[${i}]: ${a[i]} (0x${x[i].toString(16)}) vs ${b[i]} (0x${y[i].toString(16)})`,
      );
    }
  }
}

/** Runs `fn` as one step per kernel set, each with fresh memory of that set. */
export async function overKernelSets(
  t: Deno.TestContext,
  fn: (kernels: Kernels, memory: TensorMemory) => void,
): Promise<void> {
  for (const kernels of kernelSets()) {
    await t.step(kernels.name, () => fn(kernels, testMemory(kernels)));
  }
}

/** An array of `memory` holding `values`. */
export function from(memory: TensorMemory, values: number[]): Float32Array {
  const x = memory.alloc(values.length);
  x.set(values);
  return x;
}

/** An array of `memory` with `n` draws of N(0, scale²). */
export function randomArray(memory: TensorMemory, n: number, prng: Prng, scale = 1): Float32Array {
  const x = memory.alloc(n);
  for (let i = 0; i < n; i++) x[i] = scale * prng.nextGaussian();
  return x;
}
