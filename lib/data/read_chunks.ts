/**
 * Streams a file through a line-oriented consumer in ~1 MiB chunks, carrying
 * an unfinished last line over to the next chunk, so that parsers never hold
 * more than one chunk (plus one line) of the file in memory.
 *
 * @module
 */

/** Default size of one read. */
export const CHUNK_BYTES = 1 << 20;

/**
 * Consumes the bytes read so far. `bytes` starts with the unconsumed rest of
 * the previous call; return how many leading bytes were consumed (whole lines),
 * the rest is offered again with more data. On the `final` call (end of file)
 * everything must be consumed. `fileSize` is the file's size from `stat`.
 */
export type ChunkConsumer = (bytes: Uint8Array, final: boolean, fileSize: number) => number;

/** Options of {@linkcode readChunks}. */
export interface ReadChunksOptions {
  /** What is being read, for messages ("Cannot read <what>: …"). */
  what: string;
  /** Aborts between chunks. */
  signal?: AbortSignal | undefined;
  /** Bytes per read; default {@linkcode CHUNK_BYTES}. */
  chunkBytes?: number;
}

/**
 * Reads `path` chunk by chunk into `consume`. A missing file throws
 * `Deno.errors.NotFound` ("Cannot read <what>: <path> does not exist"), a
 * folder `Deno.errors.IsADirectory`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readChunks } from "./read_chunks.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "a\nb\nc");
 * let lines = 0;
 * await readChunks(path, (bytes, final) => {
 *   let used = 0;
 *   for (let i = 0; i < bytes.length; i++) if (bytes[i] === 10) (lines++, used = i + 1);
 *   if (final && used < bytes.length) (lines++, used = bytes.length);
 *   return used;
 * }, { what: "lines" });
 * assert.ok(lines === 3);
 * await Deno.remove(path);
 * ```
 */
export async function readChunks(
  path: string,
  consume: ChunkConsumer,
  options: ReadChunksOptions,
): Promise<void> {
  const { what, signal } = options;
  const chunkBytes = options.chunkBytes ?? CHUNK_BYTES;
  signal?.throwIfAborted();
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(`Cannot read ${what}: ${path} does not exist`, {
        cause: error,
      });
    }
    throw error;
  }
  try {
    const info = await file.stat();
    if (info.isDirectory) {
      throw new Deno.errors.IsADirectory(`Cannot read ${what}: ${path} is a directory`);
    }
    let buffer = new Uint8Array(chunkBytes);
    let filled = 0;
    for (;;) {
      signal?.throwIfAborted();
      if (filled === buffer.length) {
        const bigger = new Uint8Array(buffer.length * 2);
        bigger.set(buffer);
        buffer = bigger;
      }
      const n = await file.read(buffer.subarray(filled));
      if (n === null) break;
      filled += n;
      const used = consume(buffer.subarray(0, filled), false, info.size);
      if (used > 0) {
        buffer.copyWithin(0, used, filled);
        filled -= used;
      }
    }
    signal?.throwIfAborted();
    consume(buffer.subarray(0, filled), true, info.size);
  } finally {
    file.close();
  }
}
