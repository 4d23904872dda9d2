/**
 * The trainer's side of the handoff: create the run folder, publish the
 * positives and the flagfile, start (or describe) the generator, hand its
 * cycles' batches to the training loop in order, watch its liveness with
 * bounded waits, and clean up.
 *
 * @module
 */

import { formatFlagfile } from "../flags/flags.ts";
import { GENERATOR_SETTINGS, type GeneratorSettings } from "../flags/specs.ts";
import { writeFileAtomic } from "../io/atomic_write.ts";
import { parseReadyManifest, type ReadyManifest } from "./cycles.ts";
import type { ExampleColumns, Positives } from "./epoch_kernels.ts";
import {
  FINISHED_MARK,
  type HeartbeatWriter,
  startHeartbeat,
  watchHeartbeat,
} from "./heartbeat.ts";
import { readLogTail } from "../io/log_file.ts";
import { writePositives } from "./positives_file.ts";
import { cycleDir, newCacheId, type RunPaths, runPaths } from "./run_paths.ts";
import { decodeShard } from "./shards.ts";
import { currentProcessContext, type GeneratorProcess, spawnGenerator } from "./spawn.ts";
import { generatorArgv, type ProcessContext, shellQuote } from "./spawn_argv.ts";
import { join } from "node:path";

/** A batch of training examples (views; valid until the next batch). */
export interface Batch extends ExampleColumns {
  /** Examples in the batch (the last batch of a run may be short). */
  size: number;
}

/** One cycle as the training loop sees it. */
export interface TrainingCycle {
  index: number;
  manifest: ReadyManifest;
  /** The cycle's batches, in order; the folder is deleted after the last. */
  batches: AsyncIterable<Batch>;
}

/**
 * The generator ended or went silent before the run was over. Callers catch
 * it to tell a dead generator from other failures.
 */
export class GeneratorDiedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GeneratorDiedError";
  }
}

/** Options of {@linkcode startDataPipeline}. */
export interface DataPipelineOptions {
  /** Folder of run folders (created if missing). */
  cacheDir: string;
  /** `--data_dir`, passed to the generator. */
  dataDir: string;
  positives: Positives;
  numItems: number;
  /** Settings for the flagfile, except cache_id, counts and use_subprocess. */
  settings: Omit<
    GeneratorSettings,
    "cache_id" | "num_users" | "num_items" | "num_train_positives" | "use_subprocess"
  >;
  useSubprocess: boolean;
  keepCache: boolean;
  flagfileTimeout: number;
  startupTimeout: number;
  cycleTimeout: number;
  killGrace: number;
  /** Aborted on SIGINT/SIGTERM. */
  signal?: AbortSignal;
  /** Receives the generator command line in standalone mode. */
  onStandalone?: (commandLine: string) => void;
  /** Overrides how this process was started (tests). */
  processContext?: ProcessContext;
  /** Poll interval of waits, ms (default 50). */
  pollMs?: number;
}

/** A started pipeline. */
export interface DataPipeline {
  cacheId: string;
  paths: RunPaths;
  /** The generator's pid when spawned. */
  generatorPid: number | undefined;
  /** Cycles `settings.start_cycle .. num_cycles-1`, in order. */
  cycles(): AsyncGenerator<TrainingCycle>;
  /** Throws if the generator is dead or the run was aborted. */
  check(): void;
  /** The longest gap between the generator's heartbeats seen so far, in seconds. */
  readonly maxHeartbeatGapSeconds: number;
  /**
   * Stops the generator (SIGTERM, then SIGKILL after `killGrace`) and removes
   * the run folder (unless keepCache); removes the generator log when
   * `success`.
   */
  close(options: { success: boolean }): Promise<void>;
}

/**
 * Starts a run: folder, trainer heartbeat, positives, flagfile (published by
 * rename), then the generator; waits for its first heartbeat.
 */
