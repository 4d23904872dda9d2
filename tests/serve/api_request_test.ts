import assert from "node:assert/strict";
import {
  ApiError,
  MAX_BODY_BYTES,
  MAX_ITEMS,
  MAX_K,
  parseBoolean,
  parseId,
  parseItems,
  parseK,
  queryParameters,
  readJsonBody,
} from "../../lib/serve/api_request.ts";

/** Asserts that `fn` throws an ApiError of `status` whose message matches `message`. */
function assertApiError(fn: () => unknown, status: number, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ApiError, `expected an ApiError, got ${e}`);
    assert.equal(e.status, status);
    assert.match(e.message, message);
    return true;
  });
}

/** As {@linkcode assertApiError}, for a promise. */
async function assertApiRejects(
  fn: () => Promise<unknown>,
  status: number,
  message: RegExp,
): Promise<void> {
  await assert.rejects(fn, (e: unknown) => {
    assert.ok(e instanceof ApiError, `expected an ApiError, got ${e}`);
    assert.equal(e.status, status);
    assert.match(e.message, message);
    return true;
  });
}

Deno.test("ApiError carries its status, name and message", () => {
  const e = new ApiError(404, "Cannot find user 7");
  assert.ok(e instanceof Error);
  assert.equal(e.status, 404);
  assert.equal(e.name, "ApiError");
  assert.equal(e.message, "Cannot find user 7");
});

Deno.test("queryParameters() accepts allowed names once and rejects the rest with 400", async (t) => {
  const valid: [string, readonly string[], Record<string, string>][] = [
    ["", ["k"], {}],
    ["k=5", ["k", "exclude_seen"], { k: "5" }],
    ["k=5&exclude_seen=false", ["k", "exclude_seen"], { k: "5", exclude_seen: "false" }],
    ["k=", ["k"], { k: "" }],
    ["k=a%20b", ["k"], { k: "a b" }],
  ];
  for (const [query, allowed, expected] of valid) {
    await t.step(`'${query}' with ${allowed.join(",")} gives ${JSON.stringify(expected)}`, () => {
      const got = queryParameters(new URLSearchParams(query), allowed);
      assert.deepEqual(Object.fromEntries(got), expected);
    });
  }
  const invalid: [string, readonly string[], string][] = [
    ["kk=5", ["k"], "Cannot read the query: unknown parameter 'kk'; expected k"],
    ["k=5", [], "Cannot read the query: unknown parameter 'k'; expected none"],
    [
      "K=5",
      ["k", "exclude_seen"],
      "Cannot read the query: unknown parameter 'K'; expected k, exclude_seen",
    ],
    ["k=5&k=6", ["k"], "Cannot read the query: parameter 'k' is given twice"],
    ["k=5&k=5", ["k"], "Cannot read the query: parameter 'k' is given twice"],
  ];
  for (const [query, allowed, message] of invalid) {
    await t.step(`'${query}' with [${allowed.join(",")}] is a 400: ${message}`, () => {
      assertApiError(
        () => queryParameters(new URLSearchParams(query), allowed),
        400,
        new RegExp(`^${RegExp.escape(message)}$`),
      );
    });
  }
});

Deno.test("parseK() takes an integer in 1..MAX_K from text or JSON, else 400", async (t) => {
  assert.equal(MAX_K, 1000);
  const valid: [unknown, number][] = [
    [undefined, 10],
    ["1", 1],
    ["25", 25],
    ["0025", 25],
    ["1000", 1000],
    [1, 1],
    [1000, 1000],
    [7.0, 7],
  ];
  for (const [value, expected] of valid) {
    await t.step(`${JSON.stringify(value) ?? "undefined"} gives ${expected}`, () => {
      assert.equal(parseK(value, 10), expected);
    });
  }
  const invalid: [unknown, string][] = [
    ["0", '"0"'],
    ["1001", '"1001"'],
    ["-1", '"-1"'],
    ["2.5", '"2.5"'],
    ["1e2", '"1e2"'],
    [" 5", '" 5"'],
    ["", '""'],
    ["five", '"five"'],
    ["99999999", '"99999999"'],
    [0, "0"],
    [1001, "1001"],
    [2.5, "2.5"],
    [-3, "-3"],
    [null, "null"],
    [true, "true"],
    [[5], "[5]"],
  ];
  for (const [value, shown] of invalid) {
    await t.step(`${shown} is a 400 naming the value and the range`, () => {
      assertApiError(
        () => parseK(value, 10),
        400,
        new RegExp(`^${RegExp.escape(`Cannot use k = ${shown}: expected an integer in 1..1000`)}$`),
      );
    });
  }
  await t.step("NaN and Infinity are 400s too", () => {
    assertApiError(() => parseK(Number.NaN, 10), 400, /expected an integer in 1\.\.1000/);
    assertApiError(() => parseK(Infinity, 10), 400, /expected an integer in 1\.\.1000/);
  });
});

