/**
 * The matrix-product kernel every model layer goes through. A backend is one
 * `sgemm` with the semantics of `cblas_sgemm(CblasRowMajor, …)`, so a BLAS
 * (via `Deno.dlopen`) or WASM implementation can replace {@linkcode tsBackend}
 * without touching the layers.
 *
 * @module
 */

/**
 * Arguments of one single-precision matrix product, row-major:
 * `C = alpha·op(A)·op(B) + beta·C`, where `op(X)` is `Xᵀ` when the matching
 * `trans*` flag is set. `op(A)` is `m×k`, `op(B)` is `k×n`, `C` is `m×n`.
 * `lda`, `ldb`, `ldc` are the row strides (in elements) of `A`, `B`, `C` as
 * stored (so `lda ≥ k` when `transA` is false, `lda ≥ m` when it is true).
 * With `beta = 0`, `C` is overwritten and its old content (even NaN) ignored.
 *
 * Callers on a hot path keep one `GemmArgs` object and mutate it, so a call
 * allocates nothing.
 */
export interface GemmArgs {
  /** Use `Aᵀ` (stored `k×m`) instead of `A` (stored `m×k`). */
  transA: boolean;
  /** Use `Bᵀ` (stored `n×k`) instead of `B` (stored `k×n`). */
  transB: boolean;
  /** Rows of `op(A)` and `C`. */
  m: number;
  /** Columns of `op(B)` and `C`. */
  n: number;
  /** Columns of `op(A)`, rows of `op(B)`. */
  k: number;
  /** Scale of the product. */
  alpha: number;
  /** Matrix `A`, row-major, starting at index 0. */
  a: Float32Array;
  /** Row stride of `A` as stored. */
  lda: number;
  /** Matrix `B`, row-major, starting at index 0. */
  b: Float32Array;
  /** Row stride of `B` as stored. */
  ldb: number;
  /** Scale of the old `C` (0 overwrites). */
  beta: number;
  /** Matrix `C`, row-major, starting at index 0; written in place. */
  c: Float32Array;
  /** Row stride of `C`. */
  ldc: number;
}

/**
 * A matrix-product implementation.
 */
export interface Backend {
  /** Short name for logs and metrics ("ts", "blas", "wasm"). */
  readonly name: string;
  /** Computes `C = alpha·op(A)·op(B) + beta·C` (see {@linkcode GemmArgs}). */
  sgemm(args: GemmArgs): void;
}

/**
 * Checks that the strides and array lengths of `args` are consistent.
 *
 * @throws {RangeError} naming the first inconsistent argument.
 *
 * @example
 * ```ts
 * import { checkGemmArgs } from "./gemm.ts";
 * const a = new Float32Array(6);
 * checkGemmArgs({
 *   transA: false, transB: false, m: 2, n: 2, k: 3, alpha: 1,
 *   a, lda: 3, b: new Float32Array(6), ldb: 2, beta: 0, c: new Float32Array(4), ldc: 2,
 * });
 * ```
 */
export function checkGemmArgs(args: GemmArgs): void {
  const { transA, transB, m, n, k, lda, ldb, ldc } = args;
  if (!(m >= 0 && n >= 0 && k >= 0) || !Number.isInteger(m + n + k)) {
    throw new RangeError(`Cannot run sgemm: m=${m}, n=${n}, k=${k} must be integers ≥ 0`);
  }
  const aRows = transA ? k : m;
  const aCols = transA ? m : k;
  const bRows = transB ? n : k;
  const bCols = transB ? k : n;
  _checkMatrix("a", args.a, aRows, aCols, lda);
  _checkMatrix("b", args.b, bRows, bCols, ldb);
  _checkMatrix("c", args.c, m, n, ldc);
}

function _checkMatrix(
  name: string,
  x: Float32Array,
  rows: number,
  cols: number,
  ld: number,
): void {
  if (!Number.isInteger(ld) || ld < Math.max(1, cols)) {
    throw new RangeError(
      `Cannot run sgemm: ld${name}=${ld} is below the ${cols} columns of ${name}`,
    );
  }
  const needed = rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
  if (x.length < needed) {
    throw new RangeError(
      `Cannot run sgemm: ${name} holds ${x.length} elements, ${rows}×${cols} with stride ${ld} needs ${needed}`,
    );
  }
}

/** `C = beta·C` on the `m×n` block (beta 0 overwrites with zeros). */
function _scaleC(m: number, n: number, beta: number, c: Float32Array, ldc: number): void {
  if (beta === 1) return;
  for (let i = 0; i < m; i++) {
    const ci = i * ldc;
    if (beta === 0) {
      c.fill(0, ci, ci + n);
    } else {
      for (let j = ci, end = ci + n; j < end; j++) c[j] *= beta;
    }
  }
}

/**
 * Edge blocks: `C[i,j] += alpha·Σ_p A(i,p)·B(p,j)` for `i0 ≤ i < i1`,
 * `j0 ≤ j < j1`, with `A(i,p) = a[i·sai + p·sap]` and `B(p,j) = b[p·sbp + j·sbj]`.
 */
