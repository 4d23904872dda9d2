/**
 * The generator role: wait for the run's flagfile, then make cycles of
 * shuffled, negative-sampled training batches until `num_cycles` are
 * written, keeping at most `cycles_to_buffer` unconsumed, and exit by itself
 * when the trainer is gone (removing the orphaned run folder).
 *
 * @module
 */

import { parseFlags } from "../flags/flags.ts";
import { resolve } from "node:path";
import {
  defaultCacheDir,
  GENERATOR_SETTINGS,
  type GeneratorFlags,
  type GeneratorSettings,
} from "../flags/specs.ts";
import { type FileWriter, writeFileAtomic } from "../io/atomic_write.ts";
import { cycleDir, isValidCacheId, parseCycleName, type RunPaths, runPaths } from "./run_paths.ts";
import { type LogFile, openLogFile } from "../io/log_file.ts";
import { FINISHED_MARK, startHeartbeat, watchHeartbeat } from "./heartbeat.ts";
import { readPositives } from "./positives_file.ts";
import { allocateEpochBuffers, epochLayout, makeEpoch } from "./epoch.ts";
import { startEpochWorkers } from "./epoch_workers.ts";
import { type CyclePlan, regenerateCarry, writeCycle } from "./cycles.ts";
import type { ExampleColumns } from "./epoch_kernels.ts";

/** How a generator run ended. */
export interface GeneratorResult {
  /** "done" after num_cycles; "orphaned" when the trainer was gone. */
  outcome: "done" | "orphaned";
  /** Cycles written by this process. */
  cyclesWritten: number;
  /** Why it stopped, for the orphaned case. */
  reason?: string;
}

/**
 * What a generator tells its operator (`onStatus`), each with a one-line
 * `message` that names settings, never flags:
 * - `waiting`: it waits up to `timeoutSeconds` for the trainer's `flagfile`;
 * - `started`: the flagfile was read;
 * - `cycle`: cycle `cycle` (0-based) of `numCycles` was published;
 * - `done`: every cycle was written;
 * - `stopped`: the trainer is gone or a stop was requested (not a failure);
 * - `failed`: the generator itself failed; its log is kept at `log`.
 */
export type GeneratorStatus =
  & { message: string }
  & (
    | { kind: "waiting"; flagfile: string; timeoutSeconds: number }
    | {
      kind: "started";
      cacheId: string;
      startCycle: number;
      numCycles: number;
      numWorkers: number;
      log: string;
    }
    | {
      kind: "cycle";
      cycle: number;
      numCycles: number;
      examples: number;
      batches: number;
      seconds: number;
    }
    | { kind: "done"; cyclesWritten: number; examples: number; seconds: number }
    | { kind: "stopped"; reason: string }
    | { kind: "failed"; error: string; log: string }
  );

/** Options of {@linkcode runGenerator}. */
export interface GeneratorOptions {
  /** Aborted on SIGINT/SIGTERM: a requested stop, logged as INFO. */
  signal?: AbortSignal | undefined;
  /** The file-writing seam for shards and ready.json. */
  writer?: FileWriter | undefined;
  /** Poll interval of waits and liveness checks, ms (default 100). */
  pollMs?: number | undefined;
  /**
   * Told what the generator waits for and how far it got (see
   * {@linkcode GeneratorStatus}); `cli.ts` prints it to stderr for a
   * generator an operator started, and passes nothing when spawned.
   */
  onStatus?: ((status: GeneratorStatus) => void) | undefined;
}

/** The trainer is gone (dead, or it removed the run folder). */
class _Orphaned extends Error {}

