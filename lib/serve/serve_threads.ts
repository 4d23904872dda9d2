/**
 * `ncf serve --threads N`: N servers on one port, each on its own thread
 * with its own copy of the model, the kernel spreading connections among
 * them (Linux `SO_REUSEPORT`, which Deno gives behind `--unstable-net`).
 * Ranking a user's catalogue is CPU work on the thread that answers, so a
 * second thread on a second core nearly doubles the requests answered per
 * second. Each thread watches the checkpoint and reloads on its own, and
 * keeps its own `/metrics` counters (`/healthz` names the thread).
 *
 * @module
 */

import { SettingError } from "../errors.ts";
import { type RunningServer, type ServerOptions, startServer } from "./server.ts";

/** What a serving thread is started with (structured-cloneable settings of {@linkcode startServer}). */
export interface ServeThreadStart
  extends Pick<ServerOptions, "hostname" | "port" | "backend" | "titles" | "reloadIntervalMs"> {
  modelDir: string;
  thread: number;
}

/** Options of {@linkcode startServers}. */
export interface ServeThreadsOptions extends ServerOptions {
  /** Servers sharing the port, one per thread (default 1: {@linkcode startServer} alone). */
  threads?: number | undefined;
}

/** The URL of the serving threads' worker module. */
export const SERVE_WORKER_URL = new URL("./_serve_worker.ts", import.meta.url);

/**
 * Starts `options.threads` servers of the model in `modelDir` on one port:
 * this thread's, then one per worker on the same port. With one thread it is
 * {@linkcode startServer}.
 *
 * @throws {SettingError} naming "threads" for a count below 1; what
 *   {@linkcode startServer} throws;
 *   an `Error` with a thread's reason when one fails to start (the others
 *   are closed first).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startServers } from "./serve_threads.ts";
 * await assert.rejects(() => startServers("/nonexistent/model", { threads: 2 }), /Cannot load a model/);
 * ```
 */
export async function startServers(
  modelDir: string,
  options: ServeThreadsOptions = {},
): Promise<RunningServer> {
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) {
    throw new SettingError(
      "threads",
      `Cannot serve on ${threads} threads: expected an integer ≥ 1`,
    );
  }
  if (threads === 1) return await startServer(modelDir, options);
  const { signal, onWarning, threads: _, ...shared } = options;
  const warn = onWarning ?? (() => {});
  // Deno keeps `reusePort` behind --unstable-net (deno.json's "unstable": ["net"]);
  // without it Deno itself ends the process with its own message.
  const first = await startServer(modelDir, { ...shared, onWarning, reusePort: true, thread: 0 });
  const port = Number(new URL(first.url).port);
  const workers: _Thread[] = [];
  try {
    for (let t = 1; t < threads; t++) {
      workers.push(await _startThread({ ...shared, modelDir, port, thread: t }, warn));
    }
  } catch (e) {
    await Promise.all([first.close(), ...workers.map((w) => w.close())]);
    throw e;
  }
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= Promise.all([first.close(), ...workers.map((w) => w.close())])
      .then(() => {});
  const onAbort = () => void close();
  if (signal?.aborted) await close();
  else signal?.addEventListener("abort", onAbort, { once: true });
  const finished = Promise.all([first.finished, ...workers.map((w) => w.finished)]).then(() => {
    signal?.removeEventListener("abort", onAbort);
  });
  return { url: first.url, close, finished };
}

/** A running serving thread. */
interface _Thread {
  close(): Promise<void>;
  finished: Promise<void>;
}

/** Starts one serving thread; resolves once it listens, rejects with its reason if it cannot. */
function _startThread(start: ServeThreadStart, warn: (message: string) => void): Promise<_Thread> {
  const worker = new Worker(SERVE_WORKER_URL, { type: "module" });
  const { promise: finished, resolve: done } = Promise.withResolvers<void>();
  const { promise: listening, resolve, reject } = Promise.withResolvers<void>();
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    worker.terminate();
    done();
  };
  worker.onmessage = (event: MessageEvent) => {
    const msg = event.data as { kind: string; message?: string };
    if (msg.kind === "listening") resolve();
    else if (msg.kind === "warning") warn(`thread ${start.thread}: ${msg.message}`);
    else if (msg.kind === "failed") {
      reject(new Error(`Cannot start serving thread ${start.thread}: ${msg.message}`));
      end();
    } else if (msg.kind === "closed") end();
  };
  worker.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    const message = `Cannot keep serving thread ${start.thread}: ${event.message}`;
    reject(new Error(message));
    if (!ended) warn(message);
    end();
  };
  worker.postMessage({ kind: "start", start });
  return listening.then(() => ({
    close: () => {
      if (!ended) worker.postMessage({ kind: "close" });
      return finished;
    },
    finished,
  }));
}
