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
  const run = new _PipelineRun(options);
  await run.start();
  return {
    cacheId: run.cacheId,
    paths: run.paths,
    get generatorPid() {
      return run.child?.pid;
    },
    cycles: () => run.cycles(),
    check: () => run.check(),
    close: (o) => run.close(o),
    get maxHeartbeatGapSeconds() {
      return run.watcher.maxGapSeconds;
    },
  };
}

/** One run's pipeline, as named steps: start, check, wait, read cycles, close. */
class _PipelineRun {
  readonly cacheId = newCacheId();
  readonly paths: RunPaths;
  readonly settings: GeneratorSettings;
  readonly watcher: ReturnType<typeof watchHeartbeat>;
  child: GeneratorProcess | undefined;
  #options: DataPipelineOptions;
  #pollMs: number;
  #heartbeat: HeartbeatWriter | undefined;
  #closed = false;
  #cyclesDone = false;

  constructor(options: DataPipelineOptions) {
    this.#options = options;
    this.#pollMs = options.pollMs ?? 50;
    this.paths = runPaths(options.cacheDir, this.cacheId);
    this.settings = {
      ...options.settings,
      cache_id: this.cacheId,
      num_users: options.positives.offsets.length - 1,
      num_items: options.numItems,
      num_train_positives: options.positives.items.length,
      use_subprocess: options.useSubprocess,
    };
    this.watcher = watchHeartbeat(this.paths.generatorAlive, {
      timeoutSeconds: this.settings.heartbeat_timeout,
    });
  }

