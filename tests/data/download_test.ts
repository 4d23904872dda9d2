import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { zipSync } from "fflate";
import { SettingError } from "../../lib/errors.ts";
import { downloadDataset, formatProgress, parseMd5File } from "../../lib/data/download.ts";
import type { MovieLensName } from "../../lib/data/movielens.ts";

const encoder = new TextEncoder();
const U_DATA = encoder.encode(
  "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n",
);
const U_ITEM = encoder.encode("1|Toy Story (1995)|01-Jan-1995\n");
const README = encoder.encode("MovieLens 100K, for tests\n");

function _md5(bytes: Uint8Array): string {
  return createHash("md5").update(bytes).digest("hex");
}

/** A local GroupLens: serves `files` by path, 404 for anything else, and logs requests. */
interface _Server {
  baseUrl: string;
  requests: string[];
  close(): Promise<void>;
}

async function _serve(files: Record<string, Uint8Array | string>): Promise<_Server> {
  const requests: string[] = [];
  const { promise: listening, resolve } = Promise.withResolvers<number>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: ({ port }) => resolve(port) },
    (request) => {
      const path = new URL(request.url).pathname;
      requests.push(path);
      const body = files[path];
      if (body === undefined) return new Response("not found", { status: 404 });
      return new Response(typeof body === "string" ? body : body.slice());
    },
  );
  const port = await listening;
  return {
    baseUrl: `http://127.0.0.1:${port}/datasets/movielens/`,
    requests,
    close: () => server.shutdown(),
  };
}

/** Serves `zip` as ml-100k.zip with `md5Text` (default: its true MD5, BSD form) beside it. */
function _serveZip(zip: Uint8Array, md5Text?: string): Promise<_Server> {
  return _serve({
    "/datasets/movielens/ml-100k.zip": zip,
    "/datasets/movielens/ml-100k.zip.md5": md5Text ?? `MD5 (ml-100k.zip) = ${_md5(zip)}\n`,
  });
}

/** Every file and folder under `dir`, relative, sorted (folders end in `/`). */
async function _list(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(join(dir, prefix))) {
    const rel = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory) {
      out.push(`${rel}/`, ...(await _list(dir, rel)));
    } else {
      out.push(rel);
    }
  }
  return out.sort();
}

async function _withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ncf_download_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Awaits `promise`, expecting it to reject with a `ctor` whose message contains every part. */
async function _rejectsWith(
  promise: Promise<unknown>,
  ctor: new (...args: never[]) => Error,
  ...parts: string[]
): Promise<Error> {
  let error: unknown;
  try {
    await promise;
  } catch (err) {
    error = err;
  }
  assert.ok(error instanceof ctor, `expected a ${ctor.name}, got ${String(error)}`);
  for (const part of parts) {
    assert.ok(error.message.includes(part), `"${error.message}" does not mention "${part}"`);
  }
  return error;
}

const VALID_ZIP = zipSync({
  "ml-100k/": {},
  "ml-100k/u.data": U_DATA,
  "ml-100k/u.item": U_ITEM,
  "ml-100k/README": README,
});

Deno.test("downloadDataset() unpacks the zip to <dataDir>/<name>/<file> and returns the ratings path", async (t) => {
  const cases: { label: string; md5Text: string }[] = [
    { label: "BSD checksum line", md5Text: `MD5 (ml-100k.zip) = ${_md5(VALID_ZIP)}\n` },
    { label: "md5sum checksum line", md5Text: `${_md5(VALID_ZIP)}  ml-100k.zip\n` },
  ];
  for (const { label, md5Text } of cases) {
    await t.step(label, async () => {
      const server = await _serveZip(VALID_ZIP, md5Text);
      try {
        await _withTempDir(async (dir) => {
          const dataDir = join(dir, "data"); // created by downloadDataset
          const path = await downloadDataset("ml-100k", dataDir, { baseUrl: server.baseUrl });
          assert.equal(path, join(dataDir, "ml-100k", "u.data"));
          assert.deepEqual(await Deno.readFile(path), U_DATA);
          assert.deepEqual(await Deno.readFile(join(dataDir, "ml-100k", "u.item")), U_ITEM);
          assert.deepEqual(await Deno.readFile(join(dataDir, "ml-100k", "README")), README);
          // No temporary file and no zip left behind.
          assert.deepEqual(await _list(dataDir), [
            "ml-100k/",
            "ml-100k/README",
            "ml-100k/u.data",
            "ml-100k/u.item",
          ]);
          assert.deepEqual(server.requests.sort(), [
            "/datasets/movielens/ml-100k.zip",
            "/datasets/movielens/ml-100k.zip.md5",
          ]);
        });
      } finally {
        await server.close();
      }
    });
  }
});

