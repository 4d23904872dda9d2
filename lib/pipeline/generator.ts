/**
 * The generator role: wait for the run's flagfile, then make cycles of
 * shuffled, negative-sampled training batches until `num_cycles` are
 * written, keeping at most `cycles_to_buffer` unconsumed, and exit by itself
 * when the trainer is gone (removing the orphaned run folder).
 *
 * @module
 */

import { parseFlags } from "../flags/flags.ts";
import { GENERATOR_SETTINGS, type GeneratorFlags, type GeneratorSettings } from "../flags/specs.ts";
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

/** Options of {@linkcode runGenerator}. */
export interface GeneratorOptions {
  /** Aborted on SIGINT/SIGTERM. */
  signal?: AbortSignal;
  /** The file-writing seam for shards and ready.json. */
  writer?: FileWriter;
  /** Poll interval of waits and liveness checks, ms (default 100). */
  pollMs?: number;
}

class _Orphaned extends Error {}

/**
 * Runs the generator. Resolves when done or orphaned; throws on bad input
 * (missing or foreign flagfile, bad positives, a failed write) after logging
 * the error.
 */
export async function runGenerator(
  flags: GeneratorFlags,
  options: GeneratorOptions = {},
): Promise<GeneratorResult> {
  if (!isValidCacheId(flags.cache_id)) {
    throw new RangeError(`Cannot use --cache_id ${flags.cache_id}: not a safe file name`);
  }
  const cacheDir = flags.cache_dir ?? flags.data_dir;
  const paths = runPaths(cacheDir, flags.cache_id);
  await Deno.mkdir(cacheDir, { recursive: true });
  const log = openLogFile(paths.generatorLog);
  log.info(
    `generator pid ${Deno.pid} for run ${flags.cache_id}, parent ${flags.parent_pid ?? "-"}`,
  );
  try {
    return await _generate(flags, paths, log, options);
  } catch (e) {
    if (e instanceof _Orphaned) {
      log.info(`trainer gone (${e.message}); removing ${paths.root}`);
      await Deno.remove(paths.root, { recursive: true }).catch(() => {});
      return { outcome: "orphaned", cyclesWritten: 0, reason: e.message };
    }
    log.error((e as Error).message);
    throw e;
  } finally {
    log.close();
  }
}

async function _generate(
  flags: GeneratorFlags,
  paths: RunPaths,
  log: LogFile,
  options: GeneratorOptions,
): Promise<GeneratorResult> {
  const pollMs = options.pollMs ?? 100;
  const signal = options.signal;
  const settings = await _waitForFlagfile(paths, flags, { pollMs, signal });
  log.info(
    `flagfile read: ${settings.num_users} users, ${settings.num_items} items, ` +
      `${settings.num_train_positives} positives, cycles ${settings.start_cycle}..${
        settings.num_cycles - 1
      }, ${settings.num_workers} workers, seed ${settings.seed}`,
  );

  const heartbeat = startHeartbeat(paths.generatorAlive);
  const trainer = watchHeartbeat(paths.trainerAlive, {
    timeoutSeconds: settings.heartbeat_timeout,
  });
  let cyclesWritten = 0;
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
      const started = performance.now();
      const written = await writeCycle(cycle, dir, {
        plan,
        carry,
        source,
        writer: options.writer,
        checkpoint: check,
      });
      carry = written.carry;
      cyclesWritten++;
      const seconds = (performance.now() - started) / 1000;
      log.info(
        `cycle ${cycle}: ${written.manifest.example_count} examples in ${written.manifest.batch_count} batches, ${written.manifest.shards.length} shards, ${
          seconds.toFixed(2)
        } s (${Math.round(written.manifest.example_count / seconds)} examples/s)`,
      );
    }
    heartbeat.stop();
    await writeFileAtomic(paths.generatorAlive, `${FINISHED_MARK} ${Deno.pid}\n`);
    log.info(
      `done: ${cyclesWritten} cycles; longest gap between trainer heartbeats ${
        trainer.maxGapSeconds.toFixed(2)
      } s`,
    );
    return { outcome: "done", cyclesWritten };
  } catch (e) {
    if (e instanceof _Orphaned) throw e;
    // A write that failed because the trainer removed the folder is an orphan.
    const why = _trainerGone(paths, trainer.check(), flags.parent_pid, settings.heartbeat_timeout);
    if (why !== undefined && !signal?.aborted) throw new _Orphaned(why);
    throw e;
  } finally {
    clearInterval(watchdog);
    pool?.close();
    heartbeat.stop();
  }
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
  options: { pollMs: number; signal?: AbortSignal },
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
