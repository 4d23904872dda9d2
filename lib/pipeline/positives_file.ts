/**
 * The training positives the trainer hands the generator: CSR rows as two
 * raw little-endian int32 files in `positives/`, published atomically.
 *
 * @module
 */

import { join } from "node:path";
import type { Positives } from "./epoch_kernels.ts";
import { type FileWriter, writeFileAtomic } from "../io/atomic_write.ts";

const _LITTLE_ENDIAN = new Uint8Array(Int32Array.of(1).buffer)[0] === 1;

function _bytes(a: Int32Array): Uint8Array {
  if (!_LITTLE_ENDIAN) {
    throw new RangeError("Cannot write positives: big-endian hosts are unsupported");
  }
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * Writes `positives` into folder `dir` (created if missing): `items.i32`
 * first, then `offsets.i32`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readPositives, writePositives } from "./positives_file.ts";
 * const dir = await Deno.makeTempDir();
 * await writePositives(dir, { offsets: Int32Array.of(0, 2), items: Int32Array.of(3, 5) });
 * const back = await readPositives(dir, { numUsers: 1, numItems: 6, numTrainPositives: 2 });
 * assert.ok(back.items[1] === 5);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writePositives(
  dir: string,
  positives: Positives,
  options: { writer?: FileWriter | undefined } = {},
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await writeFileAtomic(join(dir, "items.i32"), _bytes(positives.items), options);
  await writeFileAtomic(join(dir, "offsets.i32"), _bytes(positives.offsets), options);
}

/**
 * Reads the positives in `dir` and checks them against the flagfile's
 * counts: sizes, monotone offsets, items in range and ascending per user.
 * Errors name the file.
 */
export async function readPositives(
  dir: string,
  expected: { numUsers: number; numItems: number; numTrainPositives: number },
): Promise<Positives> {
  const read = async (name: string, count: number) => {
    const path = join(dir, name);
    const bytes = await Deno.readFile(path);
    if (bytes.byteLength !== count * 4) {
      throw new SyntaxError(
        `Cannot read ${path}: ${bytes.byteLength} bytes, the flagfile implies ${count * 4}`,
      );
    }
    return new Int32Array(bytes.buffer, bytes.byteOffset, count);
  };
  const offsets = await read("offsets.i32", expected.numUsers + 1);
  const items = await read("items.i32", expected.numTrainPositives);
  const bad = (why: string) => new SyntaxError(`Cannot read ${join(dir, "offsets.i32")}: ${why}`);
  if (offsets[0] !== 0 || offsets[expected.numUsers] !== expected.numTrainPositives) {
    throw bad("offsets do not span the positives");
  }
  for (let u = 0; u < expected.numUsers; u++) {
    const start = offsets[u];
    const end = offsets[u + 1];
    if (end < start) throw bad(`offsets decrease at user ${u}`);
    for (let p = start; p < end; p++) {
      const item = items[p];
      if (item < 0 || item >= expected.numItems || (p > start && item <= items[p - 1])) {
        throw new SyntaxError(
          `Cannot read ${
            join(dir, "items.i32")
          }: user ${u}'s items are not ascending ids below ${expected.numItems}`,
        );
      }
    }
  }
  return { offsets, items };
}
