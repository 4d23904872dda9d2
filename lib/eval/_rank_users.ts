/**
 * Ranks users' held-out items among their candidates: the loop shared by the
 * serial evaluation and the evaluation workers. `sampled`: the user's
 * evaluation negatives; `full`: every item the user has no training
 * interaction with. Optionally marks, per cutoff K, the items in some user's
 * top K (catalogue coverage).
 *
 * @module
 */

import type { Dataset } from "../data/types.ts";
import type { EvalProtocol } from "../data/eval_protocol.ts";
import type { Scorer } from "./scorer.ts";
import { rankOfPositive } from "./metrics.ts";
import { RankKernels } from "./_rank_kernels.ts";
import { TopItems } from "./_top_items.ts";

/**
 * The parts of a data set the ranking reads; the training rows only for the
 * `full` protocol.
 */
export type EvalTables =
  & Pick<Dataset, "numUsers" | "numItems" | "evalItems" | "evalNegOffsets" | "evalNegatives">
  & Partial<Pick<Dataset, "trainOffsets" | "trainItems">>;

/**
 * The most users whose scores of every item are computed together (the
 * `full` protocol), fewer for large catalogues (see {@linkcode fullBlock}).
 * Blocks start at multiples of the block size, so a user's scores are the
 * same bits whichever thread, or which range of users, ranks them (as long
 * as ranges start at multiples of FULL_BLOCK, as the workers' chunks do).
 */
export const FULL_BLOCK = 64;

/** Scores a block's rows may hold: 16 MB of float32. */
const _BLOCK_FLOATS = 1 << 22;

/**
 * Users per block of the full protocol for `numItems` items: the largest
 * power of two up to {@linkcode FULL_BLOCK} whose rows fit in 16 MB (so it
 * divides FULL_BLOCK), at least 1.
 */
export function fullBlock(numItems: number): number {
  let block = FULL_BLOCK;
  while (block > 1 && block * numItems > _BLOCK_FLOATS) block >>= 1;
  return block;
}

/** Per-thread buffers: candidates and scores, the full protocol's rows, the top-K selection. */
export interface RankScratch {
  candidates: Int32Array;
  scores: Float32Array;
  wasm: boolean;
  kernels: RankKernels | null;
  users: Int32Array;
  allItems: Int32Array | null;
  masked: Uint8Array | null;
  top: TopItems | null;
}

/**
 * Buffers for {@linkcode rankUsers} over `tables`; `wasm: false` keeps the
 * full protocol's scans off WebAssembly (for `--backend ts`); `reuse` hands
 * over the full protocol's buffers of an earlier scratch (same items).
 */
export function rankScratch(
  tables: EvalTables,
  options: { wasm?: boolean | undefined; reuse?: RankScratch | null | undefined } = {},
): RankScratch {
  let widest = 0;
  const offsets = tables.evalNegOffsets;
  for (let u = 0; u < tables.numUsers; u++) {
    widest = Math.max(widest, offsets[u + 1] - offsets[u]);
  }
  const wasm = options.wasm ?? true;
  const old = options.reuse?.wasm === wasm ? options.reuse : null;
  return {
    candidates: new Int32Array(widest + 1),
    scores: new Float32Array(widest + 1),
    wasm,
    kernels: old?.kernels ?? null,
    users: new Int32Array(fullBlock(tables.numItems)),
    allItems: old?.allItems ?? null,
    masked: old?.masked?.length === tables.numItems ? old.masked : null,
    top: old?.top ?? null,
  };
}

/** What {@linkcode rankUsers} marks for coverage. */
export interface CoverageMarks {
  /** The cutoffs. */
  ks: readonly number[];
  /** `covered[j·numItems + i]` is set to 1 when item `i` is in some user's top `ks[j]`. */
  covered: Uint8Array;
}

/** Options of {@linkcode rankUsers}. */
export interface RankUsersOptions {
  /** First user. */
  from: number;
  /** One past the last user. */
  to: number;
  /** Receives each user's 0-based rank at its id. */
  ranks: Int32Array;
  /** This thread's buffers. */
  scratch: RankScratch;
  /** The candidates (default "sampled"). */
  protocol?: EvalProtocol | undefined;
  /** Items to mark as in a top K, or null (default) for no coverage. */
  coverage?: CoverageMarks | null | undefined;
}

/**
 * Writes into `ranks[u]` the 0-based rank of user `u`'s held-out item among
 * the user's candidates (ties rank the negative first), for `from ≤ u < to`.
 * @throws {TypeError} for the full protocol without the training rows.
 */
export function rankUsers(scorer: Scorer, tables: EvalTables, o: RankUsersOptions): void {
  if ((o.protocol ?? "sampled") === "full") _rankFull(scorer, tables, o);
  else _rankSampled(scorer, tables, o);
}

