/**
 * Downloads a MovieLens data set from GroupLens, checks it against the MD5
 * GroupLens publishes beside it and unpacks it into the data folder.
 *
 * Layout after success: `<dataDir>/<name>/<file>` for every file in the zip
 * (the layout the official zip unpacks to). The zip itself is downloaded to a
 * temporary file in `dataDir` and removed afterwards, pass or fail: the
 * unpacked ratings file is what the readers look up, and keeping ml-20m's
 * 190 MB zip around would only double the disk use.
 *
 * Every file is written under a temporary name in its destination folder and
 * published with `Deno.rename`, the ratings file last, so a reader never sees
 * a partial file and the ratings file's presence means the unpack finished.
 *
 * Every request (the `.md5`, then the zip) has two timeouts and its own
 * retries: the response headers must arrive within `connectTimeoutSeconds`
 * and no gap between body chunks may exceed `idleTimeoutSeconds`. Transient
 * failures (network errors, either timeout, a body shorter than its
 * `content-length`, HTTP 408, 429 and 5xx) are retried up to `retries` times
 * after an exponential backoff (1 s, 2 s, 4 s … capped at 30 s, or the
 * server's `Retry-After` when it asks for at most 120 s); a retried zip starts
 * again from its first byte. Everything else fails at once: other HTTP
 * statuses (404, 403 …), a checksum file without a digest, and a zip whose
 * MD5 differs from the published one: a complete body that fails its checksum
 * is a changed or rewritten file, not a dropped connection (TCP and TLS
 * already guard the bytes in transit), and downloading it again would most
 * likely fetch the same bytes.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { unzipSync } from "fflate";
import { SettingError } from "../errors.ts";
import { isMovieLens, MOVIELENS, MOVIELENS_DATASETS, type MovieLensName } from "./movielens.ts";

/** Where GroupLens publishes the MovieLens zips. */
export const GROUPLENS_BASE_URL = "https://files.grouplens.org/datasets/movielens/";

/** The defaults of {@linkcode DownloadOptions}' timeouts, retries and backoff. */
export interface DownloadDefaults {
  /** Seconds from sending a request to its response headers. */
  readonly connectTimeoutSeconds: number;
  /** Longest gap between two body chunks, in seconds. */
  readonly idleTimeoutSeconds: number;
  /** Further attempts of a request after a transient failure. */
  readonly retries: number;
  /** The first retry's delay in seconds; each further one doubles it. */
  readonly backoffSeconds: number;
  /** The longest backoff delay in seconds. */
  readonly maxBackoffSeconds: number;
  /** The longest `Retry-After` honoured, in seconds; a longer one fails at once. */
  readonly maxRetryAfterSeconds: number;
}

/**
 * The defaults of the download timeouts and retries, in one place for the
 * flags (`--download_connect_timeout`, `--download_idle_timeout`,
 * `--download_retries`) and {@linkcode downloadDataset}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DOWNLOAD_DEFAULTS } from "./download.ts";
 * assert.ok(DOWNLOAD_DEFAULTS.retries === 3 && DOWNLOAD_DEFAULTS.connectTimeoutSeconds === 30);
 * ```
 */
export const DOWNLOAD_DEFAULTS: DownloadDefaults = Object.freeze({
  connectTimeoutSeconds: 30,
  idleTimeoutSeconds: 60,
  retries: 3,
  backoffSeconds: 1,
  maxBackoffSeconds: 30,
  maxRetryAfterSeconds: 120,
});

/** One retry of a request, as reported to {@linkcode DownloadOptions.onRetry}. */
export interface DownloadRetry {
  /** The URL being fetched (the zip or its `.md5`). */
  readonly url: string;
  /** The attempt about to start, from 2 on. */
  readonly attempt: number;
  /** Every attempt allowed, `retries + 1`. */
  readonly attempts: number;
  /** Seconds waited before the attempt. */
  readonly delaySeconds: number;
  /** Why the last attempt failed, e.g. "HTTP 503" or "no data for 60 s". */
  readonly cause: string;
}