  /** Folder, heartbeat, positives, flagfile, then the generator (spawned or printed); its first beat. */
  async start(): Promise<void> {
    const { paths, settings } = this;
    const options = this.#options;
    await Deno.mkdir(paths.root, { recursive: true });
    try {
      this.#heartbeat = startHeartbeat(paths.trainerAlive);
      await writePositives(paths.positives, options.positives);
      await writeFileAtomic(
        paths.flagfile,
        formatFlagfile(settings, GENERATOR_SETTINGS, {
          header: `ncf generator settings for run ${this.cacheId}`,
        }),
      );
      this.#launchGenerator();
      await this.#waitFor(
        () => _exists(paths.generatorAlive),
        options.startupTimeout,
        `the generator's first heartbeat (${paths.generatorAlive}, --startup_timeout)`,
      );
    } catch (e) {
      await this.close({ success: false });
      throw e;
    }
  }

  /** Spawns the generator, or (standalone) hands its command line to the operator. */
  #launchGenerator(): void {
    const options = this.#options;
    const context = options.processContext ?? currentProcessContext({
      dataDir: options.dataDir,
      cacheDir: options.cacheDir,
    });
    const argv = generatorArgv({
      data_dir: options.dataDir,
      cache_dir: options.cacheDir,
      cache_id: this.cacheId,
      ...(options.useSubprocess
        ? { parent_pid: Deno.pid }
        : { flagfile_timeout: options.flagfileTimeout }),
    }, context);
    if (options.useSubprocess) {
      this.child = spawnGenerator(argv);
    } else {
      options.onStandalone?.(shellQuote(argv));
    }
  }

  /** The message of a dead generator, quoting its log's and stderr's tails. */
  #describeDeath(what: string): string {
    const tail = readLogTail(this.paths.generatorLog);
    const stderr = this.child?.stderrTail().trim() ?? "";
    return `Cannot continue training: ${what}. Its log ${this.paths.generatorLog} ends:\n${tail}` +
      (stderr === "" ? "" : `\nIts stderr ends:\n${stderr}`);
  }

  /**
   * Whether the generator finished normally: it exited with 0, or
   * (standalone) left its finished mark in subproc.alive.
   */
  #finished(): boolean {
    return this.child?.exited?.success === true ||
      (this.watcher.lastContent?.startsWith(FINISHED_MARK) ?? false);
  }

  /** Throws if the run was aborted, the heartbeat cannot be written, or the generator is dead. */
  check(): void {
    this.#options.signal?.throwIfAborted();
    const heartbeat = this.#heartbeat;
    if (heartbeat?.lastError !== undefined && !this.#closed) {
      throw new Error(`Cannot write ${this.paths.trainerAlive}: ${heartbeat.lastError}`);
    }
    if (this.#cyclesDone) return;
    const liveness = this.watcher.check();
    if (this.#finished()) return;
    const child = this.child;
    if (child?.exited !== undefined) {
      const s = child.exited;
      const how = s.signal !== null ? `was killed by ${s.signal}` : `exited with code ${s.code}`;
      throw new GeneratorDiedError(this.#describeDeath(`the generator (pid ${child.pid}) ${how}`));
    }
    if (liveness === "stale" && this.watcher.seen) {
      throw new GeneratorDiedError(this.#describeDeath(
        `the generator${
          child ? ` (pid ${child.pid})` : ""
        } wrote no heartbeat to ${this.paths.generatorAlive} for ${this.settings.heartbeat_timeout} s (--heartbeat_timeout)`,
      ));
    }
  }

  /** Polls `ready` until true, checking the generator; fails after `timeoutSeconds`. */
  async #waitFor(
    ready: () => Promise<boolean>,
    timeoutSeconds: number,
    what: string,
  ): Promise<void> {
    const deadline = performance.now() + timeoutSeconds * 1000;
    for (;;) {
      this.check();
      if (await ready()) return;
      if (this.#finished() && !(await ready())) {
        throw new GeneratorDiedError(this.#describeDeath(`the generator finished without ${what}`));
      }
      if (performance.now() >= deadline) {
        throw new GeneratorDiedError(
          this.#describeDeath(`${what} did not come within ${timeoutSeconds} s`),
        );
      }
      await _sleep(this.#pollMs);
    }
  }

  /** Stops the generator (SIGTERM, then SIGKILL), the heartbeat, and removes the run's files. */
  async close({ success }: { success: boolean }): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const child = this.child;
    if (child !== undefined && child.exited === undefined) {
      child.kill("SIGTERM");
      const grace = _sleep(this.#options.killGrace * 1000).then(() => "timeout");
      if (await Promise.race([child.status.then(() => "exited"), grace]) === "timeout") {
        child.kill("SIGKILL");
      }
      await child.status;
    }
    this.#heartbeat?.stop();
    if (!this.#options.keepCache) {
      await Deno.remove(this.paths.root, { recursive: true }).catch(() => {});
    }
    if (success) await Deno.remove(this.paths.generatorLog).catch(() => {});
  }

  /** The batches of one cycle's shards, sliced to the batch size; removes the cycle folder after. */
  async *batchesOf(index: number, manifest: ReadyManifest): AsyncGenerator<Batch> {
    const dir = cycleDir(this.paths, index);
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
          this.check();
          lastCheck = performance.now();
        }
      }
    }
    await Deno.remove(dir, { recursive: true });
  }

  /** Each cycle once its ready.json is published, in order. */
  async *cycles(): AsyncGenerator<TrainingCycle> {
    const { settings } = this;
    for (let index = settings.start_cycle; index < settings.num_cycles; index++) {
      const ready = join(cycleDir(this.paths, index), "ready.json");
      await this.#waitFor(
        () => _exists(ready),
        this.#options.cycleTimeout,
        `cycle ${index}'s ready.json (--cycle_timeout)`,
      );
      const manifest = parseReadyManifest(await Deno.readTextFile(ready), ready);
      if (manifest.cycle !== index) {
        throw new SyntaxError(`Cannot read ${ready}: it describes cycle ${manifest.cycle}`);
      }
      if (index === settings.num_cycles - 1) this.#cyclesDone = true;
      yield { index, manifest, batches: this.batchesOf(index, manifest) };
    }
  }
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
