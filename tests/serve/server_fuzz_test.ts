import assert from "node:assert/strict";
import fc from "fast-check";
import { join } from "node:path";
import {
  ITEMS,
  saveSmallModel,
  smallDataset,
  STRING_ITEM_IDS,
  STRING_USER_IDS,
  USERS,
} from "./_model_fixture.ts";
import { type RunningServer, startServer } from "../../lib/serve/server.ts";
import { MAX_BODY_BYTES } from "../../lib/serve/api_request.ts";

/** Fixed seed of every property here; fast-check's failure message repeats it with the path. */
const SEED = 20_261_214;

/** Ids the served model knows. */
interface KnownIds {
  users: readonly (string | number)[];
  items: readonly (string | number)[];
}

/** What a route's valid request body holds. */
type BodyKind = "recommendations" | "scores" | undefined;

/**
 * Path templates with the method they answer (and, for POST routes, what
 * their body holds): the API's routes and the page's, `{id}` a random
 * segment. Generic on purpose: routes added later are reached by the random
 * paths and methods too.
 */
const TEMPLATES: [string, string, BodyKind][] = [
  ["GET", "/", undefined],
  ["GET", "/healthz", undefined],
  ["GET", "/metrics", undefined],
  ["GET", "/v1/users/{user}/recommendations", undefined],
  ["POST", "/v1/recommendations", "recommendations"],
  ["POST", "/v1/scores", "scores"],
  ["GET", "/v1/items/{item}/similar", undefined],
  ["GET", "/v1/users/{user}", undefined],
  ["GET", "/v1/items/{item}", undefined],
  ["GET", "/v1/items", undefined],
  ["GET", "/v1/training", undefined],
  ["GET", "/assets/{id}", undefined],
  ["GET", "/assets/{id}/{id}", undefined],
  ["POST", "/v1/{id}", "recommendations"],
  ["GET", "/{id}", undefined],
];

const METHODS = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "BREW"];

/** Segments that reach other files than the page's: their text must never come back. */
const TRAVERSALS = [
  "..",
  "%2e%2e",
  ".%2E",
  "..%2f..%2fdeno.json",
  "..%2F..%2F..%2Fdeno.json",
  "%2e%2e%2f%2e%2e%2f%2e%2e%2fdeno.json",
  "..%5c..%5c..%5cdeno.json",
  "..%2fserver.ts",
  "..%2f..%2fserve%2fserver.ts",
  "%2Fetc%2Fpasswd",
  "..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
];

/** Texts of files outside the page's assets (deno.json, server.ts, /etc/passwd). */
const LEAKS = [/"@ncf\/ncf"/, /export async function startServer/, /^root:.*:0:0:/m];

/** A path segment: damage, encodings, unicode, raw bytes, very long ones. */
const segment: fc.Arbitrary<string> = fc.oneof(
  {
    arbitrary: fc.constantFrom(
      "-1",
      "0",
      "1e3",
      "100.0",
      "9007199254740993",
      "app.js",
      "style.css",
    ),
    weight: 3,
  },
  { arbitrary: fc.constantFrom(...TRAVERSALS), weight: 2 },
  {
    arbitrary: fc.constantFrom("", ".", "%", "%zz", "%E0%A4%A", "%C3%28", "%00", "%2F", "%FF", "~"),
    weight: 2,
  },
  { arbitrary: fc.string({ unit: "grapheme", maxLength: 12 }).map(encodeURIComponent), weight: 2 },
  // Raw, unencoded text (line breaks left out: they would end the request line).
  {
    arbitrary: fc.string({ unit: "binary", maxLength: 8 }).map((s) => s.replace(/[\r\n]/g, "")),
    weight: 1,
  },
  { arbitrary: fc.integer().map(String), weight: 1 },
  { arbitrary: fc.integer({ min: 256, max: 20_000 }).map((n) => "x".repeat(n)), weight: 1 },
);

/** A segment for `{user}`, `{item}` or `{id}`: mostly an id the model knows. */
function idSegment(known: KnownIds, kind: "user" | "item" | "id"): fc.Arbitrary<string> {
  const ids = kind === "user" ? known.users : kind === "item" ? known.items : [
    ...known.users,
    ...known.items,
  ];
  return fc.oneof(
    { arbitrary: fc.constantFrom(...ids).map((id) => encodeURIComponent(String(id))), weight: 3 },
    { arbitrary: segment, weight: 2 },
  );
}

