import type { Positives } from "../../lib/pipeline/epoch_kernels.ts";
import { Prng } from "../../lib/random/prng.ts";

/** Random CSR positives: users with 1..maxPerUser distinct sorted items. */
export function randomPositives(
  seed: number,
  options: { numUsers: number; numItems: number; maxPerUser: number },
): Positives {
  const prng = new Prng(seed);
  const offsets = new Int32Array(options.numUsers + 1);
  const items: number[] = [];
  for (let u = 0; u < options.numUsers; u++) {
    const k = 1 + prng.nextInt(options.maxPerUser);
    const chosen = new Set<number>();
    while (chosen.size < k) chosen.add(prng.nextInt(options.numItems));
    items.push(...[...chosen].sort((a, b) => a - b));
    offsets[u + 1] = items.length;
  }
  return { offsets, items: Int32Array.from(items) };
}

/** Runs `fn` with a fresh temp folder, removed afterwards. */
export async function withTempDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
