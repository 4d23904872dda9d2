/**
 * WebAssembly SIMD kernels and the memory they work on. A
 * {@linkcode WasmArena} is one `WebAssembly.Memory` with an instance of the
 * kernel module (`wasm_kernels.wat`); a model allocates its parameters,
 * optimizer moments and work buffers there, and the kernels follow the
 * memory: a function given arrays that all live in one arena (see
 * {@linkcode wasmArenaOf}) runs the WebAssembly kernel, otherwise its
 * TypeScript loop. Every kernel but `gemm` gives the same bits as the
 * TypeScript loop it replaces, so where an array lives changes speed, not
 * results.
 *
 * The memory is sized once, when the arena is made, and never grows
 * (growing would detach every view handed out; a non-shared memory keeps
 * the kernels and `TypedArray` built-ins on their fast paths). Reserving
 * is cheap: pages are only backed once written. Allocations that do not
 * fit get ordinary arrays, on which everything still works, in TypeScript.
 *
 * @module
 */

import { WASM_KERNELS_BASE64 } from "./wasm_kernels_wasm.ts";

/** The kernel module's exports (pointers and strides in bytes). */
export interface WasmKernels {
  /** Adam over `n` elements in float32 (see adam.ts); zeroes the gradients. */
  adam(
    p: number,
    g: number,
    m: number,
    v: number,
    n: number,
    beta1: number,
    beta2: number,
    c1: number,
    c2: number,
    lrT: number,
    epsilon: number,
  ): void;
  /** `x[i] = x[i] < 0 ? 0 : x[i]` for `i < n`. */
  relu(x: number, n: number): void;
  /** `g[i] = act[i] > 0 ? g[i] : 0` for `i < n`. */
  relu_backward(act: number, g: number, n: number): void;
  /** Column sums of `dy[count×out]` in float64 (scratch at `s`) into `bias` (`acc`: add). */
  bias_grad(dy: number, count: number, out: number, bias: number, acc: number, s: number): void;
  /** `C = alpha·A·B (+ C)`, float32; see wasm_kernels.wat. */
  gemm(
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: number,
    sai: number,
    sap: number,
    b: number,
    ldb: number,
    c: number,
    ldc: number,
    acc: number,
  ): void;
  /** `dst[c·rows + r] = src[r·ld + c]` (ld in bytes). */
  transpose(src: number, rows: number, cols: number, ld: number, dst: number): void;
  /** Row `b` of `out` (stride bytes) = row `ids[b]` of `table` (`dim` bytes), `b < count`. */
  gather(table: number, ids: number, count: number, dim: number, out: number, stride: number): void;
  /** Row `ids[b]` of `grads` += row `b` of `src`, `b < count`, in order. */
  scatter_add(
    grads: number,
    ids: number,
    count: number,
    dim: number,
    src: number,
    stride: number,
  ): void;
  /** Copies `rows` rows of `cols` bytes between strided matrices (`ss` 0 repeats one row). */
  copy_rows(src: number, ss: number, dst: number, sd: number, rows: number, cols: number): void;
  /**
   * For each candidate `c < count`, from one read of row `ids[c]` of `table`
   * (row stride `rs` bytes): `logits[c] = base + Σ row[j]·uw[j]` over the
   * first `nf` bytes, and (when `dim` > 0) row `c` of `out` (stride `so`) =
   * max(row[nf + j] + vec[j], 0) over the next `dim` bytes.
   */
  score_joint(
    table: number,
    ids: number,
    count: number,
    rs: number,
    nf: number,
    uw: number,
    base: number,
    logits: number,
    dim: number,
    vec: number,
    out: number,
    so: number,
  ): void;
  /**
   * Per-example SGD of a biased MF with the logistic loss over `count`
   * examples (float32 labels), as `mf_sgd.ts`; `nfb` is the row size in
   * bytes. Returns `loss` plus the examples' losses.
   */
  mf_sgd_bce(
    P: number,
    Q: number,
    bu: number,
    bi: number,
    gb: number,
    users: number,
    items: number,
    labels: number,
    count: number,
    nfb: number,
    lr: number,
    reg: number,
    penalty: number,
    loss: number,
  ): number;
  /** Like `mf_sgd_bce`, with the BPR loss on triples (negative items at `negs`). */
  mf_sgd_bpr(
    P: number,
    Q: number,
    bu: number,
    bi: number,
    gb: number,
    users: number,
    items: number,
    negs: number,
    count: number,
    nfb: number,
    lr: number,
    reg: number,
    penalty: number,
    loss: number,
  ): number;
  /** Rows of `dim` bytes: `out = max(src + vec, 0)` (NaN to 0), contiguous. */
  add_relu_rows(src: number, vec: number, out: number, rows: number, dim: number): void;
  /** Element-wise products of `rows` rows of `cols` bytes, strided. */
  mul_rows(
    x: number,
    sx: number,
    y: number,
    sy: number,
    out: number,
    so: number,
    rows: number,
    cols: number,
  ): void;
}

const _PAGE = 65536;
/** 4 GiB, the most a 32-bit WebAssembly memory holds. */
const _MAX_PAGES = 65536;
const _ALIGN = 64;

let _module: WebAssembly.Module | null | undefined;
const _owners = new WeakMap<ArrayBufferLike, WasmArena>();

