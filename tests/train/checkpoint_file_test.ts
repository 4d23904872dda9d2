import assert from "node:assert/strict";
import {
  CHECKPOINT_FILE,
  decodeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
} from "../../lib/train/checkpoint_file.ts";

const DATA = {
  meta: { epoch: 7, name: "x" },
  arrays: {
    w: Float32Array.of(1.5, -2, 3.25),
    ids: Float64Array.of(2 ** 53 - 1, 0.5),
    rows: Int32Array.of(-1, 2, 3, 4, 5),
    state: Uint32Array.of(0xffffffff),
    text: new TextEncoder().encode("u1é"),
    empty: new Float32Array(0),
  },
};

/** `bytes` with one same-length piece of its header text replaced. */
function withHeaderText(bytes: Uint8Array, from: string, to: string): Uint8Array {
  const [a, b] = [from, to].map((text) => new TextEncoder().encode(text));
  assert.equal(a.length, b.length);
  const at = bytes.findIndex((_, i) => a.every((byte, j) => bytes[i + j] === byte));
  assert.ok(at > 0, `${from} not found`);
  const out = bytes.slice();
  out.set(b, at);
  return out;
}

Deno.test("a checkpoint round-trips its metadata and every array type", () => {
  const back = decodeCheckpoint<typeof DATA.meta>(encodeCheckpoint(DATA), "c");
  assert.deepEqual(back.meta, DATA.meta);
  assert.deepEqual(back.arrays, DATA.arrays);
});

Deno.test("a truncated or corrupted checkpoint is refused, naming the file", async (t) => {
  const bytes = encodeCheckpoint(DATA);
  const cases: [string, Uint8Array][] = [
    ["empty", new Uint8Array(0)],
    ["foreign", new TextEncoder().encode("hello world, not a checkpoint")],
    ["truncated body", bytes.subarray(0, bytes.length - 8)],
    [
      "renamed key",
      (() => {
        const text = new TextDecoder().decode(bytes);
        return new TextEncoder().encode(text.replace('"arrays"', '"arrayz"'));
      })(),
    ],
    ["truncated header", bytes.subarray(0, 20)],
    ["unknown array type", withHeaderText(bytes, '"dtype":"u8"', '"dtype":"q8"')],
    [
      "corrupt header",
      (() => {
        const b = bytes.slice();
        b[12] = 0x78;
        return b;
      })(),
    ],
  ];
  for (const [name, b] of cases) {
    await t.step(name, () => {
      assert.throws(
        () => decodeCheckpoint(b, "/m/checkpoint.ncf"),
        (e: Error) => e instanceof SyntaxError && e.message.includes("/m/checkpoint.ncf"),
      );
    });
  }
});

Deno.test("an array type this ncf does not know is refused, naming the array and the type", () => {
  const bytes = withHeaderText(encodeCheckpoint(DATA), '"dtype":"u8"', '"dtype":"q8"');
  assert.throws(
    () => decodeCheckpoint(bytes, "/m/checkpoint.ncf"),
    (e: Error) =>
      e instanceof SyntaxError &&
      e.message ===
        'Cannot read checkpoint /m/checkpoint.ncf: array text has type "q8", which this ncf ' +
          "cannot read (written by a newer ncf? expected one of f32, f64, i32, u32, u8)",
  );
});

Deno.test("saveCheckpoint() replaces the previous checkpoint atomically", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    await saveCheckpoint(dir, DATA);
    await assert.rejects(
      () =>
        saveCheckpoint(dir, { ...DATA, meta: { epoch: 8, name: "y" } }, {
          writer: {
            writeFile: async (path, data) => {
              await Deno.writeFile(path, data.subarray(0, 10));
              throw new Error("killed mid-write");
            },
          },
        }),
      /killed mid-write/,
    );
    const back = await loadCheckpoint<typeof DATA.meta>(dir);
    assert.equal(back.meta.epoch, 7, "the previous complete checkpoint survives");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [CHECKPOINT_FILE]);
    await assert.rejects(() => loadCheckpoint(`${dir}/none`), /checkpoint\.ncf does not exist/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
