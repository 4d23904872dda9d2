/**
 * The `ncf` data set: the NCF paper's split files, used as given (no filter,
 * no re-split), except that a repeated candidate counts once and the
 * held-out item is never its own negative (DESIGN.md section 5).
 *
 * - `<PREFIX>.train.rating`, `<PREFIX>.test.rating`: ratings files (tab:
 *   user, item, rating, timestamp) with dense 0-based ids, one test row per
 *   user;
 * - `<PREFIX>.test.negative`: lines `(user,item)` then the candidate
 *   negatives, tab separated, one line per user, `(user,item)` matching the
 *   user's test row.
 *
 * The split is named by its prefix or by the path of any of its three files.
 *
 * @module
 */

import { SettingError } from "../errors.ts";
import { groupRows } from "./group_rows.ts";
import { drawValidation, VALIDATION_PICK_STREAM } from "./validation_split.ts";
import { Prng } from "../random/prng.ts";
import { readChunks } from "./read_chunks.ts";
import { MAX_DENSE_ID, MAX_LINE_BYTES, readRatings } from "./read_ratings.ts";
import type { Dataset } from "./types.ts";

/** The three files of an NCF split, and their common prefix. */
export interface NcfFilePaths {
  prefix: string;
  train: string;
  test: string;
  negative: string;
}

/** The suffixes of an NCF split's files, in the order of {@linkcode NcfFilePaths}. */
export const NCF_SUFFIXES = [".train.rating", ".test.rating", ".test.negative"] as const;

/**
 * The file names of the split named by `prefix`: the prefix itself, or the
 * path of any of the three files (its suffix is then dropped).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ncfFilePaths } from "./ncf_files.ts";
 * assert.ok(ncfFilePaths("data/ml-1m").negative === "data/ml-1m.test.negative");
 * assert.ok(ncfFilePaths("data/ml-1m.train.rating").test === "data/ml-1m.test.rating");
 * assert.ok(ncfFilePaths("data/ml-1m.test.negative").prefix === "data/ml-1m");
 * ```
 */
export function ncfFilePaths(prefix: string): NcfFilePaths {
  for (const suffix of NCF_SUFFIXES) {
    if (prefix.endsWith(suffix) && prefix.length > suffix.length) {
      prefix = prefix.slice(0, -suffix.length);
      break;
    }
  }
  return {
    prefix,
    train: `${prefix}${NCF_SUFFIXES[0]}`,
    test: `${prefix}${NCF_SUFFIXES[1]}`,
    negative: `${prefix}${NCF_SUFFIXES[2]}`,
  };
}

/** Options of {@linkcode readNcfFiles}. */
export interface ReadNcfFilesOptions {
  /** Aborts between chunks. */
  signal?: AbortSignal | undefined;
  /**
   * Hold out each user's latest training row (by timestamp) for
   * validation, with validation negatives as many as the split's test
   * negatives, drawn from `seed`; default false. Rows that tie on the
   * latest timestamp (in the NCF files every training timestamp is 0) give
   * a seeded choice among them, not the last in the file: the file lists
   * each user's items by id, so the last would favour rarely rated items.
   */
  validation?: boolean | undefined;
  /** Seed of the validation negatives (required with `validation`). */
  seed?: number | undefined;
}