/** Options of {@linkcode downloadDataset}. */
export interface DownloadOptions {
  /**
   * Folder URL the zip and its `.md5` are fetched from; a missing trailing
   * `/` is added. Default {@linkcode GROUPLENS_BASE_URL}.
   */
  baseUrl?: string;
  /**
   * Called after every received chunk of the zip with the bytes received so
   * far and the total from `content-length` (`undefined` when unknown).
   * Default: no progress reports.
   */
  onProgress?: ((received: number, total: number | undefined) => void) | undefined;
  /** The fetch function to use (tests inject one). Default `globalThis.fetch`. */
  fetch?: typeof fetch | undefined;
  /**
   * Aborts the download, also during a request, a stalled body or a backoff
   * wait; the abort reason is rethrown as is. Default: none.
   */
  signal?: AbortSignal | undefined;
  /**
   * Seconds from sending a request to its response headers; 0 waits forever.
   * Setting `download_connect_timeout`. Default
   * {@linkcode DOWNLOAD_DEFAULTS}`.connectTimeoutSeconds` (30).
   */
  connectTimeoutSeconds?: number | undefined;
  /**
   * Longest gap between two chunks of a response body, in seconds; 0 waits
   * forever. Setting `download_idle_timeout`. Default
   * {@linkcode DOWNLOAD_DEFAULTS}`.idleTimeoutSeconds` (60).
   */
  idleTimeoutSeconds?: number | undefined;
  /**
   * Further attempts of each request after a transient failure (network
   * error, timeout, short body, HTTP 408, 429 or 5xx); 0 tries once. Setting
   * `download_retries`. Default {@linkcode DOWNLOAD_DEFAULTS}`.retries` (3).
   */
  retries?: number | undefined;
  /**
   * The first retry's delay in seconds; the n-th waits `backoffSeconds * 2^(n-1)`,
   * at most `maxBackoffSeconds`. Default 1.
   */
  backoffSeconds?: number | undefined;
  /** The longest backoff delay in seconds. Default 30. */
  maxBackoffSeconds?: number | undefined;
  /**
   * The longest `Retry-After` (of a 408, 429 or 5xx) waited for instead of
   * the backoff, in seconds; a longer one fails the download at once. Default 120.
   */
  maxRetryAfterSeconds?: number | undefined;
  /**
   * Called before each backoff wait (see {@linkcode formatRetry}). Progress
   * reports of a retried zip start again from 0. Default: none.
   */
  onRetry?: ((retry: DownloadRetry) => void) | undefined;
  /**
   * Waits `ms` milliseconds, rejecting with `signal.reason` when it aborts
   * (tests inject one). Default: a timer.
   */
  sleep?: ((ms: number, signal: AbortSignal | undefined) => Promise<void>) | undefined;
}