Deno.test("downloadDataset() replaces files left by an earlier download", async () => {
  const server = await _serveZip(VALID_ZIP);
  try {
    await _withTempDir(async (dir) => {
      await Deno.mkdir(join(dir, "ml-100k"));
      await Deno.writeTextFile(join(dir, "ml-100k", "u.data"), "stale\n");
      const path = await downloadDataset("ml-100k", dir, { baseUrl: server.baseUrl.slice(0, -1) });
      assert.deepEqual(await Deno.readFile(path), U_DATA);
    });
  } finally {
    await server.close();
  }
});

Deno.test("downloadDataset() publishes the ratings file last, so a failed unpack leaves none", async () => {
  // u.data comes first in the zip; u.item cannot be published over a non-empty folder.
  const zip = zipSync({ "ml-100k/u.data": U_DATA, "ml-100k/u.item": U_ITEM });
  const server = await _serveZip(zip);
  try {
    await _withTempDir(async (dir) => {
      await Deno.mkdir(join(dir, "ml-100k", "u.item"), { recursive: true });
      await Deno.writeTextFile(join(dir, "ml-100k", "u.item", "x"), "x\n");
      await _rejectsWith(
        downloadDataset("ml-100k", dir, { baseUrl: server.baseUrl }),
        Error,
        `Cannot unpack ${server.baseUrl}ml-100k.zip to ${join(dir, "ml-100k", "u.item")}`,
      );
      assert.deepEqual(await _list(dir), ["ml-100k/", "ml-100k/u.item/", "ml-100k/u.item/x"]);
    });
  } finally {
    await server.close();
  }
});

Deno.test("downloadDataset() reports progress with increasing counts ending at the total", async () => {
  // An incompressible, stored (level 0) 600 kB entry, so the body arrives in several chunks.
  const filler = new Uint8Array(600_000);
  for (let i = 0; i < filler.length; i++) filler[i] = (Math.imul(i, 2654435761) >>> 24) & 0xff;
  const zip = zipSync({ "ml-100k/u.data": U_DATA, "ml-100k/filler.bin": filler }, { level: 0 });
  const server = await _serveZip(zip);
  try {
    await _withTempDir(async (dir) => {
      const calls: [number, number | undefined][] = [];
      await downloadDataset("ml-100k", dir, {
        baseUrl: server.baseUrl,
        onProgress: (received, total) => calls.push([received, total]),
      });
      assert.ok(calls.length >= 2, `expected several progress calls, got ${calls.length}`);
      for (let i = 1; i < calls.length; i++) assert.ok(calls[i][0] > calls[i - 1][0]);
      assert.ok(calls.every(([, total]) => total === zip.length));
      assert.equal(calls.at(-1)![0], zip.length);
      assert.deepEqual(await Deno.readFile(join(dir, "ml-100k", "filler.bin")), filler);
    });
  } finally {
    await server.close();
  }
});

Deno.test("downloadDataset() rejects a zip whose MD5 differs from the published one and leaves the folder as it was", async () => {
  const wrong = "0123456789abcdef0123456789abcdef";
  const server = await _serveZip(VALID_ZIP, `MD5 (ml-100k.zip) = ${wrong}\n`);
  try {
    await _withTempDir(async (dir) => {
      await Deno.writeTextFile(join(dir, "keep.txt"), "mine\n");
      await _rejectsWith(
        downloadDataset("ml-100k", dir, { baseUrl: server.baseUrl }),
        Error,
        `Cannot verify ${server.baseUrl}ml-100k.zip`,
        `MD5 is ${_md5(VALID_ZIP)}`,
        `GroupLens publishes ${wrong}`,
      );
      assert.deepEqual(await _list(dir), ["keep.txt"]);
    });
  } finally {
    await server.close();
  }
});