function _compile(): WebAssembly.Module | null {
  if (_module === undefined) {
    try {
      const bytes = Uint8Array.from(atob(WASM_KERNELS_BASE64), (c) => c.charCodeAt(0));
      _module = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
    } catch {
      _module = null;
    }
  }
  return _module;
}

/**
 * Whether this runtime runs the kernels (WebAssembly SIMD). When it does
 * not, everything runs the TypeScript loops.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { wasmKernelsAvailable } from "./wasm_arena.ts";
 * assert.equal(wasmKernelsAvailable(), true); // Deno 2 has WebAssembly SIMD
 * ```
 */
export function wasmKernelsAvailable(): boolean {
  return _compile() !== null;
}

/**
 * The arena an array lives in, or `undefined` for an ordinary array.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WasmArena, wasmArenaOf } from "./wasm_arena.ts";
 * const arena = WasmArena.create();
 * if (arena !== null) assert.equal(wasmArenaOf(arena.alloc(4)), arena);
 * assert.equal(wasmArenaOf(new Float32Array(4)), undefined);
 * ```
 */
export function wasmArenaOf(x: ArrayBufferView): WasmArena | undefined {
  return _owners.get(x.buffer);
}

/**
 * A fixed-size memory with the kernel module instantiated on it and a bump
 * allocator (blocks are never freed; the arena goes away with its owner).
 */
export class WasmArena {
  /** The memory every view of this arena points into. */
  readonly memory: WebAssembly.Memory;
  /** The kernels, bound to this memory. */
  readonly kernels: WasmKernels;
  #top = _ALIGN;
  #scratch = [0, 0];
  #scratchBytes = [0, 0];
  #ids: Int32Array = new Int32Array(0);

  readonly #buffer: ArrayBuffer;

  private constructor(module: WebAssembly.Module, pages: number) {
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    const instance = new WebAssembly.Instance(module, {
      env: { memory: this.memory, exp: Math.exp, log: Math.log },
    });
    this.kernels = instance.exports as unknown as WasmKernels;
    this.#buffer = this.memory.buffer as ArrayBuffer;
    _owners.set(this.#buffer, this);
  }

  /**
   * A new arena of `bytes` (default 1 MiB; at most 4 GiB), or `null` when
   * the runtime lacks WebAssembly SIMD or the memory cannot be reserved.
   */
  static create(options: { bytes?: number } = {}): WasmArena | null {
    const module = _compile();
    if (module === null) return null;
    const pages = Math.min(_MAX_PAGES, Math.max(1, Math.ceil((options.bytes ?? 1 << 20) / _PAGE)));
    try {
      return new WasmArena(module, pages);
    } catch {
      return null;
    }
  }

  /** Bytes handed out so far. */
  get bytesUsed(): number {
    return this.#top;
  }

  /** The arena's size in bytes. */
  get bytes(): number {
    return this.#buffer.byteLength;
  }

  /** Reserves `bytes` (64-byte aligned) and returns its address, or null when full. */
  #reserve(bytes: number): number | null {
    const at = this.#top;
    const end = at + Math.ceil(bytes / _ALIGN) * _ALIGN;
    if (end > this.#buffer.byteLength) return null;
    this.#top = end;
    return at;
  }

  /**
   * A zeroed `Float32Array` of `length` in this arena; an ordinary array
   * when the arena is full, so callers always get storage (the kernels then
   * fall back to TypeScript).
   */
  alloc(length: number): Float32Array {
    const at = this.#reserve(length * 4);
    if (at === null) return new Float32Array(length);
    return new Float32Array(this.#buffer, at, length);
  }

  /** Like {@linkcode WasmArena.alloc}, for `Int32Array`. */
  allocInt32(length: number): Int32Array {
    const at = this.#reserve(length * 4);
    if (at === null) return new Int32Array(length);
    return new Int32Array(this.#buffer, at, length);
  }

  /**
   * The address of a scratch block of at least `bytes`, reused by every
   * call (its content is not kept), or `null` when the arena is full. Slot
   * 1 is a second, independent block (used for ids). Reserve them early
   * (e.g. `scratch(n)` right after making the arena) to keep them from
   * being reallocated.
   */
  scratch(bytes: number, slot: 0 | 1 = 0): number | null {
    if (bytes > this.#scratchBytes[slot]) {
      const size = Math.ceil(bytes / _ALIGN) * _ALIGN;
      const at = this.#reserve(size);
      if (at === null) return null;
      this.#scratch[slot] = at;
      this.#scratchBytes[slot] = size;
    }
    return this.#scratch[slot];
  }

  /**
   * The address of `ids[0..count)` in this arena: `ids` itself when it
   * lives here, else a copy in scratch slot 1; `null` when memory runs out.
   */
  ids(ids: Int32Array, count: number): number | null {
    if (_owners.get(ids.buffer) === this) return ids.byteOffset;
    const at = this.scratch(count * 4, 1);
    if (at === null) return null;
    let view: Int32Array = this.#ids;
    if (view.byteOffset !== at || view.length < count) {
      view = this.#ids = new Int32Array(this.#buffer, at, this.#scratchBytes[1] >> 2);
    }
    view.set(count === ids.length ? ids : ids.subarray(0, count));
    return at;
  }

  /** Whether every array lives in this arena. */
  owns(...arrays: ArrayBufferView[]): boolean {
    for (const x of arrays) if (_owners.get(x.buffer) !== this) return false;
    return true;
  }
}