Deno.test("parseBoolean() takes exactly true or false, else 400 naming the parameter", async (t) => {
  const valid: [string | undefined, boolean, boolean][] = [
    [undefined, true, true],
    [undefined, false, false],
    ["true", false, true],
    ["false", true, false],
  ];
  for (const [value, fallback, expected] of valid) {
    await t.step(`${value ?? "absent"} (fallback ${fallback}) gives ${expected}`, () => {
      assert.equal(parseBoolean("exclude_seen", value, fallback), expected);
    });
  }
  for (const value of ["", "True", "1", "0", "yes", "no", "false "]) {
    await t.step(`'${value}' is a 400`, () => {
      assertApiError(
        () => parseBoolean("exclude_seen", value, true),
        400,
        new RegExp(
          `^${RegExp.escape(`Cannot use exclude_seen = '${value}': expected true or false`)}$`,
        ),
      );
    });
  }
});

Deno.test("parseId() takes strings and safe integers, else 400 naming what it is", async (t) => {
  const valid: unknown[] = ["u1", "", "李", 0, 196, -5, Number.MAX_SAFE_INTEGER];
  for (const value of valid) {
    await t.step(`${JSON.stringify(value)} is kept as it is`, () => {
      assert.equal(parseId(value, "user"), value);
    });
  }
  const invalid: [unknown, string][] = [
    [1.5, "1.5"],
    [Number.MAX_SAFE_INTEGER + 1, "9007199254740992"],
    [null, "null"],
    [true, "true"],
    [[1], "[1]"],
    [{ id: 1 }, '{"id":1}'],
    [undefined, "undefined"],
  ];
  for (const [value, shown] of invalid) {
    await t.step(`${shown} is a 400`, () => {
      assertApiError(
        () => parseId(value, "user"),
        400,
        new RegExp(
          `^${RegExp.escape(`Cannot use user ${shown}: expected a string or an integer id`)}$`,
        ),
      );
    });
  }
});

Deno.test("parseItems() takes a list of 1..MAX_ITEMS ids, else 400", async (t) => {
  assert.equal(MAX_ITEMS, 1000);
  await t.step("a mixed list keeps its ids and order", () => {
    assert.deepEqual(parseItems([3, "b", 1, 3]), [3, "b", 1, 3]);
  });
  await t.step("a list of exactly MAX_ITEMS is accepted", () => {
    assert.equal(parseItems(Array.from({ length: MAX_ITEMS }, (_, i) => i)).length, MAX_ITEMS);
  });
  const invalid: [string, unknown, RegExp][] = [
    ["an empty list", [], /^Cannot use items 0 items: expected a list of 1\.\.1000 item ids$/],
    [
      "a list of MAX_ITEMS + 1",
      Array.from({ length: MAX_ITEMS + 1 }, (_, i) => i),
      /^Cannot use items 1001 items: expected a list of 1\.\.1000 item ids$/,
    ],
    ["a number", 5, /^Cannot use items 5: expected a list/],
    ["an object", { a: 1 }, /^Cannot use items \{"a":1\}: expected a list/],
    ["nothing", undefined, /^Cannot use items nothing: expected a list/],
    ["a list with a float", [1, 2.5], /^Cannot use item 2\.5: expected a string or an integer id$/],
    ["a list with null", [null], /^Cannot use item null: expected a string or an integer id$/],
  ];
  for (const [what, value, message] of invalid) {
    await t.step(`${what} is a 400`, () => assertApiError(() => parseItems(value), 400, message));
  }
});

Deno.test("error messages repeat at most 100 characters of the client's input", async (t) => {
  const long = "x".repeat(5000);
  const deep = JSON.parse("[".repeat(10_000) + "]".repeat(10_000));
  const cases: [string, () => unknown, string][] = [
    ["a long k", () => parseK(long, 10), `Cannot use k = "${"x".repeat(99)}…`],
    ["a deeply nested k", () => parseK(deep, 10), `Cannot use k = ${"[".repeat(100)}…`],
    ["a long id", () => parseId([long], "user"), `Cannot use user ["${"x".repeat(98)}…`],
    [
      "a long items value",
      () => parseItems({ [long]: 1 }),
      `Cannot use items {"${"x".repeat(98)}…`,
    ],
    [
      "a long parameter name",
      () => queryParameters(new URLSearchParams(`${long}=1`), ["k"]),
      `Cannot read the query: unknown parameter '${"x".repeat(100)}…'`,
    ],
    [
      "a long boolean",
      () => parseBoolean("exclude_seen", long, true),
      `Cannot use exclude_seen = '${"x".repeat(100)}…'`,
    ],
  ];
  for (const [what, fn, start] of cases) {
    await t.step(what, () => {
      assert.throws(fn, (e: unknown) => {
        assert.ok(e instanceof ApiError);
        assert.ok(e.message.startsWith(start), e.message.slice(0, 200));
        assert.ok(e.message.length < 200, `${e.message.length} characters`);
        return true;
      });
    });
  }
  await t.step("a long field name in a body", async () => {
    await assertApiRejects(
      () => readJsonBody(request(JSON.stringify({ [long]: 1 })), FIELDS),
      400,
      new RegExp(`^Cannot read the request body: unknown field '${"x".repeat(100)}…'; expected`),
    );
  });
});

