/**
 * The model a server answers from: one checkpoint, loaded once, with its
 * id indexes, and every query the HTTP API asks of it (a known user's top k,
 * a new user's folded-in top k, scores of chosen items, similar items, a
 * user's training items, the learning curve, users and items by text). The
 * queries are synchronous and reuse buffers, so one instance serves every
 * request of its thread; a newer checkpoint is a new instance.
 *
 * @module
 */

import type { BackendChoice } from "../flags/specs.ts";
import { type RawId, rawIdAt, RawIdIndex } from "../data/raw_ids.ts";
import type { Model } from "../model/model.ts";
import { sigmoid } from "../model/loss.ts";
import {
  checkpointTensors,
  type EvalRecord,
  type LoadedModelCheckpoint,
  loadModelCheckpoint,
  modelFromCheckpoint,
} from "../train/model_checkpoint.ts";
import { FoldIn } from "./fold_in.ts";
import { IdSearch, type IdSearchResult } from "./id_search.ts";
import { ItemSimilarity } from "./item_similarity.ts";
import { type Recommendation, UserRanker } from "./recommend.ts";
import { topK } from "./top_k.ts";

/** Options of {@linkcode ServedModel.load}. */
export interface ServedModelOptions {
  /** Kernel set for scoring (default "auto"). */
  backend?: BackendChoice | undefined;
  /** The setting that named the folder, for the error when it is no model folder. */
  setting?: string | undefined;
}

/** A served checkpoint's learning curve: what the run is and every evaluation so far. */
export interface TrainingCurve {
  /** Epochs trained in the checkpoint. */
  epoch: number;
  /** The model's registry name (`--model`). */
  model: string;
  /** The data set's name. */
  dataset: string;
  /** The last evaluation's protocol (`sampled` or `full`), or null before any. */
  protocol: string | null;
  /** Epochs the run is set to train (`--train_epochs`). */
  trainEpochs: number;
  /** Whether the run has ended early (early stopping, `--hr_threshold`). */
  finished: boolean;
  /** One record per evaluation, oldest first. */
  history: readonly EvalRecord[];
}

/** Options of {@linkcode ServedModel.searchItems} and {@linkcode ServedModel.searchUsers}. */
export interface ServedSearchOptions {
  /** Matches to skip (default 0). */
  offset?: number | undefined;
  /** Most matches to return (default 20). */
  limit?: number | undefined;
}

/**
 * A loaded checkpoint ready to answer queries.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ServedModel } from "./served_model.ts";
 * await assert.rejects(() => ServedModel.load("/nonexistent/model"), /Cannot load a model/);
 * ```
 */
export class ServedModel {
  /** The checkpoint served. */
  readonly checkpoint: LoadedModelCheckpoint;
  /** Seconds the checkpoint took to read and build. */
  readonly loadSeconds: number;
  readonly #model: Model;
  readonly #backend: BackendChoice | undefined;
  readonly #users: RawIdIndex;
  readonly #items: RawIdIndex;
  #ranker: UserRanker | undefined;
  readonly #seen: Uint8Array;
  readonly #candidates: Int32Array;
  readonly #scores: Float32Array;
  #foldIn: FoldIn | undefined;
  #similarity: ItemSimilarity | undefined;
  #userSearch: IdSearch | undefined;
  #itemSearch: { titles: ReadonlyMap<string, string> | undefined; search: IdSearch } | undefined;

  private constructor(
    checkpoint: LoadedModelCheckpoint,
    options: { backend: BackendChoice | undefined; started: number },
  ) {
    this.checkpoint = checkpoint;
    this.#backend = options.backend;
    this.#model = modelFromCheckpoint(checkpoint, { backend: options.backend });
    this.#users = new RawIdIndex(checkpoint.maps.userIds);
    this.#items = new RawIdIndex(checkpoint.maps.itemIds);
    const numItems = checkpoint.maps.itemIds.length;
    this.#seen = new Uint8Array(numItems);
    this.#candidates = new Int32Array(numItems);
    this.#scores = new Float32Array(numItems);
    this.loadSeconds = (performance.now() - options.started) / 1000;
  }

  /**
   * Loads the checkpoint of model folder `path` (or the `checkpoint.ncf` it names).
   * @throws as `loadModelCheckpoint`, and `SyntaxError` when its tensors do not fit its model.
   */
  static async load(path: string, options: ServedModelOptions = {}): Promise<ServedModel> {
    const started = performance.now();
    const checkpoint = await loadModelCheckpoint(path, { setting: options.setting });
    return new ServedModel(checkpoint, { backend: options.backend, started });
  }

  /** Epochs trained in the checkpoint. */
  get epoch(): number {
    return this.checkpoint.meta.run.epochsDone;
  }

  /** The checkpoint file. */
  get path(): string {
    return this.checkpoint.path;
  }

  /** The dense id of user `id` (a value or its text), or -1 when unknown. */
  findUser(id: RawId): number {
    return this.#users.find(id);
  }

  /** The dense id of item `id` (a value or its text), or -1 when unknown. */
  findItem(id: RawId): number {
    return this.#items.find(id);
  }