/** A query string: mostly parameters the API knows, with good or bad values. */
const query: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constant(""), weight: 6 },
  {
    arbitrary: fc.tuple(
      fc.constantFrom("", "k=1", "k=10", "k=12", "k=1000", "k=0", "k=x"),
      fc.constantFrom("", "exclude_seen=true", "exclude_seen=false", "exclude_seen=1"),
    ).map(([k, e]) => "?" + [k, e].filter((p) => p !== "").join("&")),
    weight: 3,
  },
  {
    arbitrary: fc.array(
      fc.tuple(
        fc.oneof(
          fc.constantFrom("k", "exclude_seen", "q", "limit", "", "K", "k[]"),
          fc.string({ maxLength: 6 }).map(encodeURIComponent),
        ),
        fc.oneof(
          fc.constantFrom(
            "10",
            "-1",
            "1001",
            "1e3",
            "0x10",
            "%2010",
            "0000010",
            "99999999999999999999",
            "maybe",
            "",
            "%",
            "%E0",
          ),
          fc.string({ unit: "grapheme", maxLength: 10 }).map(encodeURIComponent),
        ),
      ),
      { minLength: 1, maxLength: 4 },
    ).map((pairs) => "?" + pairs.map(([k, v]) => `${k}=${v}`).join("&")),
    weight: 2,
  },
  {
    arbitrary: fc.string({ unit: "binary", maxLength: 20 }).map((s) =>
      "?" + s.replace(/[\r\n# ]/g, "")
    ),
    weight: 1,
  },
);

/** A body's text or bytes; "huge" bodies are above 1 MiB. */
type Body =
  | { kind: "none" }
  | { kind: "text"; text: string }
  | { kind: "bytes"; bytes: Uint8Array }
  | { kind: "huge"; text: string };

const DEEP = 200_000;
const HUGE_BODIES = [
  JSON.stringify({ items: [200], k: 1, pad: "x".repeat(MAX_BODY_BYTES + 10) }),
  "[".repeat(MAX_BODY_BYTES + 1),
  JSON.stringify({ items: Array.from({ length: 200_000 }, (_, i) => 200 + (i % 12)) }),
];

const json = (value: unknown): Body => ({ kind: "text", text: JSON.stringify(value) });

/** A body for a route whose valid body is `kind`: mostly valid, else damaged or random. */
function body(known: KnownIds, kind: BodyKind): fc.Arbitrary<Body> {
  const user = fc.constantFrom(...known.users);
  const items = fc.array(fc.constantFrom(...known.items), { minLength: 1, maxLength: 5 });
  /** An id, known, unknown, or of a wrong kind. */
  const anyId = fc.oneof(
    fc.constantFrom(...known.users, ...known.items),
    fc.integer({ min: -5, max: 300 }),
    fc.constantFrom(1.5, -0, 1e300, 2 ** 53, null, true, [], {}, [200], { id: 200 }),
    fc.string({ maxLength: 8 }),
  );
  const valid = kind === "scores"
    ? fc.record({ user, items }).map(json)
    : fc.record({ items, k: fc.integer({ min: 1, max: 20 }) }, { requiredKeys: ["items"] }).map(
      json,
    );
  return fc.oneof(
    { arbitrary: valid, weight: kind === undefined ? 0 : 8 },
    { arbitrary: fc.constant<Body>({ kind: "none" }), weight: kind === undefined ? 6 : 1 },
    // Close to the API's: known fields with good and bad values, sometimes another field.
    {
      arbitrary: fc.record({
        items: fc.oneof(
          fc.array(anyId, { maxLength: 6 }),
          fc.array(fc.constant(known.items[1]), { minLength: 999, maxLength: 1002 }),
          fc.jsonValue({ maxDepth: 2 }),
        ),
        k: fc.oneof(fc.integer({ min: -2, max: 1002 }), fc.jsonValue({ maxDepth: 1 })),
        user: anyId,
        extra: fc.jsonValue({ maxDepth: 1 }),
      }, { requiredKeys: [] }).map(json),
      weight: 4,
    },
    { arbitrary: fc.jsonValue({ maxDepth: 3 }).map(json), weight: 1 },
    {
      arbitrary: fc.string({ maxLength: 40 }).map((text): Body => ({ kind: "text", text })),
      weight: 1,
    },
    {
      arbitrary: fc.constantFrom(
        "",
        "{",
        '{"items": [200,]}',
        '{"items": [200]} trailing',
        '{"__proto__": {"items": [200]}}',
        '{"items": [200], "items": [201]}',
        '{"constructor": 1}',
        `{"items": ${"[".repeat(DEEP)}${"]".repeat(DEEP)}}`,
        `{"items": [200], "k": ${"[".repeat(DEEP)}${"]".repeat(DEEP)}}`,
        `{"user": ${'{"a":'.repeat(DEEP / 4)}1${"}".repeat(DEEP / 4)}, "items": [200]}`,
        "\uFEFF{}",
      ).map((text): Body => ({ kind: "text", text })),
      weight: 1,
    },
    // Bytes that are not UTF-8.
    {
      arbitrary: fc.uint8Array({ maxLength: 32 }).map((b): Body => ({
        kind: "bytes",
        bytes: Uint8Array.of(0x7b, 0xff, ...b),
      })),
      weight: 1,
    },
    {
      arbitrary: fc.constantFrom(...HUGE_BODIES).map((text): Body => ({ kind: "huge", text })),
      weight: 1,
    },
  );
}

const CONTENT_TYPES = [
  undefined,
  "application/json",
  "application/json; charset=utf-8",
  "text/plain",
  "multipart/form-data; boundary=x",
  "application/x-www-form-urlencoded",
  "application/octet-stream",
  "",
  "garbage",
];

/** One random request. */
interface Fuzzed {
  method: string;
  target: string;
  body: Body;
  contentType: string | undefined;
  /** A content-length header above 1 MiB on a small body. */
  lyingLength: boolean;
}

/**
 * Random requests: mostly a route's template filled in (ids the model
 * knows, or damage), with its method and a body for it; sometimes another
 * method, or random segments.
 */
function fuzzedRequest(known: KnownIds): fc.Arbitrary<Fuzzed> {
  const fromTemplate = fc.constantFrom(...TEMPLATES).chain(([method, template, kind]) => {
    const holes = [...template.matchAll(/\{(user|item|id)\}/g)].map((m) =>
      idSegment(known, m[1] as "user" | "item" | "id")
    );
    return fc.record({
      method: fc.oneof(
        { arbitrary: fc.constant(method), weight: 4 },
        { arbitrary: fc.constantFrom(...METHODS), weight: 1 },
      ),
      path: fc.tuple(...holes).map((ids) => {
        let n = 0;
        return template.replace(/\{(user|item|id)\}/g, () => ids[n++]);
      }),
      body: body(known, kind),
    });
  });
  const random = fc.record({
    method: fc.constantFrom(...METHODS),
    path: fc.array(segment, { maxLength: 6 }).map((segments) => "/" + segments.join("/")),
    body: body(known, undefined),
  });
  return fc.record({
    request: fc.oneof({ arbitrary: fromTemplate, weight: 6 }, { arbitrary: random, weight: 1 }),
    query,
    contentType: fc.constantFrom(...CONTENT_TYPES),
    lyingLength: fc.oneof(
      { arbitrary: fc.constant(false), weight: 15 },
      { arbitrary: fc.constant(true), weight: 1 },
    ),
  }).map(({ request: { method, path, body }, query, ...rest }) => ({
    method,
    target: path + query,
    body,
    ...rest,
  }));
}

/** A response as read off the socket. */
interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: Uint8Array;
}

