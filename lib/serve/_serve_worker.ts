/**
 * A serving thread: one more `startServer` on the port of the first,
 * sharing it (`reusePort`), with its own copy of the model and its own
 * checkpoint watcher. Messages in: `start` (the server's settings), `close`;
 * out: `listening`, `failed` (with the error's message), `warning`,
 * `closed`. See `serve_threads.ts`.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { startServer } from "./server.ts";
import type { ServeThreadStart } from "./serve_threads.ts";

const controller = new AbortController();

self.onmessage = async (event: MessageEvent) => {
  const msg = event.data as { kind: "start"; start: ServeThreadStart } | { kind: "close" };
  if (msg.kind === "close") {
    controller.abort();
    return;
  }
  const { modelDir, ...options } = msg.start;
  try {
    const server = await startServer(modelDir, {
      ...options,
      reusePort: true,
      signal: controller.signal,
      onWarning: (message) => self.postMessage({ kind: "warning", message }),
    });
    self.postMessage({ kind: "listening" });
    await server.finished;
    self.postMessage({ kind: "closed" });
  } catch (e) {
    self.postMessage({ kind: "failed", message: e instanceof Error ? e.message : String(e) });
  }
};
