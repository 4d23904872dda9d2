/**
 * Atomic publication: write under a temp name in the same folder, then
 * `Deno.rename` into place, so no reader ever sees a partial file.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";

/** The file-writing seam; tests inject failures (a full disk) through it. */
export interface FileWriter {
  /** Writes all of `data` to a new file at `path`. */
  writeFile(path: string, data: Uint8Array): Promise<void>;
}

/** The real file system. */
export const denoWriter: FileWriter = {
  writeFile: (path, data) => Deno.writeFile(path, data, { createNew: true }),
};

/**
 * The temp name used for `path` while it is written: a dot file in the same
 * folder, unique to the writer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tempPathFor } from "./atomic_write.ts";
 * assert.ok(tempPathFor("/a/ready.json").startsWith("/a/.ready.json."));
 * ```
 */
export function tempPathFor(path: string): string {
  const random = crypto.getRandomValues(new Uint32Array(1))[0].toString(16);
  return join(dirname(path), `.${basename(path)}.${Deno.pid}.${random}.tmp`);
}

/**
 * Writes `data` to `path` atomically. On failure the temp file is removed and
 * nothing is published; the error names `path`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeFileAtomic } from "./atomic_write.ts";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/x.txt`, "hello");
 * assert.ok(await Deno.readTextFile(`${dir}/x.txt`) === "hello");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  options: { writer?: FileWriter | undefined } = {},
): Promise<void> {
  const writer = options.writer ?? denoWriter;
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const temp = tempPathFor(path);
  try {
    await writer.writeFile(temp, bytes);
    await Deno.rename(temp, path);
  } catch (e) {
    await Deno.remove(temp).catch(() => {});
    throw new Error(`Cannot write ${path}: ${(e as Error).message}`, { cause: e });
  }
}
