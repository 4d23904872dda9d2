/**
 * `ncf recommend`: a trained model's top-k items for one user, many users
 * or every user, among the items each user has not interacted with (their
 * training items and their held-out item), in the data set's original ids.
 * The model is loaded once; users stream out one at a time.
 *
 * @module
 */

import type { BackendChoice } from "../flags/specs.ts";
import { type RawId, rawIdAt, RawIdIndex } from "../data/raw_ids.ts";
import { sigmoid } from "../model/loss.ts";
import type { Model } from "../model/model.ts";
import { SettingError } from "../errors.ts";
import {
  type CheckpointDataMaps,
  type LoadedModelCheckpoint,
  loadModelCheckpoint,
  modelFromCheckpoint,
} from "../train/model_checkpoint.ts";
import { topK } from "./top_k.ts";

/** One recommended item. */
export interface Recommendation {
  /** The item's original id (a number for integer ids, else the string). */
  item: RawId;
  /** The model's probability of an interaction (the sigmoid of its logit). */
  score: number;
}

/** One user's recommendations, best first. */
export interface UserRecommendations {
  /** The user's original id (a number for integer ids, else the string). */
  user: RawId;
  /** The top items, by score descending, ties by the item's dense id ascending. */
  recommendations: Recommendation[];
}

/** Options of {@linkcode recommendUsers}. */
export interface RecommendOptions {
  /** Items per user (default 10; fewer when fewer items are candidates). */
  k?: number | undefined;
  /** Also rank the items each user has seen (default false). */
  includeSeen?: boolean | undefined;
  /** Kernel set for scoring (default "auto"). */
  backend?: BackendChoice | undefined;
  /** Stops the stream between users (it throws the signal's reason). */
  signal?: AbortSignal | undefined;
  /**
   * The setting that named the users, for the error about unknown ones
   * (default "user"; e.g. "users", "users_file").
   */
  setting?: string | undefined;
}

/**
 * The top `k` unseen items for the user whose original id is `user` (its
 * text, as typed). An unknown user is a `SettingError` naming "user".
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recommend } from "./recommend.ts";
 * await assert.rejects(() => recommend("/nonexistent/model", "196"), /Cannot load a model/);
 * ```
 */
export async function recommend(
  modelDir: string,
  user: string,
  options: Omit<RecommendOptions, "setting" | "signal"> = {},
): Promise<Recommendation[]> {
  const [result] = await Array.fromAsync(recommendUsers(modelDir, [user], options));
  return result.recommendations;
}

/**
 * Streams each user's top-k items: loads the model once (from a model
 * folder, or a checkpoint already loaded), checks every requested user
 * before the first result, then scores one user at a time with buffers
 * reused across users.
 *
 * @param source A model folder (or its `checkpoint.ncf`), or a loaded checkpoint.
 * @param users Original ids (numbers, or text as typed: "007" finds 7 among
 *   integer ids), in the order wanted, or "all" for every user in dense id order.
 * @throws {SettingError} naming `options.setting` when a user is unknown
 *   (the first unknown one and how many were), or `k` is not a positive integer;
 *   naming "model_dir" when `source` is no model folder.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recommendUsers } from "./recommend.ts";
 * const stream = recommendUsers("/nonexistent/model", "all");
 * await assert.rejects(() => stream.next(), (e: Error) => e.name === "SettingError");
 * ```
 */
export async function* recommendUsers(
  source: string | LoadedModelCheckpoint,
  users: readonly RawId[] | "all",
  options: RecommendOptions = {},
): AsyncGenerator<UserRecommendations, void, undefined> {
  const k = options.k ?? 10;
  if (!Number.isInteger(k) || k < 1) {
    throw new SettingError("k", `Cannot recommend ${k} items: expected an integer ≥ 1`);
  }
  const checkpoint = typeof source === "string"
    ? await loadModelCheckpoint(source, { setting: "model_dir" })
    : source;
  const { userIds } = checkpoint.maps;
  const dense = users === "all"
    ? undefined
    : _denseUsers(users, new RawIdIndex(userIds), options.setting ?? "user");
  const numUsers = dense?.length ?? userIds.length;
  if (numUsers === 0) return;
  const model = modelFromCheckpoint(checkpoint, { backend: options.backend });
  const ranker = new UserRanker(model, checkpoint.maps);
  const includeSeen = options.includeSeen === true;
  for (let n = 0; n < numUsers; n++) {
    options.signal?.throwIfAborted();
    const u = dense === undefined ? n : dense[n];
    yield { user: rawIdAt(userIds, u), recommendations: ranker.top(u, k, { includeSeen }) };
  }
}

