import assert from "node:assert/strict";
import { join } from "node:path";
import { watchFile } from "../../lib/serve/checkpoint_watcher.ts";

const INTERVAL_MS = 20;
/** How long a test waits for a call: generous, since a loaded machine delays timers (a met condition returns at once). */
const WAIT_MS = 10_000;

/** Resolves after `ms` milliseconds. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until `done()` holds, failing after `timeoutMs`. */
async function until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) assert.fail(`${what} within ${timeoutMs} ms`);
    await sleep(5);
  }
}

/** Runs `fn` with a fresh temporary folder, removed afterwards. */
async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ncf_watch_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("watchFile() notices each way a file can change within a few intervals", async (t) => {
  const changes: [string, (path: string, dir: string) => Promise<void>][] = [
    ["a rewrite to another size", (path) => Deno.writeTextFile(path, "version 2, longer")],
    ["an atomic rename over it", async (path, dir) => {
      await Deno.writeTextFile(join(dir, "next.tmp"), "v1");
      await Deno.rename(join(dir, "next.tmp"), path);
    }],
    ["its removal", (path) => Deno.remove(path)],
    ["a new mtime with the same size", (path) => Deno.utime(path, 1000, 1000)],
  ];
  for (const [what, change] of changes) {
    await t.step(`${what} calls onChange once`, async () => {
      await inTempDir(async (dir) => {
        const path = join(dir, "checkpoint.ncf");
        await Deno.writeTextFile(path, "v1");
        let calls = 0;
        const watcher = await watchFile(path, {
          intervalMs: INTERVAL_MS,
          onChange: () => void calls++,
        });
        try {
          await sleep(3 * INTERVAL_MS);
          assert.equal(calls, 0, "no change, no call");
          await change(path, dir);
          await until(() => calls > 0, WAIT_MS, "a call");
          await sleep(3 * INTERVAL_MS);
          assert.equal(calls, 1, "one call for one change");
        } finally {
          await watcher.stop();
        }
      });
    });
  }
  await t.step("a missing file's appearance is a change", async () => {
    await inTempDir(async (dir) => {
      const path = join(dir, "checkpoint.ncf");
      let calls = 0;
      const watcher = await watchFile(path, {
        intervalMs: INTERVAL_MS,
        onChange: () => void calls++,
      });
      try {
        await sleep(3 * INTERVAL_MS);
        assert.equal(calls, 0);
        await Deno.writeTextFile(path, "v1");
        await until(() => calls > 0, WAIT_MS, "a call");
      } finally {
        await watcher.stop();
      }
    });
  });
});

Deno.test("watchFile()'s next poll waits for a slow onChange, and stop() waits for it", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "checkpoint.ncf");
    await Deno.writeTextFile(path, "v1");
    let running = 0;
    let most = 0;
    let calls = 0;
    let finished = 0;
    const watcher = await watchFile(path, {
      intervalMs: 5,
      onChange: async () => {
        calls++;
        most = Math.max(most, ++running);
        await sleep(60);
        running--;
        finished++;
      },
    });
    await Deno.writeTextFile(path, "v2, longer");
    await until(() => calls === 1, 2000, "the first call");
    await Deno.writeTextFile(path, "v3, longer still");
    await sleep(20);
    await watcher.stop();
    assert.equal(running, 0, "no call runs once stop() resolves");
    assert.equal(finished, calls);
    assert.equal(most, 1, "calls never overlap");
  });
});

/** Writes `text` to a temp file beside `path`, then renames it over `path`. */
async function replace(path: string, text: string): Promise<void> {
  await Deno.writeTextFile(`${path}.tmp`, text);
  await Deno.rename(`${path}.tmp`, path);
}

Deno.test("watchFile() keeps polling after onChange throws or rejects", async (t) => {
  for (const kind of ["throws", "rejects"]) {
    await t.step(`an onChange that ${kind} is called again on the next change`, async () => {
      await inTempDir(async (dir) => {
        const path = join(dir, "checkpoint.ncf");
        await Deno.writeTextFile(path, "v1");
        let calls = 0;
        const watcher = await watchFile(path, {
          intervalMs: INTERVAL_MS,
          onChange: () => {
            calls++;
            if (kind === "throws") throw new Error("boom");
            return Promise.reject(new Error("boom"));
          },
        });
        try {
          // Replaced atomically (as the trainer publishes): one change each.
          await replace(path, "v2, longer");
          await until(() => calls === 1, WAIT_MS, "the first call");
          await replace(path, "v3, longer still");
          await until(() => calls === 2, WAIT_MS, "the second call");
        } finally {
          await watcher.stop();
        }
      });
    });
  }
});

Deno.test("watchFile()'s stop() ends polling: no call after it, and no timer left", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "checkpoint.ncf");
    await Deno.writeTextFile(path, "v1");
    let calls = 0;
    const watcher = await watchFile(path, {
      intervalMs: INTERVAL_MS,
      onChange: () => void calls++,
    });
    await watcher.stop();
    await Deno.writeTextFile(path, "v2, longer");
    await sleep(5 * INTERVAL_MS);
    assert.equal(calls, 0);
    await watcher.stop(); // a second stop is harmless
  });
});