/**
 * Reads an NCF split into a data set with identity id maps: `numUsers` and
 * `numItems` are the largest id seen in any of the three files plus one;
 * duplicate training rows count once; each user's negatives are the distinct
 * candidates of its line other than its held-out item, in file order. A user
 * whose line yields fewer negatives than the longest line lists counts as
 * capped. Throws `SyntaxError` naming file:line for a malformed line, a
 * second test row or negatives line of a user, a `(user,item)` that is not
 * the user's test row, and naming the file when a user has no test row or
 * no negatives line; `Deno.errors.NotFound` naming the missing files and
 * the three expected (and, when `prefix` is a folder, the split in it).
 * `prefix` may also be the path of any of the three files.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readNcfFiles } from "./ncf_files.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/s.train.rating`, "0\t0\t5\t1\n0\t1\t4\t2\n1\t1\t3\t3\n");
 * await Deno.writeTextFile(`${dir}/s.test.rating`, "0\t2\t5\t9\n1\t0\t1\t9\n");
 * await Deno.writeTextFile(`${dir}/s.test.negative`, "(0,2)\t3\t4\t4\n(1,0)\t2\t3\t4\n");
 * const ds = await readNcfFiles(`${dir}/s`);
 * assert.ok(ds.numUsers === 2 && ds.numItems === 5);
 * assert.ok(ds.evalNegatives.join() === "3,4,2,3,4" && ds.numEvalCappedUsers === 1);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readNcfFiles(
  prefix: string,
  options: ReadNcfFilesOptions = {},
): Promise<Dataset> {
  const paths = ncfFilePaths(prefix);
  const { signal } = options;
  await _checkFiles(paths);
  const train = await readRatings(paths.train, { signal, denseIds: true });
  const test = await readRatings(paths.test, { signal, denseIds: true, lineNumbers: true });
  const negatives = await _readNegatives(paths.negative, signal);

  let maxUser = Math.max(_max(train.users, train.length), _max(test.users, test.length));
  let maxItem = Math.max(_max(train.items, train.length), _max(test.items, test.length));
  for (let k = 0; k < negatives.lines; k++) {
    maxUser = Math.max(maxUser, negatives.users[k]);
    maxItem = Math.max(maxItem, negatives.items[k]);
  }
  for (let k = 0; k < negatives.offsets[negatives.lines]; k++) {
    maxItem = Math.max(maxItem, negatives.candidates[k]);
  }
  const numUsers = maxUser + 1;
  const numItems = maxItem + 1;

  // Held-out items: exactly one test row per user.
  const evalItems = new Int32Array(numUsers).fill(-1);
  const testLine = new Int32Array(numUsers);
  const testLines = test.lineNumbers!;
  for (let r = 0; r < test.length; r++) {
    const u = test.users[r];
    if (evalItems[u] >= 0) {
      throw new SyntaxError(
        `Cannot parse ratings: ${paths.test}:${
          testLines[r]
        }: user ${u} has a second test row (the first is on line ${testLine[u]})`,
      );
    }
    evalItems[u] = test.items[r];
    testLine[u] = testLines[r];
  }
  for (let u = 0; u < numUsers; u++) {
    if (evalItems[u] < 0) {
      throw new SyntaxError(
        `Cannot read NCF split: user ${u} has no row in ${paths.test} (users must be 0..${maxUser}, each with one test row)`,
      );
    }
  }

  // Negatives: one line per user, matching its test row.
  const lineOf = new Int32Array(numUsers).fill(-1);
  for (let k = 0; k < negatives.lines; k++) {
    const u = negatives.users[k];
    const where = `${paths.negative}:${negatives.lineNumbers[k]}`;
    if (lineOf[u] >= 0) {
      throw new SyntaxError(
        `Cannot parse NCF negatives: ${where}: user ${u} has a second line (the first is line ${
          negatives.lineNumbers[lineOf[u]]
        })`,
      );
    }
    if (negatives.items[k] !== evalItems[u]) {
      throw new SyntaxError(
        `Cannot parse NCF negatives: ${where}: (${u},${
          negatives.items[k]
        }) is not user ${u}'s test row (item ${evalItems[u]} at ${paths.test}:${testLine[u]})`,
      );
    }
    lineOf[u] = k;
  }
  let maxListed = 0;
  for (let k = 0; k < negatives.lines; k++) {
    maxListed = Math.max(maxListed, negatives.offsets[k + 1] - negatives.offsets[k]);
  }
  const evalNegOffsets = new Int32Array(numUsers + 1);
  const evalNegatives = new Int32Array(negatives.offsets[negatives.lines]);
  const marker = new Int32Array(numItems);
  let numEvalCappedUsers = 0;
  let w = 0;
  for (let u = 0; u < numUsers; u++) {
    const k = lineOf[u];
    if (k < 0) {
      throw new SyntaxError(`Cannot read NCF split: user ${u} has no line in ${paths.negative}`);
    }
    const stamp = u + 1;
    marker[evalItems[u]] = stamp;
    for (let c = negatives.offsets[k]; c < negatives.offsets[k + 1]; c++) {
      const item = negatives.candidates[c];
      if (marker[item] !== stamp) (marker[item] = stamp, evalNegatives[w++] = item);
    }
    evalNegOffsets[u + 1] = w;
    if (w - evalNegOffsets[u] < maxListed) numEvalCappedUsers++;
  }

  // With validation: each user's latest training row is held out (all its duplicates too).
  if (options.validation && options.seed === undefined) {
    throw new TypeError("Cannot draw validation negatives: no seed was given");
  }
  const validItems = options.validation
    ? _latestRows(train, numUsers, { path: paths.train, seed: options.seed ?? 0 })
    : undefined;

  // Training positives: CSR, ascending, duplicates once.
  let n = 0;
  const trainUser = new Int32Array(train.length);
  const trainItem = new Int32Array(train.length);
  for (let r = 0; r < train.length; r++) {
    const u = train.users[r];
    if (validItems !== undefined && validItems[u] === train.items[r]) continue;
    (trainUser[n] = u, trainItem[n++] = train.items[r]);
  }
  const { order, offsets } = groupRows(
    trainUser.subarray(0, n),
    numUsers,
    trainItem.subarray(0, n),
    numItems,
  );
  const trainOffsets = new Int32Array(numUsers + 1);
  let t = 0;
  for (let u = 0; u < numUsers; u++) {
    for (let k = offsets[u]; k < offsets[u + 1]; k++) {
      const item = trainItem[order[k]];
      if (t === trainOffsets[u] || order[t - 1] !== item) order[t++] = item;
    }
    trainOffsets[u + 1] = t;
  }
  const trainItems = order.slice(0, t);

  const dataset: Dataset = {
    numUsers,
    numItems,
    userIds: _identity(numUsers),
    itemIds: _identity(numItems),
    trainOffsets,
    trainItems,
    evalItems,
    evalNegOffsets,
    evalNegatives: evalNegatives.slice(0, w),
    numEvalCappedUsers,
  };
  if (validItems === undefined) return dataset;
  for (let u = 0; u < numUsers; u++) {
    if (trainOffsets[u + 1] === trainOffsets[u]) {
      throw new SettingError(
        "validation",
        `Cannot hold out a validation item: user ${u} of ${paths.train} has a single training item`,
      );
    }
  }
  const validation = drawValidation(dataset, validItems, {
    numEvalNegatives: maxListed,
    seed: options.seed ?? 0,
  });
  return { ...dataset, validation };
}

/** Each user's latest training item (by timestamp; ties: the later row). */
function _latestRows(
  train: { users: Float64Array; items: Float64Array; timestamps: Float64Array; length: number },
  numUsers: number,
  o: { path: string; seed: number },
): Int32Array {
  const { path } = o;
  const latest = new Int32Array(numUsers).fill(-1);
  const time = new Float64Array(numUsers);
  // Rows tied at the user's latest timestamp so far; each replaces the
  // choice with probability 1/ties (reservoir sampling: a uniform pick).
  const ties = new Int32Array(numUsers);
  const prng = new Prng(o.seed, VALIDATION_PICK_STREAM);
  for (let r = 0; r < train.length; r++) {
    const u = train.users[r];
    const t = train.timestamps[r];
    if (latest[u] < 0 || t > time[u]) {
      (latest[u] = train.items[r], time[u] = t, ties[u] = 1);
    } else if (t === time[u] && prng.nextInt(++ties[u]) === 0) {
      latest[u] = train.items[r];
    }
  }
  for (let u = 0; u < numUsers; u++) {
    if (latest[u] < 0) {
      throw new SettingError(
        "validation",
        `Cannot hold out a validation item: user ${u} has no row in ${path}`,
      );
    }
  }
  return latest;
}

