/**
 * One epoch of training examples as the generator makes them (`makeEpoch`:
 * every positive once with 4 fresh negatives each, or 4 triples per positive
 * for a pairwise loss; exact or uniform negatives; the epoch shuffled), on
 * the calling thread, over the default synthetic data set (1500 users, 1500
 * items, about 58k training positives: about 290k examples an epoch). Each
 * iteration makes the next epoch, so no two draw the same negatives. The
 * data set is made once, untimed. `deno task bench:generator` measures the
 * whole generator (workers, shards on disk) on a large ratings file.
 *
 * ```
 * deno task bench                        # every *_bench.ts
 * deno bench -A bench/generator_bench.ts
 * ```
 *
 * @module
 */

import { allocateEpochBuffers, epochLayout, inlineRunner, loadDataset, makeEpoch } from "../mod.ts";
import type { NegativeSampling, ShardSchema } from "../lib/flags/specs.ts";

const { dataset } = await loadDataset({ dataset: "synthetic", seed: 1, numEvalNegatives: 99 });
const positives = { offsets: dataset.trainOffsets, items: dataset.trainItems };

const cases: { numNeg: number; schema: ShardSchema; negativeSampling: NegativeSampling }[] = [
  { numNeg: 1, schema: "pairs", negativeSampling: "exact" },
  { numNeg: 4, schema: "pairs", negativeSampling: "exact" },
  { numNeg: 4, schema: "pairs", negativeSampling: "uniform" },
  { numNeg: 4, schema: "triples", negativeSampling: "exact" },
  { numNeg: 4, schema: "triples", negativeSampling: "uniform" },
];
for (const { numNeg, schema, negativeSampling } of cases) {
  const layout = epochLayout(positives, {
    numItems: dataset.numItems,
    numNeg,
    schema,
    negativeSampling,
  });
  const context = { layout, buffers: allocateEpochBuffers(positives, layout), seed: 1 };
  const runner = inlineRunner(context);
  let epoch = 0;
  Deno.bench({
    name: `${schema}, ${numNeg} ${negativeSampling} negative${
      numNeg === 1 ? "" : "s"
    } per positive (${layout.size} examples)`,
    group: "one epoch, inline",
    baseline: numNeg === 4 && schema === "pairs" && negativeSampling === "exact",
    async fn() {
      await makeEpoch(context, runner, epoch++);
    },
  });
}