/**
 * Runs the generator. Resolves when done or orphaned (the trainer is dead or
 * removed the run folder); throws when a stop is requested through `signal`,
 * and on the generator's own failures (missing or foreign flagfile, bad
 * positives, a failed write).
 *
 * Its log `<cache_dir>/<cache_id>_generator.log` says what happened: a
 * requested stop or an orphaned run is INFO, an own failure is ERROR. The
 * log is kept after an own failure (the `failed` status names it) and
 * removed otherwise; after a stop while the trainer that spawned it
 * (`parent_pid`) lives, the trainer removes it or keeps it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runGenerator } from "./generator.ts";
 * const dir = await Deno.makeTempDir();
 * const lines: string[] = [];
 * await assert.rejects(
 *   runGenerator(
 *     { data_dir: dir, cache_dir: dir, cache_id: "x", flagfile_timeout: 0.1, parent_pid: undefined },
 *     { onStatus: (s) => lines.push(`${s.kind}: ${s.message}`) },
 *   ),
 *   /no flagfile at .*x_ncf_cache\/flagfile after 0.1 s/,
 * );
 * assert.ok(lines[0].startsWith("waiting: waiting up to 0.1 s for the trainer's flagfile"));
 * assert.ok(lines[1].startsWith(`failed: log kept at ${dir}/x_generator.log`));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function runGenerator(
  flags: GeneratorFlags,
  options: GeneratorOptions = {},
): Promise<GeneratorResult> {
  if (!isValidCacheId(flags.cache_id)) {
    throw new RangeError(`Cannot use --cache_id ${flags.cache_id}: not a safe file name`);
  }
  const cacheDir = resolve(flags.cache_dir ?? defaultCacheDir());
  const paths = runPaths(cacheDir, flags.cache_id);
  await Deno.mkdir(cacheDir, { recursive: true });
  const log = openLogFile(paths.generatorLog);
  const status = options.onStatus ?? (() => {});
  log.info(
    `generator pid ${Deno.pid} for run ${flags.cache_id}, parent ${flags.parent_pid ?? "-"}`,
  );
  // The log goes at the end unless the generator failed by itself. After a stop
  // while the trainer that spawned it lives, the trainer decides (it keeps the log
  // when it judged the generator failed, e.g. hung, before stopping it).
  let removeLog: "yes" | "no" | "unless the trainer lives" = "no";
  try {
    const result = await _generate(flags, paths, log, options);
    removeLog = "yes";
    return result;
  } catch (e) {
    if (e instanceof _Orphaned) {
      removeLog = "unless the trainer lives";
      log.info(`trainer gone (${e.message}); removing ${paths.root}`);
      await Deno.remove(paths.root, { recursive: true }).catch(() => {});
      status({ kind: "stopped", reason: e.message, message: `stopped: ${e.message}` });
      return { outcome: "orphaned", cyclesWritten: 0, reason: e.message };
    }
    const message = e instanceof Error ? e.message : String(e);
    if (options.signal?.aborted === true) {
      // SIGTERM from the trainer closing the run, or an operator's Ctrl-C: not a failure.
      removeLog = "unless the trainer lives";
      const reason = _abortReason(options.signal);
      log.info(`stop requested (${reason}); exiting`);
      status({ kind: "stopped", reason, message: `stopped: ${reason}` });
      throw e;
    }
    log.error(message);
    status({
      kind: "failed",
      error: message,
      log: paths.generatorLog,
      message: `log kept at ${paths.generatorLog}`,
    });
    throw e;
  } finally {
    log.close();
    const parent = flags.parent_pid;
    if (
      removeLog === "yes" ||
      (removeLog === "unless the trainer lives" &&
        (parent === undefined || !_processExists(parent)))
    ) {
      await Deno.remove(paths.generatorLog).catch(() => {});
    }
  }
}

/** The message of why `signal` was aborted. */
function _abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason.message : String(reason);
}