function _rankSampled(scorer: Scorer, tables: EvalTables, o: RankUsersOptions): void {
  const { evalItems, evalNegOffsets, evalNegatives } = tables;
  const { candidates, scores } = o.scratch;
  const negativeScores = scores.subarray(1);
  const coverage = o.coverage ?? null;
  const top = coverage === null ? null : _top(o.scratch, coverage.ks);
  for (let u = o.from; u < o.to; u++) {
    const start = evalNegOffsets[u];
    const count = evalNegOffsets[u + 1] - start;
    candidates[0] = evalItems[u];
    candidates.set(evalNegatives.subarray(start, start + count), 1);
    scorer.scoreUserItems(u, candidates, { out: scores, count: count + 1 });
    o.ranks[u] = rankOfPositive(scores[0], negativeScores, { count });
    if (top !== null) {
      top.reset(top.capacity);
      for (let c = 0; c <= count; c++) {
        const s = scores[c];
        if (!(s < top.threshold)) top.offer(s, candidates[c]);
      }
      _mark(top, coverage!, tables.numItems);
    }
  }
}

function _rankFull(scorer: Scorer, tables: EvalTables, o: RankUsersOptions): void {
  const { numItems, evalItems, trainOffsets, trainItems } = tables;
  if (trainOffsets === undefined || trainItems === undefined) {
    throw new TypeError(
      "Cannot rank against every item: the evaluation tables have no training rows (trainOffsets, trainItems)",
    );
  }
  const scratch = o.scratch;
  const kernels = scratch.kernels ??= new RankKernels({ wasm: scratch.wasm });
  const masked = scratch.masked ??= new Uint8Array(numItems);
  const coverage = o.coverage ?? null;
  const top = coverage === null ? null : _top(scratch, coverage.ks);
  const users = scratch.users;
  const byUsers = scorer.scoreUsersAll;
  const byUser = scorer.scoreUserAll;
  let allItems = scratch.allItems;
  if (byUsers === undefined && byUser === undefined && allItems?.length !== numItems) {
    allItems = scratch.allItems = Int32Array.from({ length: numItems }, (_, i) => i);
  }
  const block = fullBlock(numItems);
  for (let first = o.from; first < o.to;) {
    const end = Math.min(o.to, (Math.floor(first / block) + 1) * block);
    const count = end - first;
    const rows = kernels.rows(block * numItems);
    if (byUsers !== undefined) {
      for (let b = 0; b < count; b++) users[b] = first + b;
      byUsers.call(scorer, users, { out: rows, count });
    } else {
      for (let b = 0; b < count; b++) {
        const row = rows.subarray(b * numItems, (b + 1) * numItems);
        if (byUser !== undefined) byUser.call(scorer, first + b, row);
        else scorer.scoreUserItems(first + b, allItems!, { out: row, count: numItems });
      }
    }
    for (let b = 0; b < count; b++) {
      const u = first + b;
      const at = b * numItems;
      const positive = evalItems[u];
      const p = rows[at + positive];
      // Every item not below the positive, then back out the positive itself
      // and each training item (once, even if listed twice) that counted.
      let rank = kernels.countNotBelow(rows, at, numItems, p) - 1;
      const t0 = trainOffsets[u];
      const t1 = trainOffsets[u + 1];
      for (let t = t0; t < t1; t++) {
        const item = trainItems[t];
        if (item === positive || masked[item] === 1) continue;
        masked[item] = 1;
        if (!(rows[at + item] < p)) rank--;
        rows[at + item] = -Infinity; // out of the top-K scan below
      }
      o.ranks[u] = rank;
      if (top !== null) _selectFull(top, kernels, rows, { at, numItems, masked });
      for (let t = t0; t < t1; t++) masked[trainItems[t]] = 0;
      if (top !== null) _mark(top, coverage!, numItems);
    }
    first = end;
  }
}

/**
 * The best items of one row, skipping the masked ones: the first candidates
 * fill the selection, then only scores above its threshold are looked at
 * (masked items score −∞ by then, so they never are).
 */
function _selectFull(
  top: TopItems,
  kernels: RankKernels,
  rows: Float32Array,
  o: { at: number; numItems: number; masked: Uint8Array },
): void {
  const { at, numItems, masked } = o;
  top.reset(top.capacity);
  let i = 0;
  for (; i < numItems && top.size < top.capacity; i++) {
    if (masked[i] === 0) top.offer(rows[at + i], i);
  }
  while (i < numItems) {
    i += kernels.nextAbove(rows, at + i, numItems - i, top.threshold);
    if (i >= numItems) break;
    top.offer(rows[at + i], i);
    i++;
  }
}

/** The scratch's selection, sized for the largest cutoff. */
function _top(scratch: RankScratch, ks: readonly number[]): TopItems {
  const k = Math.max(...ks);
  if (scratch.top === null || scratch.top.capacity !== k) scratch.top = new TopItems(k);
  return scratch.top;
}

/** Marks the selection's items in each cutoff's row of `covered`. */
function _mark(top: TopItems, coverage: CoverageMarks, numItems: number): void {
  const best = top.sorted();
  const { ks, covered } = coverage;
  for (let j = 0; j < ks.length; j++) {
    const n = Math.min(ks[j], best.length);
    const base = j * numItems;
    for (let r = 0; r < n; r++) covered[base + best[r]] = 1;
  }
}
