import assert from "node:assert/strict";
import { isAbsolute, join, relative } from "node:path";
import { parseFlags } from "../../lib/flags/flags.ts";
import { GENERATOR_FLAGS } from "../../lib/flags/specs.ts";
import type { FileWriter } from "../../lib/io/atomic_write.ts";
import {
  type DataPipelineOptions,
  GeneratorDiedError,
  type StandaloneInfo,
  startDataPipeline,
} from "../../lib/pipeline/data_pipeline.ts";
import {
  type GeneratorResult,
  type GeneratorStatus,
  runGenerator,
} from "../../lib/pipeline/generator.ts";
import { PERMISSION_NAMES, type PermissionKind } from "../../lib/pipeline/spawn_argv.ts";
import { CLI, CONFIG } from "../cli/_process.ts";
import { randomPositives, withTempDir } from "./_fixtures.ts";

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** A standalone run's options: relative data_dir and cache_dir, as a user might type them. */
function standaloneOptions(
  cacheDir: string,
  overrides: Partial<DataPipelineOptions> = {},
): DataPipelineOptions {
  return {
    cacheDir: relative(Deno.cwd(), cacheDir),
    dataDir: "data",
    positives: randomPositives(3, { numUsers: 30, numItems: 25, maxPerUser: 5 }),
    numItems: 25,
    settings: {
      num_neg: 1,
      epochs_per_cycle: 1,
      num_cycles: 4,
      start_cycle: 0,
      train_batch_size: 8,
      spillover: true,
      cycles_to_buffer: 1,
      seed: 9,
      num_workers: 1,
      heartbeat_timeout: 3,
    },
    useSubprocess: false,
    keepCache: false,
    flagfileTimeout: 300,
    startupTimeout: 20,
    cycleTimeout: 20,
    killGrace: 1,
    pollMs: 20,
    ...overrides,
  };
}

/**
 * Runs the printed generator command in this process, as an operator would in
 * a shell: its flags are parsed from the command's argv.
 */
function runPrintedCommand(
  info: StandaloneInfo,
  options: { statuses: GeneratorStatus[]; writer?: FileWriter },
): Promise<GeneratorResult> {
  const flags = parseFlags(info.argv.slice(info.argv.indexOf("generator") + 1), GENERATOR_FLAGS);
  return runGenerator(flags.values, {
    pollMs: 20,
    writer: options.writer,
    onStatus: (s) => options.statuses.push(s),
  });
}

Deno.test("standalone mode hands out a command with absolute paths, even for relative data_dir and cache_dir", async () => {
  await withTempDir(async (cache) => {
    let info: StandaloneInfo | undefined;
    let line = "";
    await assert.rejects(
      startDataPipeline(standaloneOptions(cache, {
        startupTimeout: 0.2,
        onStandalone: (command, i) => {
          line = command;
          info = i;
        },
      })),
      /first heartbeat .* did not come within 0\.2 s/,
    );
    assert.ok(info !== undefined);
    assert.equal(line, info.command);
    const flag = (name: string) =>
      info!.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
    assert.equal(flag("data_dir"), join(Deno.cwd(), "data"));
    assert.equal(flag("cache_dir"), cache);
    assert.equal(flag("flagfile_timeout"), "300");
    assert.equal(flag("parent_pid"), undefined);
    const script = info.argv[info.argv.indexOf("generator") - 1];
    assert.ok(isAbsolute(script) && isAbsolute(info.argv[0]), info.command);
    assert.equal(info.flagfile, join(cache, `${flag("cache_id")}_ncf_cache`, "flagfile"));
    assert.equal(info.heartbeat, join(cache, `${flag("cache_id")}_ncf_cache`, "subproc.alive"));
    assert.equal(info.waitSeconds, 0.2);
    assert.equal(info.flagfileTimeout, 300);
    assert.deepEqual([...Deno.readDirSync(cache)], [], "nothing is left behind");
  });
});

Deno.test("the printed command, run separately, reports its progress and feeds the whole run", async () => {
  await withTempDir(async (cache) => {
    const statuses: GeneratorStatus[] = [];
    let generator: Promise<GeneratorResult> | undefined;
    const pipeline = await startDataPipeline(standaloneOptions(cache, {
      onStandalone: (_, info) => generator = runPrintedCommand(info, { statuses }),
    }));
    let cycles = 0;
    for await (const cycle of pipeline.cycles()) {
      for await (const _ of cycle.batches) { /* consume */ }
      cycles++;
    }
    assert.deepEqual(await pipeline.close({ success: true }), { keptLog: undefined });
    assert.deepEqual(await generator, { outcome: "done", cyclesWritten: 4 });
    assert.equal(cycles, 4);
    assert.deepEqual(statuses.map((s) => s.kind), [
      "waiting",
      "started",
      "cycle",
      "cycle",
      "cycle",
      "cycle",
      "done",
    ]);
    assert.match(statuses[0].message, new RegExp(`flagfile ${cache}/\\S+_ncf_cache/flagfile$`));
    assert.match(statuses[5].message, /^cycle 4\/4 written: [\d,]+ examples in \d+\.\d s$/);
    assert.deepEqual([...Deno.readDirSync(cache)], []);
  });
});