Deno.test("downloadDataset() names the zip and the missing entry when the zip holds no ratings file", async () => {
  const zip = zipSync({ "ml-100k/u.item": U_ITEM, "u.data": U_DATA });
  const server = await _serveZip(zip);
  try {
    await _withTempDir(async (dir) => {
      await _rejectsWith(
        downloadDataset("ml-100k", dir, { baseUrl: server.baseUrl }),
        Error,
        `${server.baseUrl}ml-100k.zip`,
        "ml-100k/u.data",
      );
      assert.deepEqual(await _list(dir), []);
    });
  } finally {
    await server.close();
  }
});

Deno.test("downloadDataset() refuses zip entries that point outside the data folder", async (t) => {
  for (const entry of ["../evil.txt", "ml-100k/../../evil.txt", "/evil.txt", "C:/evil.txt"]) {
    await t.step(entry, async () => {
      const zip = zipSync({ "ml-100k/u.data": U_DATA, [entry]: encoder.encode("evil\n") });
      const server = await _serveZip(zip);
      try {
        await _withTempDir(async (dir) => {
          const dataDir = join(dir, "a", "b");
          await _rejectsWith(
            downloadDataset("ml-100k", dataDir, { baseUrl: server.baseUrl }),
            Error,
            `Cannot unpack ${server.baseUrl}ml-100k.zip`,
            JSON.stringify(entry),
          );
          // Nothing unpacked anywhere, not even the safe entry.
          assert.deepEqual(await _list(dir), ["a/", "a/b/"]);
        });
      } finally {
        await server.close();
      }
    });
  }
});

Deno.test("downloadDataset() names the URL on an HTTP error", async (t) => {
  const zip = VALID_ZIP;
  const cases: { label: string; files: Record<string, Uint8Array | string>; missing: string }[] = [
    {
      label: "zip missing",
      files: { "/datasets/movielens/ml-100k.zip.md5": `${_md5(zip)}  ml-100k.zip\n` },
      missing: "ml-100k.zip",
    },
    {
      label: "checksum missing",
      files: { "/datasets/movielens/ml-100k.zip": zip },
      missing: "ml-100k.zip.md5",
    },
  ];
  for (const { label, files, missing } of cases) {
    await t.step(label, async () => {
      const server = await _serve(files);
      try {
        await _withTempDir(async (dir) => {
          await _rejectsWith(
            downloadDataset("ml-100k", dir, { baseUrl: server.baseUrl }),
            Error,
            `Cannot download ${server.baseUrl}${missing}: HTTP 404`,
          );
          assert.deepEqual(await _list(dir), []);
        });
      } finally {
        await server.close();
      }
    });
  }
});

Deno.test("downloadDataset() names the URL when the checksum file holds no digest", async () => {
  const server = await _serveZip(VALID_ZIP, "<html>moved</html>\n");
  try {
    await _withTempDir(async (dir) => {
      await _rejectsWith(
        downloadDataset("ml-100k", dir, { baseUrl: server.baseUrl }),
        SyntaxError,
        `${server.baseUrl}ml-100k.zip.md5`,
      );
      assert.deepEqual(server.requests, ["/datasets/movielens/ml-100k.zip.md5"]);
    });
  } finally {
    await server.close();
  }
});

Deno.test("downloadDataset() wraps a network error with the URL", async () => {
  const cause = new TypeError("connection refused");
  const failingFetch: typeof fetch = () => Promise.reject(cause);
  await _withTempDir(async (dir) => {
    const error = await _rejectsWith(
      downloadDataset("ml-1m", dir, { baseUrl: "http://127.0.0.1:9/", fetch: failingFetch }),
      Error,
      "Cannot download http://127.0.0.1:9/ml-1m.zip.md5",
      "connection refused",
    );
    assert.equal(error.cause, cause);
  });
});

