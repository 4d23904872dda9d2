/**
 * The `ts` kernel set: every kernel as a TypeScript loop, and the
 * TypeScript `sgemm`. Instantiates no WebAssembly. The WebAssembly sets fall
 * back to these loops for arrays outside their memory, and their kernels
 * (all but `sgemm`) give the same bits as these.
 *
 * @module
 */

import { tsBackend } from "./gemm.ts";
import type {
  AdamConstants,
  Kernels,
  MemoryPlan,
  MfSgdOptions,
  RowBlockOptions,
  ScoreRowsOptions,
  TensorMemory,
} from "./kernels.ts";
import { mfSgdTs } from "./mf_sgd.ts";
import type { TouchedRows } from "./touched_rows.ts";

/**
 * Plain zeroed arrays: the `ts` set's memory, and every set's where its own
 * cannot be had.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { plainMemory } from "./ts_kernels.ts";
 * assert.ok(plainMemory.alloc(3).buffer instanceof ArrayBuffer);
 * ```
 */
export const plainMemory: TensorMemory = { alloc: (length) => new Float32Array(length) };

/** Smallest normal float32; Adam moments below it are flushed to zero. */
const _FLT_MIN = 1.1754943508222875e-38;

// Column sums of the bias gradient, float64, grown as needed.
let _sums = new Float64Array(64);

/**
 * Checks the ids of a gather (or scatter) against a table of `rows` rows.
 * @throws {RangeError} naming the first id outside the table.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkRowIds } from "./ts_kernels.ts";
 * checkRowIds("gather embedding rows", Int32Array.of(0, 2), { count: 2, rows: 3 });
 * assert.throws(() => checkRowIds("gather", Int32Array.of(3), { count: 1, rows: 3 }), RangeError);
 * ```
 */
export function checkRowIds(
  action: string,
  ids: Int32Array,
  options: { count: number; rows: number },
): void {
  const { count, rows } = options;
  if (ids.length < count) {
    throw new RangeError(`Cannot ${action}: ${count} ids requested, the array holds ${ids.length}`);
  }
  for (let b = 0; b < count; b++) {
    const id = ids[b];
    if (id < 0 || id >= rows) {
      throw new RangeError(
        `Cannot ${action}: id ${id} at position ${b} is outside the table's ${rows} rows`,
      );
    }
  }
}

function _bceInt8(
  logits: Float32Array,
  labels: Int8Array,
  count: number,
  grad: Float32Array | null,
): number {
  let sum = 0;
  const inv = 1 / count;
  for (let b = 0; b < count; b++) {
    const z = logits[b];
    const y = labels[b];
    const e = Math.exp(-Math.abs(z)); // in (0, 1]
    sum += (z > 0 ? z : 0) - z * y + Math.log1p(e);
    if (grad !== null) {
      const p = z >= 0 ? 1 / (1 + e) : e / (1 + e);
      grad[b] = (p - y) * inv;
    }
  }
  return sum;
}

function _bceFloat(
  logits: Float32Array,
  labels: Float32Array,
  count: number,
  grad: Float32Array | null,
): number {
  let sum = 0;
  const inv = 1 / count;
  for (let b = 0; b < count; b++) {
    const z = logits[b];
    const y = labels[b];
    const e = Math.exp(-Math.abs(z));
    sum += (z > 0 ? z : 0) - z * y + Math.log1p(e);
    if (grad !== null) {
      const p = z >= 0 ? 1 / (1 + e) : e / (1 + e);
      grad[b] = (p - y) * inv;
    }
  }
  return sum;
}

/**
 * The TypeScript kernels (see {@linkcode Kernels}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tsKernels } from "./ts_kernels.ts";
 * const v = Float32Array.of(-1, 0, 2);
 * tsKernels.relu(v, 3);
 * assert.equal(v.join(), "0,0,2");
 * const table = Float32Array.of(0, 1, 10, 11, 20, 21); // 3 rows of 2
 * const out = new Float32Array(4);
 * tsKernels.gatherRows(table, Int32Array.of(2, 0), { dim: 2, count: 2, out });
 * assert.equal(out.join(), "20,21,0,1");
 * ```
 */
