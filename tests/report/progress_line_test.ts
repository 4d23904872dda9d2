import assert from "node:assert/strict";
import { formatDuration, formatProgressLine } from "../../lib/report/progress_line.ts";

const STATE = {
  cycle: 13,
  numCycles: 50,
  batches: 1234,
  batchCount: 3906,
  examplesPerSecond: 1_234_567,
  etaSeconds: 3725,
};

Deno.test("the progress line fits every terminal width, with room for a ^C echo", async (t) => {
  for (const columns of [20, 40, 60, 79, 80, 100, 200]) {
    await t.step(`${columns} columns`, () => {
      const line = formatProgressLine(STATE, { columns });
      assert.ok(line.length <= columns - 3, `${line.length} chars: ${line}`);
      assert.match(line, /^cycle 14\/50/);
    });
  }
});

Deno.test("the progress line keeps the ETA and drops the rate, then the batches, when narrow", () => {
  const wide = formatProgressLine(STATE, { columns: 120 });
  assert.match(wide, /1234\/3906 batches {2}1,234,567 ex\/s {2}ETA 1 h 2 min$/);
  const narrow = formatProgressLine(STATE, { columns: 50 });
  assert.doesNotMatch(narrow, /ex\/s/);
  assert.match(narrow, /ETA 1 h 2 min$/);
});

Deno.test("the bar fills with the cycle's batches", () => {
  const half = formatProgressLine({ ...STATE, batches: 50, batchCount: 100 }, { columns: 200 });
  assert.match(half, /\[#{15}\.{15}\]/);
  const full = formatProgressLine({ ...STATE, batches: 100, batchCount: 100 }, { columns: 200 });
  assert.match(full, /\[#{30}\]/);
});

Deno.test("durations read as seconds, minutes or hours, and '?' when unknown", async (t) => {
  const cases: [number, string][] = [
    [0, "0 s"],
    [59.4, "59 s"],
    [60, "1 min 0 s"],
    [
      7200,
      "2 h 0 min",
    ],
    [Infinity, "?"],
    [-1, "?"],
  ];
  for (const [seconds, text] of cases) {
    await t.step(`${seconds} s → ${text}`, () => assert.equal(formatDuration(seconds), text));
  }
});