const encoder = new TextEncoder();

/**
 * Sends one HTTP/1.1 request exactly as given (the target unnormalised,
 * any method and body) and reads the whole answer (`connection: close`).
 */
async function sendRaw(
  port: number,
  r: { method: string; target: string; headers: [string, string][]; body?: Uint8Array | undefined },
): Promise<RawResponse> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), 10_000);
  try {
    const head = [
      `${r.method} ${r.target} HTTP/1.1`,
      `host: 127.0.0.1:${port}`,
      "connection: close",
      ...r.headers.map(([name, value]) => `${name}: ${value}`),
      "",
      "",
    ].join("\r\n");
    const bytes = _concat([encoder.encode(head), r.body ?? new Uint8Array(0)]);
    for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
    // Read until the answer is complete, not until the connection ends: a
    // server still waiting for a body it was promised may keep it open.
    let received: Uint8Array = new Uint8Array(0);
    const buffer = new Uint8Array(1 << 16);
    for (;;) {
      const n = await conn.read(buffer).catch((e) => {
        throw new Error(
          `no complete answer within 10 s (${e}); got ${
            JSON.stringify(new TextDecoder().decode(received.subarray(0, 300)))
          }`,
        );
      });
      if (n === null) break;
      received = _concat([received, buffer.subarray(0, n)]);
      if (_complete(received, r.method === "HEAD")) break;
    }
    return _parseResponse(received, r.method === "HEAD");
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
}

