/**
 * Preprocessing of raw interactions into a {@linkcode Dataset}: dedupe,
 * `min_ratings` filter, dense ids, leave-one-out split and evaluation
 * negatives (DESIGN.md sections 5 and 7). Linear time: counting sorts only.
 *
 * @module
 */

import { SettingError } from "../errors.ts";
import { sampleEvalNegatives } from "./eval_negatives.ts";
import { groupRows } from "./group_rows.ts";
import { drawValidation, withExtraItem } from "./validation_split.ts";
import type { Dataset, RawInteractions } from "./types.ts";

/** Options of {@linkcode preprocess}. */
export interface PreprocessOptions {
  /** Users with fewer distinct items are dropped; default 20, an integer ≥ 2. */
  minRatings?: number | undefined;
  /** Evaluation negatives per user; default 999. */
  numEvalNegatives?: number | undefined;
  /** Seed of the run (evaluation negatives). */
  seed: number;
  /**
   * Also hold out each user's second-latest interaction for validation (users
   * then need at least 3 distinct items); default false.
   */
  validation?: boolean | undefined;
  /** Receives a message for each user dropped because no item is left to be its negative. */
  onWarning?: ((message: string) => void) | undefined;
}

/**
 * Turns raw interactions into a data set, in this order:
 * 1. duplicate (user, item) rows keep the latest (largest timestamp; among
 *    equal timestamps the later row);
 * 2. users with fewer than `minRatings` distinct items are dropped;
 * 3. raw ids become dense 0-based ids, users and items each in ascending
 *    raw-id order: numerically for integer ids, by UTF-16 code units
 *    (JavaScript's default string order) for string ids (`userNames`,
 *    `itemNames`, which then become `userIds`/`itemIds` as strings);
 *    `numItems` counts every item left, held-out ones included;
 * 4. leave-one-out: each user's latest interaction (ties: the later row) is
 *    held out, the rest are its training items, ascending;
 * 5. a user who interacted with every item is dropped with a warning (and the
 *    ids are remapped; repeated until stable);
 * 6. evaluation negatives are sampled ({@linkcode sampleEvalNegatives}).
 *
 * Throws a `SettingError` for `num_eval_negatives` when
 * `numEvalNegatives ≥ numItems − 1` (no user could get that many), a
 * `RangeError` for bad options or when no user is left.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { preprocess } from "./preprocess.ts";
 * const raw = {
 *   users: Float64Array.of(7, 7, 7, 9, 9),
 *   items: Float64Array.of(100, 200, 300, 100, 400),
 *   timestamps: Float64Array.of(1, 3, 2, 5, 4),
 *   length: 5,
 * };
 * const ds = preprocess(raw, { minRatings: 2, numEvalNegatives: 1, seed: 1 });
 * assert.ok(ds.numUsers === 2 && ds.numItems === 4);
 * assert.ok(ds.evalItems[0] === 1); // user 7's latest item, 200, is dense item 1
 * assert.equal(ds.trainItems.join(), "0,2,3");
 * // A string column: codes into userNames; dense ids follow the names' string order.
 * const named = { ...raw, users: Float64Array.of(0, 0, 0, 1, 1), userNames: ["u9", "u10"] };
 * const ds2 = preprocess(named, { minRatings: 2, numEvalNegatives: 1, seed: 1 });
 * assert.deepEqual(ds2.userIds, ["u10", "u9"]);
 * ```
 */
export function preprocess(raw: RawInteractions, options: PreprocessOptions): Dataset {
  const minRatings = options.minRatings ?? 20;
  const numEvalNegatives = options.numEvalNegatives ?? 999;
  if (!Number.isSafeInteger(minRatings) || minRatings < 2) {
    throw new RangeError(
      `Cannot preprocess ratings: minRatings ${minRatings} is not an integer ≥ 2`,
    );
  }
  if (!Number.isSafeInteger(numEvalNegatives) || numEvalNegatives < 0) {
    throw new RangeError(
      `Cannot preprocess ratings: numEvalNegatives ${numEvalNegatives} is not an integer ≥ 0`,
    );
  }
  const validation = options.validation ?? false;
  const split = _split(raw, validation ? Math.max(minRatings, 3) : minRatings, {
    validation,
    onWarning: options.onWarning,
  });
  if (numEvalNegatives >= split.numItems - 1) {
    throw new SettingError(
      "num_eval_negatives",
      `Cannot draw ${numEvalNegatives} evaluation negatives per user: the data set has only ${split.numItems} items, so at most ${
        split.numItems - 2
      }`,
    );
  }
  const { validItems, ...rest } = split;
  if (validItems === undefined) {
    return { ...rest, ...sampleEvalNegatives(rest, { numEvalNegatives, seed: options.seed }) };
  }
  // Test negatives exclude the validation item too; validation negatives the test item.
  const known = withExtraItem(rest.trainOffsets, rest.trainItems, validItems);
  const negatives = sampleEvalNegatives(
    { ...rest, trainOffsets: known.offsets, trainItems: known.items },
    { numEvalNegatives, seed: options.seed },
  );
  const drawn = drawValidation(rest, validItems, { numEvalNegatives, seed: options.seed });
  return { ...rest, ...negatives, validation: drawn };
}

