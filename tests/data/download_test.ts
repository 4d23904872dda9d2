import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { zipSync } from "fflate";
import { SettingError } from "../../lib/errors.ts";
import {
  DOWNLOAD_DEFAULTS,
  downloadDataset,
  type DownloadOptions,
  type DownloadRetry,
  formatProgress,
  formatRetry,
  parseMd5File,
} from "../../lib/data/download.ts";
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

/** A served file: its bytes or text, or a function answering each request (a flaky server). */
type _Body = Uint8Array | string | (() => Response);

async function _serve(files: Record<string, _Body>): Promise<_Server> {
  const requests: string[] = [];
  const { promise: listening, resolve } = Promise.withResolvers<number>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: ({ port }) => resolve(port) },
    (request) => {
      const path = new URL(request.url).pathname;
      requests.push(path);
      const body = files[path];
      if (body === undefined) return new Response("not found", { status: 404 });
      if (typeof body === "function") return body();
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
      // A complete body that fails its checksum is not downloaded again.
      assert.equal(server.requests.filter((r) => r.endsWith(".zip")).length, 1);
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
  const cases: { label: string; files: Record<string, _Body>; missing: string }[] = [
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

Deno.test("downloadDataset() wraps a network error with the URL and keeps it as the cause", async () => {
  const cause = new TypeError("connection refused");
  const failingFetch: typeof fetch = () => Promise.reject(cause);
  const delays: number[] = [];
  await _withTempDir(async (dir) => {
    const error = await _rejectsWith(
      downloadDataset("ml-1m", dir, {
        baseUrl: "http://127.0.0.1:9/",
        fetch: failingFetch,
        sleep: _recordingSleep(delays),
      }),
      Error,
      "Cannot download http://127.0.0.1:9/ml-1m.zip.md5: connection refused (gave up after 4 attempts)",
    );
    assert.equal(error.cause, cause);
    assert.deepEqual(delays, [1000, 2000, 4000]);
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

// --- Timeouts, retries and causes -------------------------------------------------------------

/** A `sleep` that records each delay (ms) and returns at once, so backoff costs no time. */
function _recordingSleep(delays: number[]): NonNullable<DownloadOptions["sleep"]> {
  return (ms) => {
    delays.push(ms);
    return Promise.resolve();
  };
}

/** A bare TCP server on 127.0.0.1 for what Deno.serve cannot do: never answer, stall, cut a body. */
interface _RawServer {
  baseUrl: string;
  /** The path of every request, in order. */
  paths: string[];
  /** Closes the listener and every connection (a hanging `respond` returns). */
  close(): Promise<void>;
}

/**
 * Accepts connections, reads one request from each and lets `respond` write
 * to it; `closed` settles when the server closes (a handler awaits it to hang).
 * The connection is closed when `respond` returns.
 */
function _rawServe(
  respond: (path: string, conn: Deno.Conn, closed: Promise<void>) => Promise<void>,
): _RawServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const paths: string[] = [];
  const closing = Promise.withResolvers<void>();
  const handlers: Promise<void>[] = [];
  const handle = async (conn: Deno.Conn) => {
    try {
      const path = await _readRequestPath(conn);
      if (path !== undefined) {
        paths.push(path);
        await respond(path, conn, closing.promise);
      }
    } catch {
      // The client went away (it timed out or aborted): nothing to answer.
    } finally {
      conn.close();
    }
  };
  const accepting = (async () => {
    try {
      for await (const conn of listener) handlers.push(handle(conn));
    } catch {
      // The listener was closed.
    }
  })();
  return {
    baseUrl: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/`,
    paths,
    async close() {
      closing.resolve();
      listener.close();
      await accepting;
      await Promise.all(handlers);
    },
  };
}

/** Reads a request's head and returns its path, or `undefined` when the client hangs up. */
async function _readRequestPath(conn: Deno.Conn): Promise<string | undefined> {
  const buffer = new Uint8Array(4096);
  const decoder = new TextDecoder();
  let head = "";
  while (!head.includes("\r\n\r\n")) {
    const n = await conn.read(buffer);
    if (n === null) return undefined;
    head += decoder.decode(buffer.subarray(0, n), { stream: true });
  }
  return head.split(" ")[1];
}

/** Writes a 200 response head announcing `length` body bytes, then `body` (possibly fewer). */
async function _writeResponse(conn: Deno.Conn, length: number, body: Uint8Array): Promise<void> {
  const head = encoder.encode(
    `HTTP/1.1 200 OK\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`,
  );
  for (const bytes of [head, body]) {
    let offset = 0;
    while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
  }
}

const VALID_MD5 = encoder.encode(`MD5 (ml-100k.zip) = ${_md5(VALID_ZIP)}\n`);

/** The milliseconds `fn` took. */
async function _elapsedMs(fn: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

Deno.test("downloadDataset() gives up on a server that accepts and never answers after the connect timeout", async (t) => {
  const cases: { retries: number; suffix: string; connections: number; delays: number[] }[] = [
    { retries: 0, suffix: "", connections: 1, delays: [] },
    { retries: 1, suffix: " (gave up after 2 attempts)", connections: 2, delays: [1000] },
  ];
  for (const { retries, suffix, connections, delays } of cases) {
    await t.step(`${retries} retries`, async () => {
      const server = _rawServe((_path, _conn, closed) => closed);
      const slept: number[] = [];
      try {
        await _withTempDir(async (dir) => {
          const ms = await _elapsedMs(async () => {
            const error = await _rejectsWith(
              downloadDataset("ml-100k", dir, {
                baseUrl: server.baseUrl,
                connectTimeoutSeconds: 0.2,
                retries,
                sleep: _recordingSleep(slept),
              }),
              Error,
              `Cannot download ${server.baseUrl}ml-100k.zip.md5: no response headers within 0.2 s${suffix}`,
            );
            assert.ok(!error.message.includes("--"), error.message);
          });
          assert.ok(ms >= 190 * connections && ms < 5000, `took ${ms} ms`);
          assert.equal(server.paths.length, connections);
          assert.deepEqual(slept, delays);
        });
      } finally {
        await server.close();
      }
    });
  }
});

Deno.test("downloadDataset() gives up on a body that stalls after the idle timeout and removes the partial zip", async () => {
  const server = _rawServe(async (path, conn, closed) => {
    if (path.endsWith(".md5")) return await _writeResponse(conn, VALID_MD5.length, VALID_MD5);
    await _writeResponse(conn, VALID_ZIP.length, VALID_ZIP.subarray(0, 100));
    await closed; // the rest never comes
  });
  try {
    await _withTempDir(async (dir) => {
      const received: number[] = [];
      const ms = await _elapsedMs(async () => {
        await _rejectsWith(
          downloadDataset("ml-100k", dir, {
            baseUrl: server.baseUrl,
            idleTimeoutSeconds: 0.2,
            retries: 0,
            onProgress: (n) => received.push(n),
          }),
          Error,
          `Cannot download ${server.baseUrl}ml-100k.zip: no data for 0.2 s`,
        );
      });
      assert.ok(ms >= 190 && ms < 5000, `took ${ms} ms`);
      assert.deepEqual(received, [100]);
      assert.deepEqual(await _list(dir), []);
    });
  } finally {
    await server.close();
  }
});

Deno.test("downloadDataset() times out a fetch that ignores its abort signal", async (t) => {
  const cases: { label: string; fetch: typeof fetch; options: DownloadOptions; cause: string }[] = [
    {
      label: "no response",
      fetch: () => new Promise<Response>(() => {}),
      options: { connectTimeoutSeconds: 0.05 },
      cause: "no response headers within 0.05 s",
    },
    {
      label: "a body that never ends",
      fetch: () =>
        Promise.resolve(
          new Response(new ReadableStream({ start: (c) => c.enqueue(encoder.encode("MD5")) })),
        ),
      options: { idleTimeoutSeconds: 0.05 },
      cause: "no data for 0.05 s",
    },
  ];
  for (const { label, fetch, options, cause } of cases) {
    await t.step(label, async () => {
      await _withTempDir(async (dir) => {
        await _rejectsWith(
          downloadDataset("ml-1m", dir, {
            ...options,
            baseUrl: "http://x.test/",
            fetch,
            retries: 0,
          }),
          Error,
          `Cannot download http://x.test/ml-1m.zip.md5: ${cause}`,
        );
      });
    });
  }
});