  /** The original id of dense user `u`. */
  userId(u: number): RawId {
    return rawIdAt(this.checkpoint.maps.userIds, u);
  }

  /** The original id of dense item `i`. */
  itemId(i: number): RawId {
    return rawIdAt(this.checkpoint.maps.itemIds, i);
  }

  /** How many users the model knows. */
  get numUsers(): number {
    return this.checkpoint.maps.userIds.length;
  }

  /** How many items the model knows. */
  get numItems(): number {
    return this.checkpoint.maps.itemIds.length;
  }

  /** Dense user `u`'s training items (dense ids, as stored): a view, not a copy. */
  userItems(u: number): Int32Array {
    const { trainOffsets, trainItems } = this.checkpoint.maps;
    return trainItems.subarray(trainOffsets[u], trainOffsets[u + 1]);
  }

  /** Dense user `u`'s held-out (test) item, or -1 when it has none. */
  heldOutItem(u: number): number {
    return this.checkpoint.maps.evalItems[u] ?? -1;
  }

  /** The checkpoint's learning curve (its evaluation history, as saved). */
  training(): TrainingCurve {
    const { meta } = this.checkpoint;
    return {
      epoch: meta.run.epochsDone,
      model: meta.model.kind,
      dataset: meta.run.dataset,
      protocol: meta.history.at(-1)?.protocol ?? null,
      trainEpochs: meta.run.trainEpochs,
      finished: meta.run.finished,
      history: meta.history,
    };
  }

  /**
   * Users whose raw id contains `query` (case-insensitive; every user when
   * blank): an id equal to it first, then in dense order.
   */
  searchUsers(query: string, options: ServedSearchOptions = {}): IdSearchResult {
    this.#userSearch ??= new IdSearch(this.checkpoint.maps.userIds);
    return this.#userSearch.search(query, options);
  }

  /**
   * Items whose raw id or title contains `query` (case-insensitive; every
   * item when blank): an id equal to it first, then titles starting with
   * it, then the most popular (training interactions), then by dense id.
   * `titles` are by the text of the raw id.
   */
  searchItems(
    query: string,
    options: ServedSearchOptions & { titles?: ReadonlyMap<string, string> | undefined } = {},
  ): IdSearchResult {
    const titles = options.titles;
    if (this.#itemSearch === undefined || this.#itemSearch.titles !== titles) {
      const { itemIds, trainItems } = this.checkpoint.maps;
      const popularity = new Float64Array(itemIds.length);
      for (let n = 0; n < trainItems.length; n++) popularity[trainItems[n]]++;
      this.#itemSearch = {
        titles,
        search: new IdSearch(itemIds, {
          labels: titles === undefined ? undefined : (i) => titles.get(String(itemIds[i])),
          weights: popularity,
        }),
      };
    }
    return this.#itemSearch.search.search(query, options);
  }

  /**
   * Dense user `u`'s top `k` items, as `ncf recommend` ranks them: by
   * score, ties by dense id; without the user's training and held-out items
   * unless `includeSeen`.
   */
  recommend(
    u: number,
    k: number,
    options: { includeSeen?: boolean | undefined } = {},
  ): Recommendation[] {
    this.#ranker ??= new UserRanker(this.#model, this.checkpoint.maps);
    return this.#ranker.top(u, k, options);
  }

  /**
   * A new user's top `k` items: fitted to the dense items `items` by
   * fold-in (item weights frozen), those items left out.
   */
  foldIn(items: Int32Array, k: number): Recommendation[] {
    this.#foldIn ??= new FoldIn(this.checkpoint.meta.model, checkpointTensors(this.checkpoint), {
      backend: this.#backend,
    });
    const logits = this.#foldIn.fit(items);
    const seen = this.#seen;
    for (const i of items) seen[i] = 1;
    const candidates = this.#candidates;
    let count = 0;
    for (let i = 0; i < candidates.length; i++) if (seen[i] === 0) candidates[count++] = i;
    seen.fill(0);
    for (let n = 0; n < count; n++) this.#scores[n] = logits[candidates[n]];
    return this.#ranked(this.#scores, candidates, count, k);
  }

  /** Probabilities of dense user `u` for each dense item of `items`, in order. */
  scores(u: number, items: Int32Array): number[] {
    const out = new Float32Array(items.length);
    this.#model.scoreUserItems(u, items, { out });
    return Array.from(out, sigmoid);
  }

  /** The `k` items nearest dense item `i` by cosine of their embeddings (score = cosine). */
  similar(i: number, k: number): Recommendation[] {
    this.#similarity ??= new ItemSimilarity(this.#model.parameters.entries);
    const { items, scores } = this.#similarity.similar(i, k);
    return Array.from(items, (item, r) => ({ item: this.itemId(item), score: scores[r] }));
  }

  /** The top `k` of `scores[0..count)` (logits of `candidates`), as probabilities. */
  #ranked(
    scores: Float32Array,
    candidates: Int32Array,
    count: number,
    k: number,
  ): Recommendation[] {
    const top = topK(scores, Math.min(k, count), { count });
    return Array.from(top, (n) => ({
      item: this.itemId(candidates[n]),
      score: sigmoid(scores[n]),
    }));
  }
}
