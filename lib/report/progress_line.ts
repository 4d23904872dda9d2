/**
 * The trainer's one-line terminal progress: cycle, a bar, batches, rate and
 * the whole run's ETA, fitted to the terminal's width so a redraw never
 * wraps (a wrapped line leaves a stale copy on every redraw).
 *
 * @module
 */

/** What one progress line shows. */
export interface ProgressState {
  /** 0-based cycle index. */
  cycle: number;
  numCycles: number;
  batches: number;
  batchCount: number;
  examplesPerSecond: number;
  /** Seconds left in the whole run. */
  etaSeconds: number;
}

/**
 * Formats seconds as `45 s`, `12 min 5 s` or `3 h 20 min`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatDuration } from "./progress_line.ts";
 * assert.equal(formatDuration(45.4), "45 s");
 * assert.equal(formatDuration(725), "12 min 5 s");
 * assert.equal(formatDuration(12000), "3 h 20 min");
 * assert.equal(formatDuration(NaN), "?");
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/**
 * The progress line, at most `columns - 3` characters: writing into the last
 * column makes some terminals wrap, and a terminal echoes Ctrl-C as `^C` after
 * the line, which must not wrap either (it would leave a stale line behind the
 * interruption message). Parts are dropped,
 * least useful first, until it fits: the bar shrinks, then the rate goes,
 * then the batch count.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatProgressLine } from "./progress_line.ts";
 * const p = { cycle: 13, numCycles: 50, batches: 500, batchCount: 1000,
 *   examplesPerSecond: 1234567, etaSeconds: 725 };
 * const wide = formatProgressLine(p, { columns: 120 });
 * assert.ok(wide.startsWith("cycle 14/50 [") && wide.endsWith("ETA 12 min 5 s"));
 * assert.ok(formatProgressLine(p, { columns: 80 }).length <= 77);
 * assert.ok(formatProgressLine(p, { columns: 30 }).length <= 27);
 * ```
 */
export function formatProgressLine(p: ProgressState, options: { columns: number }): string {
  const limit = Math.max(1, options.columns - 3);
  const head = `cycle ${p.cycle + 1}/${p.numCycles}`;
  const count = `${p.batches}/${p.batchCount} batches`;
  const rate = `${Math.round(p.examplesPerSecond).toLocaleString("en-US")} ex/s`;
  const eta = `ETA ${formatDuration(p.etaSeconds)}`;
  const fraction = p.batchCount > 0 ? Math.min(1, p.batches / p.batchCount) : 0;
  for (const parts of [[count, rate, eta], [count, eta], [eta]]) {
    const text = [head, ...parts].join("  ");
    const room = limit - text.length - 3; // " [" + bar + "]"
    if (room >= 10) {
      const width = Math.min(30, room);
      const done = Math.round(fraction * width);
      const bar = `[${"#".repeat(done)}${".".repeat(width - done)}]`;
      return [`${head} ${bar}`, ...parts].join("  ");
    }
    if (text.length <= limit) return text;
  }
  return `${head}  ${eta}`.slice(0, limit);
}
