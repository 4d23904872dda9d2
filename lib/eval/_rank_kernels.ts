/**
 * The full-ranking scans over a user's scores of every item: how many
 * scores are not below the positive's, and where the next score above a
 * threshold is. A JavaScript comparison loop mispredicts a branch on about
 * every other item of a ranking (≈ 5 ns per item here); the WebAssembly SIMD
 * module (`_rank_kernels.wat`) compares four at a time without branching.
 * Each thread owns one instance, whose memory holds the score rows.
 *
 * @module
 */

import { RANK_KERNELS_BASE64 } from "./_rank_kernels_wasm.ts";

interface _Exports {
  memory: WebAssembly.Memory;
  count_not_below(ptr: number, n: number, p: number): number;
  next_above(ptr: number, n: number, t: number): number;
}

let _module: WebAssembly.Module | undefined;

function _compiled(): WebAssembly.Module {
  if (_module === undefined) {
    const binary = atob(RANK_KERNELS_BASE64);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    _module = new WebAssembly.Module(bytes);
  }
  return _module;
}

/**
 * Score rows and the scans over them. With `wasm` (the default) the rows
 * live in a WebAssembly memory and the scans run there; without, plain
 * arrays and loops give the same results (for `--backend ts`, which uses no
 * WebAssembly).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RankKernels } from "./_rank_kernels.ts";
 * for (const wasm of [true, false]) {
 *   const kernels = new RankKernels({ wasm });
 *   const row = kernels.rows(5);
 *   row.set([0.5, 0.9, 0.5, NaN, 0.1]);
 *   assert.equal(kernels.countNotBelow(row, 0, 5, 0.5), 4); // 0.5, 0.9, 0.5 and NaN
 *   assert.equal(kernels.nextAbove(row, 2, 3, 0.3), 0); // row[2] = 0.5 > 0.3
 *   assert.equal(kernels.nextAbove(row, 3, 2, 0.3), 2); // none: the count
 * }
 * ```
 */
export class RankKernels {
  #exports: _Exports | null;
  #rows: Float32Array = new Float32Array(0);

  /** @param options `wasm`: run the WebAssembly module (default true). */
  constructor(options: { wasm?: boolean | undefined } = {}) {
    this.#exports = options.wasm ?? true
      ? new WebAssembly.Instance(_compiled()).exports as unknown as _Exports
      : null;
  }

  /**
   * A buffer of at least `length` floats for score rows, the one the scans
   * expect. Growing it invalidates the buffers returned before.
   */
  rows(length: number): Float32Array {
    const ex = this.#exports;
    if (ex === null) {
      if (this.#rows.length < length) this.#rows = new Float32Array(length);
      return this.#rows;
    }
    const bytes = 4 * length;
    const have = ex.memory.buffer.byteLength;
    if (have < bytes) ex.memory.grow(Math.ceil((bytes - have) / 65536));
    if (this.#rows.buffer !== ex.memory.buffer || this.#rows.length < length) {
      this.#rows = new Float32Array(ex.memory.buffer, 0, ex.memory.buffer.byteLength / 4);
    }
    return this.#rows;
  }

  /** How many of `rows[from..from+n)` are not below the float32 `p` (`!(x < p)`: NaN counts). */
  countNotBelow(rows: Float32Array, from: number, n: number, p: number): number {
    const ex = this.#exports;
    if (ex !== null && rows.buffer === ex.memory.buffer) {
      return ex.count_not_below(rows.byteOffset + 4 * from, n, p);
    }
    let below = 0;
    for (let i = from, end = from + n; i < end; i++) if (rows[i] < p) below++;
    return n - below;
  }

  /** The offset from `from` of the first of `rows[from..from+n)` above the float32 `t`, else `n` (NaN never is). */
  nextAbove(rows: Float32Array, from: number, n: number, t: number): number {
    const ex = this.#exports;
    if (ex !== null && rows.buffer === ex.memory.buffer) {
      return ex.next_above(rows.byteOffset + 4 * from, n, t);
    }
    for (let i = 0; i < n; i++) if (rows[from + i] > t) return i;
    return n;
  }
}
