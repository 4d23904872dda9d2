import assert from "node:assert/strict";
import { RawIdIndex, RawIdInterner } from "../../lib/data/raw_ids.ts";

const encoder = new TextEncoder();

/** Interns each id of `ids` (as its own byte array) and returns the codes. */
function intern(interner: RawIdInterner, ids: string[]): number[] {
  return ids.map((id) => {
    const bytes = encoder.encode(id);
    const ascii = bytes.every((b) => b < 0x80);
    return interner.code(bytes, 0, bytes.length, ascii);
  });
}

Deno.test("RawIdInterner gives each distinct id one code, in order of first appearance", () => {
  const interner = new RawIdInterner();
  assert.deepEqual(intern(interner, ["b", "a", "b", "", "ab", "a"]), [0, 1, 0, 2, 3, 1]);
  assert.deepEqual(interner.names, ["b", "a", "", "ab"]);
});

Deno.test("RawIdInterner reads an id in the middle of a buffer", () => {
  const interner = new RawIdInterner();
  const bytes = encoder.encode("x,user-1,y,user-1");
  assert.equal(interner.code(bytes, 2, 8, true), 0);
  assert.equal(interner.code(bytes, 11, 17, true), 0);
  assert.deepEqual(interner.names, ["user-1"]);
});

Deno.test("RawIdInterner keeps 200,000 ids apart through its table's growth", () => {
  const interner = new RawIdInterner();
  const ids = Array.from({ length: 200_000 }, (_, i) => `${i.toString(36)}#${i % 7}`);
  const codes = intern(interner, ids);
  assert.deepEqual(codes, ids.map((_, i) => i));
  assert.deepEqual(intern(interner, [ids[123_456], ids[0], ids[199_999]]), [123_456, 0, 199_999]);
  assert.equal(interner.names.length, 200_000);
});

Deno.test("RawIdInterner keeps ids longer than its first arena", () => {
  const interner = new RawIdInterner();
  const long = "h".repeat(70_000);
  assert.deepEqual(intern(interner, [long, "short", long + "!", long]), [0, 1, 2, 0]);
  assert.equal(interner.names[2].length, 70_001);
});

Deno.test("RawIdInterner decodes UTF-8 and refuses invalid bytes without keeping them", async (t) => {
  await t.step("valid UTF-8", () => {
    const interner = new RawIdInterner();
    assert.deepEqual(intern(interner, ["café", "ユーザー", "😀", "café"]), [0, 1, 2, 0]);
    assert.deepEqual(interner.names, ["café", "ユーザー", "😀"]);
  });
  const cases: [string, Uint8Array][] = [
    ["a Latin-1 byte", Uint8Array.of(0x63, 0x61, 0x66, 0xe9)],
    ["a truncated sequence", Uint8Array.of(0xe3, 0x81)],
    ["an overlong encoding", Uint8Array.of(0xc0, 0xaf)],
    ["a surrogate", Uint8Array.of(0xed, 0xa0, 0x80)],
  ];
  for (const [name, bytes] of cases) {
    await t.step(name, () => {
      const interner = new RawIdInterner();
      assert.equal(interner.code(bytes, 0, bytes.length, false), -1);
      assert.deepEqual(interner.names, []);
    });
  }
});

Deno.test("RawIdIndex finds integer ids by any integer literal and string ids exactly", async (t) => {
  const cases: [string, Float64Array | string[], string, number][] = [
    ["an integer", Float64Array.of(196, 186), "186", 1],
    ["a leading zero", Float64Array.of(7), "007", 0],
    ["a '+'", Float64Array.of(7), "+7", 0],
    ["a string in an integer column", Float64Array.of(7), "u7", -1],
    ["a string id", ["u1", "007"], "007", 1],
    ["no integer rewriting for strings", ["u1", "007"], "7", -1],
  ];
  for (const [name, ids, text, dense] of cases) {
    await t.step(name, () => assert.equal(new RawIdIndex(ids).find(text), dense));
  }
});
