import assert from "node:assert/strict";
import { readChunks } from "../../lib/data/read_chunks.ts";

/** Collects the lines of `path` read in chunks of `chunkBytes`. */
async function lines(path: string, chunkBytes: number): Promise<string[]> {
  const decoder = new TextDecoder();
  const out: string[] = [];
  await readChunks(path, (bytes, final) => {
    let used = 0;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] === 10) {
        out.push(decoder.decode(bytes.subarray(used, i)));
        used = i + 1;
      }
    }
    if (final && used < bytes.length) {
      (out.push(decoder.decode(bytes.subarray(used))), used = bytes.length);
    }
    return used;
  }, { what: "lines", chunkBytes });
  return out;
}

Deno.test("readChunks() carries partial lines over and grows for lines longer than a chunk", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const expected = ["a", "bb", "c".repeat(50), "", "dddd", "e".repeat(7)];
    await Deno.writeTextFile(`${dir}/f`, expected.join("\n"));
    for (const chunkBytes of [1, 3, 8, 1 << 20]) {
      assert.deepEqual(await lines(`${dir}/f`, chunkBytes), expected, `chunkBytes ${chunkBytes}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readChunks() throws NotFound naming what and where", async () => {
  await assert.rejects(() => lines("/nonexistent/f.txt", 8), {
    name: "NotFound",
    message: "Cannot read lines: /nonexistent/f.txt does not exist",
  });
});
