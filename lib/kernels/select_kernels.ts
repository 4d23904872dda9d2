/**
 * Chooses the matrix-product backend `--backend` asks for: `blas` (the
 * system OpenBLAS through FFI), `wasm` (WebAssembly SIMD), `ts` (pure
 * TypeScript, always there), or `auto` (BLAS when it loads, else WASM when
 * the runtime has WebAssembly SIMD, else TypeScript).
 *
 * @module
 */

import { type Backend, tsBackend } from "./gemm.ts";
import { openBlasBackend } from "./blas.ts";
import { wasmKernelsAvailable } from "./wasm_arena.ts";
import { wasmBackend } from "./wasm_gemm.ts";

/** The `--backend` choices {@linkcode selectBackend} understands. */
export const BACKEND_CHOICES = ["auto", "blas", "wasm", "ts"] as const;

/** One of {@linkcode BACKEND_CHOICES}. */
export type BackendChoice = typeof BACKEND_CHOICES[number];

let _blas: ReturnType<typeof openBlasBackend> | undefined;

/**
 * The backend for `choice`. `blas` when no BLAS library loads, and `wasm`
 * when the runtime lacks WebAssembly SIMD, throw an `Error` saying why.
 * `blasThreads` (default 1) is the thread count OpenBLAS is set to (it is
 * one setting for the whole process).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { selectBackend } from "./select_kernels.ts";
 * assert.equal(selectBackend("ts").backend.name, "ts");
 * assert.equal(selectBackend("wasm").backend.name, "wasm");
 * assert.ok(["blas", "wasm"].includes(selectBackend("auto").backend.name));
 * ```
 */
export function selectBackend(
  choice: BackendChoice,
  options: { blasThreads?: number } = {},
): { backend: Backend; description: string } {
  if (choice === "ts") return { backend: tsBackend, description: "ts (TypeScript sgemm)" };
  const wasmDescription = "wasm (WebAssembly SIMD sgemm)";
  if (choice === "wasm") {
    if (!wasmKernelsAvailable()) {
      throw new Error("Cannot use --backend wasm: this runtime lacks WebAssembly SIMD");
    }
    return { backend: wasmBackend, description: wasmDescription };
  }
  let permitted = true;
  try {
    permitted = Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  } catch {
    permitted = false;
  }
  if (permitted) _blas ??= openBlasBackend();
  const blas = permitted ? _blas?.backend : undefined;
  if (blas !== undefined) {
    blas.setThreads(options.blasThreads ?? 1);
    const threads = `${blas.threads} thread${blas.threads === 1 ? "" : "s"}`;
    return { backend: blas, description: `blas (${blas.library}, ${threads})` };
  }
  if (choice === "blas") {
    const why = permitted
      ? `no CBLAS library loads (${_blas?.errors.join("; ")}); install libopenblas0-pthread`
      : "FFI is not permitted (run with --allow-ffi)";
    throw new Error(`Cannot use --backend blas: ${why}`);
  }
  if (wasmKernelsAvailable()) {
    return { backend: wasmBackend, description: `${wasmDescription}; no BLAS library found` };
  }
  return { backend: tsBackend, description: "ts (TypeScript sgemm; no BLAS library found)" };
}
