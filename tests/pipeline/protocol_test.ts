import assert from "node:assert/strict";
import { join } from "node:path";
import { type FileWriter, writeFileAtomic } from "../../lib/io/atomic_write.ts";
import { startHeartbeat, watchHeartbeat } from "../../lib/pipeline/heartbeat.ts";
import { openLogFile, readLogTail } from "../../lib/io/log_file.ts";
import { readPositives, writePositives } from "../../lib/pipeline/positives_file.ts";
import { isValidCacheId, newCacheId, runPaths } from "../../lib/pipeline/run_paths.ts";
import { runGenerator } from "../../lib/pipeline/generator.ts";
import { formatFlagfile } from "../../lib/flags/flags.ts";
import { GENERATOR_SETTINGS } from "../../lib/flags/specs.ts";
import { withTempDir } from "./_fixtures.ts";

Deno.test("writeFileAtomic() never lets a reader see a partial file", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "flagfile");
    const big = (c: string) => c.repeat(1 << 20);
    let stop = false;
    const seen = new Set<number>();
    const reader = (async () => {
      while (!stop) {
        try {
          const text = await Deno.readTextFile(path);
          seen.add(text.length);
          assert.ok(text === big("a") || text === big("b"), "a torn file was read");
        } catch (e) {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        }
        await new Promise((r) => setTimeout(r, 0));
      }
    })();
    for (let i = 0; i < 20; i++) await writeFileAtomic(path, big(i % 2 ? "a" : "b"));
    stop = true;
    await reader;
    assert.deepEqual([...seen], [1 << 20]);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["flagfile"]);
  });
});

Deno.test("writeFileAtomic() publishes nothing when the write fails", async () => {
  await withTempDir(async (dir) => {
    const failing: FileWriter = {
      writeFile: async (p, data) => {
        await Deno.writeFile(p, data.subarray(0, 3));
        throw new Error("No space left on device (os error 28)");
      },
    };
    await assert.rejects(
      () => writeFileAtomic(join(dir, "x"), "hello", { writer: failing }),
      /Cannot write .*\/x: No space left on device/,
    );
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  });
});

Deno.test("a heartbeat is judged by content changes on the reader's clock", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "x.alive");
    const watcher = watchHeartbeat(path, { timeoutSeconds: 0.4 });
    assert.equal(watcher.check(), "missing");
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(watcher.check(), "stale", "never seen for longer than the timeout");
    const beat = startHeartbeat(path, { intervalMs: 50 });
    try {
      const deadline = performance.now() + 5000;
      while (watcher.check() !== "alive" && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(watcher.check(), "alive");
      // A busy main thread does not stop the worker's beats.
      const until = performance.now() + 300;
      while (performance.now() < until) { /* block the event loop */ }
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(watcher.check(), "alive");
    } finally {
      beat.stop();
    }
    await new Promise((r) => setTimeout(r, 600));
    watcher.check();
    assert.equal(watcher.check(), "stale");
  });
});

Deno.test("the generator log has timestamped lines and readLogTail() returns the last ones", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "g.log");
    await Deno.writeTextFile(path, "");
    const log = openLogFile(path);
    for (let i = 0; i < 30; i++) log.info(`line ${i}`);
    log.error("boom");
    log.close();
    const tail = readLogTail(path, { maxLines: 3 }).split("\n");
    assert.equal(tail.length, 3);
    assert.match(tail[2], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ERROR boom$/);
    assert.match(readLogTail(join(dir, "none.log")), /no generator log/);
  });
});

Deno.test("readPositives() checks the files against the flagfile's counts", async () => {
  await withTempDir(async (dir) => {
    const positives = { offsets: Int32Array.of(0, 2, 3), items: Int32Array.of(1, 4, 0) };
    await writePositives(dir, positives);
    const back = await readPositives(dir, { numUsers: 2, numItems: 5, numTrainPositives: 3 });
    assert.deepEqual(back, positives);
    await assert.rejects(
      () => readPositives(dir, { numUsers: 2, numItems: 5, numTrainPositives: 4 }),
      /items\.i32: 12 bytes, the flagfile implies 16/,
    );
    await assert.rejects(
      () => readPositives(dir, { numUsers: 2, numItems: 4, numTrainPositives: 3 }),
      /not ascending ids below 4/,
    );
  });
});

Deno.test("cache ids are unique and safe as file names", () => {
  const ids = new Set(Array.from({ length: 1000 }, () => newCacheId({ now: 1, pid: 2 })));
  assert.ok(ids.size > 990);
  assert.ok([...ids].every(isValidCacheId));
  for (const bad of ["", "../x", ".hidden", "a/b", "a b"]) assert.equal(isValidCacheId(bad), false);
});

Deno.test("the generator refuses another run's flagfile", async () => {
  await withTempDir(async (dir) => {
    const paths = runPaths(dir, "mine");
    await Deno.mkdir(paths.root, { recursive: true });
    await Deno.writeTextFile(
      paths.flagfile,
      formatFlagfile({
        cache_id: "theirs",
        num_users: 1,
        num_items: 3,
        num_train_positives: 1,
        num_neg: 1,
        epochs_per_cycle: 1,
        num_cycles: 1,
        train_batch_size: 2,
        seed: 1,
      }, GENERATOR_SETTINGS),
    );
    await assert.rejects(
      () =>
        runGenerator({
          data_dir: dir,
          cache_dir: dir,
          cache_id: "mine",
          flagfile_timeout: 5,
          parent_pid: undefined,
        }),
      /Cannot use flagfile .*mine_ncf_cache\/flagfile: it belongs to run theirs, not mine/,
    );
    assert.match(await Deno.readTextFile(paths.generatorLog), /ERROR Cannot use flagfile/);
  });
});

Deno.test("the generator gives up waiting for a flagfile after --flagfile_timeout", async () => {
  await withTempDir(async (dir) => {
    const started = performance.now();
    await assert.rejects(
      () =>
        runGenerator({
          data_dir: dir,
          cache_dir: dir,
          cache_id: "late",
          flagfile_timeout: 0.3,
          parent_pid: undefined,
        }, { pollMs: 20 }),
      /no flagfile at .*late_ncf_cache\/flagfile after 0\.3 s \(--flagfile_timeout\)/,
    );
    assert.ok(performance.now() - started < 2000);
  });
});