function _gemmEdge(
  i0: number,
  i1: number,
  j0: number,
  j1: number,
  k: number,
  alpha: number,
  a: Float32Array,
  sai: number,
  sap: number,
  b: Float32Array,
  sbp: number,
  sbj: number,
  c: Float32Array,
  ldc: number,
  overwrite: boolean,
): void {
  for (let i = i0; i < i1; i++) {
    const ai = i * sai;
    for (let j = j0; j < j1; j++) {
      const bj = j * sbj;
      let t = 0;
      for (let p = 0, pa = ai, pb = bj; p < k; p++, pa += sap, pb += sbp) t += a[pa] * b[pb];
      const ci = i * ldc + j;
      c[ci] = overwrite ? alpha * t : c[ci] + alpha * t;
    }
  }
}

/**
 * Stores a 4×4 block of accumulators: `C[i..i+3, j..j+3] = alpha·acc`
 * (`overwrite`) or `+= alpha·acc`.
 */
function _store4x4(
  c: Float32Array,
  ci: number,
  ldc: number,
  alpha: number,
  acc: Float64Array,
  overwrite: boolean,
): void {
  for (let r = 0; r < 4; r++, ci += ldc) {
    const q = r * 4;
    if (overwrite) {
      c[ci] = alpha * acc[q];
      c[ci + 1] = alpha * acc[q + 1];
      c[ci + 2] = alpha * acc[q + 2];
      c[ci + 3] = alpha * acc[q + 3];
    } else {
      c[ci] += alpha * acc[q];
      c[ci + 1] += alpha * acc[q + 1];
      c[ci + 2] += alpha * acc[q + 2];
      c[ci + 3] += alpha * acc[q + 3];
    }
  }
}

// One 4×4 register block's accumulators, spilled only to be stored.
const _acc = new Float64Array(16);

/** C += alpha·A·B (A m×k, B k×n): 4×4 register blocks over contiguous rows of B. */
function _gemmNN(
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
  c: Float32Array,
  ldc: number,
  overwrite: boolean,
): void {
  const m4 = m - (m & 3);
  const n4 = n - (n & 3);
  const acc = _acc;
  for (let i = 0; i < m4; i += 4) {
    const a0 = i * lda;
    const a1 = a0 + lda;
    const a2 = a1 + lda;
    const a3 = a2 + lda;
    for (let j = 0; j < n4; j += 4) {
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      for (let p = 0, pb = j; p < k; p++, pb += ldb) {
        const b0 = b[pb], b1 = b[pb + 1], b2 = b[pb + 2], b3 = b[pb + 3];
        let x = a[a0 + p];
        c00 += x * b0, c01 += x * b1, c02 += x * b2, c03 += x * b3;
        x = a[a1 + p];
        c10 += x * b0, c11 += x * b1, c12 += x * b2, c13 += x * b3;
        x = a[a2 + p];
        c20 += x * b0, c21 += x * b1, c22 += x * b2, c23 += x * b3;
        x = a[a3 + p];
        c30 += x * b0, c31 += x * b1, c32 += x * b2, c33 += x * b3;
      }
      acc[0] = c00, acc[1] = c01, acc[2] = c02, acc[3] = c03;
      acc[4] = c10, acc[5] = c11, acc[6] = c12, acc[7] = c13;
      acc[8] = c20, acc[9] = c21, acc[10] = c22, acc[11] = c23;
      acc[12] = c30, acc[13] = c31, acc[14] = c32, acc[15] = c33;
      _store4x4(c, i * ldc + j, ldc, alpha, acc, overwrite);
    }
  }
  if (n4 < n) _gemmEdge(0, m, n4, n, k, alpha, a, lda, 1, b, ldb, 1, c, ldc, overwrite);
  if (m4 < m) _gemmEdge(m4, m, 0, n4, k, alpha, a, lda, 1, b, ldb, 1, c, ldc, overwrite);
}

/** C += alpha·A·Bᵀ (A m×k, B stored n×k): 4×4 blocks of dot products. */
function _gemmNT(
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
  c: Float32Array,
  ldc: number,
  overwrite: boolean,
): void {
  const m4 = m - (m & 3);
  const n4 = n - (n & 3);
  const acc = _acc;
  for (let i = 0; i < m4; i += 4) {
    const a0 = i * lda;
    const a1 = a0 + lda;
    const a2 = a1 + lda;
    const a3 = a2 + lda;
    for (let j = 0; j < n4; j += 4) {
      const b0 = j * ldb;
      const b1 = b0 + ldb;
      const b2 = b1 + ldb;
      const b3 = b2 + ldb;
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      for (let p = 0; p < k; p++) {
        const y0 = b[b0 + p], y1 = b[b1 + p], y2 = b[b2 + p], y3 = b[b3 + p];
        let x = a[a0 + p];
        c00 += x * y0, c01 += x * y1, c02 += x * y2, c03 += x * y3;
        x = a[a1 + p];
        c10 += x * y0, c11 += x * y1, c12 += x * y2, c13 += x * y3;
        x = a[a2 + p];
        c20 += x * y0, c21 += x * y1, c22 += x * y2, c23 += x * y3;
        x = a[a3 + p];
        c30 += x * y0, c31 += x * y1, c32 += x * y2, c33 += x * y3;
      }
      acc[0] = c00, acc[1] = c01, acc[2] = c02, acc[3] = c03;
      acc[4] = c10, acc[5] = c11, acc[6] = c12, acc[7] = c13;
      acc[8] = c20, acc[9] = c21, acc[10] = c22, acc[11] = c23;
      acc[12] = c30, acc[13] = c31, acc[14] = c32, acc[15] = c33;
      _store4x4(c, i * ldc + j, ldc, alpha, acc, overwrite);
    }
  }
  if (n4 < n) _gemmEdge(0, m, n4, n, k, alpha, a, lda, 1, b, 1, ldb, c, ldc, overwrite);
  if (m4 < m) _gemmEdge(m4, m, 0, n4, k, alpha, a, lda, 1, b, 1, ldb, c, ldc, overwrite);
}

