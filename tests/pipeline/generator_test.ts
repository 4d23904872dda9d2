import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { formatFlagfile } from "../../lib/flags/flags.ts";
import {
  GENERATOR_SETTINGS,
  type GeneratorFlags,
  type GeneratorSettings,
} from "../../lib/flags/specs.ts";
import { type GeneratorStatus, runGenerator } from "../../lib/pipeline/generator.ts";
import { writePositives } from "../../lib/pipeline/positives_file.ts";
import { type RunPaths, runPaths } from "../../lib/pipeline/run_paths.ts";
import { randomPositives, withTempDir } from "./_fixtures.ts";

const NUM_USERS = 40;
const NUM_ITEMS = 30;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The generator flags an operator would pass for run `cacheId` under `dir`. */
function generatorFlags(dir: string, cacheId: string, extra: Partial<GeneratorFlags> = {}) {
  return {
    data_dir: dir,
    cache_dir: dir,
    cache_id: cacheId,
    flagfile_timeout: 20,
    parent_pid: undefined,
    ...extra,
  };
}

/** Writes what the trainer publishes for a run: its heartbeat, positives, then the flagfile. */
async function publishRun(
  paths: RunPaths,
  cacheId: string,
  numCycles: number,
  settings: Partial<GeneratorSettings> = {},
): Promise<number> {
  await Deno.mkdir(paths.root, { recursive: true });
  await Deno.writeTextFile(paths.trainerAlive, "1 0\n");
  const positives = randomPositives(7, { numUsers: NUM_USERS, numItems: NUM_ITEMS, maxPerUser: 6 });
  await writePositives(paths.positives, positives);
  await Deno.writeTextFile(
    paths.flagfile,
    formatFlagfile({
      cache_id: cacheId,
      num_users: NUM_USERS,
      num_items: NUM_ITEMS,
      num_train_positives: positives.items.length,
      num_neg: 2,
      epochs_per_cycle: 1,
      num_cycles: numCycles,
      train_batch_size: 16,
      cycles_to_buffer: numCycles,
      seed: 5,
      ...settings,
    }, GENERATOR_SETTINGS),
  );
  return positives.items.length * 3;
}

/** Resolves with the first status of `kind` pushed to `statuses`. */
async function nextStatus(statuses: GeneratorStatus[], kind: GeneratorStatus["kind"]) {
  for (let t = 0; t < 1000; t++) {
    const found = statuses.find((s) => s.kind === kind);
    if (found !== undefined) return found;
    await sleep(10);
  }
  throw new Error(`no ${kind} status; got ${statuses.map((s) => s.kind)}`);
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("a standalone generator says what it waits for and where, then each cycle it writes", async () => {
  await withTempDir(async (dir) => {
    const paths = runPaths(dir, "op");
    const statuses: GeneratorStatus[] = [];
    // A relative --cache_dir, as an operator might type it: reported as an absolute path.
    const running = runGenerator(
      { ...generatorFlags(dir, "op"), cache_dir: relative(Deno.cwd(), dir) },
      { pollMs: 20, onStatus: (s) => statuses.push(s) },
    );
    const waiting = await nextStatus(statuses, "waiting");
    assert.deepEqual(
      { ...waiting, message: undefined },
      { kind: "waiting", flagfile: paths.flagfile, timeoutSeconds: 20, message: undefined },
    );
    assert.equal(
      waiting.message,
      `waiting up to 20 s for the trainer's flagfile ${paths.flagfile}`,
    );
    await sleep(100);
    const perEpoch = await publishRun(paths, "op", 3);
    const result = await running;
    assert.deepEqual(result, { outcome: "done", cyclesWritten: 3 });
    const lines = statuses.map((s) => s.message);
    assert.equal(lines.length, 6, lines.join("\n"));
    assert.equal(
      lines[1],
      `run op: writing cycles 1..3 of 3 with 1 worker (log ${paths.generatorLog})`,
    );
    const examples = perEpoch.toLocaleString("en-US");
    for (let c = 0; c < 3; c++) {
      assert.match(
        lines[2 + c],
        new RegExp(`^cycle ${c + 1}/3 written: ${examples} examples in \\d+\\.\\d s$`),
      );
    }
    assert.match(
      lines[5],
      new RegExp(
        `^done: 3 cycles, ${(3 * perEpoch).toLocaleString("en-US")} examples in \\d+\\.\\d s$`,
      ),
    );
    assert.equal(exists(paths.generatorLog), false, "a generator that finished removes its log");
  });
});

Deno.test("a stop requested through the signal is logged as INFO, not ERROR", async (t) => {
  const cases = [
    { name: "started by an operator: it removes its own log", parent: undefined, logLeft: false },
    {
      name: "spawned by a live trainer: it leaves the log to the trainer",
      parent: Deno.pid,
      logLeft: true,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await withTempDir(async (dir) => {
        const paths = runPaths(dir, "stop");
        const controller = new AbortController();
        const statuses: GeneratorStatus[] = [];
        const running = runGenerator(
          generatorFlags(dir, "stop", { parent_pid: c.parent }),
          { pollMs: 20, signal: controller.signal, onStatus: (s) => statuses.push(s) },
        );
        await nextStatus(statuses, "waiting");
        // A second name for the log, to read it even once it is removed.
        const copy = join(dir, "copy.log");
        await Deno.link(paths.generatorLog, copy);
        controller.abort(new Error("Cannot continue: interrupted by SIGTERM"));
        await assert.rejects(running, /interrupted by SIGTERM/);
        const text = await Deno.readTextFile(copy);
        assert.match(text, / INFO stop requested \(Cannot continue: interrupted by SIGTERM\)/);
        assert.doesNotMatch(text, / ERROR /);
        assert.equal(exists(paths.generatorLog), c.logLeft);
        assert.deepEqual(statuses.map((s) => s.kind), ["waiting", "stopped"]);
      });
    });
  }
});

