/**
 * Evaluation on more than one core: Deno workers score users beside the
 * calling thread, each with its own copy of the model, claiming chunks of
 * users from a shared counter. Every user's rank lands in one shared array,
 * so HR@k and NDCG@k are the same bits as {@linkcode evaluateRanking}'s
 * whichever thread scored which user.
 *
 * @module
 */

import type { Dataset } from "../data/types.ts";
import type { Model, ModelSpec } from "../model/model.ts";
import { modelSpec } from "../model/registry.ts";
import type { EvaluationResult } from "./evaluate.ts";
import { RankingMetrics } from "./metrics.ts";
import { type EvalTables, type RankScratch, rankScratch, rankUsers } from "./_rank_users.ts";

/** The worker module; `deno task compile` must `--include` it. */
export const EVAL_WORKER_URL = new URL("./_eval_worker.ts", import.meta.url);

/** Users a thread claims at a time. */
const _CHUNK = 64;

/** Options of {@linkcode startEvalWorkers}. */
export interface EvalWorkerOptions {
  /** Workers beside the calling thread (default 1). */
  workers?: number;
  /** OpenBLAS threads of the model's backend (default 1). */
  blasThreads?: number;
  /** The worker module (default {@linkcode EVAL_WORKER_URL}; tests swap it). */
  workerUrl?: URL;
}

/** A running pool; {@linkcode EvalWorkerPool.close} ends its workers. */
export interface EvalWorkerPool {
  /** Workers still alive. */
  readonly workers: number;
  /**
   * HR@k and NDCG@k of `model` over every user (default k 10); the same
   * result as `evaluateRanking(model, dataset)`. Users a failed worker had
   * claimed are scored by the calling thread, and that worker is dropped.
   */
  evaluate(model: Model, options?: { k?: number }): Promise<EvaluationResult>;
  /** Terminates every worker. */
  close(): void;
}

/** `arr` itself when it lives in shared memory, else a shared copy. */
function _shared(arr: Int32Array): Int32Array {
  if (arr.buffer instanceof SharedArrayBuffer) return arr;
  const copy = new Int32Array(new SharedArrayBuffer(arr.byteLength));
  copy.set(arr);
  return copy;
}

/** Whether this process may load the worker module (workers need read access to it). */
function _mayLoad(url: URL): boolean {
  if (url.protocol !== "file:") return true;
  try {
    return Deno.permissions.querySync({ name: "read", path: url }).state === "granted";
  } catch {
    return false;
  }
}

/**
 * Starts `workers` evaluation workers for `model`'s shape and `dataset`'s
 * evaluation tables (copied once into shared memory unless already there).
 * None start without read access to the worker module; the calling thread
 * then scores every user.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadDataset } from "../data/load_dataset.ts";
 * import { evaluateRanking } from "./evaluate.ts";
 * import { startEvalWorkers } from "./eval_workers.ts";
 * import { buildModel, modelConfig } from "../model/registry.ts";
 * const { dataset } = await loadDataset({
 *   dataset: "synthetic", seed: 1, syntheticUsers: 50, syntheticItems: 200, numEvalNegatives: 99,
 * });
 * const model = buildModel(modelConfig("NeuMF", {
 *   numUsers: dataset.numUsers, numItems: dataset.numItems, numFactors: 8, layers: [64, 32, 16, 8],
 *   mfRegularization: 0, mlpRegularization: 0,
 * }));
 * const pool = startEvalWorkers(model, dataset);
 * try {
 *   const parallel = await pool.evaluate(model);
 *   const serial = evaluateRanking(model, dataset);
 *   assert.equal(parallel.hr, serial.hr);
 *   assert.equal(parallel.ndcg, serial.ndcg);
 * } finally {
 *   pool.close();
 * }
 * ```
 */
export function startEvalWorkers(
  model: Model,
  dataset: Pick<Dataset, "numUsers" | "evalItems" | "evalNegOffsets" | "evalNegatives">,
  options: EvalWorkerOptions = {},
): EvalWorkerPool {
  const count = options.workers ?? 1;
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`Cannot start ${count} evaluation workers: need an integer ≥ 0`);
  }
  const spec: ModelSpec = modelSpec(model, { blasThreads: options.blasThreads ?? 1 });
  const tables: EvalTables = {
    numUsers: dataset.numUsers,
    evalItems: _shared(dataset.evalItems),
    evalNegOffsets: _shared(dataset.evalNegOffsets),
    evalNegatives: _shared(dataset.evalNegatives),
  };
  const ranks = new Int32Array(new SharedArrayBuffer(4 * dataset.numUsers));
  const next = new Int32Array(new SharedArrayBuffer(4));
  const url = options.workerUrl ?? EVAL_WORKER_URL;
  let workers: Worker[] = [];
  // Without read access to the worker module the calling thread does it all.
  const started = _mayLoad(url) ? count : 0;
  for (let i = 0; i < started; i++) {
    const worker = new Worker(url, { type: "module" });
    worker.postMessage({ type: "init", spec, tables, ranks, next, chunk: _CHUNK });
    workers.push(worker);
  }
  let scratch: RankScratch | null = null;
  const specKey = JSON.stringify(spec);

  /** Resolves when `worker` has finished (true) or failed (false). */
  const finished = (worker: Worker) =>
    new Promise<boolean>((resolve) => {
      worker.onmessage = (event: MessageEvent) => {
        resolve((event.data as { error?: string }).error === undefined);
      };
      worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        resolve(false);
      };
    });

  return {
    get workers() {
      return workers.length;
    },
    async evaluate(m: Model, o: { k?: number } = {}): Promise<EvaluationResult> {
      const started = performance.now();
      const mSpec = JSON.stringify(modelSpec(m, { blasThreads: spec.blasThreads }));
      if (mSpec !== specKey) {
        throw new RangeError(
          `Cannot evaluate: the model ${mSpec} ` +
            `is not the one the pool was started for (${specKey})`,
        );
      }
      const metrics = new RankingMetrics({ k: o.k ?? 10 });
      const n = tables.numUsers;
      ranks.fill(-1);
      Atomics.store(next, 0, 0);
      const done = workers.map((worker) => {
        const result = finished(worker);
        const values = m.parameters.values.slice();
        worker.postMessage({ type: "evaluate", values }, [values.buffer]);
        return result;
      });
      scratch ??= rankScratch(tables);
      for (;;) {
        const from = Atomics.add(next, 0, _CHUNK);
        if (from >= n) break;
        rankUsers(m, tables, { from, to: Math.min(n, from + _CHUNK), ranks, scratch });
      }
      const ok = await Promise.all(done);
      const failed = workers.filter((_, i) => !ok[i]);
      if (failed.length > 0) {
        for (const worker of failed) worker.terminate();
        workers = workers.filter((_, i) => ok[i]);
        // A failed worker may have claimed users it never ranked.
        for (let u = 0; u < n; u++) {
          if (Atomics.load(ranks, u) < 0) {
            rankUsers(m, tables, { from: u, to: u + 1, ranks, scratch });
          }
        }
      }
      for (let u = 0; u < n; u++) metrics.add(ranks[u]);
      return { ...metrics.summary(), seconds: (performance.now() - started) / 1000 };
    },
    close() {
      for (const worker of workers) worker.terminate();
      workers = [];
    },
  };
}
