/**
 * The evaluation worker: rebuilds the model from its spec, and on each
 * `evaluate` message loads the sent weights and ranks users claimed from the
 * shared counter until none are left. See `eval_workers.ts`.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import type { Model, ModelSpec } from "../model/model.ts";
import { rebuildModel } from "../model/registry.ts";
import { type EvalTables, type RankScratch, rankScratch, rankUsers } from "./_rank_users.ts";

let model: Model | null = null;
let tables: EvalTables;
let ranks: Int32Array;
let next: Int32Array;
let chunk = 64;
let scratch: RankScratch | null = null;

self.onmessage = (event: MessageEvent) => {
  const msg = event.data;
  try {
    if (msg.type === "init") {
      ({ tables, ranks, next, chunk } = msg);
      model = rebuildModel(msg.spec as ModelSpec, { maxBatchSize: 1 });
      return;
    }
    const m = model!;
    m.parameters.values.set(msg.values as Float32Array);
    m.prepareEval();
    scratch ??= rankScratch(tables);
    const n = tables.numUsers;
    for (;;) {
      const from = Atomics.add(next, 0, chunk);
      if (from >= n) break;
      rankUsers(m, tables, { from, to: Math.min(n, from + chunk), ranks, scratch });
    }
    self.postMessage({});
  } catch (e) {
    self.postMessage({ error: e instanceof Error ? e.message : String(e) });
  }
};
