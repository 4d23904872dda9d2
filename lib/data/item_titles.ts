/**
 * Item titles: the one reader of the files that name a data set's items, for
 * `ncf recommend` and `ncf serve`. It reads the MovieLens titles files
 * (ml-100k `u.item`, ml-1m `movies.dat`, ml-latest-small and ml-20m
 * `movies.csv`) and any `id,title` CSV, into a map from the item id's text,
 * as the ratings file writes it, to the title.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { MOVIELENS, MOVIELENS_DATASETS } from "./movielens.ts";

/**
 * The formats {@linkcode readItemTitles} reads; `auto` picks one by file name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ITEM_TITLES_FORMATS } from "./item_titles.ts";
 * assert.ok(ITEM_TITLES_FORMATS.includes("u.item"));
 * ```
 */
export const ITEM_TITLES_FORMATS = ["auto", "u.item", "movies.dat", "movies.csv", "csv"] as const;

/**
 * A titles file's format:
 * - `u.item` (ml-100k): `id|title|date|…`, Latin-1;
 * - `movies.dat` (ml-1m): `id::title::genres`, Latin-1;
 * - `movies.csv` (ml-latest-small, ml-20m): `csv`, whose header `movieId,title,genres` it reads;
 * - `csv`: `id,title[,…]`, an optional header, UTF-8;
 * - `auto`: by file name (`u.item`, `movies.dat`, `movies.csv`, anything else `csv`).
 */
export type ItemTitlesFormat = typeof ITEM_TITLES_FORMATS[number];

/** Options of {@linkcode readItemTitles}. */
export interface ReadItemTitlesOptions {
  /** The file's format. Default `auto` (by file name). */
  format?: ItemTitlesFormat | undefined;
  /** Aborts the read; the abort reason is thrown as is. Default: none. */
  signal?: AbortSignal | undefined;
}

/**
 * Reads an item titles file into a map from the item id's text to its title.
 *
 * Keys are the ids as the file writes them (trimmed), so they match the
 * ratings file's ids as text; an integer id written another way than its
 * decimal text ("007", "+7") is also found under that text ("7", which is
 * `String(rawId)` of an integer column), unless the file names that id too.
 * Titles are trimmed. Blank lines are skipped.
 *
 * Text: `u.item` and `movies.dat` are Latin-1 (decoded as Windows-1252, its
 * superset for printable characters), unless the whole file is valid UTF-8
 * (a converted copy). `movies.csv` and `csv` are UTF-8 (a byte-order mark is
 * skipped). CSV fields follow RFC 4180: a field in double quotes may hold
 * commas, line breaks and doubled quotes (`""`); CRLF line ends are
 * accepted; columns after the title are ignored. The first line is a header
 * when its first field names an id column (`id`, `item`, `item_id`,
 * `itemId`, `movie`, `movie_id`, `movieId`; any case) or it names both an id
 * and a title column (`title`, `name`): the columns so named are then read
 * (`title,movieId` works), else the first two.
 *
 * @param path The titles file.
 * @returns Item id text → title.
 * @throws {Deno.errors.NotFound} "Cannot read item titles: <path> does not exist".
 * @throws {SyntaxError} "Cannot read item titles at <path>:<line>: …" for a
 *   line without an id and a title, an id given twice, a quoted field that
 *   never ends, or a CSV line that is not UTF-8.
 * @throws {Error} "Cannot read item titles: <path>: …" for other read errors.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { join } from "node:path";
 * import { readItemTitles } from "./item_titles.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const path = join(dir, "titles.csv");
 * await Deno.writeTextFile(path, 'id,title\n10,"GoldenEye, the movie"\n');
 * const titles = await readItemTitles(path);
 * assert.ok(titles.get("10") === "GoldenEye, the movie");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readItemTitles(
  path: string,
  options: ReadItemTitlesOptions = {},
): Promise<Map<string, string>> {
  const signal = options.signal;
  const format = _resolveFormat(path, options.format ?? "auto");
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path, signal === undefined ? {} : { signal });
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    if (err instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(`Cannot read item titles: ${path} does not exist`, {
        cause: err,
      });
    }
    throw new Error(`Cannot read item titles: ${path}: ${_message(err)}`, { cause: err });
  }
  const titles = new _Titles(path, format);
  if (format === "u.item" || format === "movies.dat") {
    _readDelimited(_decodeLatin1(bytes), format === "u.item" ? "|" : "::", titles, signal);
  } else {
    _readCsv(_decodeUtf8(bytes, path), titles, signal);
  }
  return titles.finish();
}

/**
 * The titles file beside a MovieLens ratings file, when it exists: `u.data`
 * → `u.item`, `ratings.dat` → `movies.dat`, `ratings.csv` → `movies.csv`,
 * in the same folder.
 *
 * @param ratingsFile The ratings file's path.
 * @returns The titles file's path, or `undefined` when the ratings file's
 *   name is not a MovieLens one or no titles file is beside it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { join } from "node:path";
 * import { findItemTitlesFile } from "./item_titles.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(join(dir, "u.item"), "1|Toy Story (1995)|01-Jan-1995\n");
 * assert.ok(await findItemTitlesFile(join(dir, "u.data")) === join(dir, "u.item"));
 * assert.ok(await findItemTitlesFile(join(dir, "ratings.dat")) === undefined);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function findItemTitlesFile(ratingsFile: string): Promise<string | undefined> {
  const name = basename(ratingsFile);
  const candidates = new Set<string>();
  for (const dataset of MOVIELENS_DATASETS) {
    const entry = MOVIELENS[dataset];
    if (entry.ratingsFile === name) candidates.add(join(dirname(ratingsFile), entry.titlesFile));
  }
  for (const candidate of candidates) {
    try {
      if ((await Deno.stat(candidate)).isFile) return candidate;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return undefined;
}

/** A concrete format. */
type _Format = Exclude<ItemTitlesFormat, "auto">;

