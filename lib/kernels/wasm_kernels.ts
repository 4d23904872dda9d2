/**
 * The WebAssembly kernel sets: `wasm` (WebAssembly SIMD products and
 * element-wise kernels) and `blas` (OpenBLAS products, WebAssembly
 * element-wise kernels). A model's memory is one {@linkcode WasmArena}; a
 * kernel whose arrays all live in one arena runs the WebAssembly SIMD code
 * in place, anything else runs the TypeScript loop of `ts_kernels.ts`,
 * which gives the same bits (`sgemm` aside).
 *
 * @module
 */

import type { Backend } from "./gemm.ts";
import type {
  AdamConstants,
  Kernels,
  KernelsName,
  MemoryPlan,
  MfSgdOptions,
  RowBlockOptions,
  ScoreRowsOptions,
  TensorMemory,
} from "./kernels.ts";
import { checkMfSgd, MF_SGD_BLOCK, MF_SGD_SCRATCH_BYTES, mfSgdTs } from "./mf_sgd.ts";
import { checkRowIds, plainMemory, tsKernels } from "./ts_kernels.ts";
import type { TouchedRows } from "./touched_rows.ts";
import { WasmArena, wasmArenaOf } from "./wasm_arena.ts";

/**
 * A kernel set whose element-wise kernels run WebAssembly SIMD on arena
 * memory, with `gemm` for the products.
 *
 * @param gemm The matrix product (the WebAssembly one, or OpenBLAS).
 * @param options `name` and `description` of the set.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeWasmKernels } from "./wasm_kernels.ts";
 * import { wasmBackend } from "./wasm_gemm.ts";
 * const k = makeWasmKernels(wasmBackend, { name: "wasm", description: "wasm" });
 * const memory = k.memory({ floats: 16, scratchBytes: 64, idsBytes: 64 });
 * const v = memory.alloc(3);
 * v.set([-1, 0, 2]);
 * k.relu(v, 3); // in the arena: the WebAssembly kernel
 * assert.equal(v.join(), "0,0,2");
 * ```
 */
