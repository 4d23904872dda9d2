/**
 * How recommendations are written (`ncf recommend --format`), streamed: a
 * header once, then each user's rows as they come.
 *
 * - `table` (the default): tab-separated, one header line. For a single
 *   user the columns are `rank item score` (the output `ncf recommend`
 *   always had); for several users a leading `user` column; then `title`
 *   when titles are given (empty where an item has none). Scores have 6
 *   decimals; tabs and line breaks inside ids and titles become spaces.
 * - `csv`: the header `user,rank,item,score,title` whatever the number of
 *   users, fields quoted as RFC 4180 asks (titles hold commas and quotes),
 *   `title` empty where unknown, scores with 6 decimals, LF line ends.
 * - `jsonl`: one object per user, {@linkcode recommendationJson}'s shape
 *   (what the HTTP server returns): ids as numbers for integer ids and
 *   strings otherwise, full-precision scores, `title` only where known.
 *
 * @module
 */

import { RECOMMENDATION_FORMATS, type RecommendationFormat } from "../flags/specs.ts";
import type { RawId } from "../data/raw_ids.ts";
import { csvLine } from "./csv_field.ts";
import type { UserRecommendations } from "./recommend.ts";

export { RECOMMENDATION_FORMATS, type RecommendationFormat };

/** Item titles by the text of the item's raw id (`String(rawId)`). */
export type ItemTitles = ReadonlyMap<string, string>;

/** Options of {@linkcode formatRecommendations}. */
export interface RecommendationFormatOptions {
  /** The output format. */
  format: RecommendationFormat;
  /** Item titles, when known (a `title` column or field). */
  titles?: ItemTitles | undefined;
  /**
   * Whether the output is for several users (a list, a file, every user):
   * `table` then leads with a `user` column. `csv` and `jsonl` always name
   * the user. Default false.
   */
  multipleUsers?: boolean | undefined;
}

/** One recommended item as JSON. */
export interface RecommendedItemJson {
  /** The item's original id. */
  item: RawId;
  /** The probability of an interaction. */
  score: number;
  /** The item's title, when known. */
  title?: string;
}

/** One user's recommendations as JSON (a `jsonl` line; the HTTP server's answer). */
export interface RecommendationJson {
  /** The user's original id. */
  user: RawId;
  /** Best first. */
  recommendations: RecommendedItemJson[];
}

/**
 * One user's recommendations as the JSON object `jsonl` writes and the
 * HTTP server returns.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recommendationJson } from "./recommendation_format.ts";
 * const result = { user: 196, recommendations: [{ item: 50, score: 0.9 }, { item: 7, score: 0.5 }] };
 * assert.deepEqual(recommendationJson(result, { titles: new Map([["50", "Star Wars (1977)"]]) }), {
 *   user: 196,
 *   recommendations: [{ item: 50, score: 0.9, title: "Star Wars (1977)" }, { item: 7, score: 0.5 }],
 * });
 * ```
 */
export function recommendationJson(
  result: UserRecommendations,
  options: { titles?: ItemTitles | undefined } = {},
): RecommendationJson {
  return {
    user: result.user,
    recommendations: result.recommendations.map(({ item, score }) => {
      const title = options.titles?.get(String(item));
      return title === undefined ? { item, score } : { item, score, title };
    }),
  };
}

/**
 * The header of a format, with its line end ("" for `jsonl`, which has none).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recommendationHeader } from "./recommendation_format.ts";
 * assert.equal(recommendationHeader({ format: "table" }), "rank\titem\tscore\n");
 * assert.equal(recommendationHeader({ format: "csv" }), "user,rank,item,score,title\n");
 * ```
 */
export function recommendationHeader(options: RecommendationFormatOptions): string {
  switch (options.format) {
    case "table": {
      const columns = ["rank", "item", "score"];
      if (options.multipleUsers === true) columns.unshift("user");
      if (options.titles !== undefined) columns.push("title");
      return columns.join("\t") + "\n";
    }
    case "csv":
      return "user,rank,item,score,title\n";
    case "jsonl":
      return "";
  }
}

/**
 * One user's lines in a format, each ending in LF (no header).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatUserRecommendations } from "./recommendation_format.ts";
 * const result = { user: "u1", recommendations: [{ item: "i,2", score: 0.75 }] };
 * assert.equal(formatUserRecommendations(result, { format: "table" }), "1\ti,2\t0.750000\n");
 * assert.equal(formatUserRecommendations(result, { format: "csv" }), 'u1,1,"i,2",0.750000,\n');
 * assert.equal(
 *   formatUserRecommendations(result, { format: "jsonl" }),
 *   '{"user":"u1","recommendations":[{"item":"i,2","score":0.75}]}\n',
 * );
 * ```
 */
export function formatUserRecommendations(
  result: UserRecommendations,
  options: RecommendationFormatOptions,
): string {
  const { titles } = options;
  switch (options.format) {
    case "table": {
      let out = "";
      const user = options.multipleUsers === true ? `${_cell(result.user)}\t` : "";
      result.recommendations.forEach(({ item, score }, r) => {
        out += `${user}${r + 1}\t${_cell(item)}\t${score.toFixed(6)}`;
        if (titles !== undefined) out += `\t${_cell(titles.get(String(item)) ?? "")}`;
        out += "\n";
      });
      return out;
    }
    case "csv": {
      let out = "";
      result.recommendations.forEach(({ item, score }, r) => {
        const title = titles?.get(String(item)) ?? "";
        out += csvLine([result.user, r + 1, item, score.toFixed(6), title]);
      });
      return out;
    }
    case "jsonl":
      return JSON.stringify(recommendationJson(result, { titles })) + "\n";
  }
}

/**
 * Streams recommendations as text: one chunk per user, as the user's result
 * arrives (so every user of a large data set never sits in memory at once),
 * the header leading the first chunk. Nothing is yielded before the first
 * result, so an error the results throw first (an unknown user) comes
 * before any output; with no users the header alone is yielded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatRecommendations } from "./recommendation_format.ts";
 * const results = [
 *   { user: 196, recommendations: [{ item: 50, score: 0.9 }] },
 *   { user: 186, recommendations: [{ item: 7, score: 0.5 }] },
 * ];
 * const chunks = await Array.fromAsync(
 *   formatRecommendations(results, { format: "table", multipleUsers: true }),
 * );
 * assert.equal(chunks.join(""), "user\trank\titem\tscore\n196\t1\t50\t0.900000\n186\t1\t7\t0.500000\n");
 * ```
 */
export async function* formatRecommendations(
  results: AsyncIterable<UserRecommendations> | Iterable<UserRecommendations>,
  options: RecommendationFormatOptions,
): AsyncGenerator<string, void, undefined> {
  let header = recommendationHeader(options);
  for await (const result of results) {
    yield header + formatUserRecommendations(result, options);
    header = "";
  }
  if (header !== "") yield header;
}

/** A table cell: tabs and line breaks become spaces. */
function _cell(value: RawId): string {
  return String(value).replace(/[\t\r\n]/g, " ");
}