/**
 * Downloads `<baseUrl><zipFile>`, verifies it against `<baseUrl><md5File>`,
 * checks that it holds the data set's `ratingsEntry` and unpacks it into
 * `dataDir` (created if missing); the names are the data set's entry in
 * {@linkcode MOVIELENS}. Existing files of the same names are
 * replaced; the caller decides whether a download is needed. Temporary files
 * are removed on every path, success or failure.
 *
 * @param name The MovieLens data set.
 * @param dataDir The data folder; files land at `<dataDir>/<name>/<file>`.
 * @returns The path of the ratings file, `join(dataDir, MOVIELENS[name].ratingsEntry)`.
 * @throws {Error} "Cannot download <url>: <cause>" where the cause is "HTTP
 *   <status>", the network error's innermost message ("tcp connect error:
 *   Connection refused (os error 111)", "dns error: …"), "no response headers
 *   within 30 s", "no data for 60 s" or "received X of Y bytes", followed by
 *   "(gave up after N attempts)" when it was retried; "Cannot verify <url>:
 *   MD5 is X, GroupLens publishes Y"; "Cannot unpack <url>: …" (missing
 *   ratings file, unsafe entry name, corrupt zip).
 * @throws {SyntaxError} When the `.md5` file holds no digest.
 * @throws {SettingError} For an unknown data set name (setting `dataset`), a
 *   base URL that is not http, https or file (`download_url`), a negative or
 *   non-numeric timeout (`download_connect_timeout`, `download_idle_timeout`)
 *   or a retry count that is not a whole number ≥ 0 (`download_retries`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { zipSync } from "fflate";
 * import { createHash } from "node:crypto";
 * import { downloadDataset } from "./download.ts";
 *
 * const zip = zipSync({ "ml-100k/u.data": new TextEncoder().encode("1\t2\t5\t881250949\n") });
 * const md5 = createHash("md5").update(zip).digest("hex");
 * const fakeFetch: typeof fetch = (input) =>
 *   Promise.resolve(
 *     String(input).endsWith(".md5")
 *       ? new Response(`MD5 (ml-100k.zip) = ${md5}\n`)
 *       : new Response(zip.slice()),
 *   );
 * const dir = await Deno.makeTempDir();
 * const path = await downloadDataset("ml-100k", dir, { fetch: fakeFetch });
 * assert.ok(path.endsWith("u.data"));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function downloadDataset(
  name: MovieLensName,
  dataDir: string,
  options: DownloadOptions = {},
): Promise<string> {
  if (!isMovieLens(name)) {
    throw new SettingError(
      "dataset",
      `Cannot download data set ${JSON.stringify(name)}: unknown (expected one of ${
        MOVIELENS_DATASETS.join(", ")
      })`,
    );
  }
  const { zipFile, md5File, ratingsEntry } = MOVIELENS[name];
  const baseUrl = _baseUrl(options.baseUrl ?? GROUPLENS_BASE_URL);
  const zipUrl = `${baseUrl}${zipFile}`;
  const md5Url = `${baseUrl}${md5File}`;
  const context = _context(options);

  // The checksum first: it is tiny, and without it the zip is useless.
  const md5Text = await _fetchText(context, md5Url);
  let expected: string;
  try {
    expected = parseMd5File(md5Text);
  } catch (err) {
    throw new SyntaxError(`Cannot parse ${md5Url}: no MD5 digest in it`, { cause: err });
  }

  const temps = new Set<string>();
  try {
    let zipTemp: string;
    try {
      await Deno.mkdir(dataDir, { recursive: true });
      zipTemp = await Deno.makeTempFile({ dir: dataDir, prefix: `.${name}.zip.`, suffix: ".part" });
    } catch (err) {
      throw new Error(`Cannot download ${zipUrl} to ${dataDir}: ${_message(err)}`, { cause: err });
    }
    temps.add(zipTemp);
    const actual = await _downloadTo(context, zipUrl, zipTemp, options.onProgress);
    if (actual !== expected) {
      throw new Error(`Cannot verify ${zipUrl}: MD5 is ${actual}, GroupLens publishes ${expected}`);
    }
    const zip = await Deno.readFile(zipTemp);
    await _unpack(zip, zipUrl, dataDir, ratingsEntry, temps);
    return join(dataDir, ratingsEntry);
  } finally {
    for (const temp of temps) await _removeQuietly(temp);
  }
}

/**
 * Extracts the 32-hex-digit digest from a published MD5 file, in BSD form
 * (`MD5 (ml-1m.zip) = c4d9…`) or md5sum form (`c4d9…  ml-1m.zip`, or the bare
 * digest). Returns it in lower case.
 *
 * @throws {SyntaxError} When no line holds a digest.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseMd5File } from "./download.ts";
 * const d = "c4d9eecfca2ab87c1945afe126590906";
 * assert.ok(parseMd5File(`MD5 (ml-1m.zip) = ${d}\n`) === d);
 * assert.ok(parseMd5File(`${d.toUpperCase()}  ml-1m.zip\n`) === d);
 * ```
 */
export function parseMd5File(text: string): string {
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const match = /^MD5 ?\(.*\) ?= ?([0-9a-f]{32})$/i.exec(line) ??
      /^\\?([0-9a-f]{32})(?:\s.*)?$/i.exec(line);
    if (match) return match[1].toLowerCase();
  }
  const shown = text.length > 60 ? `${text.slice(0, 60)}…` : text;
  throw new SyntaxError(
    `Cannot parse MD5 file: no 32-hex-digit digest in ${JSON.stringify(shown)}`,
  );
}

/** Options of {@linkcode formatProgress}. */
export interface FormatProgressOptions {
  /** Printed first, e.g. the file name. Default: none. */
  label?: string | undefined;
}

/**
 * Formats a download's progress for a terminal progress line, sizes in MB
 * (10^6 bytes, one decimal). The percentage is rounded down, so 100% means done.
 *
 * @throws {RangeError} When `received` or `total` is negative or not finite.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatProgress } from "./download.ts";
 * assert.ok(
 *   formatProgress(12_300_000, 24_600_000, { label: "ml-1m.zip" }) ===
 *     "ml-1m.zip  12.3 / 24.6 MB  50%",
 * );
 * assert.ok(formatProgress(1_500_000, undefined) === "1.5 MB");
 * ```
 */