Deno.test("downloadDataset() rethrows the abort reason and removes its temporary zip when aborted mid-download", async () => {
  const filler = new Uint8Array(600_000);
  for (let i = 0; i < filler.length; i++) filler[i] = (Math.imul(i, 2654435761) >>> 24) & 0xff;
  const zip = zipSync({ "ml-100k/u.data": U_DATA, "ml-100k/filler.bin": filler }, { level: 0 });
  const server = await _serveZip(zip);
  try {
    await _withTempDir(async (dir) => {
      const controller = new AbortController();
      const reason = new DOMException("stop", "AbortError");
      let error: unknown;
      try {
        await downloadDataset("ml-100k", dir, {
          baseUrl: server.baseUrl,
          signal: controller.signal,
          onProgress: () => controller.abort(reason),
        });
      } catch (err) {
        error = err;
      }
      assert.equal(error, reason);
      assert.deepEqual(await _list(dir), []);
    });
  } finally {
    await server.close();
  }
});

Deno.test("downloadDataset() rejects an unknown data set name as a dataset setting", async () => {
  await _withTempDir(async (dir) => {
    const error = await _rejectsWith(
      downloadDataset("ml-10m" as MovieLensName, dir, { fetch: () => Promise.reject(new Error()) }),
      SettingError,
      'Cannot download data set "ml-10m": unknown',
      "ml-latest-small",
    );
    assert.equal((error as SettingError).setting, "dataset");
    assert.ok(!error.message.includes("--"), error.message);
  });
});

Deno.test("parseMd5File() reads the digest from BSD and md5sum lines and rejects junk", async (t) => {
  const digest = "c4d9eecfca2ab87c1945afe126590906";
  const valid: [string, string][] = [
    ["BSD form", `MD5 (ml-1m.zip) = ${digest}\n`],
    ["md5sum form", `${digest}  ml-1m.zip\n`],
    ["md5sum binary form", `${digest} *ml-1m.zip`],
    ["bare digest", `${digest}`],
    ["upper case, CRLF, after a blank line", `\r\nMD5 (ml-1m.zip) = ${digest.toUpperCase()}\r\n`],
  ];
  for (const [label, text] of valid) {
    await t.step(label, () => assert.equal(parseMd5File(text), digest));
  }
  const junk: [string, string][] = [
    ["empty", ""],
    ["HTML", "<html><body>Not Found</body></html>"],
    ["31 hex digits", `MD5 (ml-1m.zip) = ${digest.slice(1)}`],
    ["33 hex digits", `${digest}0  ml-1m.zip`],
    ["non-hex digit", `${digest.slice(1)}g  ml-1m.zip`],
  ];
  for (const [label, text] of junk) {
    await t.step(`${label} throws SyntaxError`, () => {
      assert.throws(() => parseMd5File(text), SyntaxError);
    });
  }
});

Deno.test("formatProgress() prints megabytes and a rounded-down percentage", async (t) => {
  const cases: [number, number | undefined, string | undefined, string][] = [
    [12_300_000, 24_600_000, "ml-1m.zip", "ml-1m.zip  12.3 / 24.6 MB  50%"],
    [0, 5_917_549, "ml-1m.zip", "ml-1m.zip  0.0 / 5.9 MB  0%"],
    [5_917_548, 5_917_549, undefined, "5.9 / 5.9 MB  99%"],
    [5_917_549, 5_917_549, undefined, "5.9 / 5.9 MB  100%"],
    [1_500_000, undefined, "ml-20m.zip", "ml-20m.zip  1.5 MB"],
    [0, 0, undefined, "0.0 / 0.0 MB  100%"],
  ];
  for (const [received, total, label, expected] of cases) {
    await t.step(
      expected,
      () => assert.equal(formatProgress(received, total, { label }), expected),
    );
  }
  await t.step("a negative count throws RangeError", () => {
    assert.throws(() => formatProgress(-1, 10), RangeError);
    assert.throws(() => formatProgress(1, Number.NaN), RangeError);
  });
});
