/**
 * Builds `wasm_kernels_wasm.ts` from `wasm_kernels.wat`: the text is
 * compiled with wabt's `wat2wasm` (the npm package `wabt`, a build-time
 * tool only; nothing of it is loaded at run time) and the bytes are written
 * as a base64 string constant. `deno task build:wasm` runs this module, which
 * rewrites `wasm_kernels_wasm.ts` beside it; `tests/kernels/wasm_build_test.ts`
 * fails when the committed bytes are not those of the .wat.
 *
 * @module
 */

import wabt from "wabt";

/**
 * The WebAssembly features the kernels use: fixed-width SIMD (`v128`) and
 * bulk memory (`memory.fill`, `memory.copy`). The imported memory is not
 * shared, so threads stay off.
 */
export const WAT_FEATURES: Readonly<{ simd: true; bulk_memory: true; threads: false }> = {
  simd: true,
  bulk_memory: true,
  threads: false,
};

let _wabt: ReturnType<typeof wabt> | undefined;

/** Base64 characters per line of the rendered array (a multiple of 4: each line decodes alone). */
const _LINE = 96;

/**
 * Compiles WebAssembly text to a binary module, as `wat2wasm` does with
 * {@linkcode WAT_FEATURES}: no name section, LEB128s canonical.
 *
 * @param text The module in the text format.
 * @param options `filename` names the text in error messages (default `module.wat`).
 * @throws {SyntaxError} "Cannot compile <filename>: …" with wabt's line and column.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileWat } from "./wasm_build.ts";
 * const bytes = await compileWat(
 *   '(module (func (export "zero") (result v128) (v128.const i32x4 0 0 0 0)))',
 * );
 * assert.deepEqual([...bytes.subarray(0, 4)], [0, 0x61, 0x73, 0x6d]); // "\0asm"
 * assert.ok(WebAssembly.validate(bytes));
 * await assert.rejects(compileWat("(module (func (i32.nope)))"), /^SyntaxError: Cannot compile/);
 * ```
 */
export async function compileWat(
  text: string,
  options: { filename?: string } = {},
): Promise<Uint8Array<ArrayBuffer>> {
  const filename = options.filename ?? "module.wat";
  const toolkit = await (_wabt ??= wabt());
  let module: ReturnType<typeof toolkit.parseWat> | undefined;
  try {
    module = toolkit.parseWat(filename, text, WAT_FEATURES);
    module.resolveNames();
    module.validate();
    const { buffer } = module.toBinary({
      log: false,
      canonicalize_lebs: true,
      relocatable: false,
      write_debug_names: false,
    });
    return Uint8Array.from(buffer);
  } catch (error) {
    // wabt says "parseWat failed:\n<file>:<line>:<column>: error: …".
    const message = (error instanceof Error ? error.message : String(error))
      .replace(/^\w+ failed:\s*/, "").trim();
    throw new SyntaxError(`Cannot compile ${filename}: ${message}`);
  } finally {
    module?.destroy();
  }
}

/**
 * The text of `wasm_kernels_wasm.ts` for `bytes`: a doc comment, then
 * `WASM_KERNELS_BASE64` as lines of 96 base64 characters joined at load.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderKernelsModule } from "./wasm_build.ts";
 * const text = renderKernelsModule(Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0));
 * assert.ok(text.includes("(8 bytes)"));
 * assert.ok(text.endsWith('  "AGFzbQEAAAA=",\n].join("");\n'));
 * ```
 */
export function renderKernelsModule(bytes: Uint8Array): string {
  const base64 = encodeBase64(bytes);
  const lines: string[] = [];
  for (let at = 0; at < base64.length; at += _LINE) {
    lines.push(`  "${base64.slice(at, at + _LINE)}",\n`);
  }
  return "/**\n" +
    " * The compiled bytes of `wasm_kernels.wat` (WebAssembly with SIMD and a\n" +
    " * shared imported memory), base64-encoded. Generated from the .wat with\n" +
    " * wabt's wat2wasm (see the header of wasm_kernels.wat); do not edit by hand.\n" +
    " *\n" +
    " * @module\n" +
    " */\n" +
    "\n" +
    `/** Base64 of the kernel module (${bytes.length} bytes). */\n` +
    "export const WASM_KERNELS_BASE64: string = [\n" +
    lines.join("") +
    '].join("");\n';
}

/**
 * Standard base64 (with padding) of `bytes`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeBase64 } from "./wasm_build.ts";
 * assert.equal(encodeBase64(new TextEncoder().encode("wasm")), "d2FzbQ==");
 * ```
 */
export function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let at = 0; at < bytes.length; at += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(at, at + 0x8000));
  }
  return btoa(binary);
}

/**
 * Compiles `wasm_kernels.wat` in the folder `dir` (default: this module's)
 * and writes `wasm_kernels_wasm.ts` beside it; returns the bytes. With no
 * argument, this is what `deno task build:wasm` does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pathToFileURL } from "node:url";
 * import { buildWasmKernels } from "./wasm_build.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/wasm_kernels.wat`, "(module)");
 * const bytes = await buildWasmKernels(pathToFileURL(`${dir}/`));
 * const text = await Deno.readTextFile(`${dir}/wasm_kernels_wasm.ts`);
 * assert.ok(bytes.length === 8 && text.includes('"AGFzbQEAAAA=",'));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function buildWasmKernels(
  dir: URL = new URL(".", import.meta.url),
): Promise<Uint8Array<ArrayBuffer>> {
  const wat = new URL("wasm_kernels.wat", dir);
  const bytes = await compileWat(await Deno.readTextFile(wat), { filename: wat.pathname });
  await Deno.writeTextFile(new URL("wasm_kernels_wasm.ts", dir), renderKernelsModule(bytes));
  return bytes;
}

if (import.meta.main) await buildWasmKernels();