/** `format`, or for `auto` the format the file name implies. */
function _resolveFormat(path: string, format: ItemTitlesFormat): _Format {
  if (!(ITEM_TITLES_FORMATS as readonly string[]).includes(format)) {
    throw new TypeError(
      `Cannot read item titles: format ${JSON.stringify(format)} is unknown (expected one of ${
        ITEM_TITLES_FORMATS.join(", ")
      })`,
    );
  }
  if (format !== "auto") return format;
  const name = basename(path).toLowerCase();
  return name === "u.item" || name === "movies.dat" || name === "movies.csv" ? name : "csv";
}

/** Header names of the id column, lower case. */
const _ID_NAMES = new Set(["id", "item", "item_id", "itemid", "movie", "movie_id", "movieid"]);
/** Header names of the title column, lower case. */
const _TITLE_NAMES = new Set(["title", "name"]);

/** How often (in lines) a long parse checks its abort signal. */
const _ABORT_CHECK_LINES = 4096;

/** The titles read so far, with the line of each id for the duplicate message. */
class _Titles {
  readonly #path: string;
  readonly #expected: string;
  readonly #titles = new Map<string, string>();
  readonly #lines = new Map<string, number>();

  constructor(path: string, format: _Format) {
    this.#path = path;
    this.#expected = format === "u.item"
      ? `"id|title|…" (u.item)`
      : format === "movies.dat"
      ? `"id::title::genres" (movies.dat)`
      : `"id,title" (quote a title that holds a comma: "Title, The")`;
  }

  /** Adds one line's id and title, or throws a SyntaxError naming the line. */
  add(id: string | undefined, title: string | undefined, line: number, text: string): void {
    const key = id?.trim() ?? "";
    const value = title?.trim() ?? "";
    if (key === "" || value === "") {
      const shown = text.length > 80 ? `${text.slice(0, 80)}…` : text;
      throw this.error(
        line,
        `expected ${this.#expected} with an id and a title, got ${JSON.stringify(shown)}`,
      );
    }
    const first = this.#lines.get(key);
    if (first !== undefined) {
      throw this.error(
        line,
        `item ${JSON.stringify(key)} has a second title (its first is on line ${first})`,
      );
    }
    this.#titles.set(key, value);
    this.#lines.set(key, line);
  }

  /** A SyntaxError at `line` of the file. */
  error(line: number, message: string): SyntaxError {
    return new SyntaxError(`Cannot read item titles at ${this.#path}:${line}: ${message}`);
  }

  /** The map, with each integer id also under its decimal text when the file wrote it otherwise. */
  finish(): Map<string, string> {
    const titles = this.#titles;
    const aliases: [string, string][] = [];
    for (const [key, value] of titles) {
      if (!/^[+-]?\d+$/.test(key)) continue;
      const n = Number(key);
      const canonical = String(n);
      if (Number.isSafeInteger(n) && canonical !== key && !titles.has(canonical)) {
        aliases.push([canonical, value]);
      }
    }
    for (const [key, value] of aliases) if (!titles.has(key)) titles.set(key, value);
    return titles;
  }
}

