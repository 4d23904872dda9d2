/**
 * The checkpoint container: one file holding a JSON header and named typed
 * arrays, written atomically (temp file + rename), so an interrupted write
 * leaves the previous complete checkpoint in place and a reader never sees a
 * torn one.
 *
 * Layout: `NCFCKPT1` (8 bytes), header length (uint32 LE), header JSON,
 * zero padding to a multiple of 8, then each array's bytes (little-endian),
 * each padded to 8. The header lists the arrays (name, dtype, length) and
 * the total file size, which is checked on read.
 *
 * @module
 */

import { join } from "node:path";
import { type FileWriter, writeFileAtomic } from "../io/atomic_write.ts";

const _MAGIC = "NCFCKPT1";
/** The checkpoint's file name inside `--model_dir`. */
export const CHECKPOINT_FILE = "checkpoint.ncf";

/**
 * Array types a checkpoint holds (`Uint8Array`, dtype `u8`, holds text as
 * UTF-8 bytes, e.g. string ids; ncf versions before it refuse such a file).
 */
export type CheckpointArray = Float32Array | Float64Array | Int32Array | Uint32Array | Uint8Array;

const _DTYPES = {
  f32: Float32Array,
  f64: Float64Array,
  i32: Int32Array,
  u32: Uint32Array,
  u8: Uint8Array,
} as const;
type _Dtype = keyof typeof _DTYPES;

function _dtypeOf(a: CheckpointArray): _Dtype {
  if (a instanceof Float32Array) return "f32";
  if (a instanceof Float64Array) return "f64";
  if (a instanceof Int32Array) return "i32";
  if (a instanceof Uint8Array) return "u8";
  return "u32";
}

/** A checkpoint's contents: any JSON metadata plus named arrays. */
export interface CheckpointData<M> {
  meta: M;
  arrays: Record<string, CheckpointArray>;
}

function _pad8(n: number): number {
  return (n + 7) & ~7;
}

/**
 * Encodes a checkpoint into bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeCheckpoint, encodeCheckpoint } from "./checkpoint_file.ts";
 * const bytes = encodeCheckpoint({ meta: { epoch: 3 }, arrays: { w: Float32Array.of(1.5, 2) } });
 * const back = decodeCheckpoint<{ epoch: number }>(bytes, "x");
 * assert.equal(back.meta.epoch, 3);
 * assert.deepEqual(back.arrays.w, Float32Array.of(1.5, 2));
 * ```
 */
export function encodeCheckpoint<M>(data: CheckpointData<M>): Uint8Array {
  const entries = Object.entries(data.arrays).map(([name, a]) => ({
    name,
    dtype: _dtypeOf(a),
    length: a.length,
  }));
  let body = 0;
  for (const [, a] of Object.entries(data.arrays)) body += _pad8(a.byteLength);
  // The header names the total size; its own length depends on that number,
  // so settle it in two passes.
  let size = 0;
  let header = new Uint8Array(0);
  for (let pass = 0; pass < 3; pass++) {
    header = new TextEncoder().encode(JSON.stringify({ meta: data.meta, arrays: entries, size }));
    size = _pad8(12 + header.length) + body;
  }
  const out = new Uint8Array(size);
  out.set(new TextEncoder().encode(_MAGIC), 0);
  new DataView(out.buffer).setUint32(8, header.length, true);
  out.set(header, 12);
  let at = _pad8(12 + header.length);
  for (const [, a] of Object.entries(data.arrays)) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
    at += _pad8(a.byteLength);
  }
  return out;
}

/**
 * Decodes and checks checkpoint bytes; errors are `SyntaxError`s naming
 * `path`.
 */
export function decodeCheckpoint<M>(bytes: Uint8Array, path: string): CheckpointData<M> {
  const bad = (why: string) => new SyntaxError(`Cannot read checkpoint ${path}: ${why}`);
  const magic = bytes.length < 12 ? "" : new TextDecoder().decode(bytes.subarray(0, 8));
  if (magic !== _MAGIC) {
    if (/^NCFCKPT[0-9]$/.test(magic)) {
      throw bad(
        `its container is version ${
          magic.slice(7)
        }, written by a newer ncf (this one reads version ${
          _MAGIC.slice(7)
        }); upgrade ncf to read it`,
      );
    }
    throw bad("not an ncf checkpoint");
  }
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  if (12 + headerLength > bytes.length) throw bad("truncated header");
  let header: {
    meta: M;
    arrays: { name: string; dtype: _Dtype; length: number }[];
    size: number;
  };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength)));
  } catch (e) {
    throw bad(`corrupt header (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || !Array.isArray(header.arrays)) {
    throw bad("corrupt header (no array list)");
  }
  if (header.size !== bytes.length) {
    throw bad(`${bytes.length} bytes, the header says ${header.size} (truncated?)`);
  }
  const arrays: Record<string, CheckpointArray> = {};
  let at = _pad8(12 + headerLength);
  for (const { name, dtype, length } of header.arrays) {
    const Type = Object.hasOwn(_DTYPES, dtype) ? _DTYPES[dtype] : undefined;
    if (Type === undefined) {
      throw bad(
        `array ${name} has type ${JSON.stringify(dtype)}, which this ncf cannot read ` +
          `(written by a newer ncf? expected one of ${Object.keys(_DTYPES).join(", ")})`,
      );
    }
    if (!Number.isSafeInteger(length) || length < 0) throw bad(`bad entry for ${name}`);
    const byteLength = length * Type.BYTES_PER_ELEMENT;
    if (at + byteLength > bytes.length) throw bad(`array ${name} runs past the end`);
    const copy = bytes.slice(at, at + byteLength);
    arrays[name] = new Type(copy.buffer, 0, length);
    at += _pad8(byteLength);
  }
  return { meta: header.meta, arrays };
}

/**
 * Writes `data` as `<dir>/checkpoint.ncf`, atomically (the folder is
 * created if missing).
 */
export async function saveCheckpoint<M>(
  dir: string,
  data: CheckpointData<M>,
  options: { writer?: FileWriter | undefined } = {},
): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const path = join(dir, CHECKPOINT_FILE);
  // Temp files of writes a kill interrupted; one trainer writes a model_dir.
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith(`.${CHECKPOINT_FILE}.`) && entry.name.endsWith(".tmp")) {
      await Deno.remove(join(dir, entry.name)).catch(() => {});
    }
  }
  await writeFileAtomic(path, encodeCheckpoint(data), options);
  return path;
}

/**
 * Reads `<dir>/checkpoint.ncf`. A missing file throws `Deno.errors.NotFound`
 * naming the path.
 */
export async function loadCheckpoint<M>(dir: string): Promise<CheckpointData<M>> {
  const path = join(dir, CHECKPOINT_FILE);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(`Cannot read checkpoint: ${path} does not exist`);
    }
    throw e;
  }
  return decodeCheckpoint<M>(bytes, path);
}
