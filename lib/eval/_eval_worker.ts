/**
 * The evaluation worker: rebuilds the model from its spec, and on each
 * `evaluate` message loads the sent weights and ranks users claimed from the
 * shared counter until none are left, into the job's shared ranks (and
 * coverage marks). See `eval_workers.ts`.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import type { EvalProtocol } from "../data/eval_protocol.ts";
import type { Model, ModelSpec } from "../model/model.ts";
import { rebuildModel } from "../model/registry.ts";
import { scansUseWasm } from "./_evaluation_result.ts";
import {
  type CoverageMarks,
  type EvalTables,
  type RankScratch,
  rankScratch,
  rankUsers,
} from "./_rank_users.ts";

/** One evaluation's shared arrays and settings, as `eval_workers.ts` sends them. */
interface _Job {
  tables: EvalTables;
  ranks: Int32Array;
  protocol: EvalProtocol;
  coverage: CoverageMarks | null;
}

let model: Model | null = null;
let next: Int32Array;
let chunk = 64;
let scratch: RankScratch | null = null;

self.onmessage = (event: MessageEvent) => {
  const msg = event.data;
  try {
    if (msg.type === "init") {
      ({ next, chunk } = msg);
      model = rebuildModel(msg.spec as ModelSpec, { maxBatchSize: 1 });
      return;
    }
    const m = model!;
    const job = msg.job as _Job;
    m.parameters.values.set(msg.values as Float32Array);
    m.prepareEval();
    // The tables arrive as new views of the same shared memory each time.
    scratch = rankScratch(job.tables, { wasm: scansUseWasm(m), reuse: scratch });
    const n = job.tables.numUsers;
    for (;;) {
      const from = Atomics.add(next, 0, chunk);
      if (from >= n) break;
      rankUsers(m, job.tables, {
        from,
        to: Math.min(n, from + chunk),
        ranks: job.ranks,
        scratch,
        protocol: job.protocol,
        coverage: job.coverage,
      });
    }
    self.postMessage({});
  } catch (e) {
    self.postMessage({ error: e instanceof Error ? e.message : String(e) });
  }
};
