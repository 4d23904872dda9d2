import assert from "node:assert/strict";
import { join } from "node:path";
import { saveSmallModel, smallDataset } from "./_model_fixture.ts";
import { startCli } from "../cli/_process.ts";
import { SettingError } from "../../lib/errors.ts";
import { startServers } from "../../lib/serve/serve_threads.ts";

async function withModel(fn: (dir: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "ncf_serve_threads_" });
  try {
    const dir = join(root, "model");
    await saveSmallModel(dir, smallDataset("integer"), { epochs: 2 });
    await fn(dir);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** `/healthz` over `connections` fresh connections: the threads that answered. */
async function threadsAnswering(url: string, connections: number): Promise<Set<number>> {
  const seen = new Set<number>();
  for (let c = 0; c < connections; c++) {
    const client = Deno.createHttpClient({});
    try {
      const response = await fetch(new URL("/healthz", url), { client });
      assert.equal(response.status, 200);
      seen.add((await response.json()).thread);
    } finally {
      client.close();
    }
  }
  return seen;
}

Deno.test("startServers() runs every thread on one port, each answering the same recommendations, and close() stops them all", async () => {
  await withModel(async (dir) => {
    const server = await startServers(dir, { port: 0, threads: 3, backend: "ts" });
    try {
      const seen = await threadsAnswering(server.url, 60);
      assert.deepEqual(
        [...seen].sort(),
        [0, 1, 2],
        "the kernel spreads connections over the threads",
      );
      const answers = new Set<string>();
      for (let c = 0; c < 12; c++) {
        const client = Deno.createHttpClient({});
        const response = await fetch(new URL("/v1/users/2/recommendations?k=5", server.url), {
          client,
        });
        answers.add(await response.text());
        client.close();
      }
      assert.equal(answers.size, 1, "every thread ranks the same way");
    } finally {
      await server.close();
    }
    await server.finished;
    await assert.rejects(() => fetch(new URL("/healthz", server.url)));
  });
});

Deno.test("startServers() with one thread is startServer alone (no thread in /healthz), and refuses 0 threads", async () => {
  await withModel(async (dir) => {
    const server = await startServers(dir, { port: 0 });
    try {
      const body = await (await fetch(new URL("/healthz", server.url))).json();
      assert.deepEqual(Object.keys(body), ["epoch", "checkpoint"]);
    } finally {
      await server.close();
    }
    await assert.rejects(
      () => startServers(dir, { port: 0, threads: 0 }),
      (e) => e instanceof SettingError && /Cannot serve on 0 threads/.test(e.message),
    );
  });
});

Deno.test("a port another listener holds fails startServers() with the cause", async () => {
  await withModel(async (dir) => {
    // The first thread binds a port another listener (without SO_REUSEPORT) holds.
    const blocker = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      await assert.rejects(
        () => startServers(dir, { port: blocker.addr.port, threads: 2 }),
        /in use|AddrInUse/i,
      );
    } finally {
      blocker.close();
    }
  });
});

Deno.test("`ncf serve --threads 2` answers from both threads and exits 143 on SIGTERM", async () => {
  await withModel(async (dir) => {
    const cli = startCli(["serve", `--model_dir=${dir}`, "--port=0", "--threads=2"]);
    try {
      const [, url] = await cli.waitForLine(
        /^listening on (http:\/\/127\.0\.0\.1:\d+\/) \(2 threads\)$/,
        30_000,
      );
      assert.deepEqual([...await threadsAnswering(url, 40)].sort(), [0, 1]);
    } finally {
      cli.child.kill("SIGTERM");
    }
    const status = await cli.status;
    assert.equal(status.code, 143, cli.stderr.join("\n"));
  });
});
