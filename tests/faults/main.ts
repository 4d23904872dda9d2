/**
 * `deno task test:faults [--trials N] [--seed S] [--only SUBSTRING]`: every
 * fault N times (default 5), each at a random moment; ends with a table of
 * fault, trials, passed, worst time to exit. Exit code 1 if any trial failed.
 */

import { FAULTS, HEARTBEAT_TIMEOUT, runTrial } from "./_faults.ts";

const args = Deno.args;
const option = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
};
const trials = Number(option("trials") ?? 5);
const seed = Number(option("seed") ?? Date.now() % 1_000_000);
const only = option("only");
console.log(`fault suite: ${trials} trials per fault, seed ${seed}`);
const rows: string[][] = [];
let failures = 0;
let worstGap = 0;
for (const fault of FAULTS) {
  if (only !== undefined && !fault.name.includes(only)) continue;
  const skip = await fault.skip?.();
  if (skip !== undefined) {
    console.log(`skip ${fault.name}: ${skip}`);
    rows.push([fault.name, "0", "skipped", skip]);
    continue;
  }
  let passed = 0;
  let worst = 0;
  for (let t = 0; t < trials; t++) {
    const r = await runTrial(fault, seed * 1000 + t);
    if (r.heartbeatGap !== undefined) worstGap = Math.max(worstGap, r.heartbeatGap);
    if (r.passed) passed++;
    else failures++;
    worst = Math.max(worst, Number.isNaN(r.seconds) ? Infinity : r.seconds);
    console.log(
      `${r.passed ? "ok  " : "FAIL"} ${fault.name} #${t + 1}: ${r.seconds.toFixed(2)} s${
        r.passed ? "" : ` — ${r.detail}`
      }`,
    );
  }
  rows.push([fault.name, String(trials), String(passed), `${worst.toFixed(2)} s`]);
}
const header = ["fault", "trials", "passed", "worst time to exit"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
console.log();
console.log(line(header));
console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
for (const row of rows) console.log(line(row));
console.log(
  `\nlongest gap between generator heartbeats seen under four concurrent trainers: ${
    worstGap.toFixed(2)
  } s (the suite's --heartbeat_timeout is ${HEARTBEAT_TIMEOUT} s: 3× the bound it checks, ${
    HEARTBEAT_TIMEOUT / 3
  } s)`,
);
Deno.exit(failures === 0 ? 0 : 1);