function _concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Whether `bytes` hold a whole answer: its head, and its body as its head describes it. */
function _complete(bytes: Uint8Array, head: boolean): boolean {
  const text = new TextDecoder("latin1").decode(bytes);
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return false;
  if (head) return true;
  const length = text.slice(0, end).match(/\r\ncontent-length: *(\d+)/i);
  if (length !== null) return bytes.length - (end + 4) >= Number(length[1]);
  if (/\r\ntransfer-encoding: *chunked/i.test(text.slice(0, end))) {
    return text.endsWith("\r\n0\r\n\r\n");
  }
  return false;
}

/** The status, headers and body (de-chunked) of an HTTP/1.1 answer (no body to a HEAD request). */
function _parseResponse(bytes: Uint8Array, head: boolean): RawResponse {
  const text = new TextDecoder("latin1").decode(bytes);
  const end = text.indexOf("\r\n\r\n");
  assert.ok(end >= 0, `an answer with a head; got ${JSON.stringify(text.slice(0, 200))}`);
  const [statusLine, ...lines] = text.slice(0, end).split("\r\n");
  const m = statusLine.match(/^HTTP\/1\.1 (\d{3})/);
  assert.ok(m !== null, `a status line; got ${JSON.stringify(statusLine)}`);
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  let body = head ? new Uint8Array(0) : bytes.subarray(end + 4);
  if (!head && headers.get("transfer-encoding")?.includes("chunked")) {
    const parts: Uint8Array[] = [];
    let at = 0;
    for (;;) {
      const lineEnd = _indexOfCrlf(body, at);
      const size = parseInt(new TextDecoder().decode(body.subarray(at, lineEnd)), 16);
      if (!(size > 0)) break;
      parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
    body = _concat(parts);
  }
  return { status: Number(m[1]), headers, body };
}

function _indexOfCrlf(bytes: Uint8Array, from: number): number {
  for (let i = from; i + 1 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10) return i;
  }
  return bytes.length;
}

/** Sends a fuzzed request: raw over a socket, or with fetch for bodies above 1 MiB. */
async function send(server: RunningServer, f: Fuzzed): Promise<RawResponse> {
  const url = new URL(server.url);
  const headers: [string, string][] = f.contentType === undefined
    ? []
    : [["content-type", f.contentType]];
  if (f.body.kind === "huge") {
    // The server may answer 413 before reading it all; fetch copes with that.
    const method = f.method === "GET" || f.method === "HEAD" ? "POST" : f.method;
    let target: URL;
    try {
      target = new URL(url.origin + f.target);
    } catch {
      target = new URL("/v1/recommendations", url); // a target fetch cannot send
    }
    const response = await fetch(target, {
      method,
      body: f.body.text,
      headers: Object.fromEntries(headers),
    });
    const bytes = new Uint8Array(await response.arrayBuffer());
    return { status: response.status, headers: new Map(response.headers), body: bytes };
  }
  const bytes = f.body.kind === "none"
    ? undefined
    : f.body.kind === "text"
    ? encoder.encode(f.body.text)
    : f.body.bytes;
  if (bytes !== undefined || f.lyingLength) {
    headers.push(["content-length", String(f.lyingLength ? MAX_BODY_BYTES + 1 : bytes!.length)]);
  }
  return await sendRaw(Number(url.port), {
    method: f.method,
    target: f.target,
    headers,
    body: bytes,
  });
}

