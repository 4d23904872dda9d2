/**
 * `sgemm` of every kernel set this machine has (`ts`, `wasm`, and `blas`
 * when OpenBLAS loads; see `selectKernels`), on the products of one
 * training step of the default NeuMF's first MLP layer (batch 256, 64 → 32):
 * the forward product, the input gradient (`op(B) = Bᵀ`) and the weight
 * gradient (`op(A) = Aᵀ`). Each set's matrices live in that set's own
 * memory, as a model's do, so the WebAssembly products run in place. A set
 * that cannot be had here is ignored, with a line saying why.
 *
 * ```
 * deno task bench                      # every *_bench.ts
 * deno bench -A bench/kernels_bench.ts
 * ```
 *
 * @module
 */

import { type GemmArgs, type Kernels, selectKernels } from "../mod.ts";

/** Examples per batch (`--batch_size`'s default). */
const BATCH = 256;
/** Width of the first MLP layer's input (`--layers 64,…`: two embeddings of 32). */
const IN = 64;
/** Width of the first MLP layer's output (`--layers …,32,…`). */
const OUT = 32;

/** The kernel set called `name`, or `null` (with why) when this machine lacks it. */
function _kernels(name: "ts" | "wasm" | "blas"): { kernels: Kernels | null; why: string } {
  try {
    return { kernels: selectKernels(name), why: "" };
  } catch (error) {
    return { kernels: null, why: error instanceof Error ? error.message : String(error) };
  }
}

/** Filled with a fixed pattern of values in [-1, 1). */
function _filled(x: Float32Array): Float32Array {
  for (let i = 0; i < x.length; i++) x[i] = ((i * 7919) % 2001) / 1000 - 1;
  return x;
}

/** The products of one step, in bench groups. */
const PRODUCTS = [
  `forward y = x·w (${BATCH}×${IN}·${IN}×${OUT})`,
  `input gradient dx = dy·wᵀ (${BATCH}×${OUT}·${OUT}×${IN})`,
  `weight gradient dw = xᵀ·dy (${IN}×${BATCH}·${BATCH}×${OUT})`,
] as const;

/** The {@linkcode PRODUCTS} of a `BATCH×IN → BATCH×OUT` dense layer, in `kernels`' memory. */
function _products(kernels: Kernels): GemmArgs[] {
  const floats = 2 * BATCH * IN + 2 * BATCH * OUT + 2 * IN * OUT;
  const memory = kernels.memory({ floats, scratchBytes: 4 * BATCH * IN, idsBytes: 4 * BATCH });
  const x = _filled(memory.alloc(BATCH * IN));
  const w = _filled(memory.alloc(IN * OUT));
  const y = memory.alloc(BATCH * OUT);
  const dy = _filled(memory.alloc(BATCH * OUT));
  const dx = memory.alloc(BATCH * IN);
  const dw = memory.alloc(IN * OUT);
  const common = { alpha: 1, beta: 0 };
  return [
    { ...common, transA: false, transB: false, m: BATCH, n: OUT, k: IN, a: x, lda: IN, b: w },
    { ...common, transA: false, transB: true, m: BATCH, n: IN, k: OUT, a: dy, lda: OUT, b: w },
    { ...common, transA: true, transB: false, m: IN, n: OUT, k: BATCH, a: x, lda: IN, b: dy },
  ].map((p, i) => ({ ...p, ldb: OUT, c: [y, dx, dw][i], ldc: [OUT, IN, OUT][i] }));
}

for (const name of ["ts", "wasm", "blas"] as const) {
  const { kernels, why } = _kernels(name);
  // deno bench prints nothing for an ignored bench: say why it is missing.
  if (kernels === null) console.log(`${name}: not measured (${why.split(" (")[0]})`);
  const products = kernels === null ? [] : _products(kernels);
  PRODUCTS.forEach((group, i) => {
    const args = products[i];
    Deno.bench({
      name,
      group,
      baseline: name === "ts",
      ignore: kernels === null,
      fn() {
        kernels!.sgemm(args);
      },
    });
  });
}