/** Throws `NotFound` naming the split's missing files and what was expected. */
async function _checkFiles(paths: NcfFilePaths): Promise<void> {
  const all = [paths.train, paths.test, paths.negative];
  const missing: string[] = [];
  for (const path of all) {
    try {
      await Deno.stat(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
        missing.push(path);
      } else {
        throw error;
      }
    }
  }
  if (missing.length === 0) return;
  let hint = "the prefix is the files' path without these suffixes, or the path of any of them";
  try {
    if ((await Deno.stat(paths.prefix)).isDirectory) {
      const found: string[] = [];
      for await (const entry of Deno.readDir(paths.prefix)) {
        if (entry.isFile && entry.name.endsWith(NCF_SUFFIXES[0])) {
          found.push(
            `${paths.prefix.replace(/\/+$/, "")}/${entry.name.slice(0, -NCF_SUFFIXES[0].length)}`,
          );
        }
      }
      found.sort();
      hint = found.length > 0
        ? `${paths.prefix} is a folder: give the prefix of a split inside it, here ${
          found.join(" or ")
        }`
        : `${paths.prefix} is a folder, and holds no *${NCF_SUFFIXES[0]} file`;
    }
  } catch {
    // No folder of that name: the general hint stands.
  }
  const state = missing.length === all.length
    ? "none of its files exists"
    : `${missing.join(" and ")} ${missing.length === 1 ? "does" : "do"} not exist`;
  throw new Deno.errors.NotFound(
    `Cannot read the NCF split ${paths.prefix}: ${state} (expected ${paths.train}, ${paths.test} and ${paths.negative}; ${hint})`,
  );
}