export function formatProgress(
  received: number,
  total: number | undefined,
  options: FormatProgressOptions = {},
): string {
  if (!Number.isFinite(received) || received < 0) {
    throw new RangeError(`Cannot format progress: received ${received} is not a byte count`);
  }
  if (total !== undefined && (!Number.isFinite(total) || total < 0)) {
    throw new RangeError(`Cannot format progress: total ${total} is not a byte count`);
  }
  const label = options.label ?? "";
  const prefix = label === "" ? "" : `${label}  `;
  const mb = (n: number) => (n / 1e6).toFixed(1);
  if (total === undefined) return `${prefix}${mb(received)} MB`;
  const percent = total === 0 ? 100 : Math.min(100, Math.floor((100 * received) / total));
  return `${prefix}${mb(received)} / ${mb(total)} MB  ${percent}%`;
}

/**
 * Formats a retry for a warning line: "retrying <url> in 2 s (attempt 2/4): HTTP 503".
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatRetry } from "./download.ts";
 * const retry = { url: "https://x/ml-1m.zip", attempt: 2, attempts: 4, delaySeconds: 1, cause: "HTTP 503" };
 * assert.ok(formatRetry(retry) === "retrying https://x/ml-1m.zip in 1 s (attempt 2/4): HTTP 503");
 * ```
 */
export function formatRetry(retry: DownloadRetry): string {
  const delay = Number(retry.delaySeconds.toFixed(3));
  return `retrying ${retry.url} in ${delay} s (attempt ${retry.attempt}/${retry.attempts}): ${retry.cause}`;
}

/** The resolved options every request of one download shares. */
interface _Context {
  readonly fetch: typeof fetch;
  readonly signal: AbortSignal | undefined;
  readonly connectSeconds: number;
  readonly idleSeconds: number;
  readonly retries: number;
  readonly backoffSeconds: number;
  readonly maxBackoffSeconds: number;
  readonly maxRetryAfterSeconds: number;
  readonly onRetry: DownloadOptions["onRetry"];
  readonly sleep: (ms: number, signal: AbortSignal | undefined) => Promise<void>;
}

/** Checks and fills in the timeout and retry options. */
function _context(options: DownloadOptions): _Context {
  const seconds = (value: number, setting: string, what: string): number => {
    if (Number.isNaN(value) || value < 0) {
      throw new SettingError(
        setting,
        `Cannot download with a ${what} of ${value} s: expected 0 (no limit) or more seconds`,
      );
    }
    return value;
  };
  const retries = options.retries ?? DOWNLOAD_DEFAULTS.retries;
  if (!Number.isSafeInteger(retries) || retries < 0) {
    throw new SettingError(
      "download_retries",
      `Cannot download with ${retries} retries: expected a whole number, 0 or more`,
    );
  }
  const positive = (value: number, name: string): number => {
    if (!(value >= 0)) {
      throw new RangeError(`Cannot download with ${name} ${value}: expected 0 or more seconds`);
    }
    return value;
  };
  return {
    fetch: options.fetch ?? globalThis.fetch,
    signal: options.signal,
    connectSeconds: seconds(
      options.connectTimeoutSeconds ?? DOWNLOAD_DEFAULTS.connectTimeoutSeconds,
      "download_connect_timeout",
      "connect timeout",
    ),
    idleSeconds: seconds(
      options.idleTimeoutSeconds ?? DOWNLOAD_DEFAULTS.idleTimeoutSeconds,
      "download_idle_timeout",
      "idle timeout",
    ),
    retries,
    backoffSeconds: positive(
      options.backoffSeconds ?? DOWNLOAD_DEFAULTS.backoffSeconds,
      "backoffSeconds",
    ),
    maxBackoffSeconds: positive(
      options.maxBackoffSeconds ?? DOWNLOAD_DEFAULTS.maxBackoffSeconds,
      "maxBackoffSeconds",
    ),
    maxRetryAfterSeconds: positive(
      options.maxRetryAfterSeconds ?? DOWNLOAD_DEFAULTS.maxRetryAfterSeconds,
      "maxRetryAfterSeconds",
    ),
    onRetry: options.onRetry,
    sleep: options.sleep ?? _sleep,
  };
}

