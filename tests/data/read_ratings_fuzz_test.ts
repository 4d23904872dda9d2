import assert from "node:assert/strict";
import fc from "fast-check";
import { parseRatingsBytes } from "../../lib/data/read_ratings.ts";
import { preprocess } from "../../lib/data/preprocess.ts";
import { readNcfFiles } from "../../lib/data/ncf_files.ts";
import type { RawInteractions } from "../../lib/data/types.ts";

/** A header line: none mostly, else known names in any order, sometimes unknown ones. */
const header = fc.oneof(
  { arbitrary: fc.constant(""), weight: 6 },
  {
    arbitrary: fc.shuffledSubarray(["userId", "movieId", "rating", "timestamp"], { minLength: 4 })
      .map((names) => names.join(",") + "\n"),
    weight: 3,
  },
  {
    arbitrary: fc.shuffledSubarray(["user", "item_id", "ts", "tag"], { minLength: 1 })
      .map((names) => names.join("\t") + "\r\n"),
    weight: 1,
  },
);

/** A field: mostly a good value, sometimes damage. */
function field(good: fc.Arbitrary<string>, ...damage: string[]): fc.Arbitrary<string> {
  return fc.oneof({ arbitrary: good, weight: 12 }, {
    arbitrary: fc.constantFrom(...damage),
    weight: 1,
  });
}

/** Text that is mostly a ratings file, with random damage. */
const ratingsText = fc.oneof(
  fc.tuple(
    header,
    fc.constantFrom(",", "\t", "::", ";"),
    fc.array(
      fc.tuple(
        field(
          fc.oneof(fc.integer({ min: -3, max: 30 }).map(String), fc.constantFrom("u1", "007", "é")),
          "",
          "x",
          "9007199254740993",
          "1.5",
          "-",
          '"q"',
        ),
        field(
          fc.oneof(fc.integer({ min: 0, max: 20 }).map(String), fc.constantFrom("a:b", "B00X")),
          "",
          "1e3",
          "\u0000",
          "\u{1F600}",
          "a\tb",
        ),
        field(fc.integer({ min: 0, max: 5 }).map(String), "4.5", "", "."),
        field(fc.integer({ min: 0, max: 10 }).map(String), "", "1.25", "abc"),
        field(fc.constantFrom("\n", "\r\n"), "\r\r\n", "\r", "\n\n", "", ";"),
      ),
      { maxLength: 30 },
    ),
  ).map(([head, sep, rows]) =>
    head + rows.map(([u, i, r, t, end]) => [u, i, r, t].join(sep) + end).join("")
  ),
  fc.string(),
);

/** Throws unless every string-column code indexes its names. */
function checkCodes(raw: RawInteractions): void {
  for (const [codes, names] of [[raw.users, raw.userNames], [raw.items, raw.itemNames]] as const) {
    if (names === undefined) continue;
    for (let r = 0; r < raw.length; r++) {
      assert.ok(Number.isInteger(codes[r]) && codes[r] >= 0 && codes[r] < names.length);
    }
    assert.equal(new Set(names).size, names.length);
  }
}

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
      checkCodes(raw);
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