/** The parsed `.test.negative` file. */
interface _Negatives {
  lines: number;
  users: Int32Array;
  items: Int32Array;
  lineNumbers: Int32Array;
  /** CSR offsets into `candidates`, length lines + 1. */
  offsets: Int32Array;
  candidates: Int32Array;
}

async function _readNegatives(path: string, signal: AbortSignal | undefined): Promise<_Negatives> {
  const parser = new _NegativesParser(path);
  await readChunks(path, (bytes, final) => parser.feed(bytes, final), {
    what: "NCF negatives",
    signal,
  });
  return parser.finish();
}

const _NL = 10;
const _CR = 13;
const _TAB = 9;
const _SPACE = 32;

/** Byte-level parser of `(user,item)\tneg\tneg…` lines. */
class _NegativesParser {
  readonly path: string;
  line = 0;
  blankLine = 0;
  lines = 0;
  users: Int32Array = new Int32Array(1024);
  items: Int32Array = new Int32Array(1024);
  lineNumbers: Int32Array = new Int32Array(1024);
  offsets: Int32Array = new Int32Array(1025);
  candidates: Int32Array = new Int32Array(1 << 16);
  numCandidates = 0;
  value = 0;
  start = 0;

  constructor(path: string) {
    this.path = path;
  }

  feed(bytes: Uint8Array, final: boolean): number {
    const end = bytes.length;
    let pos = 0;
    for (;;) {
      let next = bytes.indexOf(_NL, pos);
      if (next < 0) {
        if (end - pos > 16 * MAX_LINE_BYTES) {
          this._fail(this.line + 1, `line is longer than ${16 * MAX_LINE_BYTES} bytes`);
        }
        if (!final || pos >= end) break;
        next = end;
      }
      this.line++;
      let lineEnd = next;
      if (lineEnd > pos && bytes[lineEnd - 1] === _CR) lineEnd--;
      this._line(bytes, pos, lineEnd);
      pos = next + 1;
    }
    return pos < end ? pos : end;
  }

  finish(): _Negatives {
    if (this.lines === 0) {
      throw new SyntaxError(`Cannot parse NCF negatives: ${this.path}: no data lines`);
    }
    return {
      lines: this.lines,
      users: this.users,
      items: this.items,
      lineNumbers: this.lineNumbers,
      offsets: this.offsets,
      candidates: this.candidates,
    };
  }