Deno.test("downloadDataset() retries transient HTTP statuses after the backoff or Retry-After", async (t) => {
  const cases: {
    label: string;
    failures: { status: number; retryAfter?: string }[];
    options?: DownloadOptions;
    delays: number[];
    error?: string;
  }[] = [
    { label: "503 twice", failures: [{ status: 503 }, { status: 503 }], delays: [1000, 2000] },
    { label: "408 once", failures: [{ status: 408 }], delays: [1000] },
    {
      label: "429 with Retry-After: 7",
      failures: [{ status: 429, retryAfter: "7" }],
      delays: [7000],
    },
    {
      label: "502 with an HTTP-date Retry-After in the past",
      failures: [{ status: 502, retryAfter: "Wed, 21 Oct 2015 07:28:00 GMT" }],
      delays: [0],
    },
    {
      label: "500 more often than the retries allow",
      failures: [{ status: 500 }, { status: 500 }, { status: 500 }],
      options: { retries: 2 },
      delays: [1000, 2000],
      error: "HTTP 500 (gave up after 3 attempts)",
    },
    {
      label: "backoff doubles up to its cap",
      failures: Array.from({ length: 6 }, () => ({ status: 503 })),
      options: { retries: 5, backoffSeconds: 0.5, maxBackoffSeconds: 3 },
      delays: [500, 1000, 2000, 3000, 3000],
      error: "HTTP 503 (gave up after 6 attempts)",
    },
    {
      label: "Retry-After longer than allowed fails at once",
      failures: [{ status: 503, retryAfter: "3600" }],
      delays: [],
      error: "HTTP 503, the server asks to retry after 3600 s",
    },
    { label: "404 fails at once", failures: [{ status: 404 }], delays: [], error: "HTTP 404" },
    { label: "403 fails at once", failures: [{ status: 403 }], delays: [], error: "HTTP 403" },
  ];
  for (const { label, failures, options, delays, error } of cases) {
    await t.step(label, async () => {
      let served = 0;
      const server = await _serve({
        "/datasets/movielens/ml-100k.zip": () => {
          const failure = failures[served++];
          if (failure === undefined) return new Response(VALID_ZIP.slice());
          const headers: Record<string, string> = failure.retryAfter === undefined
            ? {}
            : { "retry-after": failure.retryAfter };
          return new Response("busy", { status: failure.status, headers });
        },
        "/datasets/movielens/ml-100k.zip.md5": VALID_MD5.slice(),
      });
      const slept: number[] = [];
      const retries: DownloadRetry[] = [];
      try {
        await _withTempDir(async (dir) => {
          const download = downloadDataset("ml-100k", dir, {
            ...options,
            baseUrl: server.baseUrl,
            sleep: _recordingSleep(slept),
            onRetry: (retry) => retries.push(retry),
          });
          if (error === undefined) {
            assert.deepEqual(await Deno.readFile(await download), U_DATA);
          } else {
            await _rejectsWith(
              download,
              Error,
              `Cannot download ${server.baseUrl}ml-100k.zip: ${error}`,
            );
            assert.deepEqual(await _list(dir), []);
          }
          const zipUrl = `${server.baseUrl}ml-100k.zip`;
          const attempts = (options?.retries ?? DOWNLOAD_DEFAULTS.retries) + 1;
          assert.deepEqual(slept, delays);
          assert.deepEqual(
            retries,
            delays.map((ms, i) => ({
              url: zipUrl,
              attempt: i + 2,
              attempts,
              delaySeconds: ms / 1000,
              cause: `HTTP ${failures[i].status}`,
            })),
          );
          const zipRequests = server.requests.filter((r) => r.endsWith(".zip")).length;
          assert.equal(zipRequests, error === undefined ? failures.length + 1 : delays.length + 1);
        });
      } finally {
        await server.close();
      }
    });
  }
});

