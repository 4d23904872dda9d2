/**
 * A model's trainable tensors, by name. All values live in one flat
 * `Float32Array` (and all gradients in another) so a dense optimizer can
 * sweep every parameter in one tight loop; each named tensor is a view into
 * those buffers, so optimizers and checkpoints can also iterate by name.
 * The buffers come from the kernel set's memory, and the set travels with
 * them, so an optimizer built on the tensors runs the same kernels as the
 * model. Sparse (embedding) tensors can record the rows a batch touched,
 * for optimizers that update only those.
 *
 * @module
 */

import type { Kernels, TensorMemory } from "./kernels.ts";
import { plainMemory, tsKernels } from "./ts_kernels.ts";
import { TouchedRows } from "./touched_rows.ts";

/** Declares one named tensor. */
export interface ParameterSpec {
  /** Unique name, e.g. `mf_user_embedding`, `dense_0_kernel`. */
  name: string;
  /** Shape, row-major; the product is the element count. */
  shape: readonly number[];
  /**
   * An embedding table whose gradient touches only the rows a batch looked
   * up (rows = `shape[0]`, row length = the product of the rest). Lazy
   * optimizers update only those rows. Default false.
   */
  sparse?: boolean;
  /**
   * Sparse tensors looked up with the same ids share one touched-row set:
   * name that group (e.g. "user", "item"; default the tensor's name).
   */
  rowGroup?: string;
}

/** One named tensor: its views into the flat buffers and its layout. */
export interface ParameterEntry {
  /** The tensor's name. */
  readonly name: string;
  /** The tensor's shape. */
  readonly shape: readonly number[];
  /** Whether this is a row-sparse embedding table. */
  readonly sparse: boolean;
  /** The touched-row group of a sparse tensor (its name unless the spec named one). */
  readonly rowGroup: string;
  /** Offset of the tensor in the flat buffers. */
  readonly offset: number;
  /** Number of elements. */
  readonly length: number;
  /** Number of rows (`shape[0]`, 1 for a scalar). */
  readonly rows: number;
  /** Elements per row (`length / rows`). */
  readonly rowLength: number;
  /** View of the tensor's values. */
  readonly values: Float32Array;
  /** View of the tensor's gradient. */
  readonly grads: Float32Array;
}

/**
 * The set of named tensors of one model, with their gradients.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Parameters } from "./parameters.ts";
 * const p = new Parameters([
 *   { name: "table", shape: [3, 2], sparse: true },
 *   { name: "bias", shape: [2] },
 * ]);
 * p.get("bias").values[1] = 5;
 * assert.ok(p.values.length === 8 && p.values[7] === 5);
 * const saved = p.snapshot();
 * p.values.fill(0);
 * p.restore(saved);
 * assert.ok(p.get("bias").values[1] === 5);
 * ```
 */
export class Parameters {
  /** Every tensor's values, concatenated in declaration order. */
  readonly values: Float32Array;
  /** Every tensor's gradient, laid out like {@linkcode Parameters.values}. */
  readonly grads: Float32Array;
  /** The tensors in declaration order. */
  readonly entries: readonly ParameterEntry[];
  /** The kernel set that runs on these tensors (optimizers use it too). */
  readonly kernels: Kernels;
  /** Where the buffers came from (optimizers allocate their state there). */
  readonly memory: TensorMemory;
  #byName = new Map<string, ParameterEntry>();
  #touched: Map<string, TouchedRows> | null = null;

