import assert from "node:assert/strict";
import { compileWat, encodeBase64, renderKernelsModule } from "../../lib/kernels/wasm_build.ts";
import { WASM_KERNELS_BASE64 } from "../../lib/kernels/wasm_kernels_wasm.ts";

const WAT = new URL("../../lib/kernels/wasm_kernels.wat", import.meta.url);
const GENERATED = new URL("../../lib/kernels/wasm_kernels_wasm.ts", import.meta.url);

Deno.test("the committed kernel bytes are what build:wasm makes of wasm_kernels.wat", async () => {
  const bytes = await compileWat(await Deno.readTextFile(WAT), { filename: "wasm_kernels.wat" });
  assert.ok(
    encodeBase64(bytes) === WASM_KERNELS_BASE64,
    "wasm_kernels_wasm.ts is stale: run `deno task build:wasm`",
  );
  assert.equal(renderKernelsModule(bytes), await Deno.readTextFile(GENERATED));
});

Deno.test("compileWat names the file and the line of what it cannot compile", async (t) => {
  const cases = [
    { name: "an unknown instruction", text: "(module\n  (func (i32.nope)))", line: 2 },
    { name: "a type error", text: "(module (func (result i32) (f32.const 1)))", line: 1 },
    { name: "an unclosed module", text: "(module\n\n  (func", line: 3 },
  ];
  for (const { name, text, line } of cases) {
    await t.step(name, async () => {
      await assert.rejects(
        compileWat(text, { filename: "bad.wat" }),
        new RegExp(`^SyntaxError: Cannot compile bad\\.wat: bad\\.wat:${line}:`),
      );
    });
  }
});

Deno.test("compileWat accepts the SIMD and bulk-memory instructions the kernels use", async () => {
  const bytes = await compileWat(`(module
    (import "env" "memory" (memory 1))
    (func (export "f") (param $p i32)
      (v128.store (local.get $p) (f32x4.splat (f32.const 1)))
      (memory.fill (local.get $p) (i32.const 0) (i32.const 16))
      (memory.copy (local.get $p) (local.get $p) (i32.const 16))))`);
  assert.ok(WebAssembly.validate(bytes));
});

Deno.test("renderKernelsModule's lines of base64 decode back to the bytes", async (t) => {
  for (const length of [0, 1, 2, 3, 71, 72, 73, 4251]) {
    await t.step(`${length} bytes`, () => {
      const bytes = Uint8Array.from({ length }, (_, i) => (i * 37 + 11) & 0xff);
      const text = renderKernelsModule(bytes);
      const lines = [...text.matchAll(/^ {2}"([A-Za-z0-9+/=]*)",$/gm)].map((m) => m[1]);
      assert.ok(lines.every((line, i) => line.length === 96 || i === lines.length - 1));
      const decoded = Uint8Array.from(atob(lines.join("")), (c) => c.charCodeAt(0));
      assert.deepEqual(decoded, bytes);
      assert.ok(text.includes(`(${length} bytes)`));
    });
  }
});