Deno.test("downloadDataset() downloads a zip again from its start after a cut or short body", async (t) => {
  await t.step("the server closes the connection mid-body", async () => {
    let zipRequests = 0;
    const server = _rawServe(async (path, conn) => {
      if (path.endsWith(".md5")) return await _writeResponse(conn, VALID_MD5.length, VALID_MD5);
      const first = zipRequests++ === 0;
      await _writeResponse(conn, VALID_ZIP.length, first ? VALID_ZIP.subarray(0, 100) : VALID_ZIP);
    });
    const slept: number[] = [];
    try {
      await _withTempDir(async (dir) => {
        const path = await downloadDataset("ml-100k", dir, {
          baseUrl: server.baseUrl,
          sleep: _recordingSleep(slept),
        });
        assert.deepEqual(await Deno.readFile(path), U_DATA);
        assert.deepEqual(slept, [1000]);
        assert.equal(zipRequests, 2);
      });
    } finally {
      await server.close();
    }
  });
  await t.step("the body is shorter than its content-length", async () => {
    let zipRequests = 0;
    const fakeFetch: typeof fetch = (input) => {
      if (String(input).endsWith(".md5")) return Promise.resolve(new Response(VALID_MD5.slice()));
      const first = zipRequests++ === 0;
      const body = first ? VALID_ZIP.slice(0, 100) : VALID_ZIP.slice();
      return Promise.resolve(
        new Response(body, { headers: { "content-length": String(VALID_ZIP.length) } }),
      );
    };
    const causes: string[] = [];
    await _withTempDir(async (dir) => {
      const path = await downloadDataset("ml-100k", dir, {
        baseUrl: "http://x.test/",
        fetch: fakeFetch,
        sleep: _recordingSleep([]),
        onRetry: (retry) => causes.push(retry.cause),
      });
      assert.deepEqual(await Deno.readFile(path), U_DATA);
      assert.deepEqual(causes, [`received 100 of ${VALID_ZIP.length} bytes`]);
    });
  });
});