Deno.test("a generator whose trainer removed the run folder logs INFO and removes its log", async () => {
  await withTempDir(async (dir) => {
    const paths = runPaths(dir, "gone");
    await publishRun(paths, "gone", 1000);
    const statuses: GeneratorStatus[] = [];
    const running = runGenerator(generatorFlags(dir, "gone"), {
      pollMs: 20,
      onStatus: (s) => statuses.push(s),
    });
    await nextStatus(statuses, "cycle");
    const copy = join(dir, "copy.log");
    await Deno.link(paths.generatorLog, copy);
    // As the trainer does: the generator may add a file while the folder is removed.
    for (let t = 0; exists(paths.root); t++) {
      await Deno.remove(paths.root, { recursive: true }).catch((e) => {
        if (t === 20) throw e;
      });
    }
    const result = await running;
    assert.equal(result.outcome, "orphaned");
    assert.match(result.reason!, /run folder .*gone_ncf_cache is gone/);
    const text = await Deno.readTextFile(copy);
    assert.match(text, / INFO trainer gone \(run folder .* is gone\)/);
    assert.doesNotMatch(text, / ERROR /);
    assert.equal(exists(paths.generatorLog), false);
    assert.deepEqual(statuses.at(-1)?.kind, "stopped");
  });
});

Deno.test("a generator's own failure is logged as ERROR and its log is kept and named", async (t) => {
  const cases: {
    name: string;
    setUp: (paths: RunPaths) => Promise<void>;
    error: RegExp;
    writer?: { writeFile: () => Promise<void> };
  }[] = [
    {
      name: "no flagfile within flagfile_timeout",
      setUp: async () => {},
      error: /no flagfile at .* after 0\.2 s/,
    },
    {
      name: "a shard write fails (disk full)",
      setUp: async (paths) => void await publishRun(paths, "fail", 2),
      error: /No space left on device/,
      writer: {
        writeFile: () => Promise.reject(new Error("No space left on device (os error 28)")),
      },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await withTempDir(async (dir) => {
        const paths = runPaths(dir, "fail");
        await c.setUp(paths);
        const statuses: GeneratorStatus[] = [];
        await assert.rejects(
          runGenerator(generatorFlags(dir, "fail", { flagfile_timeout: 0.2 }), {
            pollMs: 20,
            writer: c.writer,
            onStatus: (s) => statuses.push(s),
          }),
          c.error,
        );
        assert.match(await Deno.readTextFile(paths.generatorLog), / ERROR /);
        const failed = statuses.at(-1)!;
        assert.equal(failed.kind, "failed");
        assert.equal(failed.message, `log kept at ${paths.generatorLog}`);
      });
    });
  }
});

/** Every file of every cycle folder of a finished run, by "cycle/name". */
async function cycleFiles(paths: RunPaths): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  for (const cycle of [...Deno.readDirSync(paths.cycles)].map((e) => e.name).sort()) {
    for (const file of [...Deno.readDirSync(join(paths.cycles, cycle))].map((e) => e.name)) {
      files.set(`${cycle}/${file}`, await Deno.readFile(join(paths.cycles, cycle, file)));
    }
  }
  return files;
}

Deno.test("triple shards are the same bytes with 1 and 2 workers and from any start_cycle", async () => {
  await withTempDir(async (dir) => {
    const runs = [
      { id: "w1", settings: { num_workers: 1 } },
      { id: "w2", settings: { num_workers: 2 } },
      { id: "from2", settings: { num_workers: 2, start_cycle: 2 } },
    ];
    const files = new Map<string, Map<string, Uint8Array>>();
    for (const run of runs) {
      const paths = runPaths(dir, run.id);
      const pairsPerEpoch = await publishRun(paths, run.id, 4, {
        schema: "triples",
        train_batch_size: 7,
        ...run.settings,
      });
      // 2 triples per positive; a remainder carried from cycle to cycle.
      assert.ok((pairsPerEpoch / 3 * 2) % 7 !== 0, "the test needs a carry between cycles");
      const result = await runGenerator(generatorFlags(dir, run.id), { pollMs: 20 });
      assert.equal(result.outcome, "done");
      files.set(run.id, await cycleFiles(paths));
    }
    const w1 = files.get("w1")!;
    assert.equal(w1.size, 4 * 2, "one shard and ready.json per cycle");
    const ready = JSON.parse(new TextDecoder().decode(w1.get("cycle_00001/ready.json")));
    assert.equal(ready.schema, "triples");
    assert.ok(ready.example_count % 7 === 0 && ready.example_count > 0);
    assert.deepEqual(files.get("w2"), w1);
    const from2 = files.get("from2")!;
    assert.deepEqual([...from2.keys()], [...w1.keys()].filter((k) => k >= "cycle_00002"));
    for (const [name, bytes] of from2) assert.deepEqual(bytes, w1.get(name), name);
  });
});
