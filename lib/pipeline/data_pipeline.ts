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
import { join, resolve } from "node:path";

/**
 * A batch of training examples (views; valid until the next batch), in the
 * run's shard schema:
 * - pairs (`settings.schema` "pairs", the default): `users`, `items`,
 *   `labels` (1 positive, 0 negative); `negItems` is absent;
 * - triples ("triples", for a pairwise loss): `users`, `items` (the
 *   positive), `negItems` (its negative); `labels` is absent.
 *
 * `negItems === undefined` (or `labels !== undefined`) tells them apart and
 * narrows the type. With {@linkcode DataPipelineOptions.chunkSize} a
 * "batch" is a chunk of several training batches, split by the consumer.
 */
export type Batch = ExampleColumns & {
  /** Examples in the batch (the last batch of a run may be short). */
  size: number;
};

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

/**
 * What the operator of a standalone run (`useSubprocess: false`) needs: the
 * command to run, with absolute paths so it works from any folder, and what
 * the trainer waits for.
 */
export interface StandaloneInfo {
  /** The generator's command line, shell-quoted. */
  command: string;
  /** The same, as an argv. */
  argv: string[];
  /** The flagfile the generator reads its settings from. */
  flagfile: string;
  /** The generator's heartbeat file, whose first write the trainer waits for. */
  heartbeat: string;
  /** How long the trainer waits for it (`startup_timeout`), in seconds. */
  waitSeconds: number;
  /** How long the generator waits for the flagfile (`flagfile_timeout`), in seconds. */
  flagfileTimeout: number;
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
  signal?: AbortSignal | undefined;
  /**
   * Standalone mode: receives the generator's command line (absolute paths),
   * and what the trainer then waits for, before it starts waiting.
   */
  onStandalone?: ((commandLine: string, info: StandaloneInfo) => void) | undefined;
  /** Overrides how this process was started (tests). */
  processContext?: ProcessContext | undefined;
  /** Poll interval of waits, ms (default 50). */
  pollMs?: number | undefined;
  /**
   * Chunked delivery (for per-example SGD): each `Batch` of
   * `cycle.batches` holds up to this many examples — whole training batches
   * (the chunk size rounded down to a multiple of `train_batch_size`, at
   * least one batch), never more than one shard (`Infinity`: one whole
   * shard, i.e. one Arrow record batch, per chunk) — instead of one training
   * batch. The examples and their order are the same; the consumer cuts each
   * chunk into batches of `train_batch_size` itself (only the cycle's last
   * chunk may end with a short batch). Default: one training batch per
   * `Batch`.
   */
  chunkSize?: number | undefined;
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
   * the run folder (unless keepCache). Removes the generator log unless the
   * generator itself failed (it died, exited with an error, went silent or
   * was too late: a {@linkcode GeneratorDiedError}, or an exit before the
   * stop) and the run did not succeed; a failure of the trainer's own, a
   * signal or an early stop never keeps it. Resolves with the kept log's
   * path, if any.
   */
  close(options: { success: boolean }): Promise<{ keptLog: string | undefined }>;
}