type _Split =
  & Omit<
    Dataset,
    "evalNegOffsets" | "evalNegatives" | "numEvalCappedUsers" | "validation"
  >
  & { validItems?: Int32Array };

/** Steps 1–5. Its intermediates die when it returns, before the negatives are drawn. */
function _split(
  raw: RawInteractions,
  minRatings: number,
  options: { validation: boolean; onWarning: ((message: string) => void) | undefined },
): _Split {
  const { validation, onWarning } = options;
  const n = raw.length;
  const timestamps = raw.timestamps;
  for (let r = 0; r < n; r++) {
    if (!Number.isFinite(timestamps[r])) {
      throw new RangeError(
        `Cannot preprocess ratings: row ${r + 1} has timestamp ${timestamps[r]}`,
      );
    }
  }
  const users = _denseIndex(raw.users, n, "user", raw.userNames);
  const items = _denseIndex(raw.items, n, "item", raw.itemNames);
  const numAllUsers = users.ids.length;
  const numAllItems = items.ids.length;
  const item = items.index;

  // Rows grouped by user, by item within a user, in file order within a (user, item).
  const { order, offsets: userStart } = groupRows(users.index, numAllUsers, item, numAllItems);

  // 1. Dedupe in place: each (user, item) run keeps its latest row.
  const keptStart = new Int32Array(numAllUsers + 1);
  let w = 0;
  for (let u = 0; u < numAllUsers; u++) {
    keptStart[u] = w;
    const end = userStart[u + 1];
    let k = userStart[u];
    while (k < end) {
      let best = order[k];
      let bestTime = timestamps[best];
      const it = item[best];
      k++;
      while (k < end) {
        const r = order[k];
        if (item[r] !== it) break;
        const t = timestamps[r];
        if (t >= bestTime) (best = r, bestTime = t);
        k++;
      }
      order[w++] = best;
    }
  }
  keptStart[numAllUsers] = w;

  // 2. min_ratings, and 5. users with every item, until stable.
  const keep = new Uint8Array(numAllUsers);
  for (let u = 0; u < numAllUsers; u++) {
    keep[u] = keptStart[u + 1] - keptStart[u] >= minRatings ? 1 : 0;
  }
  const itemDense = new Int32Array(numAllItems);
  let numItems = 0;
  for (;;) {
    itemDense.fill(-1);
    numItems = 0;
    for (let u = 0; u < numAllUsers; u++) {
      if (keep[u] === 0) continue;
      for (let k = keptStart[u]; k < keptStart[u + 1]; k++) {
        const it = item[order[k]];
        if (itemDense[it] < 0) (itemDense[it] = 0, numItems++);
      }
    }
    let dropped = false;
    for (let u = 0; u < numAllUsers; u++) {
      if (keep[u] !== 0 && keptStart[u + 1] - keptStart[u] >= numItems) {
        keep[u] = 0;
        dropped = true;
        const id = users.ids[u];
        onWarning?.(
          `Dropping user ${
            typeof id === "string" ? JSON.stringify(id) : id
          }: it interacted with all ${numItems} items, so it has no possible negative`,
        );
      }
    }
    if (!dropped) break;
  }

  // 3. Dense ids in ascending raw order.
  const itemIds = _newIds(items.ids, numItems);
  for (let it = 0, next = 0; it < numAllItems; it++) {
    if (itemDense[it] >= 0) (itemIds[next] = items.ids[it], itemDense[it] = next++);
  }
  let numUsers = 0;
  let numTrain = 0;
  for (let u = 0; u < numAllUsers; u++) {
    if (keep[u] !== 0) {
      numUsers++;
      numTrain += keptStart[u + 1] - keptStart[u] - (validation ? 2 : 1);
    }
  }
  if (numUsers === 0) {
    throw new RangeError(
      `Cannot preprocess ratings: no user is left (each has fewer than ${minRatings} distinct items or interacted with every item)`,
    );
  }

  // 4. Leave-one-out into CSR rows.
  const userIds = _newIds(users.ids, numUsers);
  const trainOffsets = new Int32Array(numUsers + 1);
  const trainItems = new Int32Array(numTrain);
  const evalItems = new Int32Array(numUsers);
  const validItems = validation ? new Int32Array(numUsers) : undefined;
  let du = 0;
  let t = 0;
  for (let u = 0; u < numAllUsers; u++) {
    if (keep[u] === 0) continue;
    const start = keptStart[u];
    const end = keptStart[u + 1];
    let held = start;
    let heldRow = order[start];
    let heldTime = timestamps[heldRow];
    for (let k = start + 1; k < end; k++) {
      const r = order[k];
      const time = timestamps[r];
      if (time > heldTime || (time === heldTime && r > heldRow)) {
        (held = k, heldRow = r, heldTime = time);
      }
    }
    // The second-latest (same tie rule), held out for validation.
    let second = -1;
    if (validItems !== undefined) {
      let secondRow = -1;
      let secondTime = -Infinity;
      for (let k = start; k < end; k++) {
        if (k === held) continue;
        const r = order[k];
        const time = timestamps[r];
        if (second < 0 || time > secondTime || (time === secondTime && r > secondRow)) {
          (second = k, secondRow = r, secondTime = time);
        }
      }
      validItems[du] = itemDense[item[secondRow]];
    }
    for (let k = start; k < end; k++) {
      if (k !== held && k !== second) trainItems[t++] = itemDense[item[order[k]]];
    }
    userIds[du] = users.ids[u];
    evalItems[du] = itemDense[item[heldRow]];
    trainOffsets[++du] = t;
  }
  return {
    numUsers,
    numItems,
    userIds,
    itemIds,
    trainOffsets,
    trainItems,
    evalItems,
    ...(validItems === undefined ? {} : { validItems }),
  };
}