async function _generate(
  flags: GeneratorFlags,
  paths: RunPaths,
  log: LogFile,
  options: GeneratorOptions,
): Promise<GeneratorResult> {
  const pollMs = options.pollMs ?? 100;
  const signal = options.signal;
  const status = options.onStatus ?? (() => {});
  log.info(`waiting up to ${flags.flagfile_timeout} s for ${paths.flagfile}`);
  status({
    kind: "waiting",
    flagfile: paths.flagfile,
    timeoutSeconds: flags.flagfile_timeout,
    message:
      `waiting up to ${flags.flagfile_timeout} s for the trainer's flagfile ${paths.flagfile}`,
  });
  const settings = await _waitForFlagfile(paths, flags, { pollMs, signal });
  const started = performance.now();
  status({
    kind: "started",
    cacheId: settings.cache_id,
    startCycle: settings.start_cycle,
    numCycles: settings.num_cycles,
    numWorkers: settings.num_workers,
    log: paths.generatorLog,
    message: `run ${settings.cache_id}: writing cycles ${
      settings.start_cycle + 1
    }..${settings.num_cycles} of ${settings.num_cycles} with ${settings.num_workers} worker${
      settings.num_workers === 1 ? "" : "s"
    } (log ${paths.generatorLog})`,
  });
  log.info(
    `flagfile read: ${settings.num_users} users, ${settings.num_items} items, ` +
      `${settings.num_train_positives} positives, cycles ${settings.start_cycle}..${
        settings.num_cycles - 1
      }, ${settings.num_workers} workers, seed ${settings.seed}, ${settings.schema} with ` +
      `${settings.num_neg} ${settings.negative_sampling} negatives per positive`,
  );

  const heartbeat = startHeartbeat(paths.generatorAlive);
  const trainer = watchHeartbeat(paths.trainerAlive, {
    timeoutSeconds: settings.heartbeat_timeout,
  });
  let cyclesWritten = 0;
  let examplesWritten = 0;
  const check = () => {
    signal?.throwIfAborted();
    const why = _trainerGone(paths, trainer.check(), flags.parent_pid, settings.heartbeat_timeout);
    if (why !== undefined) throw new _Orphaned(why);
  };
  const watchdog = setInterval(() => {
    try {
      check();
    } catch {
      // Seen by the main flow at its next check.
    }
  }, 250);
  let pool: ReturnType<typeof startEpochWorkers> | undefined;
  try {
    check();
    const positives = await readPositives(paths.positives, {
      numUsers: settings.num_users,
      numItems: settings.num_items,
      numTrainPositives: settings.num_train_positives,
    });
    const layout = epochLayout(positives, {
      numItems: settings.num_items,
      numNeg: settings.num_neg,
      schema: settings.schema,
      negativeSampling: settings.negative_sampling,
    });
    const context = {
      layout,
      buffers: allocateEpochBuffers(positives, layout),
      seed: settings.seed,
    };
    pool = startEpochWorkers(context, settings.num_workers);
    const runner = pool;
    const plan: CyclePlan = {
      epochSize: layout.size,
      epochsPerCycle: settings.epochs_per_cycle,
      numCycles: settings.num_cycles,
      batchSize: settings.train_batch_size,
      spillover: settings.spillover,
      schema: settings.schema,
    };
    const source = (epoch: number) => {
      check();
      return makeEpoch(context, runner, epoch);
    };
    let carry: ExampleColumns = await regenerateCarry(plan, settings.start_cycle, source);
    await Deno.mkdir(paths.cycles, { recursive: true });
    for (let cycle = settings.start_cycle; cycle < settings.num_cycles; cycle++) {
      await _waitForRoom(paths, settings.cycles_to_buffer, { pollMs, check });
      const dir = cycleDir(paths, cycle);
      await Deno.mkdir(dir);
      const cycleStarted = performance.now();
      const written = await writeCycle(cycle, dir, {
        plan,
        carry,
        source,
        writer: options.writer,
        checkpoint: check,
      });
      carry = written.carry;
      cyclesWritten++;
      const { example_count: examples, batch_count: batches } = written.manifest;
      examplesWritten += examples;
      const seconds = (performance.now() - cycleStarted) / 1000;
      log.info(
        `cycle ${cycle}: ${examples} examples in ${batches} batches, ${written.manifest.shards.length} shards, ${
          seconds.toFixed(2)
        } s (${Math.round(examples / seconds)} examples/s)`,
      );
      status({
        kind: "cycle",
        cycle,
        numCycles: settings.num_cycles,
        examples,
        batches,
        seconds,
        message: `cycle ${cycle + 1}/${settings.num_cycles} written: ${
          _count(examples)
        } examples in ${seconds.toFixed(1)} s`,
      });
    }
    heartbeat.stop();
    try {
      await writeFileAtomic(paths.generatorAlive, `${FINISHED_MARK} ${Deno.pid}\n`);
    } catch (e) {
      // Every cycle is written: a trainer that consumed them all may already have
      // removed the run folder (standalone mode). That is the normal end, not an orphan.
      if (!_isNotFound(e) || _folderExists(paths.root)) throw e;
      log.info("the trainer removed the run folder after the last cycle");
    }
    log.info(
      `done: ${cyclesWritten} cycles; longest gap between trainer heartbeats ${
        trainer.maxGapSeconds.toFixed(2)
      } s`,
    );
    const seconds = (performance.now() - started) / 1000;
    status({
      kind: "done",
      cyclesWritten,
      examples: examplesWritten,
      seconds,
      message: `done: ${cyclesWritten} cycle${cyclesWritten === 1 ? "" : "s"}, ${
        _count(examplesWritten)
      } examples in ${seconds.toFixed(1)} s`,
    });
    return { outcome: "done", cyclesWritten };
  } catch (e) {
    if (e instanceof _Orphaned || signal?.aborted === true) throw e;
    // A write that failed because the trainer removed the folder is an orphan. A
    // file that vanished may mean the removal is under way: give it a moment.
    const wait = _isNotFound(e) ? 2000 : 0;
    for (const until = performance.now() + wait;;) {
      const why = _trainerGone(
        paths,
        trainer.check(),
        flags.parent_pid,
        settings.heartbeat_timeout,
      );
      if (why !== undefined) throw new _Orphaned(why);
      if (performance.now() >= until) throw e;
      await _sleep(pollMs);
    }
  } finally {
    clearInterval(watchdog);
    pool?.close();
    heartbeat.stop();
  }
}