  _line(bytes: Uint8Array, start: number, end: number): void {
    this.start = start;
    let p = start;
    while (p < end && (bytes[p] === _SPACE || bytes[p] === _TAB)) p++;
    if (p === end) {
      if (this.blankLine === 0) this.blankLine = this.line;
      return;
    }
    for (let i = start; i < end; i++) {
      const c = bytes[i];
      if ((c < 32 && c !== _TAB) || c > 126) {
        const hex = c.toString(16).toUpperCase().padStart(2, "0");
        this._fail(this.line, `binary byte 0x${hex} at column ${i - start + 1}`);
      }
    }
    if (this.blankLine !== 0) {
      this._fail(
        this.blankLine,
        "blank line before more data (only trailing blank lines are allowed)",
      );
    }
    if (bytes[p] !== 0x28) this._syntax(bytes, p, end, `expected "(user,item)" at the start`);
    p = this._id(bytes, p + 1, end, "user id");
    const user = this.value;
    if (bytes[p] !== 0x2c) this._syntax(bytes, p, end, `expected "," after the user id`);
    p = this._id(bytes, p + 1, end, "item id");
    const item = this.value;
    if (bytes[p] !== 0x29) this._syntax(bytes, p, end, `expected ")" after the item id`);
    p++;
    const k = this.lines;
    if (k + 1 === this.users.length) this._growLines();
    this.users[k] = user;
    this.items[k] = item;
    this.lineNumbers[k] = this.line;
    for (;;) {
      const before = p;
      while (p < end && (bytes[p] === _TAB || bytes[p] === _SPACE)) p++;
      if (p === end) break;
      if (p === before) this._syntax(bytes, p, end, "expected a tab before the next candidate");
      p = this._id(bytes, p, end, "candidate item id");
      if (this.numCandidates === this.candidates.length) {
        const bigger = new Int32Array(this.candidates.length * 2);
        bigger.set(this.candidates);
        this.candidates = bigger;
      }
      this.candidates[this.numCandidates++] = this.value;
    }
    this.lines = k + 1;
    this.offsets[k + 1] = this.numCandidates;
  }

  /** Parses a dense id (digits, optional spaces around) into `value`; returns the position after it. */
  _id(bytes: Uint8Array, start: number, end: number, what: string): number {
    let p = start;
    while (p < end && bytes[p] === _SPACE) p++;
    const first = p;
    let v = 0;
    while (p < end) {
      const d = bytes[p] - 48;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
      p++;
    }
    if (p === first || v > MAX_DENSE_ID) {
      let q = first;
      while (q < end && bytes[q] !== _TAB && bytes[q] !== 0x2c && bytes[q] !== 0x29) q++;
      const token = String.fromCharCode(...bytes.subarray(first, Math.min(q, first + 40)));
      this._fail(
        this.line,
        `${what} ${JSON.stringify(token)} is not a dense id (an integer in [0, ${MAX_DENSE_ID}])`,
      );
    }
    while (p < end && bytes[p] === _SPACE) p++;
    this.value = v;
    return p;
  }

  _growLines(): void {
    const size = this.users.length * 2;
    const grow = (a: Int32Array, n: number) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.users = grow(this.users, size);
    this.items = grow(this.items, size);
    this.lineNumbers = grow(this.lineNumbers, size);
    this.offsets = grow(this.offsets, size + 1);
  }

  _syntax(bytes: Uint8Array, p: number, end: number, what: string): never {
    const found = p < end
      ? JSON.stringify(String.fromCharCode(...bytes.subarray(p, Math.min(end, p + 20))))
      : "the end of the line";
    this._fail(this.line, `${what}, found ${found}`);
  }

  _fail(line: number, what: string): never {
    throw new SyntaxError(`Cannot parse NCF negatives: ${this.path}:${line}: ${what}`);
  }
}

function _max(values: Float64Array, n: number): number {
  let m = -1;
  for (let r = 0; r < n; r++) if (values[r] > m) m = values[r];
  return m;
}

function _identity(n: number): Float64Array {
  const ids = new Float64Array(n);
  for (let i = 0; i < n; i++) ids[i] = i;
  return ids;
}
