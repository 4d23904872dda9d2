/**
 * A pool of Deno workers that run epoch tasks on shared memory.
 *
 * @module
 */

import type { EpochContext, EpochRunner, EpochTask } from "./epoch.ts";

/** The worker module; `deno task compile` must `--include` it. */
export const EPOCH_WORKER_URL = new URL("./_epoch_worker.ts", import.meta.url);

/** An {@linkcode EpochRunner} backed by workers; `close()` ends them. */
export interface EpochWorkerPool extends EpochRunner {
  /** Terminates every worker. */
  close(): void;
}

/**
 * Starts `count` workers that share `context`'s buffers. Tasks are handed out
 * one at a time to whichever worker is free; the result does not depend on
 * which worker runs which task.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { allocateEpochBuffers, epochLayout, makeEpoch } from "./epoch.ts";
 * import { startEpochWorkers } from "./epoch_workers.ts";
 * const positives = { offsets: Int32Array.of(0, 2), items: Int32Array.of(0, 3) };
 * const layout = epochLayout(positives, { numItems: 5, numNeg: 2 });
 * const context = { layout, buffers: allocateEpochBuffers(positives, layout), seed: 4 };
 * const pool = startEpochWorkers(context, 2);
 * try {
 *   const epoch = await makeEpoch(context, pool, 0);
 *   assert.ok(epoch.users.length === 6);
 * } finally {
 *   pool.close();
 * }
 * ```
 */
export function startEpochWorkers(context: EpochContext, count: number): EpochWorkerPool {
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(`Cannot start ${count} epoch workers: need a positive integer`);
  }
  const workers: Worker[] = [];
  for (let i = 0; i < count; i++) {
    const worker = new Worker(EPOCH_WORKER_URL, { type: "module" });
    worker.postMessage({ type: "init", context });
    workers.push(worker);
  }
  let nextId = 0;
  return {
    background: true,
    run(tasks: EpochTask[]): Promise<void> {
      return new Promise((resolve, reject) => {
        let next = 0;
        let pending = 0;
        let failed = false;
        const feed = (worker: Worker) => {
          if (failed) return;
          if (next >= tasks.length) {
            if (pending === 0) resolve();
            return;
          }
          const task = tasks[next++];
          pending++;
          worker.onmessage = (event: MessageEvent) => {
            pending--;
            const { error } = event.data as { error?: string };
            if (error !== undefined) {
              failed = true;
              reject(new Error(`Cannot make epoch ${task.epoch}: a worker failed: ${error}`));
              return;
            }
            feed(worker);
          };
          worker.onerror = (event: ErrorEvent) => {
            event.preventDefault();
            failed = true;
            reject(new Error(`Cannot make epoch ${task.epoch}: a worker died: ${event.message}`));
          };
          worker.postMessage({ type: "task", id: nextId++, task });
        };
        if (tasks.length === 0) {
          resolve();
          return;
        }
        for (const worker of workers) feed(worker);
      });
    },
    close() {
      for (const worker of workers) worker.terminate();
    },
  };
}
