import assert from "node:assert/strict";
import { csvField, csvLine } from "../../lib/serve/csv_field.ts";

Deno.test("csvField() quotes only the fields RFC 4180 says need it", async (t) => {
  const cases: [string, string | number, string][] = [
    ["an integer", 196, "196"],
    ["a large integer", 2 ** 53 - 1, "9007199254740991"],
    ["plain text with spaces", "Toy Story (1995)", "Toy Story (1995)"],
    ["an empty field", "", ""],
    ["a comma", "a,b", '"a,b"'],
    ["quotes, doubled", 'say "hi"', '"say ""hi"""'],
    ["a line break", "one\ntwo", '"one\ntwo"'],
    ["a carriage return", "one\rtwo", '"one\rtwo"'],
    ["non-ASCII text, bare", "Amélie (2001) 李", "Amélie (2001) 李"],
  ];
  for (const [name, value, want] of cases) {
    await t.step(name, () => assert.equal(csvField(value), want));
  }
});

Deno.test("csvLine() joins fields with commas and ends in LF", () => {
  assert.equal(csvLine([]), "\n");
  assert.equal(csvLine([1, "x,y", 'q"']), '1,"x,y","q"""\n');
});
