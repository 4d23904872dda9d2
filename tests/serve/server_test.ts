import assert from "node:assert/strict";
import { join } from "node:path";
import { ITEMS, saveSmallModel, smallDataset, USERS } from "./_model_fixture.ts";
import { startCli } from "../cli/_process.ts";
import type { Dataset } from "../../lib/data/types.ts";
import { recommendUsers } from "../../lib/serve/recommend.ts";
import { recommendationJson } from "../../lib/serve/recommendation_format.ts";
import { type RunningServer, startServer } from "../../lib/serve/server.ts";
import { CHECKPOINT_FILE } from "../../lib/train/checkpoint_file.ts";
import type { EvalRecord } from "../../lib/train/model_checkpoint.ts";
import { PAGE_DIR, PAGE_FILES } from "../../lib/serve/page_assets.ts";

const TITLES = new Map([["200", "Item Zero (1995)"]]);

/** A server on a small trained model (integer ids 100+u, 200+i; item 200 titled). */
async function withServer(
  fn: (
    server: RunningServer,
    context: { dir: string; dataset: Dataset; warnings: string[] },
  ) => Promise<void>,
  options: { ids?: "integer" | "string"; history?: EvalRecord[] } = {},
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "ncf_serve_test_" });
  const dir = join(root, "model");
  const dataset = smallDataset(options.ids ?? "integer");
  await saveSmallModel(dir, dataset, { history: options.history ?? [] });
  const warnings: string[] = [];
  const server = await startServer(dir, {
    port: 0,
    backend: "ts",
    titles: TITLES,
    reloadIntervalMs: 100,
    onWarning: (message) => warnings.push(message),
  });
  try {
    await fn(server, { dir, dataset, warnings });
  } finally {
    await server.close();
    await server.finished;
    await Deno.remove(root, { recursive: true });
  }
}

/** The status and JSON body of a request. */
async function call(
  server: RunningServer,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(new URL(path, server.url), init);
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text), headers: response.headers };
}

function post(body: unknown): RequestInit {
  return { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body) };
}