/** Reads `id<sep>title<sep>…` lines (`u.item`, `movies.dat`). */
function _readDelimited(
  text: string,
  separator: string,
  titles: _Titles,
  signal: AbortSignal | undefined,
): void {
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (i % _ABORT_CHECK_LINES === 0) signal?.throwIfAborted();
    const line = lines[i].endsWith("\r") ? lines[i].slice(0, -1) : lines[i];
    if (line.trim() === "") continue;
    const first = line.indexOf(separator);
    if (first < 0) {
      titles.add(line, undefined, i + 1, line);
      continue;
    }
    const second = line.indexOf(separator, first + separator.length);
    const title = line.slice(first + separator.length, second < 0 ? line.length : second);
    titles.add(line.slice(0, first), title, i + 1, line);
  }
}

/** Reads RFC 4180 CSV records: `id,title[,…]` after an optional header. */
function _readCsv(text: string, titles: _Titles, signal: AbortSignal | undefined): void {
  let idColumn = 0;
  let titleColumn = 1;
  let first = true;
  let count = 0;
  for (const { fields, line, text: raw } of _csvRecords(text, titles)) {
    if (count++ % _ABORT_CHECK_LINES === 0) signal?.throwIfAborted();
    if (fields.every((f) => f.trim() === "")) continue; // a blank line
    if (first) {
      first = false;
      const names = fields.map((f) => f.trim().toLowerCase());
      const header = _ID_NAMES.has(names[0]) ||
        (names.some((n) => _ID_NAMES.has(n)) && names.some((n) => _TITLE_NAMES.has(n)));
      if (header) {
        const id = names.findIndex((n) => _ID_NAMES.has(n));
        idColumn = id < 0 ? 0 : id;
        const title = names.findIndex((n, i) => i !== idColumn && _TITLE_NAMES.has(n));
        titleColumn = title >= 0 ? title : idColumn === 0 ? 1 : 0;
        continue;
      }
    }
    titles.add(fields[idColumn], fields[titleColumn], line, raw);
  }
}

/** One CSV record: its fields, the line it starts on (1-based) and its text. */
interface _CsvRecord {
  fields: string[];
  line: number;
  text: string;
}

/** Splits `text` into RFC 4180 records (quoted fields may span lines; CRLF or LF ends). */
function* _csvRecords(text: string, titles: _Titles): Generator<_CsvRecord> {
  const n = text.length;
  let i = 0;
  let line = 1;
  while (i < n) {
    const start = i;
    const startLine = line;
    const fields: string[] = [];
    while (true) {
      if (text[i] === '"') {
        let value = "";
        let from = i + 1;
        while (true) {
          const quote = text.indexOf('"', from);
          if (quote < 0) {
            throw titles.error(startLine, "a quoted field never ends (a missing closing quote)");
          }
          const part = text.slice(from, quote);
          value += part;
          line += _count(part, "\n");
          if (text[quote + 1] === '"') {
            value += '"';
            from = quote + 2;
          } else {
            i = quote + 1;
            break;
          }
        }
        if (text[i] === "\r" && (text[i + 1] === "\n" || i + 1 === n)) i++;
        if (i < n && text[i] !== "," && text[i] !== "\n") {
          throw titles.error(
            line,
            `unexpected ${
              JSON.stringify(text[i])
            } after a closing quote (double a quote inside a quoted field: "")`,
          );
        }
        fields.push(value);
      } else {
        let end = i;
        while (end < n && text[end] !== "," && text[end] !== "\n") end++;
        const value = text.slice(i, end);
        fields.push(value.endsWith("\r") && text[end] !== "," ? value.slice(0, -1) : value);
        i = end;
      }
      if (i >= n) break;
      if (text[i] === ",") {
        i++;
        continue;
      }
      i++; // the "\n"
      line++;
      break;
    }
    yield { fields, line: startLine, text: text.slice(start, i).replace(/\r?\n$/, "") };
  }
}

/** How often `needle` (one character) occurs in `text`. */
function _count(text: string, needle: string): number {
  let count = 0;
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1)) count++;
  return count;
}

/** Latin-1 text (as Windows-1252), or UTF-8 when the whole file is valid UTF-8. */
function _decodeLatin1(bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return new TextDecoder("windows-1252").decode(bytes);
  }
}

/** UTF-8 text, or a SyntaxError naming the first line that is not UTF-8. */
function _decodeUtf8(bytes: Uint8Array, path: string): string {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  try {
    return decoder.decode(bytes);
  } catch {
    let line = 1;
    let start = 0;
    for (let i = 0; i <= bytes.length; i++) {
      if (i < bytes.length && bytes[i] !== 0x0a) continue;
      try {
        decoder.decode(bytes.subarray(start, i));
      } catch {
        break;
      }
      line++;
      start = i + 1;
    }
    throw new SyntaxError(
      `Cannot read item titles at ${path}:${line}: not UTF-8 text (save the file as UTF-8)`,
    );
  }
}

/** An error's message, or the thrown value as a string. */
function _message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