export function makeWasmKernels(
  gemm: Backend,
  options: { name: KernelsName; description: string },
): Kernels {
  const ts = tsKernels;
  // The last (values, grads, m, v) Adam was given and their arena, so the
  // per-row updates of a lazy optimizer check ownership once.
  let adamSeen: Float32Array[] = [];
  let adamArena: WasmArena | undefined;
  return {
    name: options.name,
    description: options.description,

    memory(plan: MemoryPlan): TensorMemory {
      const bytes = plan.scratchBytes + plan.idsBytes + 4 * plan.floats + (1 << 20);
      if (bytes > 2 ** 32) return plainMemory;
      const arena = WasmArena.create({ bytes });
      if (arena === null) return plainMemory;
      arena.scratch(plan.scratchBytes, 0);
      arena.scratch(plan.idsBytes, 1);
      return arena;
    },

    sgemm: gemm.sgemm,

    broadcastRows(row: Float32Array, out: Float32Array, o: { count: number }): void {
      const arena = wasmArenaOf(out);
      const width = row.length;
      if (arena !== undefined && wasmArenaOf(row) === arena && o.count > 0) {
        arena.kernels.copy_rows(row.byteOffset, 0, out.byteOffset, width * 4, o.count, width * 4);
      } else {
        ts.broadcastRows(row, out, o);
      }
    },

    biasGrad(
      dy: Float32Array,
      biasGrad: Float32Array,
      o: { count: number; accumulate: boolean },
    ): void {
      const out = biasGrad.length;
      const arena = wasmArenaOf(dy);
      const scratch = arena !== undefined && wasmArenaOf(biasGrad) === arena &&
          dy.length >= o.count * out
        ? arena.scratch(out * 8)
        : null;
      if (scratch !== null) {
        arena!.kernels.bias_grad(
          dy.byteOffset,
          o.count,
          out,
          biasGrad.byteOffset,
          o.accumulate ? 1 : 0,
          scratch,
        );
      } else {
        ts.biasGrad(dy, biasGrad, o);
      }
    },

    addReluRows(
      src: Float32Array,
      row: Float32Array,
      out: Float32Array,
      o: { count: number },
    ): void {
      const arena = wasmArenaOf(src);
      if (arena !== undefined && arena.owns(row, out)) {
        arena.kernels.add_relu_rows(
          src.byteOffset,
          row.byteOffset,
          out.byteOffset,
          o.count,
          row.length * 4,
        );
      } else {
        ts.addReluRows(src, row, out, o);
      }
    },

    relu(values: Float32Array, length: number): void {
      const arena = wasmArenaOf(values);
      if (arena !== undefined && length <= values.length) {
        arena.kernels.relu(values.byteOffset, length);
      } else {
        ts.relu(values, length);
      }
    },

    reluBackward(activations: Float32Array, grads: Float32Array, length: number): void {
      const arena = wasmArenaOf(grads);
      if (
        arena !== undefined && wasmArenaOf(activations) === arena && length <= grads.length &&
        length <= activations.length
      ) {
        arena.kernels.relu_backward(activations.byteOffset, grads.byteOffset, length);
      } else {
        ts.reluBackward(activations, grads, length);
      }
    },

    gatherRows(
      table: Float32Array,
      ids: Int32Array,
      o: RowBlockOptions & { out: Float32Array },
    ): void {
      const { dim, count, out } = o;
      const stride = o.stride ?? dim;
      const offset = o.offset ?? 0;
      const arena = wasmArenaOf(table);
      if (
        arena !== undefined && count > 0 && wasmArenaOf(out) === arena &&
        out.length >= offset + (count - 1) * stride + dim
      ) {
        checkRowIds("gather embedding rows", ids, { count, rows: table.length / dim });
        const at = arena.ids(ids, count);
        if (at !== null) {
          arena.kernels.gather(
            table.byteOffset,
            at,
            count,
            dim * 4,
            out.byteOffset + offset * 4,
            stride * 4,
          );
          return;
        }
      }
      ts.gatherRows(table, ids, o);
    },

    scatterAddRows(
      grads: Float32Array,
      ids: Int32Array,
      o: RowBlockOptions & { src: Float32Array; touched?: TouchedRows | null },
    ): void {
      const { dim, count, src } = o;
      const stride = o.stride ?? dim;
      const offset = o.offset ?? 0;
      const arena = wasmArenaOf(grads);
      if (
        arena !== undefined && count > 0 && wasmArenaOf(src) === arena &&
        src.length >= offset + (count - 1) * stride + dim
      ) {
        checkRowIds("scatter embedding gradients", ids, { count, rows: grads.length / dim });
        const at = arena.ids(ids, count);
        if (at !== null) {
          arena.kernels.scatter_add(
            grads.byteOffset,
            at,
            count,
            dim * 4,
            src.byteOffset + offset * 4,
            stride * 4,
          );
          const touched = o.touched ?? null;
          if (touched !== null) { for (let b = 0; b < count; b++) touched.mark(ids[b]); }
          return;
        }
      }
      ts.scatterAddRows(grads, ids, o);
    },

    l2RowPenalty: ts.l2RowPenalty,

    mulRows(
      x: Float32Array,
      y: Float32Array,
      o: { sx: number; sy: number; out: Float32Array; so: number; rows: number; cols: number },
    ): void {
      const arena = wasmArenaOf(o.out);
      if (arena !== undefined && wasmArenaOf(x) === arena && wasmArenaOf(y) === arena) {
        arena.kernels.mul_rows(
          x.byteOffset,
          o.sx * 4,
          y.byteOffset,
          o.sy * 4,
          o.out.byteOffset,
          o.so * 4,
          o.rows,
          o.cols * 4,
        );
      } else {
        ts.mulRows(x, y, o);
      }
    },

    copyColumns(
      src: Float32Array,
      dst: Float32Array,
      o: { count: number; width: number; at: number; to?: number; from?: number },
    ): void {
      const { count, width, at } = o;
      const arena = wasmArenaOf(src);
      if (arena !== undefined && wasmArenaOf(dst) === arena && count > 0) {
        const [s, ss, d, sd] = o.to !== undefined
          ? [src.byteOffset, width * 4, dst.byteOffset + at * 4, o.to * 4]
          : [src.byteOffset + at * 4, (o.from ?? width) * 4, dst.byteOffset, width * 4];
        arena.kernels.copy_rows(s, ss, d, sd, count, width * 4);
      } else {
        ts.copyColumns(src, dst, o);
      }
    },

    scoreRows(items: Int32Array, o: ScoreRowsOptions): void {
      const { nf, width } = o;
      // The kernel reads one table: the GMF row, then (right after it) the shares.
      const table = nf > 0 ? o.gmf : o.mlp;
      const stride = nf > 0 ? o.gmfStride : o.mlpStride;
      const oneTable = nf === 0 || width === 0 ||
        (o.gmf === o.mlp && o.gmfStride === o.mlpStride && o.mlpOffset === nf);
      const arena = wasmArenaOf(table);
      if (
        oneTable && (nf > 0 || o.mlpOffset === 0) && arena !== undefined && table.length > 0 &&
        arena.owns(o.uw, o.act, o.logits, o.userPart)
      ) {
        const idsAt = arena.ids(items, o.count);
        if (idsAt !== null) {
          arena.kernels.score_joint(
            table.byteOffset,
            idsAt,
            o.count,
            stride * 4,
            nf * 4,
            o.uw.byteOffset,
            o.base,
            o.logits.byteOffset,
            width * 4,
            o.userPart.byteOffset,
            o.act.byteOffset,
            width * 4,
          );
          return;
        }
      }
      ts.scoreRows(items, o);
    },

    adamUpdate(
      values: Float32Array,
      grads: Float32Array,
      o: {
        m: Float32Array;
        v: Float32Array;
        start: number;
        end: number;
        constants: AdamConstants;
      },
    ): void {
      if (
        adamSeen[0] !== values || adamSeen[1] !== grads || adamSeen[2] !== o.m ||
        adamSeen[3] !== o.v
      ) {
        const arena = wasmArenaOf(values);
        adamArena = arena !== undefined && arena.owns(grads, o.m, o.v) ? arena : undefined;
        adamSeen = [values, grads, o.m, o.v];
      }
      const arena = adamArena;
      if (arena !== undefined) {
        const at = o.start * 4;
        const k = o.constants;
        arena.kernels.adam(
          values.byteOffset + at,
          grads.byteOffset + at,
          o.m.byteOffset + at,
          o.v.byteOffset + at,
          o.end - o.start,
          k.b1,
          k.b2,
          k.c1,
          k.c2,
          k.lr,
          k.eps,
        );
      } else {
        ts.adamUpdate(values, grads, o);
      }
    },

    mfSgd(o: MfSgdOptions): number {
      const arena = wasmArenaOf(o.userTable);
      const at = arena !== undefined &&
          arena.owns(o.itemTable, o.userBias, o.itemBias, o.globalBias)
        ? arena.scratch(MF_SGD_SCRATCH_BYTES)
        : null;
      if (at === null) return mfSgdTs(o);
      checkMfSgd(o);
      return _mfSgdBlocks(arena!, at, o);
    },

    sgdUpdate: ts.sgdUpdate,
    sigmoidCrossEntropy: ts.sigmoidCrossEntropy,
  };
}

