/**
 * NumPy `.npy` files (format 1.0), which `numpy.load` reads.
 *
 * @module
 */

/**
 * Encodes a float32 array of `shape` as `.npy` bytes (little-endian, C order).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeNpy } from "./npy.ts";
 * const bytes = encodeNpy(Float32Array.of(1, 2, 3, 4, 5, 6), [2, 3]);
 * assert.equal(new TextDecoder().decode(bytes.subarray(1, 6)), "NUMPY");
 * assert.equal((bytes.length - 24) % 64, 0); // 64-byte aligned header, then 24 bytes of data
 * ```
 */
export function encodeNpy(data: Float32Array, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new RangeError(
      `Cannot encode .npy: shape ${shape} holds ${count} values, got ${data.length}`,
    );
  }
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const unpadded = 10 + header.length + 1;
  header += " ".repeat((64 - (unpadded % 64)) % 64) + "\n";
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, ...new TextEncoder().encode("NUMPY"), 1, 0], 0);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}
