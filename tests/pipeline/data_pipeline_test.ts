import assert from "node:assert/strict";
import { dirname, isAbsolute, join, relative } from "node:path";
import { parseFlags } from "../../lib/flags/flags.ts";
import { GENERATOR_FLAGS } from "../../lib/flags/specs.ts";
import type { FileWriter } from "../../lib/io/atomic_write.ts";
import {
  type Batch,
  type DataPipelineOptions,
  GeneratorDiedError,
  type StandaloneInfo,
  startDataPipeline,
} from "../../lib/pipeline/data_pipeline.ts";
import { writeFileAtomic } from "../../lib/io/atomic_write.ts";
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
      schema: "pairs",
      negative_sampling: "exact",
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

/** Every batch of a whole standalone run (generator in this process), copied. */
async function runAll(cache: string, overrides: Partial<DataPipelineOptions>) {
  let generator: Promise<GeneratorResult> | undefined;
  const pipeline = await startDataPipeline(standaloneOptions(cache, {
    onStandalone: (_, info) => generator = runPrintedCommand(info, { statuses: [] }),
    ...overrides,
  }));
  const batches: Batch[] = [];
  const schemas: string[] = [];
  try {
    for await (const cycle of pipeline.cycles()) {
      schemas.push(cycle.manifest.schema);
      for await (const b of cycle.batches) {
        batches.push(
          b.labels !== undefined
            ? {
              users: b.users.slice(),
              items: b.items.slice(),
              labels: b.labels.slice(),
              size: b.size,
            }
            : {
              users: b.users.slice(),
              items: b.items.slice(),
              negItems: b.negItems.slice(),
              size: b.size,
            },
        );
      }
    }
  } finally {
    await pipeline.close({ success: true });
  }
  assert.deepEqual(await generator, { outcome: "done", cyclesWritten: 4 });
  return { batches, schemas };
}

/** The batches' columns concatenated. */
function concat(batches: Batch[]) {
  const column = (f: (b: Batch) => Int32Array | Int8Array | undefined) =>
    batches.flatMap((b) => [...(f(b) ?? [])]);
  return {
    users: column((b) => b.users),
    items: column((b) => b.items),
    labels: column((b) => b.labels),
    negItems: column((b) => b.negItems),
  };
}

Deno.test("a run delivers batches of its schema and negative sampling", async (t) => {
  const cases = [
    { schema: "pairs", negative_sampling: "exact" },
    { schema: "pairs", negative_sampling: "uniform" },
    { schema: "triples", negative_sampling: "exact" },
    { schema: "triples", negative_sampling: "uniform" },
  ] as const;
  for (const c of cases) {
    await t.step(`${c.schema}, ${c.negative_sampling} negatives`, async () => {
      await withTempDir(async (cache) => {
        const options = standaloneOptions(cache);
        const settings = { ...options.settings, ...c, num_neg: 3 };
        const { positives } = options;
        const { batches, schemas } = await runAll(cache, { settings });
        assert.deepEqual(schemas, [c.schema, c.schema, c.schema, c.schema]);
        // Batches of exactly 8; only the run's last may be short.
        assert.ok(batches.slice(0, -1).every((b) => b.size === 8 && b.users.length === 8));
        const all = concat(batches);
        const perPositive = c.schema === "pairs" ? 4 : 3;
        assert.equal(all.users.length, positives.items.length * perPositive * 4);
        const triples = c.schema === "triples";
        assert.ok(batches.every((b) => (b.negItems !== undefined) === triples));
        assert.ok(batches.every((b) => (b.labels !== undefined) === !triples));
        // How often a negative is one of the user's training positives.
        let positiveNegatives = 0;
        for (let i = 0; i < all.users.length; i++) {
          const u = all.users[i];
          const row = positives.items.subarray(positives.offsets[u], positives.offsets[u + 1]);
          if (triples) {
            assert.ok(row.includes(all.items[i]));
            if (row.includes(all.negItems[i])) positiveNegatives++;
          } else if (all.labels[i] === 0 && row.includes(all.items[i])) positiveNegatives++;
        }
        // 30 users with up to 5 of 25 items: uniform draws hit positives about 12% of the time.
        if (c.negative_sampling === "exact") assert.equal(positiveNegatives, 0);
        else assert.ok(positiveNegatives > 0, "uniform negatives never hit a positive");
      });
    });
  }
});

Deno.test("chunked delivery gives the same examples in the same order, in whole batches", async (t) => {
  for (const schema of ["pairs", "triples"] as const) {
    await withTempDir(async (cache) => {
      const options = standaloneOptions(cache);
      const settings = { ...options.settings, schema, num_neg: 2 };
      const plain = await runAll(cache, { settings });
      for (const chunkSize of [1, 20, 24, Infinity]) {
        await t.step(`${schema}, chunkSize ${chunkSize}`, async () => {
          const chunked = await runAll(cache, { settings, chunkSize });
          assert.deepEqual(concat(chunked.batches), concat(plain.batches));
          // Whole batches of 8: 1 → 8, 20 → 16, 24 → 24; Infinity → whole shards.
          const step = chunkSize === Infinity ? Infinity : Math.max(8, chunkSize - (chunkSize % 8));
          const sizes = chunked.batches.map((b) => b.size);
          assert.ok(sizes.every((size) => size <= step && size > 0), `${sizes}`);
          if (chunkSize !== Infinity) {
            // Every chunk full but a cycle's last (the run's last may be short).
            assert.ok(sizes.filter((size) => size !== step).length <= 4, `${sizes}`);
          } else {
            // One chunk per shard: each cycle's few hundred examples are one shard.
            assert.equal(sizes.length, 4);
          }
          assert.ok(sizes.slice(0, -1).every((size) => size % 8 === 0), `${sizes}`);
        });
      }
    });
  }
});

Deno.test("a pipeline refuses a chunk size that is not a positive integer", async () => {
  await withTempDir(async (cache) => {
    for (const chunkSize of [0, 2.5, NaN, -1]) {
      await assert.rejects(
        startDataPipeline(standaloneOptions(cache, { chunkSize })),
        new RegExp(`Cannot deliver chunks of ${chunkSize} examples: need a positive integer`),
      );
    }
  });
});

Deno.test("a ready.json of another schema than the flagfile's is refused, naming both", async () => {
  await withTempDir(async (cache) => {
    const options = standaloneOptions(cache);
    let ready = "";
    let flagfile = "";
    const pipeline = await startDataPipeline({
      ...options,
      settings: { ...options.settings, schema: "triples" },
      // A generator that writes pairs whatever the flagfile says.
      onStandalone: (_, info) => {
        flagfile = info.flagfile;
        const dir = join(dirname(info.flagfile), "training_cycles", "cycle_00000");
        ready = join(dir, "ready.json");
        (async () => {
          await Deno.mkdir(dir, { recursive: true });
          await writeFileAtomic(info.heartbeat, "fake 1\n");
          await writeFileAtomic(
            ready,
            JSON.stringify({
              cycle: 0,
              schema: "pairs",
              batch_size: 8,
              batch_count: 0,
              example_count: 0,
              shards: [],
              shard_rows: [],
            }),
          );
        })();
      },
    });
    try {
      await assert.rejects(
        async () => {
          for await (const _ of pipeline.cycles()) { /* refused before the first */ }
        },
        (e: Error) =>
          e instanceof SyntaxError &&
          e.message.startsWith(`Cannot read ${ready}: its shards hold pairs`) &&
          e.message.includes(`flagfile ${flagfile} asks for triples`),
      );
    } finally {
      await pipeline.close({ success: false });
    }
  });
});