Deno.test("startServer() answers every route on a trained model", async (t) => {
  await withServer(async (server, { dir }) => {
    await t.step("healthz names the epoch and the checkpoint", async () => {
      const { status, body } = await call(server, "/healthz");
      assert.equal(status, 200);
      assert.deepEqual(body, { epoch: 1, checkpoint: join(dir, CHECKPOINT_FILE) });
    });
    await t.step(
      "a user's recommendations have k items with scores, titles where known",
      async () => {
        const { status, body } = await call(server, "/v1/users/100/recommendations?k=3");
        assert.equal(status, 200);
        assert.equal(body.user, 100);
        const recs = body.recommendations as { item: number; score: number; title?: string }[];
        assert.equal(recs.length, 3);
        for (const r of recs) assert.ok(r.score > 0 && r.score < 1);
        const zero = recs.find((r) => r.item === 200);
        if (zero !== undefined) assert.equal(zero.title, "Item Zero (1995)");
      },
    );
    await t.step("a new user's recommendations leave the posted items out", async () => {
      const { status, body } = await call(
        server,
        "/v1/recommendations",
        post({
          items: [201, "202"],
          k: ITEMS,
        }),
      );
      assert.equal(status, 200);
      const items = (body.recommendations as { item: number }[]).map((r) => r.item);
      assert.equal(items.length, ITEMS - 2);
      assert.ok(!items.includes(201) && !items.includes(202));
    });
    await t.step("scores come in the order posted, as probabilities", async () => {
      const { status, body } = await call(
        server,
        "/v1/scores",
        post({
          user: 101,
          items: [205, 200],
        }),
      );
      assert.equal(status, 200);
      const scores = body.scores as { item: number; score: number }[];
      assert.deepEqual(scores.map((s) => s.item), [205, 200]);
      for (const s of scores) assert.ok(s.score > 0 && s.score < 1);
    });
    await t.step("similar items exclude the item itself, best cosine first", async () => {
      const { status, body } = await call(server, "/v1/items/203/similar?k=4");
      assert.equal(status, 200);
      assert.equal(body.item, 203);
      const similar = body.similar as { item: number; score: number }[];
      assert.equal(similar.length, 4);
      assert.ok(!similar.some((s) => s.item === 203));
      for (let r = 0; r < similar.length; r++) {
        assert.ok(similar[r].score <= 1 + 1e-6 && similar[r].score >= -1 - 1e-6);
        if (r > 0) assert.ok(similar[r].score <= similar[r - 1].score);
      }
    });
    await t.step("metrics count requests by route and status, in Prometheus text", async () => {
      const response = await fetch(new URL("/metrics", server.url));
      const text = await response.text();
      assert.equal(response.status, 200);
      assert.match(response.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
      assert.match(text, /^ncf_http_requests_total\{route="\/healthz",status="200"\} 1$/m);
      assert.match(
        text,
        /^ncf_http_requests_total\{route="\/v1\/users\/\{id\}\/recommendations",status="200"\} 1$/m,
      );
      assert.match(text, /^ncf_http_request_duration_seconds_count 5$/m);
      assert.match(text, /^ncf_model_epoch 1$/m);
      assert.match(text, /^ncf_model_load_seconds \d/m);
    });
  });
});

Deno.test("a user's recommendations over HTTP are recommendUsers()'s, string and integer ids", async (t) => {
  for (const ids of ["integer", "string"] as const) {
    await withServer(async (server, { dir, dataset }) => {
      for (const [k, excludeSeen] of [[3, true], [ITEMS, true], [5, false]] as const) {
        await t.step(`${ids} ids, k ${k}, exclude_seen ${excludeSeen}`, async () => {
          const expected = await Array.fromAsync(
            recommendUsers(dir, "all", { k, includeSeen: !excludeSeen, backend: "ts" }),
          );
          for (let u = 0; u < USERS; u++) {
            const id = encodeURIComponent(String(dataset.userIds[u]));
            const { status, body } = await call(
              server,
              `/v1/users/${id}/recommendations?k=${k}&exclude_seen=${excludeSeen}`,
            );
            assert.equal(status, 200);
            assert.deepEqual(
              body,
              JSON.parse(JSON.stringify(recommendationJson(expected[u], { titles: TITLES }))),
              `user ${dataset.userIds[u]}`,
            );
          }
        });
      }
    }, { ids });
  }
});

Deno.test("fold-in gives the same answer to the same request, and depends on the items", async () => {
  await withServer(async (server) => {
    const request = { items: [200, 201, 204], k: 5 };
    const first = await call(server, "/v1/recommendations", post(request));
    const again = await call(server, "/v1/recommendations", post({ k: 5, items: [204, 200, 201] }));
    const other = await call(server, "/v1/recommendations", post({ items: [207, 208], k: 5 }));
    assert.equal(first.status, 200);
    assert.deepEqual(again.body, first.body);
    assert.notDeepEqual(other.body, first.body);
  });
});

Deno.test("client mistakes get a JSON error with a 4xx status, never a 5xx", async (t) => {
  await withServer(async (server) => {
    const big = JSON.stringify({ items: [200], k: 1, pad: "x".repeat((1 << 20) + 10) });
    const cases: {
      name: string;
      path: string;
      init?: RequestInit;
      status: number;
      error: RegExp;
    }[] = [
      { name: "unknown route", path: "/v2/nothing", status: 404, error: /no such route/ },
      {
        name: "unknown user",
        path: "/v1/users/999/recommendations",
        status: 404,
        error: /Cannot find user 999/,
      },
      {
        name: "unknown item to compare",
        path: "/v1/items/abc/similar",
        status: 404,
        error: /Cannot find item abc/,
      },
      {
        name: "unknown posted item",
        path: "/v1/recommendations",
        init: post({ items: [200, 999] }),
        status: 404,
        error: /Cannot find item 999/,
      },
      {
        name: "unknown user to score",
        path: "/v1/scores",
        init: post({ user: "nobody", items: [200] }),
        status: 404,
        error: /Cannot find user nobody/,
      },
      {
        name: "k of 0",
        path: "/v1/users/100/recommendations?k=0",
        status: 400,
        error: /1\.\.1000/,
      },
      { name: "k of 1001", path: "/v1/items/200/similar?k=1001", status: 400, error: /1\.\.1000/ },
      { name: "k not a number", path: "/v1/items/200/similar?k=ten", status: 400, error: /k = / },
      {
        name: "a k in the body out of range",
        path: "/v1/recommendations",
        init: post({ items: [200], k: 5000 }),
        status: 400,
        error: /1\.\.1000/,
      },
      {
        name: "bad exclude_seen",
        path: "/v1/users/100/recommendations?exclude_seen=maybe",
        status: 400,
        error: /true or false/,
      },
      {
        name: "unknown query parameter",
        path: "/v1/users/100/recommendations?count=3",
        status: 400,
        error: /unknown parameter 'count'/,
      },
      {
        name: "bad JSON",
        path: "/v1/recommendations",
        init: post("{items: [1"),
        status: 400,
        error: /expected a JSON object/,
      },
      {
        name: "JSON that is no object",
        path: "/v1/scores",
        init: post([1, 2]),
        status: 400,
        error: /expected a JSON object/,
      },
      {
        name: "unknown field",
        path: "/v1/recommendations",
        init: post({ items: [200], user: 1 }),
        status: 400,
        error: /unknown field 'user'/,
      },
      {
        name: "missing field",
        path: "/v1/scores",
        init: post({ items: [200] }),
        status: 400,
        error: /field 'user' is missing/,
      },
      {
        name: "an id that is a float",
        path: "/v1/scores",
        init: post({ user: 100.5, items: [200] }),
        status: 400,
        error: /expected a string or an integer/,
      },
      {
        name: "an item id that is an object",
        path: "/v1/recommendations",
        init: post({ items: [{ id: 200 }] }),
        status: 400,
        error: /expected a string or an integer/,
      },
      {
        name: "no items",
        path: "/v1/recommendations",
        init: post({ items: [] }),
        status: 400,
        error: /list of 1\.\.1000 item ids/,
      },
      {
        name: "bad percent-encoding",
        path: "/v1/users/%E0%A4%A/recommendations",
        status: 400,
        error: /percent-encoding/,
      },
      {
        name: "GET on a POST route",
        path: "/v1/recommendations",
        status: 405,
        error: /Cannot GET \/v1\/recommendations: expected POST/,
      },
      {
        name: "POST on a GET route",
        path: "/healthz",
        init: post({}),
        status: 405,
        error: /expected GET/,
      },
      {
        name: "unknown user's history",
        path: "/v1/users/999",
        status: 404,
        error: /Cannot find user 999/,
      },
      {
        name: "a parameter on a user's history",
        path: "/v1/users/100?k=3",
        status: 400,
        error: /unknown parameter 'k'; expected none/,
      },
      {
        name: "limit of 0",
        path: "/v1/items?limit=0",
        status: 400,
        error: /limit = "0".*1\.\.1000/,
      },
      {
        name: "limit of 1001",
        path: "/v1/users?limit=1001",
        status: 400,
        error: /limit = "1001".*1\.\.1000/,
      },
      { name: "negative offset", path: "/v1/users?offset=-1", status: 400, error: /offset.*≥ 0/ },
      {
        name: "unknown search parameter",
        path: "/v1/items?q=star",
        status: 400,
        error: /unknown parameter 'q'; expected query, offset, limit/,
      },
      {
        name: "a repeated search parameter",
        path: "/v1/items?query=a&query=b",
        status: 400,
        error: /given twice/,
      },
      {
        name: "a parameter on the learning curve",
        path: "/v1/training?epoch=1",
        status: 400,
        error: /unknown parameter 'epoch'/,
      },
      {
        name: "POST on the learning curve",
        path: "/v1/training",
        init: post({}),
        status: 405,
        error: /expected GET/,
      },
      {
        name: "a page parameter the page does not know",
        path: "/?foo=1",
        status: 400,
        error: /unknown parameter 'foo'; expected user, items/,
      },
      {
        name: "unknown asset",
        path: "/assets/nope.js",
        status: 404,
        error: /Cannot find \/assets\/nope\.js: no such file; expected one of app\.js/,
      },
      {
        name: "an asset path climbing out (encoded)",
        path: "/assets/..%2Fserver.ts",
        status: 404,
        error: /Cannot find \/assets\/\.\.\/server\.ts: no such file/,
      },
      {
        name: "an asset path climbing out twice (encoded dots)",
        path: "/assets/%2e%2e%2f%2e%2e%2fdeno.json",
        status: 404,
        error: /no such file/,
      },
      {
        name: "an asset under a folder",
        path: "/assets/vendor/uPlot.min.css",
        status: 404,
        error: /no such route/,
      },
      {
        name: "the page's source by its file name",
        path: "/index.html",
        status: 404,
        error: /no such route/,
      },
      { name: "no asset name", path: "/assets/", status: 404, error: /no such route/ },
      {
        name: "a long asset name, echoed cut",
        path: `/assets/${"a".repeat(5000)}`,
        status: 404,
        error: /^Cannot find \/assets\/a{100}…: no such file/,
      },
      {
        name: "a long unknown user id, echoed cut",
        path: `/v1/users/${"7".repeat(5000)}/recommendations`,
        status: 404,
        error: /^Cannot find user 7{100}…: no such user/,
      },
      {
        name: "a long unknown route, echoed cut",
        path: `/${"z".repeat(5000)}`,
        status: 404,
        error: /^Cannot find \/z{99}…: no such route/,
      },
      {
        name: "a long limit, echoed cut",
        path: `/v1/items?limit=${"9".repeat(5000)}`,
        status: 400,
        error: /^Cannot use limit = "9{99}…: expected an integer in 1\.\.1000$/,
      },
      {
        name: "a body above 1 MiB",
        path: "/v1/recommendations",
        init: post(big),
        status: 413,
        error: /larger than 1048576 bytes/,
      },
    ];
    for (const { name, path, init, status, error } of cases) {
      await t.step(`${name}: ${status}`, async () => {
        const got = await call(server, path, init);
        assert.equal(got.status, status);
        assert.match(got.headers.get("content-type")!, /^application\/json/);
        assert.deepEqual(Object.keys(got.body), ["error"]);
        assert.match(got.body.error as string, error);
        assert.doesNotMatch(got.body.error as string, /\bat .*\.ts:\d+/); // no stack
        if (status === 405) assert.ok(got.headers.get("allow") !== null);
      });
    }
  });
});

Deno.test("a new checkpoint is served within 2 s, no request failing during the swap", async () => {
  await withServer(async (server, { dir, dataset, warnings }) => {
    let stop = false;
    const statuses: number[] = [];
    const load = (async () => {
      while (!stop) {
        const responses = await Promise.all([
          fetch(new URL("/v1/users/102/recommendations", server.url)),
          fetch(new URL("/v1/recommendations", server.url), post({ items: [200] })),
        ]);
        for (const r of responses) {
          statuses.push(r.status);
          await r.body?.cancel();
        }
      }
    })();
    try {
      await saveSmallModel(dir, dataset, { epochs: 2 });
      const start = performance.now();
      let epoch = 1;
      while (epoch !== 2 && performance.now() - start < 2000) {
        epoch = (await call(server, "/healthz")).body.epoch as number;
        if (epoch !== 2) await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(epoch, 2, "the new epoch within 2 s");
    } finally {
      stop = true;
      await load;
    }
    assert.ok(statuses.length > 0);
    assert.deepEqual(statuses.filter((s) => s !== 200), []);
    assert.deepEqual(warnings, []);
  });
});

Deno.test("a checkpoint that fails to load leaves the old model served, with a warning", async () => {
  await withServer(async (server, { dir, warnings }) => {
    const path = join(dir, CHECKPOINT_FILE);
    await Deno.writeTextFile(`${path}.tmp`, "not a checkpoint");
    await Deno.rename(`${path}.tmp`, path);
    const start = performance.now();
    while (warnings.length === 0 && performance.now() - start < 2000) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /Cannot reload the model from .*; still serving epoch 1/);
    const health = await call(server, "/healthz");
    assert.equal(health.status, 200);
    assert.equal(health.body.epoch, 1);
    assert.equal((await call(server, "/v1/users/100/recommendations")).status, 200);
  });
});

Deno.test("close() waits for a request under way, which still gets its answer", async () => {
  await withServer(async (server, { warnings }) => {
    let send!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (send = c) });
    const pending = fetch(new URL("/v1/recommendations", server.url), {
      method: "POST",
      body,
      headers: { "content-type": "application/json" },
    });
    send.enqueue(new TextEncoder().encode('{"items": [200'));
    await new Promise((r) => setTimeout(r, 50)); // the server is reading the body
    let closed = false;
    const closing = server.close().then(() => void (closed = true));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(closed, false, "close() waits for the request");
    const late = await call(server, "/healthz");
    assert.equal(late.status, 503);
    assert.match(late.body.error as string, /shutting down/);
    send.enqueue(new TextEncoder().encode("]}"));
    send.close();
    const response = await pending;
    assert.equal(response.status, 200, warnings.join("\n"));
    assert.equal((await response.json()).recommendations.length, 10);
    await closing;
    await assert.rejects(() => fetch(new URL("/healthz", server.url)));
  });
});