/**
 * Runs `mf_sgd_*` over the examples in blocks of {@linkcode MF_SGD_BLOCK},
 * each copied into the arena's scratch at `at` (ids, then labels as
 * float32 or negative items), the loss sum carried from block to block.
 */
function _mfSgdBlocks(arena: WasmArena, at: number, o: MfSgdOptions): number {
  const buffer = arena.memory.buffer;
  const block = MF_SGD_BLOCK;
  const users = new Int32Array(buffer, at, block);
  const items = new Int32Array(buffer, at + 4 * block, block);
  const third = at + 8 * block;
  const labels = new Float32Array(buffer, third, block);
  const negs = new Int32Array(buffer, third, block);
  const k = arena.kernels;
  const nfb = o.factors * 4;
  const P = o.userTable.byteOffset;
  const Q = o.itemTable.byteOffset;
  const bu = o.userBias.byteOffset;
  const bi = o.itemBias.byteOffset;
  const gb = o.globalBias.byteOffset;
  let loss = 0;
  for (let start = 0; start < o.count; start += block) {
    const n = Math.min(block, o.count - start);
    users.set(o.users.subarray(start, start + n));
    items.set(o.items.subarray(start, start + n));
    if (o.negItems !== null) {
      negs.set(o.negItems.subarray(start, start + n));
      loss = k.mf_sgd_bpr(
        P,
        Q,
        bu,
        bi,
        gb,
        at,
        at + 4 * block,
        third,
        n,
        nfb,
        o.learningRate,
        o.reg,
        o.penalty,
        loss,
      );
    } else {
      labels.set(o.labels!.subarray(start, start + n));
      loss = k.mf_sgd_bce(
        P,
        Q,
        bu,
        bi,
        gb,
        at,
        at + 4 * block,
        third,
        n,
        nfb,
        o.learningRate,
        o.reg,
        o.penalty,
        loss,
      );
    }
  }
  return loss;
}