Deno.test("downloadDataset() names the real cause of a refused connection", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close(); // nothing listens there now
  const slept: number[] = [];
  await _withTempDir(async (dir) => {
    const error = await _rejectsWith(
      downloadDataset("ml-100k", dir, {
        baseUrl: `http://127.0.0.1:${port}/`,
        retries: 1,
        sleep: _recordingSleep(slept),
      }),
      Error,
      `Cannot download http://127.0.0.1:${port}/ml-100k.zip.md5: `,
      "(gave up after 2 attempts)",
    );
    assert.match(error.message, /connection refused/i);
    assert.ok(!error.message.includes("fetch failed"), error.message);
    assert.ok(!error.message.includes("error sending request"), error.message);
    assert.deepEqual(slept, [1000]);
  });
});

Deno.test("downloadDataset() stops at once with the abort reason while it waits", async (t) => {
  const busy = () => new Response("busy", { status: 503 });
  const cases: {
    label: string;
    start: () => Promise<_Server | _RawServer>;
    abortAfterMs: number;
  }[] = [
    {
      label: "during a backoff wait",
      start: () => _serve({ "/datasets/movielens/ml-100k.zip.md5": busy }),
      abortAfterMs: 100,
    },
    {
      label: "for response headers",
      start: () => Promise.resolve(_rawServe((_path, _conn, closed) => closed)),
      abortAfterMs: 100,
    },
    {
      label: "for a stalled body",
      start: () =>
        Promise.resolve(_rawServe(async (_path, conn, closed) => {
          await _writeResponse(conn, 1000, encoder.encode("MD5 (ml-100k.zip) = "));
          await closed;
        })),
      abortAfterMs: 100,
    },
  ];
  for (const { label, start, abortAfterMs } of cases) {
    await t.step(label, async () => {
      const server = await start();
      const controller = new AbortController();
      const reason = new DOMException("stop", "AbortError");
      const timer = setTimeout(() => controller.abort(reason), abortAfterMs);
      try {
        await _withTempDir(async (dir) => {
          let error: unknown;
          const ms = await _elapsedMs(async () => {
            try {
              await downloadDataset("ml-100k", dir, {
                baseUrl: server.baseUrl,
                signal: controller.signal,
                backoffSeconds: 30,
                connectTimeoutSeconds: 30,
                idleTimeoutSeconds: 30,
              });
            } catch (err) {
              error = err;
            }
          });
          assert.equal(error, reason);
          assert.ok(ms < 3000, `took ${ms} ms`);
          assert.deepEqual(await _list(dir), []);
        });
      } finally {
        clearTimeout(timer);
        await server.close();
      }
    });
  }
});

