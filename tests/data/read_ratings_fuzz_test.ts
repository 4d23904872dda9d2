import assert from "node:assert/strict";
import fc from "fast-check";
import { parseRatingsBytes } from "../../lib/data/read_ratings.ts";
import { preprocess } from "../../lib/data/preprocess.ts";
import { readNcfFiles } from "../../lib/data/ncf_files.ts";

/** Text that is mostly a ratings file, with random damage. */
const ratingsText = fc.oneof(
  fc.array(
    fc.tuple(
      fc.oneof(
        fc.integer({ min: -3, max: 30 }).map(String),
        fc.constantFrom("", "x", "9007199254740993", "1.5", "-"),
      ),
      fc.oneof(fc.integer({ min: 0, max: 20 }).map(String), fc.constantFrom("", "1e3", "\u0000")),
      fc.oneof(fc.integer({ min: 0, max: 5 }).map(String), fc.constantFrom("4.5", "", ".")),
      fc.oneof(fc.integer({ min: 0, max: 10 }).map(String), fc.constantFrom("", "1.25", "abc")),
      fc.constantFrom(",", "\t", "::", ";"),
      fc.constantFrom("\n", "\r\n", "\n\n", ""),
    ).map(([u, i, r, t, sep, end]) => [u, i, r, t].join(sep) + end),
    { maxLength: 30 },
  ).map((lines) => lines.join("")),
  fc.string(),
);

Deno.test("fuzzing the ratings parser and preprocessing lets only documented errors escape", () => {
  const encoder = new TextEncoder();
  fc.assert(
    fc.property(ratingsText, fc.integer({ min: 2, max: 4 }), (text, minRatings) => {
      let raw;
      try {
        raw = parseRatingsBytes(encoder.encode(text), "fuzz.csv");
      } catch (e) {
        assert.ok(e instanceof SyntaxError, `parser escaped: ${e}`);
        assert.match((e as Error).message, /fuzz\.csv/);
        return;
      }
      try {
        preprocess(raw, { minRatings, numEvalNegatives: 1, seed: 1 });
      } catch (e) {
        assert.ok(
          e instanceof RangeError || e instanceof SyntaxError,
          `preprocess escaped: ${e}`,
        );
      }
    }),
    { numRuns: 3000, seed: 44 },
  );
});

Deno.test("fuzzing random bytes through the ratings parser lets only SyntaxError escape", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
      try {
        parseRatingsBytes(bytes, "bytes.csv");
      } catch (e) {
        assert.ok(e instanceof SyntaxError, `escaped: ${e}`);
      }
    }),
    { numRuns: 3000, seed: 45 },
  );
});

Deno.test("fuzzing the NCF split reader lets only documented errors escape", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  const line = fc.oneof(
    fc.tuple(
      fc.integer({ min: 0, max: 4 }),
      fc.integer({ min: 0, max: 6 }),
      fc.array(fc.integer({ min: -1, max: 7 }), { maxLength: 5 }),
    )
      .map(([u, i, negs]) => [`(${u},${i})`, ...negs].join("\t")),
    fc.string(),
  );
  try {
    await fc.assert(
      fc.asyncProperty(
        ratingsText,
        ratingsText,
        fc.array(line, { maxLength: 6 }).map((l) => l.join("\n")),
        async (train, test, negative) => {
          const prefix = `${dir}/s`;
          await Deno.writeTextFile(`${prefix}.train.rating`, train.replaceAll(",", "\t"));
          await Deno.writeTextFile(`${prefix}.test.rating`, test.replaceAll(",", "\t"));
          await Deno.writeTextFile(`${prefix}.test.negative`, negative);
          try {
            await readNcfFiles(prefix);
          } catch (e) {
            assert.ok(
              e instanceof SyntaxError || e instanceof RangeError,
              `escaped: ${e}`,
            );
          }
        },
      ),
      { numRuns: 300, seed: 46 },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
