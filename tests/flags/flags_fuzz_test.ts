import assert from "node:assert/strict";
import fc from "fast-check";
import { parseFlags } from "../../lib/flags/flags.ts";
import { GENERATOR_SETTINGS, TRAINER_FLAGS } from "../../lib/flags/specs.ts";
import { UsageError } from "../../lib/errors.ts";

const NAMES = [...Object.keys(TRAINER_FLAGS), "flagfile", "nouse_subprocess", "bogus", "no", ""];
const VALUES = [
  "",
  "0",
  "-1",
  "1",
  "1.5",
  "1e999",
  "true",
  "false",
  "64,32",
  "63,32",
  ",",
  "NeuMF",
  "x y",
  "\u0000",
  "9007199254740993",
];

/** An argument that looks like a flag most of the time. */
const arg = fc.oneof(
  fc.tuple(fc.constantFrom(...NAMES), fc.constantFrom(...VALUES)).map(([n, v]) => `--${n}=${v}`),
  fc.constantFrom(...NAMES).map((n) => `--${n}`),
  fc.constantFrom(...VALUES),
  fc.string(),
);

function onlyUsageErrors(fn: () => unknown) {
  try {
    fn();
  } catch (e) {
    assert.ok(
      e instanceof UsageError,
      `escaped: ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`,
    );
  }
}

Deno.test("fuzzing parseFlags() with random argv lets only UsageError escape", () => {
  const files = { readTextFile: (p: string) => `--seed=${p.length}\n--batch_size=${p}\n` };
  fc.assert(
    fc.property(fc.array(arg, { maxLength: 12 }), (argv) => {
      onlyUsageErrors(() => parseFlags(argv, TRAINER_FLAGS, files));
    }),
    { numRuns: 3000, seed: 42 },
  );
});

Deno.test("fuzzing flagfile text lets only UsageError escape", () => {
  const line = fc.oneof(
    fc.tuple(
      fc.constantFrom(...Object.keys(GENERATOR_SETTINGS), "bogus"),
      fc.constantFrom(...VALUES),
    )
      .map(([n, v]) => `--${n}=${v}`),
    fc.constantFrom("", "#", "# comment", "--", "-x", "\r"),
    fc.string(),
  );
  fc.assert(
    fc.property(fc.array(line, { maxLength: 20 }), fc.string(), (lines, tail) => {
      const text = lines.join("\n") + tail;
      onlyUsageErrors(() =>
        parseFlags(["--flagfile=f"], GENERATOR_SETTINGS, { readTextFile: () => text })
      );
    }),
    { numRuns: 3000, seed: 43 },
  );
});
