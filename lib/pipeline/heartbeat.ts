/**
 * Heartbeats (DESIGN.md section 3): each side rewrites its `.alive` file
 * every second from a worker; the other side judges liveness by whether the
 * content changed, on its own clock (hosts' clocks may differ).
 *
 * @module
 */

/** The worker module; `deno task compile` must `--include` it. */
export const HEARTBEAT_WORKER_URL = new URL("./_heartbeat_worker.ts", import.meta.url);

/** A running heartbeat writer. */
export interface HeartbeatWriter {
  /** The last write error, if any (e.g. the folder is gone). */
  readonly lastError: string | undefined;
  /** Stops writing. */
  stop(): void;
}

/**
 * Starts rewriting `path` every `intervalMs` (default 1000) from a worker.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startHeartbeat } from "./heartbeat.ts";
 * const dir = await Deno.makeTempDir();
 * const beat = startHeartbeat(`${dir}/x.alive`, { intervalMs: 20 });
 * // The worker's first beat comes once its module has loaded: wait up to 10 s.
 * let text = "";
 * for (let t = 0; t < 500 && text === ""; t++) {
 *   await new Promise((r) => setTimeout(r, 20));
 *   text = await Deno.readTextFile(`${dir}/x.alive`).catch(() => "");
 * }
 * beat.stop();
 * assert.ok(text.length > 0);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function startHeartbeat(
  path: string,
  options: { intervalMs?: number } = {},
): HeartbeatWriter {
  const worker = new Worker(HEARTBEAT_WORKER_URL, { type: "module" });
  let lastError: string | undefined;
  worker.onmessage = (event: MessageEvent) => {
    lastError = (event.data as { error: string }).error;
  };
  worker.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    lastError = event.message;
  };
  worker.postMessage({ path, intervalMs: options.intervalMs ?? 1000 });
  return {
    get lastError() {
      return lastError;
    },
    stop: () => worker.terminate(),
  };
}

/** The content a side leaves in its `.alive` file when it finished normally. */
export const FINISHED_MARK = "done";

/** What a {@linkcode HeartbeatWatcher} concludes. */
export type Liveness = "alive" | "stale" | "missing";

/** Judges another side's heartbeat by content changes on the reader's clock. */
export interface HeartbeatWatcher {
  /** Reads the file once and says whether it changed within the timeout. */
  check(): Liveness;
  /** Seconds since the content last changed (or since watching began). */
  secondsSinceChange(): number;
  /** Whether the file has ever been seen. */
  readonly seen: boolean;
  /** The content last read, if any. */
  readonly lastContent: string | undefined;
  /** The longest time between two observed changes, in seconds. */
  readonly maxGapSeconds: number;
}

/**
 * Watches `path`. "missing" means never seen and younger than the timeout;
 * "stale" means unchanged (or absent) for longer than `timeoutSeconds`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { watchHeartbeat } from "./heartbeat.ts";
 * let t = 0;
 * const w = watchHeartbeat("/nonexistent/x.alive", { timeoutSeconds: 5, now: () => t });
 * assert.ok(w.check() === "missing");
 * t = 6000;
 * assert.ok(w.check() === "stale");
 * ```
 */
export function watchHeartbeat(
  path: string,
  options: { timeoutSeconds: number; now?: () => number },
): HeartbeatWatcher {
  const now = options.now ?? (() => performance.now());
  let lastContent: string | undefined;
  let lastChange = now();
  let seen = false;
  let maxGap = 0;
  const read = () => {
    try {
      return Deno.readTextFileSync(path);
    } catch {
      return undefined;
    }
  };
  return {
    check(): Liveness {
      const content = read();
      const t = now();
      if (content !== undefined && content !== lastContent) {
        if (seen) maxGap = Math.max(maxGap, (t - lastChange) / 1000);
        lastContent = content;
        lastChange = t;
        seen = true;
      }
      if (t - lastChange > options.timeoutSeconds * 1000) return "stale";
      return seen ? "alive" : "missing";
    },
    secondsSinceChange: () => (now() - lastChange) / 1000,
    get seen() {
      return seen;
    },
    get lastContent() {
      return lastContent;
    },
    get maxGapSeconds() {
      return maxGap;
    },
  };
}