/**
 * The one ranking path of `recommend`, `recommendUsers` and the server: a
 * user's candidates (every item, or the items the user has not seen — its
 * training items and its held-out item), scored by the model's
 * `scoreUserItems`, the top `k` by a heap (score descending, ties to the
 * lower item index), as original ids and probabilities. Buffers are reused
 * for every user.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UserRanker } from "./recommend.ts";
 * const scores = Float32Array.of(0.1, 0.9, 0.5, 0.3);
 * const model = {
 *   scoreUserItems(_u: number, items: Int32Array, o: { out: Float32Array; count?: number }) {
 *     for (let n = 0; n < (o.count ?? items.length); n++) o.out[n] = scores[items[n]];
 *   },
 * };
 * const ranker = new UserRanker(model, {
 *   itemIds: Float64Array.of(10, 11, 12, 13),
 *   trainOffsets: Int32Array.of(0, 1), trainItems: Int32Array.of(1), evalItems: Int32Array.of(3),
 * });
 * assert.deepEqual(ranker.top(0, 2).map((r) => r.item), [12, 10]);
 * assert.deepEqual(ranker.top(0, 1, { includeSeen: true }).map((r) => r.item), [11]);
 * ```
 */
export class UserRanker {
  readonly #model: Pick<Model, "scoreUserItems">;
  readonly #maps: Pick<CheckpointDataMaps, "itemIds" | "trainOffsets" | "trainItems" | "evalItems">;
  readonly #seen: Uint8Array;
  readonly #candidates: Int32Array;
  readonly #scores: Float32Array;
  #best = new Int32Array(0);

  /**
   * @param model What scores a user's items.
   * @param maps The checkpoint's id maps and seen items.
   */
  constructor(
    model: Pick<Model, "scoreUserItems">,
    maps: Pick<CheckpointDataMaps, "itemIds" | "trainOffsets" | "trainItems" | "evalItems">,
  ) {
    this.#model = model;
    this.#maps = maps;
    const numItems = maps.itemIds.length;
    this.#seen = new Uint8Array(numItems);
    this.#candidates = new Int32Array(numItems);
    this.#scores = new Float32Array(numItems);
  }

  /** Dense user `u`'s top `k` items (unseen ones unless `includeSeen`). */
  top(u: number, k: number, options: { includeSeen?: boolean | undefined } = {}): Recommendation[] {
    const { itemIds, trainOffsets, trainItems, evalItems } = this.#maps;
    const numItems = itemIds.length;
    const candidates = this.#candidates;
    const seen = this.#seen;
    const from = trainOffsets[u];
    const to = trainOffsets[u + 1];
    let count = 0;
    if (options.includeSeen === true) {
      for (let i = 0; i < numItems; i++) candidates[count++] = i;
    } else {
      for (let p = from; p < to; p++) seen[trainItems[p]] = 1;
      seen[evalItems[u]] = 1;
      for (let i = 0; i < numItems; i++) if (seen[i] === 0) candidates[count++] = i;
      for (let p = from; p < to; p++) seen[trainItems[p]] = 0;
      seen[evalItems[u]] = 0;
    }
    this.#model.scoreUserItems(u, candidates, { out: this.#scores, count });
    const keep = Math.min(k, count);
    if (this.#best.length < keep) this.#best = new Int32Array(keep);
    const top = topK(this.#scores, keep, { count, out: this.#best.subarray(0, keep) });
    const recommendations: Recommendation[] = new Array(top.length);
    for (let r = 0; r < top.length; r++) {
      recommendations[r] = {
        item: rawIdAt(itemIds, candidates[top[r]]),
        score: sigmoid(this.#scores[top[r]]),
      };
    }
    return recommendations;
  }
}

/**
 * The dense id of each of `users`.
 * @throws {SettingError} naming `setting`, with the first unknown id and how many were unknown.
 */
function _denseUsers(users: readonly RawId[], index: RawIdIndex, setting: string): Int32Array {
  const dense = new Int32Array(users.length);
  let unknown = 0;
  let first: RawId | undefined;
  for (let n = 0; n < users.length; n++) {
    dense[n] = index.find(users[n]);
    if (dense[n] >= 0) continue;
    unknown++;
    first ??= users[n];
  }
  if (first !== undefined) {
    const others = unknown === 1 ? "" : ` (${unknown} of the ${users.length} users are unknown)`;
    throw new SettingError(
      setting,
      `Cannot recommend for user ${first}: no such user in the model's data${others}`,
    );
  }
  return dense;
}

/**
 * Reads a users file: one user id per line, as typed (surrounding spaces
 * trimmed). Blank lines are skipped, and so is a first line `user`,
 * `userId`, `user_id` or `userid` (a header); CRLF line ends are accepted.
 *
 * @returns The ids' text, in file order.
 * @throws {Deno.errors.NotFound} naming the file when it is missing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readUsersFile } from "./recommend.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "userId\r\n196\r\n\r\nu 2\r\n");
 * assert.deepEqual(await readUsersFile(path), ["196", "u 2"]);
 * await Deno.remove(path);
 * ```
 */
export async function readUsersFile(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(
        `Cannot read users file ${path}: it does not exist; expected one user id per line`,
      );
    }
    throw e;
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const ids: string[] = [];
  let first = true;
  for (const line of text.split("\n")) {
    const id = line.trim();
    if (id === "") continue;
    if (first && _USER_HEADERS.has(id.toLowerCase())) {
      first = false;
      continue;
    }
    first = false;
    ids.push(id);
  }
  return ids;
}

const _USER_HEADERS = new Set(["user", "userid", "user_id"]);