  /**
   * Allocates zeroed values and gradients for `specs`.
   * @param specs The tensors, in the order they are laid out (and
   *   initialised, by the caller).
   * @param options `kernels` (default the TypeScript set) and `memory`
   *   (default plain arrays): where the zeroed flat buffers come from (e.g.
   *   a WebAssembly arena, so that set's kernels work on them in place).
   * @throws {RangeError} on a duplicate name or a bad shape.
   */
  constructor(
    specs: readonly ParameterSpec[],
    options: { kernels?: Kernels; memory?: TensorMemory } = {},
  ) {
    this.kernels = options.kernels ?? tsKernels;
    this.memory = options.memory ?? plainMemory;
    let total = 0;
    const layout: { spec: ParameterSpec; offset: number; length: number }[] = [];
    for (const spec of specs) {
      if (layout.some((l) => l.spec.name === spec.name)) {
        throw new RangeError(`Cannot declare parameter '${spec.name}': the name is taken`);
      }
      let length = 1;
      for (const d of spec.shape) {
        if (!Number.isInteger(d) || d < 1) {
          throw new RangeError(
            `Cannot declare parameter '${spec.name}': shape [${spec.shape}] has a dimension below 1`,
          );
        }
        length *= d;
      }
      layout.push({ spec, offset: total, length });
      total += length;
    }
    this.values = this.memory.alloc(total);
    this.grads = this.memory.alloc(total);
    if (this.values.length !== total || this.grads.length !== total) {
      throw new RangeError(
        `Cannot allocate parameters: alloc(${total}) returned a wrong length`,
      );
    }
    const entries: ParameterEntry[] = [];
    for (const { spec, offset, length } of layout) {
      const rows = spec.shape.length === 0 ? 1 : spec.shape[0];
      const entry: ParameterEntry = {
        name: spec.name,
        shape: [...spec.shape],
        sparse: spec.sparse ?? false,
        rowGroup: spec.rowGroup ?? spec.name,
        offset,
        length,
        rows,
        rowLength: length / rows,
        values: this.values.subarray(offset, offset + length),
        grads: this.grads.subarray(offset, offset + length),
      };
      entries.push(entry);
      this.#byName.set(spec.name, entry);
    }
    this.entries = entries;
  }

  /**
   * Starts recording, for each sparse tensor, the rows its gradient
   * touches (one set per row group; idempotent).
   * @returns Every sparse tensor's set, by tensor name.
   */
  trackTouchedRows(): ReadonlyMap<string, TouchedRows> {
    if (this.#touched === null) {
      this.#touched = new Map();
      for (const e of this.entries) {
        if (e.sparse && !this.#touched.has(e.rowGroup)) {
          this.#touched.set(e.rowGroup, new TouchedRows(e.rows));
        }
      }
    }
    const byName = new Map<string, TouchedRows>();
    for (const e of this.entries) if (e.sparse) byName.set(e.name, this.#touched.get(e.rowGroup)!);
    return byName;
  }

  /** The touched-row set of a row group, or null when rows are not tracked. */
  touchedRows(rowGroup: string): TouchedRows | null {
    return this.#touched?.get(rowGroup) ?? null;
  }

  /** Zeroes every gradient and forgets every touched row. */
  clearGrads(): void {
    this.grads.fill(0);
    if (this.#touched !== null) { for (const set of this.#touched.values()) set.clear(); }
  }

  /** Total number of scalar parameters. */
  get size(): number {
    return this.values.length;
  }

  /** Whether a tensor of that name exists. */
  has(name: string): boolean {
    return this.#byName.has(name);
  }

  /**
   * The tensor named `name`.
   * @throws {RangeError} when there is none.
   */
  get(name: string): ParameterEntry {
    const entry = this.#byName.get(name);
    if (entry === undefined) {
      throw new RangeError(
        `Cannot find parameter '${name}': the model has ${
          this.entries.map((e) => e.name).join(", ")
        }`,
      );
    }
    return entry;
  }

  /** A copy of every tensor's values, by name (for checkpoints). */
  snapshot(): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    for (const e of this.entries) out[e.name] = e.values.slice();
    return out;
  }

  /**
   * Copies values saved by {@linkcode Parameters.snapshot} back in. Every
   * tensor must be present with its exact length; extra names are refused.
   * @throws {RangeError} on a missing, extra or mis-sized tensor.
   */
  restore(saved: Readonly<Record<string, ArrayLike<number>>>): void {
    for (const name of Object.keys(saved)) {
      if (!this.#byName.has(name)) {
        throw new RangeError(`Cannot restore parameters: unknown tensor '${name}'`);
      }
    }
    for (const e of this.entries) {
      const src = saved[e.name];
      if (src === undefined) {
        throw new RangeError(`Cannot restore parameters: tensor '${e.name}' is missing`);
      }
      if (src.length !== e.length) {
        throw new RangeError(
          `Cannot restore parameters: tensor '${e.name}' has ${src.length} values, expected ${e.length}`,
        );
      }
    }
    for (const e of this.entries) e.values.set(saved[e.name]);
  }
}
