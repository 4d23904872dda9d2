/**
 * Evaluation on more than one core: Deno workers score users beside the
 * calling thread, each with its own copy of the model, claiming chunks of
 * users from a shared counter. Every user's rank lands in one shared array
 * (and coverage marks in one shared byte array), so the metrics are the same
 * bits as {@linkcode evaluateRanking}'s whichever thread scored which user,
 * for both protocols.
 *
 * @module
 */

import type { Model, ModelSpec } from "../model/model.ts";
import { modelSpec } from "../model/registry.ts";
import {
  coverageMarks,
  type EvaluationOptions,
  type EvaluationResult,
  evaluationResult,
  resolveEvaluation,
  scansUseWasm,
} from "./_evaluation_result.ts";
import {
  type EvalTables,
  FULL_BLOCK,
  type RankScratch,
  rankScratch,
  rankUsers,
} from "./_rank_users.ts";

/** The worker module; `deno task compile` must `--include` it. */
export const EVAL_WORKER_URL = new URL("./_eval_worker.ts", import.meta.url);

/** Users a thread claims at a time (a multiple of the full protocol's block). */
const _CHUNK = FULL_BLOCK;

/** Options of {@linkcode startEvalWorkers}. */
export interface EvalWorkerOptions {
  /** Workers beside the calling thread (default 1). */
  workers?: number;
  /** OpenBLAS threads of the model's backend (default 1). */
  blasThreads?: number;
  /** The worker module (default {@linkcode EVAL_WORKER_URL}; tests swap it). */
  workerUrl?: URL;
}

/** Options of {@linkcode EvalWorkerPool.evaluate}. */
export interface PoolEvaluationOptions extends EvaluationOptions {
  /**
   * The evaluation tables to rank (default the pool's): e.g. the validation
   * view of the same data set. Arrays not in shared memory are copied there
   * once per array.
   */
  tables?: EvalTables | undefined;
}

/** A running pool; {@linkcode EvalWorkerPool.close} ends its workers. */
export interface EvalWorkerPool {
  /** Workers still alive. */
  readonly workers: number;
  /**
   * The metrics of `model` over every user; the same result as
   * `evaluateRanking(model, tables, options)`. Users a failed worker had
   * claimed are scored by the calling thread, and that worker is dropped.
   * @throws {SettingError} for `eval_protocol` or `eval_k` (see `evaluateRanking`).
   */
  evaluate(model: Model, options?: PoolEvaluationOptions): Promise<EvaluationResult>;
  /** Terminates every worker. */
  close(): void;
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
 * evaluation tables (copied once into shared memory unless already there;
 * the training rows only when a full-protocol evaluation first needs them).
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
 *   const options = { protocol: "full", ks: [5, 10], coverage: true } as const;
 *   const full = await pool.evaluate(model, options);
 *   assert.deepEqual(full.byK, evaluateRanking(model, dataset, options).byK);
 * } finally {
 *   pool.close();
 * }
 * ```
 */
export function startEvalWorkers(
  model: Model,
  dataset: EvalTables,
  options: EvalWorkerOptions = {},
): EvalWorkerPool {
  const count = options.workers ?? 1;
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`Cannot start ${count} evaluation workers: need an integer ≥ 0`);
  }
  const spec: ModelSpec = modelSpec(model, { blasThreads: options.blasThreads ?? 1 });
  const sharedCopies = new WeakMap<Int32Array, Int32Array>();
  /** `arr` itself when it lives in shared memory, else its shared copy (made once). */
  const shared = (arr: Int32Array): Int32Array => {
    if (arr.buffer instanceof SharedArrayBuffer) return arr;
    let copy = sharedCopies.get(arr);
    if (copy === undefined) {
      copy = new Int32Array(new SharedArrayBuffer(arr.byteLength));
      copy.set(arr);
      sharedCopies.set(arr, copy);
    }
    return copy;
  };
  /** The tables in shared memory (training rows only for `full`). */
  const sharedTables = (t: EvalTables, full: boolean): EvalTables => ({
    numUsers: t.numUsers,
    numItems: t.numItems,
    evalItems: shared(t.evalItems),
    evalNegOffsets: shared(t.evalNegOffsets),
    evalNegatives: shared(t.evalNegatives),
    ...(full && t.trainOffsets !== undefined && t.trainItems !== undefined
      ? { trainOffsets: shared(t.trainOffsets), trainItems: shared(t.trainItems) }
      : {}),
  });
  sharedTables(dataset, false);
  const next = new Int32Array(new SharedArrayBuffer(4));
  const url = options.workerUrl ?? EVAL_WORKER_URL;
  let workers: Worker[] = [];
  // Without read access to the worker module the calling thread does it all.
  const started = _mayLoad(url) ? count : 0;
  for (let i = 0; i < started; i++) {
    const worker = new Worker(url, { type: "module" });
    worker.postMessage({ type: "init", spec, next, chunk: _CHUNK });
    workers.push(worker);
  }
  let scratch: RankScratch | null = null;
  let scratchTables: EvalTables | null = null;
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
    async evaluate(m: Model, o: PoolEvaluationOptions = {}): Promise<EvaluationResult> {
      const started = performance.now();
      const resolved = resolveEvaluation(o);
      const mSpec = JSON.stringify(modelSpec(m, { blasThreads: spec.blasThreads }));
      if (mSpec !== specKey) {
        throw new RangeError(
          `Cannot evaluate: the model ${mSpec} ` +
            `is not the one the pool was started for (${specKey})`,
        );
      }
      const source = o.tables ?? dataset;
      const tables = sharedTables(source, resolved.protocol === "full");
      const n = tables.numUsers;
      const ranks = new Int32Array(new SharedArrayBuffer(4 * n)).fill(-1);
      const covered = coverageMarks(resolved, tables.numItems, { shared: true });
      const job = {
        tables,
        ranks,
        protocol: resolved.protocol,
        coverage: covered === null ? null : { ks: resolved.ks, covered },
      };
      Atomics.store(next, 0, 0);
      const done = workers.map((worker) => {
        const result = finished(worker);
        const values = m.parameters.values.slice();
        worker.postMessage({ type: "evaluate", values, job }, [values.buffer]);
        return result;
      });
      if (scratchTables !== source || scratch === null) {
        scratch = rankScratch(tables, { wasm: scansUseWasm(m), reuse: scratch });
        scratchTables = source;
      }
      const rank = (from: number) =>
        rankUsers(m, tables, {
          from,
          to: Math.min(n, from + _CHUNK),
          ranks,
          scratch: scratch!,
          protocol: job.protocol,
          coverage: job.coverage,
        });
      for (;;) {
        const from = Atomics.add(next, 0, _CHUNK);
        if (from >= n) break;
        rank(from);
      }
      const ok = await Promise.all(done);
      const failed = workers.filter((_, i) => !ok[i]);
      if (failed.length > 0) {
        for (const worker of failed) worker.terminate();
        workers = workers.filter((_, i) => ok[i]);
        // A failed worker may have claimed users it never ranked: rank their
        // whole chunks again, as the chunk decides a user's scoring block.
        for (let from = 0; from < n; from += _CHUNK) {
          for (let u = from; u < Math.min(n, from + _CHUNK); u++) {
            if (Atomics.load(ranks, u) < 0) {
              rank(from);
              break;
            }
          }
        }
      }
      return evaluationResult(resolved, { ranks, covered, numItems: tables.numItems, started });
    },
    close() {
      for (const worker of workers) worker.terminate();
      workers = [];
    },
  };
}
