/**
 * The generator's log: timestamped lines appended synchronously, so every
 * line is on disk even if the process is killed the next instant.
 *
 * @module
 */

/** A line logger. */
export interface LogFile {
  /** Appends an INFO line. */
  info(message: string): void;
  /** Appends an ERROR line. */
  error(message: string): void;
  /** Closes the file. */
  close(): void;
}

/**
 * Opens (creating or appending to) the log at `path`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openLogFile, readLogTail } from "./log_file.ts";
 * const dir = await Deno.makeTempDir();
 * const log = openLogFile(`${dir}/g.log`);
 * log.info("hello");
 * log.close();
 * assert.ok(readLogTail(`${dir}/g.log`).endsWith("INFO hello"));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function openLogFile(path: string, options: { now?: () => Date } = {}): LogFile {
  const file = Deno.openSync(path, { append: true, create: true });
  const encoder = new TextEncoder();
  const now = options.now ?? (() => new Date());
  let closed = false;
  const write = (level: string, message: string) => {
    if (closed) return;
    const line = encoder.encode(`${now().toISOString()} ${level} ${message}\n`);
    let written = 0;
    while (written < line.length) written += file.writeSync(line.subarray(written));
  };
  return {
    info: (m) => write("INFO", m),
    error: (m) => write("ERROR", m),
    close: () => {
      if (!closed) file.close();
      closed = true;
    },
  };
}

/**
 * The last `maxLines` lines of the log at `path` (at most 8 KiB), or a note
 * that there is none.
 */
export function readLogTail(path: string, options: { maxLines?: number } = {}): string {
  const maxLines = options.maxLines ?? 15;
  let text: string;
  try {
    const file = Deno.openSync(path, { read: true });
    try {
      const size = file.statSync().size;
      const start = Math.max(0, size - 8192);
      file.seekSync(start, Deno.SeekMode.Start);
      const buf = new Uint8Array(size - start);
      let read = 0;
      while (read < buf.length) {
        const n = file.readSync(buf.subarray(read));
        if (n === null) break;
        read += n;
      }
      text = new TextDecoder().decode(buf.subarray(0, read));
    } finally {
      file.close();
    }
  } catch {
    return `(no generator log at ${path})`;
  }
  const lines = text.trimEnd().split("\n");
  return lines.slice(-maxLines).join("\n");
}
