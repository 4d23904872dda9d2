/**
 * Watches a file for replacement by polling its status (modification time,
 * size and inode): the trainer publishes each checkpoint by an atomic
 * rename, which a poll sees on every file system, where `Deno.watchFs`
 * events vary.
 *
 * @module
 */

/** Options of {@linkcode watchFile}. */
export interface WatchFileOptions {
  /** Milliseconds between polls (default 500). */
  intervalMs?: number | undefined;
  /**
   * Called when the file changed since the last poll (or since the watch
   * began); the next poll waits until the promise it returns settles. It
   * should not throw: a throw is ignored.
   */
  onChange: () => Promise<void> | void;
}

/**
 * Polls `path` until `stop()`; `stop()` resolves once no `onChange` call
 * is running. A missing file is a state like any other (its reappearance
 * is a change).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { watchFile } from "./checkpoint_watcher.ts";
 * const path = await Deno.makeTempFile();
 * let changes = 0;
 * const watcher = await watchFile(path, { intervalMs: 10, onChange: () => void changes++ });
 * await Deno.writeTextFile(path, "new contents");
 * while (changes === 0) await new Promise((r) => setTimeout(r, 10));
 * await watcher.stop();
 * await Deno.remove(path);
 * assert.equal(changes, 1);
 * ```
 */
export async function watchFile(
  path: string,
  options: WatchFileOptions,
): Promise<{ stop(): Promise<void> }> {
  const intervalMs = options.intervalMs ?? 500;
  let last = await _state(path);
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> = Promise.resolve();
  const poll = async () => {
    const now = await _state(path);
    if (stopped) return;
    if (now !== last) {
      last = now;
      await options.onChange();
    }
  };
  const schedule = () => {
    timer = setTimeout(() => {
      timer = undefined;
      running = poll().catch(() => {}).finally(() => {
        if (!stopped) schedule();
      });
    }, intervalMs);
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await running;
    },
  };
}

/** The file's modification time, size and inode as one key ("missing" when absent). */
async function _state(path: string): Promise<string> {
  try {
    const info = await Deno.stat(path);
    return `${info.mtime?.getTime()}:${info.size}:${info.ino}`;
  } catch {
    return "missing";
  }
}
