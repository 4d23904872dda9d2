/**
 * Worker of the generator: runs epoch tasks on shared buffers.
 * Messages in: `{ type: "init", context }`, `{ type: "task", id, task }`;
 * out: `{ id }` or `{ id, error }`.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { type EpochContext, type EpochTask, runEpochTask } from "./epoch.ts";

let context: EpochContext | undefined;

self.onmessage = (event: MessageEvent) => {
  const message = event.data as
    | { type: "init"; context: EpochContext }
    | { type: "task"; id: number; task: EpochTask };
  if (message.type === "init") {
    context = message.context;
    return;
  }
  try {
    if (context === undefined) throw new Error("Cannot run an epoch task: no context yet");
    runEpochTask(context, message.task);
    self.postMessage({ id: message.id });
  } catch (e) {
    self.postMessage({ id: message.id, error: (e as Error).stack ?? String(e) });
  }
};