/** The base URL with a trailing `/`; only http, https and file URLs fetch anything. */
function _baseUrl(text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url === undefined || !["http:", "https:", "file:"].includes(url.protocol)) {
    throw new SettingError(
      "download_url",
      `Cannot download from ${JSON.stringify(text)}: not an http, https or file URL`,
    );
  }
  return text.endsWith("/") ? text : `${text}/`;
}

/**
 * A failed attempt: its cause as text, whether another attempt may succeed,
 * and the delay the server asked for (`Retry-After`), if any.
 */
class _AttemptError extends Error {
  readonly transient: boolean;
  readonly retryAfterSeconds: number | undefined;
  constructor(
    cause: string,
    transient: boolean,
    options: { cause?: unknown; retryAfterSeconds?: number | undefined } = {},
  ) {
    super(cause, "cause" in options ? { cause: options.cause } : undefined);
    this.transient = transient;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/**
 * Runs `attempt` until it succeeds, a failure is not transient or the
 * retries are used up, waiting the backoff between attempts. Each attempt
 * gets its own controller, which its timeouts abort.
 */
async function _withRetries<T>(
  context: _Context,
  url: string,
  attempt: (controller: AbortController) => Promise<T>,
): Promise<T> {
  const attempts = context.retries + 1;
  const signal = context.signal;
  for (let n = 1;; n++) {
    signal?.throwIfAborted();
    const controller = new AbortController();
    let failure: _AttemptError;
    try {
      return await attempt(controller);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (!(err instanceof _AttemptError)) throw err;
      failure = err;
    } finally {
      controller.abort(); // releases whatever the attempt left open
    }
    const retryAfter = failure.retryAfterSeconds;
    const tooLong = retryAfter !== undefined && retryAfter > context.maxRetryAfterSeconds;
    if (!failure.transient || n >= attempts || tooLong) {
      const asked = tooLong ? `, the server asks to retry after ${retryAfter} s` : "";
      const gaveUp = n > 1 ? ` (gave up after ${n} attempts)` : "";
      throw new Error(
        `Cannot download ${url}: ${failure.message}${asked}${gaveUp}`,
        failure.cause === undefined ? undefined : { cause: failure.cause },
      );
    }
    const delaySeconds = retryAfter ??
      Math.min(context.backoffSeconds * 2 ** (n - 1), context.maxBackoffSeconds);
    context.onRetry?.({ url, attempt: n + 1, attempts, delaySeconds, cause: failure.message });
    await context.sleep(delaySeconds * 1000, signal);
  }
}

/**
 * One attempt at `url`: waits for the headers (connect timeout), fails on a
 * non-2xx status, then hands every body chunk to `onChunk` (idle timeout
 * between chunks) and checks the length against `content-length`. Transient
 * failures are thrown as {@linkcode _AttemptError}; `onChunk`'s errors as they are.
 */
async function _fetchBody(
  context: _Context,
  url: string,
  controller: AbortController,
  onChunk: (bytes: Uint8Array, received: number, total: number | undefined) => Promise<void>,
): Promise<void> {
  const user = context.signal;
  const signal = user === undefined
    ? controller.signal
    : AbortSignal.any([user, controller.signal]);
  let response: Response;
  try {
    response = await _deadline(
      context.fetch(url, { signal }),
      context.connectSeconds,
      `no response headers within ${context.connectSeconds} s`,
      controller,
      user,
    );
  } catch (err) {
    throw _attemptError(err, user);
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => {});
    const status = response.status;
    throw new _AttemptError(
      `HTTP ${status}`,
      status === 408 || status === 429 || (status >= 500 && status <= 599),
      { retryAfterSeconds: _retryAfter(response.headers) },
    );
  }
  const total = _contentLength(response.headers);
  let received = 0;
  if (response.body !== null) {
    const reader = response.body.getReader();
    try {
      while (true) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await _deadline(
            reader.read(),
            context.idleSeconds,
            `no data for ${context.idleSeconds} s`,
            controller,
            user,
          );
        } catch (err) {
          throw _attemptError(err, user);
        }
        if (chunk.done) break;
        if (chunk.value.length === 0) continue;
        received += chunk.value.length;
        await onChunk(chunk.value, received, total);
      }
    } finally {
      // Releases the connection when we stop early (error, abort, throwing callback).
      controller.abort();
      await reader.cancel().catch(() => {});
    }
  }
  if (total !== undefined && received !== total) {
    throw new _AttemptError(`received ${received} of ${total} bytes`, true);
  }
}