export async function startDataPipeline(options: DataPipelineOptions): Promise<DataPipeline> {
  const cacheId = newCacheId();
  const paths = runPaths(options.cacheDir, cacheId);
  const pollMs = options.pollMs ?? 50;
  const signal = options.signal;
  const settings: GeneratorSettings = {
    ...options.settings,
    cache_id: cacheId,
    num_users: options.positives.offsets.length - 1,
    num_items: options.numItems,
    num_train_positives: options.positives.items.length,
    use_subprocess: options.useSubprocess,
  };
  await Deno.mkdir(paths.root, { recursive: true });
  let heartbeat: HeartbeatWriter | undefined;
  let child: GeneratorProcess | undefined;
  const watcher = watchHeartbeat(paths.generatorAlive, {
    timeoutSeconds: settings.heartbeat_timeout,
  });
  let closed = false;
  let cyclesDone = false;

  const describeDeath = (what: string) => {
    const tail = readLogTail(paths.generatorLog);
    const stderr = child?.stderrTail().trim() ?? "";
    return `Cannot continue training: ${what}. Its log ${paths.generatorLog} ends:\n${tail}` +
      (stderr === "" ? "" : `\nIts stderr ends:\n${stderr}`);
  };
  // The generator finished normally: it exited with 0, or (standalone) left
  // its finished mark in subproc.alive.
  const finished = () =>
    child?.exited?.success === true || (watcher.lastContent?.startsWith(FINISHED_MARK) ?? false);
  const check = () => {
    signal?.throwIfAborted();
    if (heartbeat?.lastError !== undefined && !closed) {
      throw new Error(`Cannot write ${paths.trainerAlive}: ${heartbeat.lastError}`);
    }
    if (cyclesDone) return;
    const liveness = watcher.check();
    if (finished()) return;
    if (child?.exited !== undefined) {
      const s = child.exited;
      const how = s.signal !== null ? `was killed by ${s.signal}` : `exited with code ${s.code}`;
      throw new GeneratorDiedError(describeDeath(`the generator (pid ${child.pid}) ${how}`));
    }
    if (liveness === "stale" && watcher.seen) {
      throw new GeneratorDiedError(describeDeath(
        `the generator${
          child ? ` (pid ${child.pid})` : ""
        } wrote no heartbeat to ${paths.generatorAlive} for ${settings.heartbeat_timeout} s (--heartbeat_timeout)`,
      ));
    }
  };

  const waitFor = async (
    ready: () => Promise<boolean>,
    timeoutSeconds: number,
    what: string,
  ) => {
    const deadline = performance.now() + timeoutSeconds * 1000;
    for (;;) {
      check();
      if (await ready()) return;
      if (finished() && !(await ready())) {
        throw new GeneratorDiedError(describeDeath(`the generator finished without ${what}`));
      }
      if (performance.now() >= deadline) {
        throw new GeneratorDiedError(
          describeDeath(`${what} did not come within ${timeoutSeconds} s`),
        );
      }
      await _sleep(pollMs);
    }
  };

  const close = async ({ success }: { success: boolean }) => {
    if (closed) return;
    closed = true;
    if (child !== undefined && child.exited === undefined) {
      child.kill("SIGTERM");
      const grace = _sleep(options.killGrace * 1000).then(() => "timeout");
      if (await Promise.race([child.status.then(() => "exited"), grace]) === "timeout") {
        child.kill("SIGKILL");
      }
      await child.status;
    }
    heartbeat?.stop();
    if (!options.keepCache) await Deno.remove(paths.root, { recursive: true }).catch(() => {});
    if (success) await Deno.remove(paths.generatorLog).catch(() => {});
  };

  try {
    heartbeat = startHeartbeat(paths.trainerAlive);
    await writePositives(paths.positives, options.positives);
    await writeFileAtomic(
      paths.flagfile,
      formatFlagfile(settings, GENERATOR_SETTINGS, {
        header: `ncf generator settings for run ${cacheId}`,
      }),
    );
    const context = options.processContext ?? currentProcessContext({
      dataDir: options.dataDir,
      cacheDir: options.cacheDir,
    });
    const argv = generatorArgv({
      data_dir: options.dataDir,
      cache_dir: options.cacheDir,
      cache_id: cacheId,
      flagfile_timeout: options.useSubprocess ? undefined : options.flagfileTimeout,
      parent_pid: options.useSubprocess ? Deno.pid : undefined,
    }, context);
    if (options.useSubprocess) {
      child = spawnGenerator(argv);
    } else {
      options.onStandalone?.(shellQuote(argv));
    }
    await waitFor(
      () => _exists(paths.generatorAlive),
      options.startupTimeout,
      `the generator's first heartbeat (${paths.generatorAlive}, --startup_timeout)`,
    );
  } catch (e) {
    await close({ success: false });
    throw e;
  }

  async function* batchesOf(index: number, manifest: ReadyManifest): AsyncGenerator<Batch> {
    const dir = cycleDir(paths, index);
    let lastCheck = performance.now();
    for (let s = 0; s < manifest.shards.length; s++) {
      const name = join(dir, manifest.shards[s]);
      let bytes: Uint8Array;
      try {
        bytes = await Deno.readFile(name);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
        throw new Error(
          `Cannot read shard ${name}: ${join(dir, "ready.json")} names it, but it does not exist`,
        );
      }
      const columns = decodeShard(bytes, name);
      if (columns.users.length !== manifest.shard_rows[s]) {
        throw new SyntaxError(
          `Cannot read shard ${name}: ${columns.users.length} rows, ready.json says ${
            manifest.shard_rows[s]
          }`,
        );
      }
      const bs = manifest.batch_size;
      for (let at = 0; at < columns.users.length; at += bs) {
        const end = Math.min(columns.users.length, at + bs);
        yield {
          users: columns.users.subarray(at, end),
          items: columns.items.subarray(at, end),
          labels: columns.labels.subarray(at, end),
          size: end - at,
        };
        if (performance.now() - lastCheck > 200) {
          // Let signals and the child's exit be seen during long cycles.
          await _sleep(0);
          check();
          lastCheck = performance.now();
        }
      }
    }
    await Deno.remove(dir, { recursive: true });
  }

  async function* cycles(): AsyncGenerator<TrainingCycle> {
    for (let index = settings.start_cycle; index < settings.num_cycles; index++) {
      const ready = join(cycleDir(paths, index), "ready.json");
      await waitFor(
        () => _exists(ready),
        options.cycleTimeout,
        `cycle ${index}'s ready.json (--cycle_timeout)`,
      );
      const manifest = parseReadyManifest(await Deno.readTextFile(ready), ready);
      if (manifest.cycle !== index) {
        throw new SyntaxError(`Cannot read ${ready}: it describes cycle ${manifest.cycle}`);
      }
      if (index === settings.num_cycles - 1) cyclesDone = true;
      yield { index, manifest, batches: batchesOf(index, manifest) };
    }
  }

  return {
    cacheId,
    paths,
    get generatorPid() {
      return child?.pid;
    },
    cycles,
    check,
    close,
    get maxHeartbeatGapSeconds() {
      return watcher.maxGapSeconds;
    },
  };
}

async function _exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

function _sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
