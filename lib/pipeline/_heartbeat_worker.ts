/**
 * Worker that rewrites a heartbeat file every interval, so a long
 * computation on the main thread cannot stall it.
 * In: `{ path, intervalMs }`; out: `{ error }` when a write fails.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { writeFileAtomic } from "../io/atomic_write.ts";

self.onmessage = (event: MessageEvent) => {
  const { path, intervalMs } = event.data as { path: string; intervalMs: number };
  let beat = 0;
  let busy = false;
  const write = async () => {
    if (busy) return;
    busy = true;
    try {
      await writeFileAtomic(path, `${Deno.pid} ${beat++} ${Date.now()}\n`);
    } catch (e) {
      self.postMessage({ error: (e as Error).message });
    } finally {
      busy = false;
    }
  };
  write();
  setInterval(write, intervalMs);
};