/**
 * Settles as `work` does, unless `seconds` pass first (then `controller` is
 * aborted and a transient {@linkcode _AttemptError} `message` thrown) or
 * `user` aborts (then its reason is thrown): a fetch that ignores its signal
 * cannot hang the download. 0 seconds means no limit.
 */
function _deadline<T>(
  work: Promise<T>,
  seconds: number,
  message: string,
  controller: AbortController,
  user: AbortSignal | undefined,
): Promise<T> {
  work.catch(() => {}); // the race's loser must not become an unhandled rejection
  return new Promise<T>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => settle(() => reject(user!.reason));
    const settle = (fn: () => void) => {
      clearTimeout(timer);
      user?.removeEventListener("abort", onAbort);
      fn();
    };
    if (user?.aborted) return onAbort();
    user?.addEventListener("abort", onAbort, { once: true });
    const ms = seconds * 1000;
    if (ms > 0 && ms <= _MAX_TIMER_MS) {
      timer = setTimeout(() => {
        const failure = new _AttemptError(message, true);
        controller.abort(failure);
        settle(() => reject(failure));
      }, ms);
    }
    work.then((value) => settle(() => resolve(value)), (err) => settle(() => reject(err)));
  });
}

/** The longest delay `setTimeout` takes (about 24.8 days); longer ones mean no limit. */
const _MAX_TIMER_MS = 2 ** 31 - 1;

/** The abort reason when `user` aborted, else `err` as a transient attempt failure. */
function _attemptError(err: unknown, user: AbortSignal | undefined): unknown {
  if (user?.aborted) return user.reason;
  if (err instanceof _AttemptError) return err;
  return new _AttemptError(_causeText(err), true, { cause: err });
}

/**
 * The most specific message of an error's `cause` chain, without the
 * wrappers that only repeat the URL: Deno's "fetch failed" →
 * "error sending request for url (…): client error (Connect): tcp connect
 * error: Connection refused (os error 111)" becomes "tcp connect error:
 * Connection refused (os error 111)".
 */
function _causeText(err: unknown): string {
  let text = "";
  let current: unknown = err;
  for (let depth = 0; depth < 16 && current !== undefined && current !== null; depth++) {
    const message = current instanceof Error ? current.message : String(current);
    if (message.trim() !== "") text = message.trim();
    current = current instanceof Error ? current.cause : undefined;
  }
  text = text
    .replace(/^error sending request (?:from \S+ )?for url \([^)]*\): /, "")
    .replace(/^client error \([^)]*\): /, "");
  return text === "" ? "unknown network error" : text;
}

/** `Retry-After` in seconds (a delay or an HTTP date), or `undefined` when absent or invalid. */
function _retryAfter(headers: Headers): number | undefined {
  const value = headers.get("retry-after")?.trim();
  if (value === undefined || value === "") return undefined;
  if (/^\d+$/.test(value)) return Number(value);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/** Waits `ms`, rejecting with the abort reason as soon as `signal` aborts. */
function _sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, Math.min(ms, _MAX_TIMER_MS));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Fetches a small text resource (the `.md5`), with the timeouts and retries. */
function _fetchText(context: _Context, url: string): Promise<string> {
  return _withRetries(context, url, async (controller) => {
    const chunks: Uint8Array[] = [];
    await _fetchBody(context, url, controller, (bytes) => {
      chunks.push(bytes);
      return Promise.resolve();
    });
    const decoder = new TextDecoder();
    return chunks.map((c) => decoder.decode(c, { stream: true })).join("") + decoder.decode();
  });
}

/**
 * Streams `url` into `path` (rewritten from its start on each attempt),
 * reporting progress; returns the body's MD5 (hex).
 */
function _downloadTo(
  context: _Context,
  url: string,
  path: string,
  onProgress: DownloadOptions["onProgress"],
): Promise<string> {
  return _withRetries(context, url, async (controller) => {
    const hash = createHash("md5");
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { write: true, truncate: true });
    } catch (err) {
      throw new Error(`Cannot download ${url} to ${path}: ${_message(err)}`, { cause: err });
    }
    try {
      await _fetchBody(context, url, controller, async (bytes, received, total) => {
        hash.update(bytes);
        try {
          await _writeAll(file, bytes);
        } catch (err) {
          throw new Error(`Cannot download ${url} to ${path}: ${_message(err)}`, { cause: err });
        }
        onProgress?.(received, total);
      });
    } finally {
      file.close();
    }
    return hash.digest("hex");
  });
}