/** C += alpha·Aᵀ·B (A stored k×m, B k×n): 4×4 blocks over contiguous rows of A and B. */
function _gemmTN(
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
  c: Float32Array,
  ldc: number,
  overwrite: boolean,
): void {
  const m4 = m - (m & 3);
  const n4 = n - (n & 3);
  const acc = _acc;
  for (let i = 0; i < m4; i += 4) {
    for (let j = 0; j < n4; j += 4) {
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      for (let p = 0, pa = i, pb = j; p < k; p++, pa += lda, pb += ldb) {
        const y0 = b[pb], y1 = b[pb + 1], y2 = b[pb + 2], y3 = b[pb + 3];
        let x = a[pa];
        c00 += x * y0, c01 += x * y1, c02 += x * y2, c03 += x * y3;
        x = a[pa + 1];
        c10 += x * y0, c11 += x * y1, c12 += x * y2, c13 += x * y3;
        x = a[pa + 2];
        c20 += x * y0, c21 += x * y1, c22 += x * y2, c23 += x * y3;
        x = a[pa + 3];
        c30 += x * y0, c31 += x * y1, c32 += x * y2, c33 += x * y3;
      }
      acc[0] = c00, acc[1] = c01, acc[2] = c02, acc[3] = c03;
      acc[4] = c10, acc[5] = c11, acc[6] = c12, acc[7] = c13;
      acc[8] = c20, acc[9] = c21, acc[10] = c22, acc[11] = c23;
      acc[12] = c30, acc[13] = c31, acc[14] = c32, acc[15] = c33;
      _store4x4(c, i * ldc + j, ldc, alpha, acc, overwrite);
    }
  }
  if (n4 < n) _gemmEdge(0, m, n4, n, k, alpha, a, 1, lda, b, ldb, 1, c, ldc, overwrite);
  if (m4 < m) _gemmEdge(m4, m, 0, n4, k, alpha, a, 1, lda, b, ldb, 1, c, ldc, overwrite);
}

/** C += alpha·Aᵀ·Bᵀ (A stored k×m, B stored n×k). Rare; scalar loops. */
function _gemmTT(
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
  c: Float32Array,
  ldc: number,
  overwrite: boolean,
): void {
  _gemmEdge(0, m, 0, n, k, alpha, a, 1, lda, b, 1, ldb, c, ldc, overwrite);
}

/**
 * Pure-TypeScript `sgemm` (no allocation per call, arguments checked):
 * 4×4 register-blocked kernels specialised for each transpose case. Each
 * element's dot product accumulates in float64 and is added to `C` once,
 * so results match a BLAS within float32 rounding, not bit for bit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tsBackend } from "./gemm.ts";
 * // [1 2; 3 4] · [5; 6] = [17; 39]
 * const c = new Float32Array(2);
 * tsBackend.sgemm({
 *   transA: false, transB: false, m: 2, n: 1, k: 2, alpha: 1,
 *   a: Float32Array.of(1, 2, 3, 4), lda: 2, b: Float32Array.of(5, 6), ldb: 1,
 *   beta: 0, c, ldc: 1,
 * });
 * assert.ok(c[0] === 17 && c[1] === 39);
 * ```
 */
export const tsBackend: Backend = {
  name: "ts",
  sgemm(args: GemmArgs): void {
    checkGemmArgs(args);
    const { m, n, k, alpha, a, lda, b, ldb, beta, c, ldc } = args;
    if (m === 0 || n === 0) return;
    if (k === 0 || alpha === 0) {
      _scaleC(m, n, beta, c, ldc);
      return;
    }
    if (beta !== 0 && beta !== 1) _scaleC(m, n, beta, c, ldc);
    const overwrite = beta === 0;
    if (args.transA) {
      if (args.transB) _gemmTT(m, n, k, alpha, a, lda, b, ldb, c, ldc, overwrite);
      else _gemmTN(m, n, k, alpha, a, lda, b, ldb, c, ldc, overwrite);
    } else if (args.transB) {
      _gemmNT(m, n, k, alpha, a, lda, b, ldb, c, ldc, overwrite);
    } else {
      _gemmNN(m, n, k, alpha, a, lda, b, ldb, c, ldc, overwrite);
    }
  },
};
