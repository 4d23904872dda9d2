/**
 * The BLAS backend: `cblas_sgemm` from the system's OpenBLAS (Debian's
 * `libopenblas0-pthread`) or any CBLAS, through `Deno.dlopen`.
 *
 * @module
 */

import type { Backend, GemmArgs } from "./gemm.ts";

const _ROW_MAJOR = 101;
const _NO_TRANS = 111;
const _TRANS = 112;

/** Libraries tried in order (the first that opens and has `cblas_sgemm` wins). */
export const BLAS_LIBRARY_CANDIDATES = [
  "libopenblas.so.0",
  "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
  "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
  "libopenblas.so",
  "libopenblas.dylib",
  "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
  "libcblas.so.3",
  "libblas.so.3",
] as const;

const _SYMBOLS = {
  cblas_sgemm: {
    parameters: [
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "f32",
      "buffer",
      "i32",
      "buffer",
      "i32",
      "f32",
      "buffer",
      "i32",
    ],
    result: "void",
  },
  openblas_set_num_threads: { parameters: ["i32"], result: "void", optional: true },
} as const;

/** A loaded BLAS backend and where it came from. */
export interface BlasBackend extends Backend {
  /** The library path that was opened. */
  readonly library: string;
  /** Threads the library was last told to use (1 when it cannot be told). */
  readonly threads: number;
  /**
   * Sets the library's thread count (OpenBLAS only; others keep theirs).
   * OpenBLAS splits a product's rows and columns, not its sums, between
   * threads, so results do not depend on the count.
   */
  setThreads(threads: number): void;
  /** Closes the library. */
  close(): void;
}

/**
 * Opens the first BLAS library that works, or returns `undefined` (with the
 * reasons) when none does or FFI is not permitted.
 *
 * @example
 * ```ts
 * import { openBlasBackend } from "./blas.ts";
 * const blas = openBlasBackend();
 * if (blas.backend !== undefined) {
 *   const c = new Float32Array(1);
 *   blas.backend.sgemm({ transA: false, transB: false, m: 1, n: 1, k: 2, alpha: 1,
 *     a: Float32Array.of(1, 2), lda: 2, b: Float32Array.of(3, 4), ldb: 1, beta: 0, c, ldc: 1 });
 *   if (c[0] !== 11) throw new Error("bad sgemm");
 *   blas.backend.close();
 * }
 * ```
 */
export function openBlasBackend(
  options: { candidates?: readonly string[]; threads?: number } = {},
): { backend?: BlasBackend; errors: string[] } {
  const errors: string[] = [];
  const envLibrary = Deno.env.get("NCF_BLAS_LIBRARY");
  const candidates = options.candidates ??
    (envLibrary === undefined ? BLAS_LIBRARY_CANDIDATES : [envLibrary]);
  for (const library of candidates) {
    let lib;
    try {
      lib = Deno.dlopen(library, _SYMBOLS);
    } catch (e) {
      errors.push(`${library}: ${(e as Error).message}`);
      continue;
    }
    const symbols = lib.symbols;
    const sgemm = symbols.cblas_sgemm;
    let threads = 1;
    const setThreads = (n: number) => {
      if (!Number.isInteger(n) || n < 1) {
        throw new RangeError(`Cannot set BLAS threads to ${n}: not an integer ≥ 1`);
      }
      if (symbols.openblas_set_num_threads !== null) {
        symbols.openblas_set_num_threads(n);
        threads = n;
      }
    };
    setThreads(options.threads ?? 1);
    return {
      errors,
      backend: {
        name: "blas",
        library,
        get threads() {
          return threads;
        },
        setThreads,
        sgemm(g: GemmArgs): void {
          if (g.m === 0 || g.n === 0) return;
          sgemm(
            _ROW_MAJOR,
            g.transA ? _TRANS : _NO_TRANS,
            g.transB ? _TRANS : _NO_TRANS,
            g.m,
            g.n,
            g.k,
            g.alpha,
            g.a,
            g.lda,
            g.b,
            g.ldb,
            g.beta,
            g.c,
            g.ldc,
          );
        },
        close: () => lib.close(),
      },
    };
  }
  return { errors };
}
