/**
 * What the HTTP API accepts: the checks of query parameters and JSON bodies,
 * each failure an {@linkcode ApiError} carrying the status to answer with
 * (400 for malformed input, 413 for a body too large) and a message for
 * the client.
 *
 * @module
 */

import type { RawId } from "../data/raw_ids.ts";

/** Largest request body, in bytes (1 MiB). */
export const MAX_BODY_BYTES = 1 << 20;

/** Largest `k`. */
export const MAX_K = 1000;

/** Most items one request may list. */
export const MAX_ITEMS = 1000;

/**
 * A client's mistake (or a missing resource), answered as
 * `{"error": message}` with `status`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ApiError } from "./api_request.ts";
 * const e = new ApiError(404, "Cannot find user 7: no such user in the model's data");
 * assert.equal(e.status, 404);
 * ```
 */
export class ApiError extends Error {
  /** The HTTP status to answer with. */
  readonly status: number;

  /**
   * @param status The HTTP status (4xx).
   * @param message What the client did wrong, and what is expected.
   */
  constructor(status: number, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

/**
 * Checks a query string's parameters: only `allowed` names, each at most once.
 * @returns The values by name.
 * @throws {ApiError} 400 on an unknown or repeated parameter.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { queryParameters } from "./api_request.ts";
 * const got = queryParameters(new URLSearchParams("k=5"), ["k", "exclude_seen"]);
 * assert.equal(got.get("k"), "5");
 * assert.throws(() => queryParameters(new URLSearchParams("kk=5"), ["k"]), /unknown parameter 'kk'/);
 * ```
 */
export function queryParameters(
  search: URLSearchParams,
  allowed: readonly string[],
): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, value] of search) {
    if (!allowed.includes(name)) {
      throw new ApiError(
        400,
        `Cannot read the query: unknown parameter '${echoInput(name)}'; expected ${
          allowed.length === 0 ? "none" : allowed.join(", ")
        }`,
      );
    }
    if (out.has(name)) {
      throw new ApiError(
        400,
        `Cannot read the query: parameter '${echoInput(name)}' is given twice`,
      );
    }
    out.set(name, value);
  }
  return out;
}

/**
 * `k` from its text or JSON value: an integer in 1..{@linkcode MAX_K}, or
 * `fallback` when absent.
 * @throws {ApiError} 400 otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseK } from "./api_request.ts";
 * assert.equal(parseK("25", 10), 25);
 * assert.equal(parseK(undefined, 10), 10);
 * assert.throws(() => parseK("0", 10), /expected an integer in 1\.\.1000/);
 * ```
 */
export function parseK(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const k = typeof value === "string" && /^\d{1,7}$/.test(value) ? Number(value) : value;
  if (typeof k !== "number" || !Number.isInteger(k) || k < 1 || k > MAX_K) {
    throw new ApiError(
      400,
      `Cannot use k = ${_shown(value)}: expected an integer in 1..${MAX_K}`,
    );
  }
  return k;
}

/**
 * A boolean query parameter: `true` or `false`, or `fallback` when absent.
 * @throws {ApiError} 400 otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseBoolean } from "./api_request.ts";
 * assert.equal(parseBoolean("exclude_seen", "false", true), false);
 * assert.throws(() => parseBoolean("exclude_seen", "no", true), /expected true or false/);
 * ```
 */
export function parseBoolean(name: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value === "true") return true;
  if (value === "false") return false;
  throw new ApiError(400, `Cannot use ${name} = '${echoInput(value)}': expected true or false`);
}

/**
 * A JSON id: a string, or an integer (as the data set writes its ids).
 * @throws {ApiError} 400 otherwise, naming `what`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseId } from "./api_request.ts";
 * assert.equal(parseId(196, "user"), 196);
 * assert.equal(parseId("u1", "user"), "u1");
 * assert.throws(() => parseId(1.5, "user"), /expected a string or an integer/);
 * ```
 */
export function parseId(value: unknown, what: string): RawId {
  if (typeof value === "string" || (typeof value === "number" && Number.isSafeInteger(value))) {
    return value;
  }
  throw new ApiError(
    400,
    `Cannot use ${what} ${_shown(value)}: expected a string or an integer id`,
  );
}

/**
 * A JSON list of 1..{@linkcode MAX_ITEMS} item ids.
 * @throws {ApiError} 400 otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseItems } from "./api_request.ts";
 * assert.deepEqual(parseItems([1, "2"]), [1, "2"]);
 * assert.throws(() => parseItems([]), /expected a list of 1\.\.1000 item ids/);
 * ```
 */
export function parseItems(value: unknown): RawId[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_ITEMS) {
    const got = Array.isArray(value)
      ? `${value.length} items`
      : value === undefined
      ? "nothing"
      : _shown(value);
    throw new ApiError(
      400,
      `Cannot use items ${got}: expected a list of 1..${MAX_ITEMS} item ids`,
    );
  }
  return value.map((id) => parseId(id, "item"));
}

/**
 * Reads a request's JSON object body: at most {@linkcode MAX_BODY_BYTES},
 * only the fields `allowed` (`required` among them must be present).
 * @throws {ApiError} 413 for a larger body; 400 for a body that is not a
 *   JSON object, an unknown field or a missing one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readJsonBody } from "./api_request.ts";
 * const request = new Request("http://x/", { method: "POST", body: '{"items": [1]}' });
 * assert.deepEqual(await readJsonBody(request, { allowed: ["items", "k"], required: ["items"] }), {
 *   items: [1],
 * });
 * ```
 */
export async function readJsonBody(
  request: Request,
  fields: { allowed: readonly string[]; required: readonly string[] },
): Promise<Record<string, unknown>> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > MAX_BODY_BYTES) throw _tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body !== null) {
    const reader = request.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.length;
        if (size > MAX_BODY_BYTES) {
          await reader.cancel();
          throw _tooLarge();
        }
        chunks.push(value);
      }
    } finally {
      reader.releaseLock();
    }
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    const why = e instanceof SyntaxError ? e.message : "it is not UTF-8";
    throw new ApiError(400, `Cannot read the request body: ${why}; expected a JSON object`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ApiError(400, "Cannot read the request body: expected a JSON object");
  }
  const record = body as Record<string, unknown>;
  for (const name of Object.keys(record)) {
    if (!fields.allowed.includes(name)) {
      throw new ApiError(
        400,
        `Cannot read the request body: unknown field '${echoInput(name)}'; expected ${
          fields.allowed.join(", ")
        }`,
      );
    }
  }
  for (const name of fields.required) {
    if (record[name] === undefined) {
      throw new ApiError(400, `Cannot read the request body: field '${name}' is missing`);
    }
  }
  return record;
}

/** Longest echo of a client's input in an error message, in characters. */
const _ECHO_CHARS = 100;

/**
 * A client's text as an error message repeats it: cut after 100
 * characters, with "…", so a huge id or body never comes back whole.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { echoInput } from "./api_request.ts";
 * assert.equal(echoInput("196"), "196");
 * assert.equal(echoInput("x".repeat(500)).length, 101);
 * ```
 */
export function echoInput(text: string): string {
  return text.length > _ECHO_CHARS ? `${text.slice(0, _ECHO_CHARS)}…` : text;
}

/** A client's JSON value as an error message shows it: its JSON text, cut. */
function _shown(value: unknown): string {
  return echoInput(JSON.stringify(value) ?? String(value));
}

function _tooLarge(): ApiError {
  return new ApiError(
    413,
    `Cannot read the request body: it is larger than ${MAX_BODY_BYTES} bytes (1 MiB)`,
  );
}