Deno.test("`ncf serve --port 0` prints its URL, answers, and exits 143 on SIGTERM", async () => {
  const root = await Deno.makeTempDir({ prefix: "ncf_serve_cli_" });
  try {
    const dir = join(root, "model");
    await saveSmallModel(dir, smallDataset("integer"), { epochs: 3 });
    const cli = startCli(["serve", `--model_dir=${dir}`, "--port=0", "--backend=ts"]);
    try {
      const [, url] = await cli.waitForLine(/^listening on (http:\/\/127\.0\.0\.1:\d+\/)$/, 30_000);
      const response = await fetch(new URL("/healthz", url));
      assert.deepEqual(await response.json(), {
        epoch: 3,
        checkpoint: join(dir, CHECKPOINT_FILE),
      });
    } finally {
      cli.child.kill("SIGTERM");
    }
    const status = await cli.status;
    assert.equal(status.code, 143, cli.stderr.join("\n"));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

const HISTORY: EvalRecord[] = [1, 2].map((epoch) => ({
  epoch,
  cycle: epoch,
  hr: 0.4 + 0.1 * epoch,
  ndcg: 0.2 + 0.05 * epoch,
  loss: 0.5 / epoch,
  train_examples_per_sec: 1e5,
  eval_seconds: 0.01,
  wall_seconds: epoch,
  protocol: "sampled",
  mrr: 0.1,
  byK: [{ k: 10, hr: 0.4 + 0.1 * epoch, ndcg: 0.2 + 0.05 * epoch, coverage: 0.5 }],
}));

Deno.test("the page's API: learning curve, a user's history, users and items by text", async (t) => {
  await withServer(async (server, { dataset }) => {
    await t.step("the learning curve is the checkpoint's run and every evaluation", async () => {
      const { status, body } = await call(server, "/v1/training");
      assert.equal(status, 200);
      assert.deepEqual(body, {
        epoch: 1,
        model: "NeuMF",
        dataset: "small",
        protocol: "sampled",
        train_epochs: 5,
        finished: false,
        history: HISTORY,
      });
    });
    await t.step(
      "a user's training items with titles where known, and the held-out item",
      async () => {
        for (let u = 0; u < USERS; u++) {
          const { status, body } = await call(server, `/v1/users/${100 + u}`);
          assert.equal(status, 200);
          const own = [
            ...dataset.trainItems.subarray(dataset.trainOffsets[u], dataset.trainOffsets[u + 1]),
          ];
          const json = (i: number) =>
            i === 0 ? { item: 200, title: "Item Zero (1995)" } : { item: 200 + i };
          assert.deepEqual(body, {
            user: 100 + u,
            items: own.map(json),
            held_out: json(dataset.evalItems[u]),
          });
        }
      },
    );
    await t.step("users: all of them by default, counted, with their training items", async () => {
      const { status, body } = await call(server, "/v1/users?offset=4&limit=5");
      assert.equal(status, 200);
      assert.deepEqual(body, {
        total: USERS,
        users: [4, 5].map((u) => ({
          user: 100 + u,
          items: dataset.trainOffsets[u + 1] - dataset.trainOffsets[u],
        })),
      });
      const exact = await call(server, "/v1/users?query=103");
      assert.deepEqual(exact.body, { total: 1, users: [{ user: 103, items: 5 }] });
    });
    await t.step("items: by title or id, case-insensitively, titles where known", async () => {
      const zero = await call(server, "/v1/items?query=ITEM%20zero");
      assert.deepEqual(zero.body, { total: 1, items: [{ item: 200, title: "Item Zero (1995)" }] });
      const byId = await call(server, "/v1/items?query=211&limit=1");
      assert.deepEqual(byId.body, { total: 1, items: [{ item: 211 }] });
      const all = await call(server, "/v1/items?limit=1000");
      assert.equal(all.body.total, ITEMS);
      assert.equal((all.body.items as unknown[]).length, ITEMS);
      const none = await call(server, "/v1/items?query=nothing");
      assert.deepEqual(none.body, { total: 0, items: [] });
    });
  }, { history: HISTORY });
});

Deno.test("a string-id user's history and search keep the ids as they are", async () => {
  await withServer(async (server) => {
    const { status, body } = await call(server, `/v1/users/${encodeURIComponent("émile")}`);
    assert.equal(status, 200);
    assert.equal(body.user, "émile");
    assert.match(String((body.items as { item: string }[])[0].item), /^item \d+,"\d+"$/);
    const users = await call(server, `/v1/users?query=${encodeURIComponent("A,B")}`);
    assert.deepEqual(users.body, { total: 1, users: [{ user: "a,b", items: 5 }] });
  }, { ids: "string" });
});

Deno.test("the page and its assets are served with their types, ETags and 304s", async (t) => {
  await withServer(async (server) => {
    for (const file of PAGE_FILES) {
      const path = file.name === "" ? "/?user=100&items=200,201" : `/assets/${file.name}`;
      await t.step(`${path}: 200 ${file.contentType}, then 304`, async () => {
        const response = await fetch(new URL(path, server.url));
        assert.equal(response.status, 200);
        assert.equal(response.headers.get("content-type"), file.contentType);
        assert.deepEqual(
          new Uint8Array(await response.arrayBuffer()),
          await Deno.readFile(new URL(file.path, PAGE_DIR)),
        );
        const etag = response.headers.get("etag")!;
        const again = await fetch(new URL(path, server.url), {
          headers: { "if-none-match": etag },
        });
        assert.equal(again.status, 304);
        await again.body?.cancel();
      });
    }
    await t.step("the page names its assets relative to itself", async () => {
      const html = await (await fetch(server.url)).text();
      assert.match(html, /<script src="assets\/app\.js" type="module"><\/script>/);
      assert.match(html, /<script src="assets\/uPlot\.iife\.min\.js" defer><\/script>/);
    });
    await t.step("metrics count the page and its assets by route", async () => {
      const text = await (await fetch(new URL("/metrics", server.url))).text();
      assert.match(text, /^ncf_http_requests_total\{route="\/",status="200"\} 2$/m);
      assert.match(text, /^ncf_http_requests_total\{route="\/assets\/\{file\}",status="304"\} 5$/m);
    });
  });
});
