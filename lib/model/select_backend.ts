/**
 * Chooses the matrix-product backend `--backend` asks for: `blas` (the
 * system OpenBLAS through FFI), `ts` (pure TypeScript, always there), or
 * `auto` (BLAS when it loads, else TypeScript).
 *
 * @module
 */

import { type Backend, tsBackend } from "./backend.ts";
import { openBlasBackend } from "./blas_backend.ts";

let _blas: ReturnType<typeof openBlasBackend> | undefined;

/**
 * The backend for `choice`. `blas` when no BLAS library loads throws an
 * `Error` listing the libraries tried.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { selectBackend } from "./select_backend.ts";
 * assert.equal(selectBackend("ts").backend.name, "ts");
 * assert.ok(["ts", "blas"].includes(selectBackend("auto").backend.name));
 * ```
 */
export function selectBackend(
  choice: "auto" | "blas" | "ts",
): { backend: Backend; description: string } {
  if (choice === "ts") return { backend: tsBackend, description: "ts (TypeScript sgemm)" };
  let permitted = true;
  try {
    permitted = Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  } catch {
    permitted = false;
  }
  if (permitted) _blas ??= openBlasBackend();
  const blas = permitted ? _blas?.backend : undefined;
  if (blas !== undefined) {
    return { backend: blas, description: `blas (${blas.library}, 1 thread)` };
  }
  if (choice === "blas") {
    const why = permitted
      ? `no CBLAS library loads (${_blas?.errors.join("; ")}); install libopenblas0-pthread`
      : "FFI is not permitted (run with --allow-ffi)";
    throw new Error(`Cannot use --backend blas: ${why}`);
  }
  return { backend: tsBackend, description: "ts (TypeScript sgemm; no BLAS library found)" };
}
