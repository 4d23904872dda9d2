/**
 * The `wasm` backend: `sgemm` as WebAssembly SIMD kernels (4×8 register
 * blocks of `f32x4`, float32 accumulation in `k` order, no FMA, so the same
 * bits on every machine). Products whose matrices all live in one
 * {@linkcode WasmArena} (a model's parameters and buffers) run in place;
 * others are copied through a scratch arena.
 *
 * @module
 */

import { type Backend, checkGemmArgs, type GemmArgs } from "./gemm.ts";
import { WasmArena, wasmArenaOf } from "./wasm_arena.ts";

let _scratchArena: WasmArena | null | undefined;

/** `C = beta·C` on the `m×n` block. */
function _scaleC(m: number, n: number, beta: number, c: Float32Array, ldc: number): void {
  for (let i = 0; i < m; i++) {
    const ci = i * ldc;
    if (beta === 0) c.fill(0, ci, ci + n);
    else for (let j = ci, end = ci + n; j < end; j++) c[j] *= beta;
  }
}

/** Elements a row-major `rows×cols` matrix with stride `ld` spans. */
function _span(rows: number, cols: number, ld: number): number {
  return rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
}

/** Runs the product in `arena`, where `a`, `b` and `c` live; false when scratch runs out. */
function _gemmIn(arena: WasmArena, g: GemmArgs, accumulate: boolean): boolean {
  const { m, n, k, lda, ldb, ldc } = g;
  let b = g.b.byteOffset;
  let ldbBytes = ldb * 4;
  if (g.transB) {
    // op(B) = Bᵀ with B stored n×k: pack it k×n so rows of op(B) are contiguous.
    const packed = arena.scratch(k * n * 4);
    if (packed === null) return false;
    arena.kernels.transpose(b, n, k, ldbBytes, packed);
    b = packed;
    ldbBytes = n * 4;
  }
  const sai = g.transA ? 4 : lda * 4;
  const sap = g.transA ? lda * 4 : 4;
  arena.kernels.gemm(
    m,
    n,
    k,
    g.alpha,
    g.a.byteOffset,
    sai,
    sap,
    b,
    ldbBytes,
    g.c.byteOffset,
    ldc * 4,
    accumulate ? 1 : 0,
  );
  return true;
}

/** Copies the matrices into the scratch arena, multiplies there, copies `C` back. */
function _gemmCopied(g: GemmArgs, accumulate: boolean): boolean {
  const aLen = _span(g.transA ? g.k : g.m, g.transA ? g.m : g.k, g.lda);
  const bLen = _span(g.transB ? g.n : g.k, g.transB ? g.k : g.n, g.ldb);
  const cLen = _span(g.m, g.n, g.ldc);
  const packedLen = g.transB ? g.k * g.n : 0;
  const bytes = (aLen + bLen + cLen + packedLen) * 4 + 5 * 64;
  if (_scratchArena === undefined || (_scratchArena !== null && _scratchArena.bytes < bytes)) {
    _scratchArena = WasmArena.create({ bytes: Math.max(bytes, 2 * (_scratchArena?.bytes ?? 0)) });
  }
  const arena = _scratchArena;
  if (arena === null || arena.bytes < bytes) return false;
  const buffer = arena.memory.buffer;
  const at = (floats: number) => 64 * Math.ceil(floats / 16) + 64;
  const aAt = 64;
  const bAt = aAt + at(aLen);
  const cAt = bAt + at(bLen);
  const packedAt = cAt + at(cLen);
  const c = new Float32Array(buffer, cAt, cLen);
  new Float32Array(buffer, aAt, aLen).set(g.a.subarray(0, aLen));
  new Float32Array(buffer, bAt, bLen).set(g.b.subarray(0, bLen));
  c.set(g.c.subarray(0, cLen));
  const { m, n, k } = g;
  let bPtr = bAt;
  let ldbBytes = g.ldb * 4;
  if (g.transB) {
    arena.kernels.transpose(bPtr, n, k, ldbBytes, packedAt);
    bPtr = packedAt;
    ldbBytes = n * 4;
  }
  arena.kernels.gemm(
    m,
    n,
    k,
    g.alpha,
    aAt,
    g.transA ? 4 : g.lda * 4,
    g.transA ? g.lda * 4 : 4,
    bPtr,
    ldbBytes,
    cAt,
    g.ldc * 4,
    accumulate ? 1 : 0,
  );
  g.c.set(c);
  return true;
}

/**
 * The WebAssembly SIMD `sgemm` (arguments checked; nothing allocated per
 * call for matrices in one arena). Results match a BLAS and the `ts`
 * backend within float32 rounding, not bit for bit.
 *
 * @throws {Error} when the runtime lacks WebAssembly SIMD (see
 *   `wasmKernelsAvailable()`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { wasmBackend } from "./wasm_gemm.ts";
 * // [1 2; 3 4] · [5; 6] = [17; 39]
 * const c = new Float32Array(2);
 * wasmBackend.sgemm({
 *   transA: false, transB: false, m: 2, n: 1, k: 2, alpha: 1,
 *   a: Float32Array.of(1, 2, 3, 4), lda: 2, b: Float32Array.of(5, 6), ldb: 1,
 *   beta: 0, c, ldc: 1,
 * });
 * assert.ok(c[0] === 17 && c[1] === 39);
 * ```
 */
export const wasmBackend: Backend = {
  name: "wasm",
  sgemm(args: GemmArgs): void {
    checkGemmArgs(args);
    const { m, n, k, alpha, beta, c, ldc } = args;
    if (m === 0 || n === 0) return;
    if (k === 0 || alpha === 0) {
      if (beta !== 1) _scaleC(m, n, beta, c, ldc);
      return;
    }
    if (beta !== 0 && beta !== 1) _scaleC(m, n, beta, c, ldc);
    const accumulate = beta !== 0;
    const arena = wasmArenaOf(c);
    const inPlace = arena !== undefined && wasmArenaOf(args.a) === arena &&
      wasmArenaOf(args.b) === arena;
    if (inPlace && _gemmIn(arena, args, accumulate)) return;
    if (!_gemmCopied(args, accumulate)) {
      throw new Error("Cannot run the wasm sgemm: WebAssembly SIMD memory is unavailable");
    }
  },
};
