import assert from "node:assert/strict";
import { pathToFileURL } from "node:url";
import { PAGE_DIR, PAGE_FILES, PageAssets } from "../../lib/serve/page_assets.ts";
import { packageFile, VENDOR_DIR, VENDORED_FILES } from "./_vendor_uplot.ts";

const request = (headers: Record<string, string> = {}) =>
  new Request("http://localhost/", { headers });

Deno.test("PageAssets serves each page file's bytes with its content type and a strong ETag", async (t) => {
  const assets = await PageAssets.load();
  for (const file of PAGE_FILES) {
    await t.step(`${file.name === "" ? "the page" : file.name}: ${file.contentType}`, async () => {
      const response = assets.respond(file.name, request())!;
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), file.contentType);
      assert.equal(response.headers.get("cache-control"), "no-cache");
      assert.equal(response.headers.get("x-content-type-options"), "nosniff");
      const etag = response.headers.get("etag")!;
      assert.match(etag, /^"[0-9a-f]{32}"$/);
      const bytes = new Uint8Array(await response.arrayBuffer());
      assert.deepEqual(bytes, await Deno.readFile(new URL(file.path, PAGE_DIR)));
      const again = assets.respond(file.name, request({ "if-none-match": `"x", ${etag}` }))!;
      assert.equal(again.status, 304);
      assert.equal(again.headers.get("etag"), etag);
      assert.equal(again.body, null);
      const stale = assets.respond(file.name, request({ "if-none-match": '"stale"' }))!;
      assert.equal(stale.status, 200);
      await stale.body?.cancel();
    });
  }
  await t.step(
    "the page alone carries the content security policy: its own origin only",
    async () => {
      const page = assets.respond("", request())!;
      assert.match(page.headers.get("content-security-policy")!, /^default-src 'self';/);
      await page.body?.cancel();
      const script = assets.respond("app.js", request())!;
      assert.equal(script.headers.get("content-security-policy"), null);
      await script.body?.cancel();
    },
  );
});

Deno.test("PageAssets serves only the listed names: no other file, no path", async (t) => {
  const assets = await PageAssets.load();
  assert.deepEqual(assets.names, PAGE_FILES.map((f) => f.name).filter((n) => n !== ""));
  for (const name of ["index.html", "../server.ts", "vendor/uPlot.min.css", "APP.JS", "app.js/"]) {
    await t.step(`'${name}' is not served`, () => {
      assert.equal(assets.respond(name, request()), undefined);
    });
  }
});

Deno.test("PageAssets.load() names a missing file and how a binary includes it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_page_assets_test_" });
  try {
    await assert.rejects(
      () => PageAssets.load(pathToFileURL(`${dir}/`)),
      (e: unknown) =>
        e instanceof Deno.errors.NotFound &&
        /Cannot load the page's file .*: it is missing; .*--include lib\/serve\/page\//.test(
          e.message,
        ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the vendored uPlot files are the npm package's bytes, each one served", async (t) => {
  for (const { from, to } of VENDORED_FILES) {
    await t.step(`${to} equals ${from}`, async () => {
      assert.deepEqual(
        await Deno.readFile(new URL(to, VENDOR_DIR)),
        await Deno.readFile(packageFile(from)),
        `run tests/serve/_vendor_uplot.ts to copy ${from} again`,
      );
      assert.ok(PAGE_FILES.some((f) => f.path === `vendor/${to}`), `${to} is served`);
    });
  }
  await t.step("uPlot's script keeps its header and its licence is the MIT text", async () => {
    const script = await Deno.readTextFile(new URL("uPlot.iife.min.js", VENDOR_DIR));
    assert.match(script, /^\/\*! https:\/\/github\.com\/leeoniya\/uPlot \(v1\.6\.32\) \*\//);
    assert.match(await Deno.readTextFile(new URL("uPlot.LICENSE", VENDOR_DIR)), /MIT License/);
  });
});

Deno.test("every file the page links to is served, and nothing comes from elsewhere", async () => {
  const html = await Deno.readTextFile(new URL("index.html", PAGE_DIR));
  const links = [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1])
    .filter((link) => !link.startsWith("data:"));
  assert.deepEqual(
    links.filter((link) => !link.startsWith("assets/")),
    [],
    "relative assets/ links only",
  );
  const served = new Set(PAGE_FILES.map((f) => `assets/${f.name}`));
  assert.deepEqual(links.filter((link) => !served.has(link)), []);
  assert.ok(links.length >= 5);
});