/** The body's length from `content-length`, unless absent, invalid or content-encoded. */
function _contentLength(headers: Headers): number | undefined {
  const encoding = headers.get("content-encoding");
  if (encoding !== null && encoding.toLowerCase() !== "identity") return undefined;
  const value = headers.get("content-length");
  if (value === null || !/^\d+$/.test(value.trim())) return undefined;
  const n = Number(value.trim());
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Writes every byte of `bytes` (a single `write` may be partial). */
async function _writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await file.write(bytes.subarray(offset));
}

/**
 * Unpacks `zip` into `dataDir`, one entry at a time (memory: the zip plus its
 * largest entry), each through a temporary file and a rename, `ratingsEntry` last.
 */
async function _unpack(
  zip: Uint8Array,
  zipUrl: string,
  dataDir: string,
  ratingsEntry: string,
  temps: Set<string>,
): Promise<void> {
  // List the entries without inflating anything.
  const names: string[] = [];
  _unzip(zip, zipUrl, (info) => {
    names.push(info.name);
    return false;
  });
  const files = new Map<string, string>(); // entry name → relative path
  for (const entryName of names) {
    const segments = _safeSegments(entryName);
    if (segments === null) {
      throw new Error(
        `Cannot unpack ${zipUrl}: entry ${JSON.stringify(entryName)} points outside ${dataDir}`,
      );
    }
    if (segments.length === 0 || /[/\\]$/.test(entryName)) continue; // a folder
    files.set(entryName, segments.join("/"));
  }
  const ratingsName = [...files].find(([, rel]) => rel === ratingsEntry)?.[0];
  if (ratingsName === undefined) {
    throw new Error(`Cannot unpack ${zipUrl}: the zip holds no ${ratingsEntry}`);
  }
  const order = [...files.keys()].filter((n) => n !== ratingsName);
  order.push(ratingsName);
  for (const entryName of order) {
    const data = _unzip(zip, zipUrl, (info) => info.name === entryName)[entryName];
    if (data === undefined) {
      throw new Error(`Cannot unpack ${zipUrl}: entry ${JSON.stringify(entryName)} vanished`);
    }
    const dest = join(dataDir, ...files.get(entryName)!.split("/"));
    try {
      await Deno.mkdir(dirname(dest), { recursive: true });
      const temp = await Deno.makeTempFile({
        dir: dirname(dest),
        prefix: `.${basename(dest)}.`,
        suffix: ".part",
      });
      temps.add(temp);
      await Deno.writeFile(temp, data);
      await Deno.rename(temp, dest);
      temps.delete(temp);
    } catch (err) {
      throw new Error(`Cannot unpack ${zipUrl} to ${dest}: ${_message(err)}`, { cause: err });
    }
  }
}

/** `unzipSync` with its errors named after the zip. */
function _unzip(
  zip: Uint8Array,
  zipUrl: string,
  filter: (info: { name: string }) => boolean,
): Record<string, Uint8Array> {
  try {
    return unzipSync(zip, { filter });
  } catch (err) {
    throw new Error(`Cannot unpack ${zipUrl}: ${_message(err)}`, { cause: err });
  }
}

/**
 * The path segments of a zip entry name (`\` read as `/`, empty and `.`
 * segments dropped), or `null` when it is absolute, has a drive letter, a NUL
 * or a `..` segment.
 */
function _safeSegments(entryName: string): string[] | null {
  const name = entryName.replaceAll("\\", "/");
  if (name.startsWith("/") || /^[A-Za-z]:/.test(name) || name.includes("\0")) return null;
  const segments = name.split("/").filter((s) => s !== "" && s !== ".");
  return segments.includes("..") ? null : segments;
}

/**
 * Removes a temporary file, best effort: it runs in a `finally`, where
 * throwing would hide the error that got us there.
 */
async function _removeQuietly(path: string): Promise<void> {
  await Deno.remove(path).catch(() => {});
}

/** An error's message, or the thrown value as a string. */
function _message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