/** Throws unless `response` to `f` is a 2xx or 4xx answer of the documented shape. */
function checkAnswer(f: Fuzzed, response: RawResponse): void {
  const { status, headers } = response;
  const text = new TextDecoder().decode(response.body);
  const said = `${f.method} ${f.target.slice(0, 200)} answered ${status}: ${text.slice(0, 300)}`;
  assert.ok((status >= 200 && status < 300) || (status >= 400 && status < 500), said);
  assert.doesNotMatch(text, /^\s+at /m, `a stack trace: ${said}`);
  assert.doesNotMatch(text, /(file:\/\/|\.ts:\d+:\d+)/, `a source location: ${said}`);
  for (const leak of LEAKS) assert.doesNotMatch(text, leak, `a file's text: ${said}`);
  if (status === 405) assert.ok(headers.has("allow"), `405 without Allow: ${said}`);
  // Errors of the API are JSON; the HTTP layer's own (an unreadable request line) have no body.
  if (status >= 400 && text !== "") {
    assert.match(headers.get("content-type") ?? "", /^application\/json/, said);
    const error = JSON.parse(text);
    assert.deepEqual(Object.keys(error), ["error"], said);
    assert.equal(typeof error.error, "string", said);
  }
}

/** Runs `fn` with a server on a small trained model (ids as `ids` says); its warnings kept. */
async function withServer(
  ids: "integer" | "string",
  fn: (server: RunningServer, warnings: string[]) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "ncf_serve_fuzz_" });
  const dir = join(root, "model");
  await saveSmallModel(dir, smallDataset(ids));
  const warnings: string[] = [];
  const server = await startServer(dir, {
    port: 0,
    backend: "ts",
    onWarning: (message) => warnings.push(message),
  });
  try {
    await fn(server, warnings);
  } finally {
    await server.close();
    await server.finished;
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("the fuzzing's check refuses a 5xx, a stack, an error that is not JSON, a file's text", async (t) => {
  const f: Fuzzed = {
    method: "GET",
    target: "/",
    body: { kind: "none" },
    contentType: undefined,
    lyingLength: false,
  };
  const answer = (status: number, text: string, type = "application/json"): RawResponse => ({
    status,
    headers: new Map([["content-type", type]]),
    body: encoder.encode(text),
  });
  await t.step("a JSON error and an empty 400 of the HTTP layer pass", () => {
    checkAnswer(f, answer(404, '{"error":"Cannot find /x: no such route"}'));
    checkAnswer(f, answer(400, "", ""));
  });
  const refused: [string, RawResponse][] = [
    ["a 500", answer(500, '{"error":"Cannot answer the request"}')],
    ["a 302", answer(302, "")],
    ["a stack", answer(400, '{"error":"TypeError: x\\n    at f (file:///a.ts:1:2)"}\n    at f')],
    ["a source location", answer(404, '{"error":"at lib/serve/server.ts:12:3"}')],
    ["an error in text", answer(400, "bad request", "text/plain")],
    ["an error with more fields", answer(400, '{"error":"x","stack":"y"}')],
    ["deno.json", answer(200, '{"name": "@ncf/ncf"}', "text/plain")],
    ["a 405 without Allow", answer(405, '{"error":"Cannot PUT /"}')],
  ];
  for (const [what, response] of refused) {
    await t.step(`${what} is refused`, () => assert.throws(() => checkAnswer(f, response)));
  }
});

const KNOWN: Record<"integer" | "string", KnownIds> = {
  integer: {
    users: Array.from({ length: USERS }, (_, u) => 100 + u),
    items: Array.from({ length: ITEMS }, (_, i) => 200 + i),
  },
  string: { users: STRING_USER_IDS, items: STRING_ITEM_IDS },
};

for (const [ids, numRuns] of [["integer", 600], ["string", 300]] as const) {
  Deno.test(`random requests to a server of ${ids} ids get 2xx or 4xx, errors as JSON without a stack, and the server stays up`, async () => {
    await withServer(ids, async (server, warnings) => {
      await fc.assert(
        fc.asyncProperty(
          fuzzedRequest(KNOWN[ids]),
          async (f) => checkAnswer(f, await send(server, f)),
        ),
        { seed: SEED, numRuns },
      );
      const health = await fetch(new URL("/healthz", server.url));
      assert.equal(health.status, 200);
      assert.equal((await health.json()).epoch, 1);
      assert.deepEqual(warnings, [], "no request failed inside the server");
    });
  });
}