Deno.test("downloadDataset() rejects timeouts, retries and base URLs that cannot work, naming the setting", async (t) => {
  const cases: { label: string; options: DownloadOptions; setting: string }[] = [
    { label: "negative retries", options: { retries: -1 }, setting: "download_retries" },
    { label: "fractional retries", options: { retries: 1.5 }, setting: "download_retries" },
    {
      label: "negative connect timeout",
      options: { connectTimeoutSeconds: -1 },
      setting: "download_connect_timeout",
    },
    {
      label: "NaN connect timeout",
      options: { connectTimeoutSeconds: Number.NaN },
      setting: "download_connect_timeout",
    },
    {
      label: "negative idle timeout",
      options: { idleTimeoutSeconds: -0.5 },
      setting: "download_idle_timeout",
    },
    { label: "ftp base URL", options: { baseUrl: "ftp://example.org/" }, setting: "download_url" },
    { label: "not a URL", options: { baseUrl: "files/movielens" }, setting: "download_url" },
  ];
  for (const { label, options, setting } of cases) {
    await t.step(label, async () => {
      let fetched = 0;
      const countingFetch: typeof fetch = () => {
        fetched++;
        return Promise.reject(new Error("unexpected fetch"));
      };
      await _withTempDir(async (dir) => {
        const error = await _rejectsWith(
          downloadDataset("ml-100k", dir, { ...options, fetch: countingFetch }),
          SettingError,
          "Cannot download",
        );
        assert.equal((error as SettingError).setting, setting);
        assert.ok(!error.message.includes("--"), error.message);
        assert.equal(fetched, 0);
      });
    });
  }
});

Deno.test("formatRetry() names the URL, the delay, the attempt and the cause", async (t) => {
  const url = "https://files.grouplens.org/datasets/movielens/ml-1m.zip";
  const cases: [DownloadRetry, string][] = [
    [
      { url, attempt: 2, attempts: 4, delaySeconds: 1, cause: "HTTP 503" },
      `retrying ${url} in 1 s (attempt 2/4): HTTP 503`,
    ],
    [
      { url, attempt: 4, attempts: 4, delaySeconds: 0.25, cause: "no data for 60 s" },
      `retrying ${url} in 0.25 s (attempt 4/4): no data for 60 s`,
    ],
  ];
  for (const [retry, expected] of cases) {
    await t.step(expected, () => assert.equal(formatRetry(retry), expected));
  }
});