export const tsKernels: Kernels = {
  name: "ts",
  description: "ts (TypeScript sgemm and element-wise kernels)",

  memory(_plan: MemoryPlan): TensorMemory {
    return plainMemory;
  },

  sgemm: tsBackend.sgemm,

  broadcastRows(row: Float32Array, out: Float32Array, options: { count: number }): void {
    const width = row.length;
    for (let r = 0; r < options.count; r++) out.set(row, r * width);
  },

  biasGrad(
    dy: Float32Array,
    biasGrad: Float32Array,
    options: { count: number; accumulate: boolean },
  ): void {
    const { count, accumulate } = options;
    const out = biasGrad.length;
    if (_sums.length < out) _sums = new Float64Array(out);
    const sums = _sums;
    sums.fill(0, 0, out);
    for (let r = 0; r < count; r++) {
      const base = r * out;
      for (let j = 0; j < out; j++) sums[j] += dy[base + j];
    }
    if (accumulate) { for (let j = 0; j < out; j++) biasGrad[j] += sums[j]; }
    else for (let j = 0; j < out; j++) biasGrad[j] = sums[j];
  },

  addReluRows(src: Float32Array, row: Float32Array, out: Float32Array, o: { count: number }): void {
    const w = row.length;
    for (let r = 0; r < o.count; r++) {
      for (let j = 0; j < w; j++) {
        const x = Math.fround(src[r * w + j] + row[j]);
        out[r * w + j] = x > 0 ? x : 0;
      }
    }
  },

  relu(values: Float32Array, length: number): void {
    for (let i = 0; i < length; i++) if (values[i] < 0) values[i] = 0;
  },

  reluBackward(activations: Float32Array, grads: Float32Array, length: number): void {
    for (let i = 0; i < length; i++) if (!(activations[i] > 0)) grads[i] = 0;
  },

  gatherRows(
    table: Float32Array,
    ids: Int32Array,
    options: RowBlockOptions & { out: Float32Array },
  ): void {
    const { dim, count, out } = options;
    const stride = options.stride ?? dim;
    const offset = options.offset ?? 0;
    checkRowIds("gather embedding rows", ids, { count, rows: table.length / dim });
    for (let b = 0; b < count; b++) {
      const src = ids[b] * dim;
      const dst = offset + b * stride;
      for (let d = 0; d < dim; d++) out[dst + d] = table[src + d];
    }
  },

  scatterAddRows(
    grads: Float32Array,
    ids: Int32Array,
    options: RowBlockOptions & { src: Float32Array; touched?: TouchedRows | null },
  ): void {
    const { dim, count, src } = options;
    const stride = options.stride ?? dim;
    const offset = options.offset ?? 0;
    checkRowIds("scatter embedding gradients", ids, { count, rows: grads.length / dim });
    for (let b = 0; b < count; b++) {
      const dst = ids[b] * dim;
      const from = offset + b * stride;
      for (let d = 0; d < dim; d++) grads[dst + d] += src[from + d];
    }
    const touched = options.touched ?? null;
    if (touched !== null) { for (let b = 0; b < count; b++) touched.mark(ids[b]); }
  },

  l2RowPenalty(
    table: Float32Array,
    ids: Int32Array,
    options: { dim: number; count: number; grads?: Float32Array | null; gradScale?: number },
  ): number {
    const { dim, count } = options;
    const grads = options.grads ?? null;
    const scale = options.gradScale ?? 0;
    checkRowIds("compute the embedding penalty", ids, { count, rows: table.length / dim });
    let sum = 0;
    for (let b = 0; b < count; b++) {
      const base = ids[b] * dim;
      for (let d = 0; d < dim; d++) {
        const w = table[base + d];
        sum += w * w;
      }
      if (grads !== null && scale !== 0) {
        for (let d = 0; d < dim; d++) grads[base + d] += scale * table[base + d];
      }
    }
    return sum;
  },

  mulRows(
    x: Float32Array,
    y: Float32Array,
    options: { sx: number; sy: number; out: Float32Array; so: number; rows: number; cols: number },
  ): void {
    const { sx, sy, out, so, rows, cols } = options;
    for (let r = 0; r < rows; r++) {
      const a = r * sx;
      const b = r * sy;
      const o = r * so;
      for (let c = 0; c < cols; c++) out[o + c] = x[a + c] * y[b + c];
    }
  },

  copyColumns(
    src: Float32Array,
    dst: Float32Array,
    options: { count: number; width: number; at: number; to?: number; from?: number },
  ): void {
    const { count, width, at } = options;
    if (options.to !== undefined) {
      const to = options.to;
      for (let b = 0; b < count; b++) {
        const s = b * width;
        const d = b * to + at;
        for (let j = 0; j < width; j++) dst[d + j] = src[s + j];
      }
    } else {
      const from = options.from ?? width;
      for (let b = 0; b < count; b++) {
        const s = b * from + at;
        const d = b * width;
        for (let j = 0; j < width; j++) dst[d + j] = src[s + j];
      }
    }
  },

  scoreRows(items: Int32Array, o: ScoreRowsOptions): void {
    const { count, gmf, gmfStride, nf, uw, base, logits, mlp, mlpStride, mlpOffset, width } = o;
    const { userPart, act } = o;
    const f = Math.fround;
    const lanes = nf & ~3;
    for (let c = 0; c < count; c++) {
      const r = items[c] * gmfStride;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      let p = 0;
      for (; p < lanes; p += 4) {
        s0 = f(s0 + f(gmf[r + p] * uw[p]));
        s1 = f(s1 + f(gmf[r + p + 1] * uw[p + 1]));
        s2 = f(s2 + f(gmf[r + p + 2] * uw[p + 2]));
        s3 = f(s3 + f(gmf[r + p + 3] * uw[p + 3]));
      }
      let t = f(f(s0 + s1) + f(s2 + s3));
      for (; p < nf; p++) t = f(t + f(gmf[r + p] * uw[p]));
      logits[c] = base + t;
      const m = items[c] * mlpStride + mlpOffset;
      const d = c * width;
      for (let j = 0; j < width; j++) {
        const z = f(mlp[m + j] + userPart[j]);
        act[d + j] = z > 0 ? z : 0;
      }
    }
  },

  adamUpdate(
    values: Float32Array,
    grads: Float32Array,
    options: {
      m: Float32Array;
      v: Float32Array;
      start: number;
      end: number;
      constants: AdamConstants;
    },
  ): void {
    const { m, v, start, end } = options;
    const f = Math.fround;
    const { b1, b2, c1, c2, lr, eps } = options.constants;
    for (let i = start; i < end; i++) {
      const g = grads[i];
      grads[i] = 0;
      let mi = f(f(b1 * m[i]) + f(c1 * g));
      let vi = f(f(b2 * v[i]) + f(f(c2 * g) * g));
      // Flush float32 subnormals to zero (as TF's CPU kernels do): they hit slow paths.
      if (mi < _FLT_MIN && mi > -_FLT_MIN) mi = 0;
      if (vi < _FLT_MIN) vi = 0;
      m[i] = mi;
      v[i] = vi;
      values[i] = values[i] - f(f(lr * mi) / f(f(Math.sqrt(vi)) + eps));
    }
  },

  sgdUpdate(
    values: Float32Array,
    grads: Float32Array,
    options: { start: number; end: number; lr: number },
  ): void {
    const { start, end, lr } = options;
    const f = Math.fround;
    for (let i = start; i < end; i++) {
      values[i] = values[i] - f(lr * grads[i]);
      grads[i] = 0;
    }
  },

  mfSgd(options: MfSgdOptions): number {
    return mfSgdTs(options);
  },

  sigmoidCrossEntropy(
    logits: Float32Array,
    labels: Int8Array | Float32Array,
    options: { count: number; grad?: Float32Array | null },
  ): number {
    const count = options.count;
    const grad = options.grad ?? null;
    if (!(count >= 1) || logits.length < count || labels.length < count) {
      throw new RangeError(
        `Cannot compute the loss: count ${count} with ${logits.length} logits and ${labels.length} labels`,
      );
    }
    if (grad !== null && grad.length < count) {
      throw new RangeError(
        `Cannot compute the loss: grad holds ${grad.length} values, need ${count}`,
      );
    }
    const sum = labels instanceof Int8Array
      ? _bceInt8(logits, labels, count, grad)
      : _bceFloat(logits, labels, count, grad);
    return sum / count;
  },
};
