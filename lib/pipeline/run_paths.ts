/**
 * Where a run's files live (DESIGN.md section 3) and how a run is named.
 *
 * @module
 */

import { join } from "node:path";

/** The paths of one run's files. */
export interface RunPaths {
  /** `<cache_dir>/<cache_id>_ncf_cache`: created and removed by the trainer. */
  root: string;
  /** The generator's settings, published by the trainer. */
  flagfile: string;
  /** Folder of the training positives, written by the trainer. */
  positives: string;
  /** The trainer's heartbeat. */
  trainerAlive: string;
  /** The generator's heartbeat. */
  generatorAlive: string;
  /** Folder of the cycle folders. */
  cycles: string;
  /** `<cache_dir>/<cache_id>_generator.log`: beside the run folder, not in it. */
  generatorLog: string;
}

/**
 * The paths of run `cacheId` under `cacheDir`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runPaths } from "./run_paths.ts";
 * const p = runPaths("/tmp/c", "abc");
 * assert.ok(p.flagfile === "/tmp/c/abc_ncf_cache/flagfile");
 * assert.ok(p.generatorLog === "/tmp/c/abc_generator.log");
 * ```
 */
export function runPaths(cacheDir: string, cacheId: string): RunPaths {
  const root = join(cacheDir, `${cacheId}_ncf_cache`);
  return {
    root,
    flagfile: join(root, "flagfile"),
    positives: join(root, "positives"),
    trainerAlive: join(root, "trainer.alive"),
    generatorAlive: join(root, "subproc.alive"),
    cycles: join(root, "training_cycles"),
    generatorLog: join(cacheDir, `${cacheId}_generator.log`),
  };
}

/**
 * The folder of cycle `index`: `training_cycles/cycle_00000`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cycleDir, runPaths } from "./run_paths.ts";
 * assert.ok(cycleDir(runPaths("/c", "x"), 12).endsWith("training_cycles/cycle_00012"));
 * ```
 */
export function cycleDir(paths: RunPaths, index: number): string {
  return join(paths.cycles, `cycle_${String(index).padStart(5, "0")}`);
}

/** The cycle index of a cycle folder's name, or `undefined` for other names. */
export function parseCycleName(name: string): number | undefined {
  const m = /^cycle_(\d{5,})$/.exec(name);
  return m === null ? undefined : Number(m[1]);
}

/**
 * A new, unique run id: time, pid and 32 random bits from
 * `crypto.getRandomValues` — never derived from `--seed`, so two runs with one
 * seed never share a folder.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newCacheId } from "./run_paths.ts";
 * assert.ok(newCacheId() !== newCacheId());
 * assert.ok(/^\d+_\d+_[0-9a-f]{8}$/.test(newCacheId()));
 * ```
 */
export function newCacheId(options: { now?: number; pid?: number } = {}): string {
  const random = crypto.getRandomValues(new Uint32Array(1))[0];
  const now = options.now ?? Date.now();
  const pid = options.pid ?? Deno.pid;
  return `${now}_${pid}_${random.toString(16).padStart(8, "0")}`;
}

/**
 * Whether `cacheId` is safe as part of a file name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isValidCacheId } from "./run_paths.ts";
 * assert.ok(isValidCacheId("1_2_ab") && !isValidCacheId("../x"));
 * ```
 */
export function isValidCacheId(cacheId: string): boolean {
  return /^[A-Za-z0-9_.-]{1,128}$/.test(cacheId) && !cacheId.startsWith(".");
}