/** An id array of `length` of the same kind as `like` (numbers or strings). */
function _newIds(like: Float64Array | string[], length: number): Float64Array | string[] {
  return like instanceof Float64Array ? new Float64Array(length) : new Array<string>(length);
}

/** Dense index of each row's id (ascending raw order) and the distinct raw ids. */
function _denseIndex(
  values: Float64Array,
  n: number,
  what: string,
  names: readonly string[] | undefined,
): { index: Int32Array; ids: Float64Array | string[] } {
  if (names !== undefined) return _denseNames(values, n, what, names);
  let min = Infinity;
  let max = -Infinity;
  for (let r = 0; r < n; r++) {
    const v = values[r];
    if (!Number.isSafeInteger(v)) {
      throw new RangeError(`Cannot preprocess ratings: row ${r + 1} has ${what} id ${v}`);
    }
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const index = new Int32Array(n);
  const range = max - min + 1;
  if (n > 0 && range <= Math.max(4 * n, 1 << 20) && range < 2 ** 30) {
    // Small id range: a lookup table (entry = dense id + 1, 0 = absent).
    const table = new Int32Array(range);
    for (let r = 0; r < n; r++) table[values[r] - min] = 1;
    let count = 0;
    for (let j = 0; j < range; j++) if (table[j] !== 0) table[j] = ++count;
    const ids = new Float64Array(count);
    for (let j = 0; j < range; j++) if (table[j] !== 0) ids[table[j] - 1] = j + min;
    for (let r = 0; r < n; r++) index[r] = table[values[r] - min] - 1;
    return { index, ids };
  }
  // Large or sparse ids: sorted distinct ids and a binary search per row.
  const sorted = values.slice(0, n).sort();
  let count = 0;
  for (let j = 0; j < n; j++) {
    if (j === 0 || sorted[j] !== sorted[j - 1]) sorted[count++] = sorted[j];
  }
  const ids = sorted.slice(0, count);
  for (let r = 0; r < n; r++) {
    const v = values[r];
    let lo = 0;
    let hi = count - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ids[mid] < v) lo = mid + 1;
      else hi = mid;
    }
    index[r] = lo;
  }
  return { index, ids };
}

/**
 * Dense index of each row's string id: `values` are indexes into `names`;
 * the ids kept are the names used, in ascending code-unit order.
 */
function _denseNames(
  values: Float64Array,
  n: number,
  what: string,
  names: readonly string[],
): { index: Int32Array; ids: string[] } {
  const numNames = names.length;
  const used = new Uint8Array(numNames);
  for (let r = 0; r < n; r++) {
    const v = values[r];
    if (!(Number.isInteger(v) && v >= 0 && v < numNames)) {
      throw new RangeError(
        `Cannot preprocess ratings: row ${
          r + 1
        } has ${what} code ${v}, not an index into the ${numNames} ${what} names`,
      );
    }
    used[v] = 1;
  }
  const codes: number[] = [];
  for (let c = 0; c < numNames; c++) if (used[c] !== 0) codes.push(c);
  codes.sort((a, b) => (names[a] < names[b] ? -1 : names[a] > names[b] ? 1 : 0));
  const rank = new Int32Array(numNames);
  const ids = new Array<string>(codes.length);
  for (let k = 0; k < codes.length; k++) {
    const name = names[codes[k]];
    if (typeof name !== "string") {
      throw new RangeError(`Cannot preprocess ratings: ${what} name ${codes[k]} is not a string`);
    }
    if (k > 0 && name === ids[k - 1]) {
      throw new RangeError(
        `Cannot preprocess ratings: the ${what} names list ${JSON.stringify(name)} twice`,
      );
    }
    ids[k] = name;
    rank[codes[k]] = k;
  }
  const index = new Int32Array(n);
  for (let r = 0; r < n; r++) index[r] = rank[values[r]];
  return { index, ids };
}