/**
 * Starts a run: folder, trainer heartbeat, positives, flagfile (published by
 * rename), then the generator (spawned, or described to `onStandalone`);
 * waits for its first heartbeat.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startDataPipeline } from "./data_pipeline.ts";
 * const cacheDir = await Deno.makeTempDir();
 * const seen: string[] = [];
 * await assert.rejects(
 *   startDataPipeline({
 *     cacheDir,
 *     dataDir: "data",
 *     positives: { offsets: Int32Array.of(0, 1), items: Int32Array.of(0) },
 *     numItems: 2,
 *     settings: {
 *       num_neg: 1, epochs_per_cycle: 1, num_cycles: 1, start_cycle: 0, train_batch_size: 4,
 *       spillover: true, cycles_to_buffer: 1, seed: 1, num_workers: 1, heartbeat_timeout: 5,
 *       schema: "pairs", negative_sampling: "exact",
 *     },
 *     useSubprocess: false,
 *     keepCache: false,
 *     flagfileTimeout: 300,
 *     startupTimeout: 0.2,
 *     cycleTimeout: 1,
 *     killGrace: 1,
 *     onStandalone: (command, info) => seen.push(command, info.flagfile),
 *   }),
 *   /first heartbeat .* did not come within 0.2 s/,
 * );
 * assert.match(seen[0], new RegExp(`generator --data_dir=${Deno.cwd()}/data --cache_dir=${cacheDir} `));
 * assert.ok(seen[1].startsWith(cacheDir) && seen[1].endsWith("flagfile"));
 * await Deno.remove(cacheDir, { recursive: true });
 * ```
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
  /** Set when the generator failed by itself: its log is kept. */
  #generatorFailed = false;
  #keptLog: string | undefined;

  constructor(options: DataPipelineOptions) {
    const chunk = options.chunkSize;
    if (
      chunk !== undefined && !(chunk === Infinity || (Number.isSafeInteger(chunk) && chunk >= 1))
    ) {
      throw new RangeError(
        `Cannot deliver chunks of ${chunk} examples: need a positive integer or Infinity`,
      );
    }
    this.#options = options;
    this.#pollMs = options.pollMs ?? 50;
    this.paths = runPaths(resolve(options.cacheDir), this.cacheId);
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

  /**
   * Spawns the generator, or (standalone) hands its command line to the
   * operator. Its paths are absolute (against this process's folder), so the
   * printed command works from any folder.
   */
  #launchGenerator(): void {
    const options = this.#options;
    const dataDir = resolve(options.dataDir);
    const cacheDir = resolve(options.cacheDir);
    const context = options.processContext ?? currentProcessContext({ dataDir, cacheDir });
    const argv = generatorArgv({
      data_dir: dataDir,
      cache_dir: cacheDir,
      cache_id: this.cacheId,
      ...(options.useSubprocess
        ? { parent_pid: Deno.pid }
        : { flagfile_timeout: options.flagfileTimeout }),
    }, context);
    if (options.useSubprocess) {
      this.child = spawnGenerator(argv);
    } else {
      const command = shellQuote(argv);
      options.onStandalone?.(command, {
        command,
        argv,
        flagfile: this.paths.flagfile,
        heartbeat: this.paths.generatorAlive,
        waitSeconds: options.startupTimeout,
        flagfileTimeout: options.flagfileTimeout,
      });
    }
  }

  /**
   * The error of a generator that failed by itself (the log is then kept),
   * quoting its log's and stderr's tails.
   */
  #died(what: string): GeneratorDiedError {
    this.#generatorFailed = true;
    const log = this.paths.generatorLog;
    const tail = readLogTail(log);
    const stderr = this.child?.stderrTail().trim() ?? "";
    return new GeneratorDiedError(
      `Cannot continue training: ${what}. Its log ${log} ends:\n${tail}` +
        (stderr === "" ? "" : `\nIts stderr ends:\n${stderr}`) +
        (_existsSync(log) ? `\ngenerator log kept at ${log}` : ""),
    );
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
      throw this.#died(`the generator (pid ${child.pid}) ${how}`);
    }
    if (liveness === "stale" && this.watcher.seen) {
      throw this.#died(
        `the generator${
          child ? ` (pid ${child.pid})` : ""
        } wrote no heartbeat to ${this.paths.generatorAlive} for ${this.settings.heartbeat_timeout} s (--heartbeat_timeout)`,
      );
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
        throw this.#died(`the generator finished without ${what}`);
      }
      if (performance.now() >= deadline) {
        throw this.#died(`${what} did not come within ${timeoutSeconds} s`);
      }
      await _sleep(this.#pollMs);
    }
  }

  /**
   * Stops the generator (SIGTERM, then SIGKILL), the heartbeat, and removes
   * the run's files; the generator's log too, unless it failed by itself.
   */
  async close({ success }: { success: boolean }): Promise<{ keptLog: string | undefined }> {
    if (this.#closed) return { keptLog: this.#keptLog };
    this.#closed = true;
    const child = this.child;
    // A child that ended with an error before being told to stop failed by itself.
    if (child?.exited !== undefined && !child.exited.success) this.#generatorFailed = true;
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
      await _removeTree(this.paths.root);
    }
    const log = this.paths.generatorLog;
    if (success || !this.#generatorFailed) {
      await Deno.remove(log).catch(() => {});
    } else if (_existsSync(log)) {
      this.#keptLog = log;
    }
    return { keptLog: this.#keptLog };
  }

  /**
   * The batches of one cycle's shards, sliced to the batch size (or to
   * chunks of whole batches: `chunkSize`); removes the cycle folder after.
   */
  async *batchesOf(index: number, manifest: ReadyManifest): AsyncGenerator<Batch> {
    const dir = cycleDir(this.paths, index);
    const bs = manifest.batch_size;
    const chunk = this.#options.chunkSize;
    // Whole batches per delivery: Infinity (whole shards) stays Infinity.
    const step = chunk === undefined ? bs : Math.max(bs, Math.floor(chunk / bs) * bs);
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
      const columns = decodeShard(bytes, name, { schema: manifest.schema });
      const { users, items, labels, negItems } = columns;
      const rows = users.length;
      if (rows !== manifest.shard_rows[s]) {
        throw new SyntaxError(
          `Cannot read shard ${name}: ${rows} rows, ready.json says ${manifest.shard_rows[s]}`,
        );
      }
      for (let at = 0; at < rows; at += step) {
        const end = Math.min(rows, at + step);
        yield labels !== undefined
          ? {
            users: users.subarray(at, end),
            items: items.subarray(at, end),
            labels: labels.subarray(at, end),
            size: end - at,
          }
          : {
            users: users.subarray(at, end),
            items: items.subarray(at, end),
            negItems: negItems!.subarray(at, end),
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
      if (manifest.schema !== settings.schema) {
        throw new SyntaxError(
          `Cannot read ${ready}: its shards hold ${manifest.schema}, but this run's flagfile ` +
            `${this.paths.flagfile} asks for ${settings.schema} (schema=${settings.schema}): ` +
            `run a generator of the trainer's ncf version on this run's flagfile`,
        );
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

/**
 * Removes a folder that a standalone generator may still be writing into
 * (a removal fails when a file appears meanwhile): tries a few times.
 */
async function _removeTree(path: string): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    try {
      await Deno.remove(path, { recursive: true });
      return;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      await _sleep(20);
    }
  }
}

function _existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function _sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
