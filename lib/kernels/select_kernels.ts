/**
 * Chooses the kernel set `--backend` asks for, in one place: `blas` (the
 * system OpenBLAS through FFI for the products, WebAssembly SIMD for the
 * rest), `wasm` (WebAssembly SIMD throughout), `ts` (TypeScript throughout;
 * no WebAssembly is instantiated), or `auto` (BLAS when it loads, else
 * WebAssembly when the runtime has SIMD, else TypeScript).
 *
 * @module
 */

import { openBlasBackend } from "./blas.ts";
import type { Backend } from "./gemm.ts";
import type { Kernels } from "./kernels.ts";
import { tsKernels } from "./ts_kernels.ts";
import { wasmKernelsAvailable } from "./wasm_arena.ts";
import { wasmBackend } from "./wasm_gemm.ts";
import { makeWasmKernels } from "./wasm_kernels.ts";

/** The `--backend` choices {@linkcode selectKernels} understands. */
export const BACKENDS = ["auto", "blas", "wasm", "ts"] as const;

/** One of {@linkcode BACKENDS}. */
export type BackendChoice = typeof BACKENDS[number];

/**
 * Whether `value` names a backend.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isBackendChoice } from "./select_kernels.ts";
 * assert.ok(isBackendChoice("wasm") && !isBackendChoice("gpu"));
 * ```
 */
export function isBackendChoice(value: unknown): value is BackendChoice {
  return (BACKENDS as readonly unknown[]).includes(value);
}

let _blas: ReturnType<typeof openBlasBackend> | undefined;
/** Kernel sets made so far, by description (one per product and thread count). */
const _sets = new Map<string, Kernels>();

/** The WebAssembly-element-wise set over `gemm` described by `description`, made once. */
function _wasmSet(gemm: Backend, name: "wasm" | "blas", description: string): Kernels {
  let set = _sets.get(description);
  if (set === undefined) {
    set = makeWasmKernels(gemm, { name, description });
    _sets.set(description, set);
  }
  return set;
}

/**
 * The kernel set for `choice`. `blas` when no BLAS library loads, and
 * `wasm` when the runtime lacks WebAssembly SIMD, throw an `Error` saying
 * why. `blasThreads` (default 1) is the thread count OpenBLAS is set to (it
 * is one setting for the whole process).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { selectKernels } from "./select_kernels.ts";
 * assert.equal(selectKernels("ts").name, "ts");
 * assert.equal(selectKernels("wasm").name, "wasm");
 * assert.ok(["blas", "wasm"].includes(selectKernels("auto").name));
 * ```
 */
export function selectKernels(
  choice: BackendChoice,
  options: { blasThreads?: number } = {},
): Kernels {
  if (choice === "ts") return tsKernels;
  if (choice === "wasm") {
    if (!wasmKernelsAvailable()) {
      throw new Error("Cannot use --backend wasm: this runtime lacks WebAssembly SIMD");
    }
    return _wasmSet(wasmBackend, "wasm", "wasm (WebAssembly SIMD sgemm and element-wise kernels)");
  }
  let permitted = true;
  try {
    permitted = Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  } catch {
    permitted = false;
  }
  if (permitted) _blas ??= openBlasBackend();
  const blas = permitted ? _blas?.backend : undefined;
  if (blas !== undefined && wasmKernelsAvailable()) {
    blas.setThreads(options.blasThreads ?? 1);
    const threads = `${blas.threads} thread${blas.threads === 1 ? "" : "s"}`;
    const description =
      `blas (${blas.library} sgemm, ${threads}; WebAssembly SIMD element-wise kernels)`;
    return _wasmSet(blas, "blas", description);
  }
  if (choice === "blas") {
    const why = !permitted
      ? "FFI is not permitted (run with --allow-ffi)"
      : blas === undefined
      ? `no CBLAS library loads (${_blas?.errors.join("; ")}); install libopenblas0-pthread`
      : "this runtime lacks WebAssembly SIMD for the element-wise kernels";
    throw new Error(`Cannot use --backend blas: ${why}`);
  }
  if (wasmKernelsAvailable()) {
    return _wasmSet(
      wasmBackend,
      "wasm",
      "wasm (WebAssembly SIMD sgemm and element-wise kernels; no BLAS library found)",
    );
  }
  return tsKernels;
}