/** A POST request with `body`, optionally declaring `contentLength`. */
function request(body: BodyInit | null, contentLength?: string): Request {
  const headers = new Headers();
  if (contentLength !== undefined) headers.set("content-length", contentLength);
  return new Request("http://localhost/", { method: "POST", body, headers });
}

const FIELDS = { allowed: ["items", "k"], required: ["items"] } as const;

Deno.test("readJsonBody() returns a JSON object with allowed fields", async (t) => {
  const valid: [string, Record<string, unknown>][] = [
    ['{"items": [1, "2"]}', { items: [1, "2"] }],
    ['{"items": [1], "k": 3}', { items: [1], k: 3 }],
    [' \n{"k": "x", "items": null}\n', { k: "x", items: null }],
    ['{"items": "é"}', { items: "é" }],
  ];
  for (const [body, expected] of valid) {
    await t.step(`${JSON.stringify(body)} is read`, async () => {
      assert.deepEqual(await readJsonBody(request(body), FIELDS), expected);
    });
  }
  await t.step("a body of exactly MAX_BODY_BYTES is read", async () => {
    const prefix = '{"items": "';
    const body = prefix + "x".repeat(MAX_BODY_BYTES - prefix.length - 2) + '"}';
    assert.equal(new TextEncoder().encode(body).length, MAX_BODY_BYTES);
    const got = await readJsonBody(request(body), FIELDS);
    assert.equal((got.items as string).length, MAX_BODY_BYTES - prefix.length - 2);
  });
});

Deno.test("readJsonBody() answers 400 or 413 with a message for a bad body", async (t) => {
  const invalid: [string, BodyInit | null, number, RegExp][] = [
    ["no body", null, 400, /^Cannot read the request body: .*; expected a JSON object$/],
    ["an empty body", "", 400, /^Cannot read the request body: .*; expected a JSON object$/],
    [
      "malformed JSON",
      '{"items": [1,',
      400,
      /^Cannot read the request body: .*; expected a JSON object$/,
    ],
    ["a JSON list", "[1, 2]", 400, /^Cannot read the request body: expected a JSON object$/],
    ["JSON null", "null", 400, /^Cannot read the request body: expected a JSON object$/],
    ["a JSON string", '"items"', 400, /^Cannot read the request body: expected a JSON object$/],
    ["a JSON number", "3", 400, /^Cannot read the request body: expected a JSON object$/],
    [
      "bytes that are not UTF-8",
      Uint8Array.of(0x7b, 0xff, 0x7d),
      400,
      /^Cannot read the request body: it is not UTF-8; expected a JSON object$/,
    ],
    [
      "an unknown field",
      '{"items": [1], "user": 3}',
      400,
      /^Cannot read the request body: unknown field 'user'; expected items, k$/,
    ],
    [
      "a missing required field",
      '{"k": 3}',
      400,
      /^Cannot read the request body: field 'items' is missing$/,
    ],
    [
      "a body one byte over MAX_BODY_BYTES",
      "x".repeat(MAX_BODY_BYTES + 1),
      413,
      /^Cannot read the request body: it is larger than 1048576 bytes \(1 MiB\)$/,
    ],
  ];
  for (const [what, body, status, message] of invalid) {
    await t.step(`${what} is a ${status}`, async () => {
      await assertApiRejects(() => readJsonBody(request(body), FIELDS), status, message);
    });
  }
  await t.step("a declared Content-Length over the limit is a 413 before reading", async () => {
    await assertApiRejects(
      () => readJsonBody(request('{"items": [1]}', String(MAX_BODY_BYTES + 1)), FIELDS),
      413,
      /larger than 1048576 bytes/,
    );
  });
  await t.step("a streamed body over the limit is a 413 and the stream is cancelled", async () => {
    let cancelled = false;
    let pulls = 0;
    const chunk = new Uint8Array(64 * 1024).fill(0x20);
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulls++;
        controller.enqueue(chunk);
      },
      cancel() {
        cancelled = true;
      },
    });
    await assertApiRejects(() => readJsonBody(request(stream), FIELDS), 413, /larger than/);
    assert.ok(cancelled, "the body stream is cancelled");
    assert.ok(pulls <= MAX_BODY_BYTES / chunk.length + 2, `read ${pulls} chunks`);
  });
});
