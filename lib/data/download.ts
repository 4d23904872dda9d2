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
 * @module
 */

import { createHash } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { unzipSync } from "fflate";
import { SettingError } from "../errors.ts";
import { isMovieLens, MOVIELENS, MOVIELENS_DATASETS, type MovieLensName } from "./movielens.ts";

/** Where GroupLens publishes the MovieLens zips. */
export const GROUPLENS_BASE_URL = "https://files.grouplens.org/datasets/movielens/";

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
  onProgress?: (received: number, total: number | undefined) => void;
  /** The fetch function to use (tests inject one). Default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Aborts the download; the abort reason is rethrown as is. Default: none. */
  signal?: AbortSignal;
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
 * @throws {Error} "Cannot download <url>: HTTP <status>" and network errors
 *   (with the url), "Cannot verify <url>: MD5 is X, GroupLens publishes Y",
 *   "Cannot unpack <url>: …" (missing ratings file, unsafe entry name, corrupt zip).
 * @throws {SyntaxError} When the `.md5` file holds no digest.
 * @throws {SettingError} For an unknown data set name (setting `dataset`).
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
  let baseUrl = options.baseUrl ?? GROUPLENS_BASE_URL;
  if (!baseUrl.endsWith("/")) baseUrl += "/";
  const zipUrl = `${baseUrl}${zipFile}`;
  const md5Url = `${baseUrl}${md5File}`;
  const fetchFn = options.fetch ?? globalThis.fetch;
  const signal = options.signal;

  // The checksum first: it is tiny, and without it the zip is useless.
  const md5Text = await _fetchText(fetchFn, md5Url, signal);
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
    const actual = await _downloadTo(fetchFn, zipUrl, zipTemp, signal, options.onProgress);
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
  label?: string;
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

/** Fetches a small text resource, mapping HTTP and network errors to "Cannot download". */
async function _fetchText(
  fetchFn: typeof fetch,
  url: string,
  signal: AbortSignal | undefined,
): Promise<string> {
  const response = await _fetchOk(fetchFn, url, signal);
  try {
    return await response.text();
  } catch (err) {
    throw _networkError(url, err, signal);
  }
}

/** Fetches `url`; throws on a network error or a non-2xx status (the body cancelled). */
async function _fetchOk(
  fetchFn: typeof fetch,
  url: string,
  signal: AbortSignal | undefined,
): Promise<Response> {
  let response: Response;
  try {
    response = await fetchFn(url, { signal });
  } catch (err) {
    throw _networkError(url, err, signal);
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => {});
    throw new Error(`Cannot download ${url}: HTTP ${response.status}`);
  }
  return response;
}

/** The abort reason when aborted, else the error wrapped with the url. */
function _networkError(url: string, err: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return signal.reason;
  return new Error(`Cannot download ${url}: ${_message(err)}`, { cause: err });
}

/** Streams `url` into `path`, reporting progress; returns the body's MD5 (hex). */
async function _downloadTo(
  fetchFn: typeof fetch,
  url: string,
  path: string,
  signal: AbortSignal | undefined,
  onProgress: DownloadOptions["onProgress"],
): Promise<string> {
  const response = await _fetchOk(fetchFn, url, signal);
  const total = _contentLength(response.headers);
  const hash = createHash("md5");
  let received = 0;
  const file = await Deno.open(path, { write: true, truncate: true });
  try {
    if (response.body !== null) {
      const reader = response.body.getReader();
      try {
        while (true) {
          let chunk: ReadableStreamReadResult<Uint8Array>;
          try {
            chunk = await reader.read();
          } catch (err) {
            throw _networkError(url, err, signal);
          }
          if (chunk.done) break;
          const bytes = chunk.value;
          if (bytes.length === 0) continue;
          hash.update(bytes);
          try {
            await _writeAll(file, bytes);
          } catch (err) {
            throw new Error(`Cannot download ${url} to ${path}: ${_message(err)}`, { cause: err });
          }
          received += bytes.length;
          onProgress?.(received, total);
        }
      } finally {
        // Releases the connection when we stop early (error, abort, throwing callback).
        await reader.cancel().catch(() => {});
      }
    }
  } finally {
    file.close();
  }
  if (total !== undefined && received !== total) {
    throw new Error(`Cannot download ${url}: received ${received} of ${total} bytes`);
  }
  return hash.digest("hex");
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