/** Whether `e`, or an error it was caused by, is a missing file or folder. */
function _isNotFound(e: unknown): boolean {
  for (let at = e, depth = 0; at instanceof Error && depth < 5; at = at.cause, depth++) {
    if (at instanceof Deno.errors.NotFound) return true;
  }
  return false;
}

function _count(n: number): string {
  return n.toLocaleString("en-US");
}

function _trainerGone(
  paths: RunPaths,
  liveness: "alive" | "stale" | "missing",
  parentPid: number | undefined,
  timeout: number,
): string | undefined {
  if (parentPid !== undefined && !_processExists(parentPid)) {
    return `parent process ${parentPid} has exited`;
  }
  try {
    Deno.statSync(paths.root);
  } catch {
    return `run folder ${paths.root} is gone`;
  }
  if (liveness === "stale") return `trainer heartbeat unchanged for ${timeout} s`;
  return undefined;
}

function _processExists(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // A zombie (state Z) has exited.
    return !/^\d+ \(.*\) Z/s.test(stat);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    return true; // No /proc here: rely on the heartbeat.
  }
}

async function _waitForFlagfile(
  paths: RunPaths,
  flags: GeneratorFlags,
  options: { pollMs: number; signal?: AbortSignal | undefined },
): Promise<GeneratorSettings> {
  const deadline = performance.now() + flags.flagfile_timeout * 1000;
  for (;;) {
    options.signal?.throwIfAborted();
    let text: string | undefined;
    try {
      text = await Deno.readTextFile(paths.flagfile);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    if (text !== undefined) {
      const settings = parseFlags([`--flagfile=${paths.flagfile}`], GENERATOR_SETTINGS, {
        readTextFile: () => text,
      }).values;
      if (settings.cache_id !== flags.cache_id) {
        throw new Error(
          `Cannot use flagfile ${paths.flagfile}: it belongs to run ${settings.cache_id}, not ${flags.cache_id}`,
        );
      }
      return settings;
    }
    if (performance.now() >= deadline) {
      throw new Error(
        `Cannot start the generator: no flagfile at ${paths.flagfile} after ${flags.flagfile_timeout} s (--flagfile_timeout)`,
      );
    }
    await _sleep(options.pollMs);
  }
}

async function _waitForRoom(
  paths: RunPaths,
  cyclesToBuffer: number,
  options: { pollMs: number; check: () => void },
): Promise<void> {
  for (;;) {
    options.check();
    let pending = 0;
    for await (const entry of Deno.readDir(paths.cycles)) {
      if (entry.isDirectory && parseCycleName(entry.name) !== undefined) pending++;
    }
    if (pending < cyclesToBuffer) return;
    await _sleep(options.pollMs);
  }
}

function _sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function _folderExists(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}