Deno.test("a trainer-side failure removes the generator's log, which calls the stop INFO", async () => {
  await withTempDir(async (cache) => {
    const statuses: GeneratorStatus[] = [];
    let generator: Promise<GeneratorResult> | undefined;
    const pipeline = await startDataPipeline(standaloneOptions(cache, {
      onStandalone: (_, info) => generator = runPrintedCommand(info, { statuses }),
    }));
    const log = pipeline.paths.generatorLog;
    const copy = join(cache, "..", `${pipeline.cacheId}_copy.log`);
    await Deno.link(log, copy);
    try {
      for await (const cycle of pipeline.cycles()) {
        for await (const _ of cycle.batches) { /* consume */ }
        break; // The trainer fails after its first cycle.
      }
      assert.deepEqual(await pipeline.close({ success: false }), { keptLog: undefined });
      const result = await generator!;
      assert.equal(result.outcome, "orphaned");
      assert.equal(exists(log), false, "log kept after a trainer-side failure");
      const text = await Deno.readTextFile(copy);
      assert.match(text, / INFO trainer gone \(run folder .* is gone\)/);
      assert.doesNotMatch(text, / ERROR /);
      assert.deepEqual([...Deno.readDirSync(cache)], []);
    } finally {
      await Deno.remove(copy);
    }
  });
});

Deno.test("a generator's own failure keeps its log, and the trainer's error says where", async () => {
  await withTempDir(async (cache) => {
    const statuses: GeneratorStatus[] = [];
    let generator: Promise<GeneratorResult> | undefined;
    const pipeline = await startDataPipeline(standaloneOptions(cache, {
      onStandalone: (_, info) => {
        // The disk fills once the generator has been seen alive.
        const diskFull: FileWriter = {
          writeFile: async () => {
            while (!exists(info.heartbeat)) await new Promise((r) => setTimeout(r, 10));
            throw new Error("No space left on device (os error 28)");
          },
        };
        generator = runPrintedCommand(info, { statuses, writer: diskFull });
        generator.catch(() => {}); // Awaited below, once the trainer side has started.
      },
    }));
    const log = pipeline.paths.generatorLog;
    await assert.rejects(generator!, /No space left on device/);
    let error: unknown;
    try {
      for await (const cycle of pipeline.cycles()) {
        for await (const _ of cycle.batches) { /* consume */ }
      }
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof GeneratorDiedError, String(error));
    assert.match(error.message, /wrote no heartbeat to .* for 3 s/);
    assert.match(error.message, /ERROR Cannot write .*No space left on device/);
    assert.ok(error.message.endsWith(`\ngenerator log kept at ${log}`), error.message);
    assert.deepEqual(await pipeline.close({ success: false }), { keptLog: log });
    assert.deepEqual([...Deno.readDirSync(cache)].map((e) => e.name), [
      `${pipeline.cacheId}_generator.log`,
    ]);
    assert.equal(statuses.at(-1)?.message, `log kept at ${log}`);
  });
});

Deno.test("a spawned generator stopped by the trainer logs the stop as INFO, and its log is removed", async () => {
  await withTempDir(async (cache) => {
    const all = Object.fromEntries(PERMISSION_NAMES.map((n) => [n, true]));
    const pipeline = await startDataPipeline(standaloneOptions(cache, {
      useSubprocess: true,
      processContext: {
        standalone: false,
        execPath: Deno.execPath(),
        mainModulePath: CLI,
        denoFlags: ["--config", CONFIG],
        permissions: {
          global: all as Record<PermissionKind, boolean>,
          readablePaths: [],
          writablePaths: [],
        },
      },
    }));
    const log = pipeline.paths.generatorLog;
    const copy = join(cache, "..", `${pipeline.cacheId}_copy.log`);
    await Deno.link(log, copy);
    try {
      for await (const cycle of pipeline.cycles()) {
        for await (const _ of cycle.batches) { /* consume */ }
        break; // The trainer stops early (or fails) after its first cycle.
      }
      assert.deepEqual(await pipeline.close({ success: false }), { keptLog: undefined });
      const text = await Deno.readTextFile(copy);
      assert.match(text, / INFO stop requested \(.*SIGTERM\)/);
      assert.doesNotMatch(text, / ERROR /);
      assert.deepEqual([...Deno.readDirSync(cache)], []);
    } finally {
      await Deno.remove(copy);
    }
  });
});
