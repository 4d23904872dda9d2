/**
 * The fast form of the fault suite: every fault once, at a random moment.
 * `deno task test:faults` runs each several times and prints the table.
 */

import { FAULTS, runTrial } from "./_faults.ts";

const seed = Date.now() % 1_000_000;

Deno.test(`every injected fault ends cleanly (one trial each, seed ${seed})`, async (t) => {
  for (const fault of FAULTS) {
    const skip = await fault.skip?.();
    if (skip !== undefined) console.log(`skipping "${fault.name}": ${skip}`);
    await t.step({
      name: fault.name,
      ignore: skip !== undefined,
      fn: async () => {
        const r = await runTrial(fault, seed);
        if (!r.passed) throw new Error(`${fault.name} (seed ${seed}): ${r.detail}`);
      },
    });
  }
});
