/**
 * The MovieLens data sets GroupLens publishes, in one table (DESIGN.md
 * section 7): where each is downloaded from, how its checksum is obtained,
 * which file holds its ratings and in what format, and which file holds its
 * item titles. The loader (`load_dataset.ts`), the downloader
 * (`download.ts`) and the flags read it from here.
 *
 * @module
 */

/**
 * The MovieLens data set names, in the order help text lists them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MOVIELENS_DATASETS } from "./movielens.ts";
 * assert.ok(MOVIELENS_DATASETS.includes("ml-1m"));
 * ```
 */
export const MOVIELENS_DATASETS = ["ml-1m", "ml-20m", "ml-latest-small", "ml-100k"] as const;

/** A MovieLens data set name. */
export type MovieLensName = typeof MOVIELENS_DATASETS[number];

/** Where and how one MovieLens data set is stored. */
export interface MovieLensDataset {
  /** The data set's name, also the folder its zip unpacks to. */
  readonly name: MovieLensName;
  /** The zip's file name, relative to the GroupLens folder URL. */
  readonly zipFile: string;
  /**
   * The file GroupLens publishes beside the zip holding the zip's MD5 digest
   * (fetched at download time; the digest is not stored here), relative to
   * the GroupLens folder URL.
   */
  readonly md5File: string;
  /** The ratings file's name. */
  readonly ratingsFile: string;
  /**
   * The ratings file's path inside the zip, `/`-separated; also its path
   * relative to the data folder once unpacked.
   */
  readonly ratingsEntry: string;
  /** The field separator of the ratings file (`user`, `item`, `rating`, `timestamp`). */
  readonly separator: "::" | "\t" | ",";
  /** Whether the ratings file's first line is a header (`userId,movieId,rating,timestamp`). */
  readonly header: boolean;
  /** The file name of the item titles (in the same folder as the ratings file). */
  readonly titlesFile: string;
}

function _entry(
  name: MovieLensName,
  ratingsFile: string,
  separator: MovieLensDataset["separator"],
  header: boolean,
  titlesFile: string,
): MovieLensDataset {
  return Object.freeze({
    name,
    zipFile: `${name}.zip`,
    md5File: `${name}.zip.md5`,
    ratingsFile,
    ratingsEntry: `${name}/${ratingsFile}`,
    separator,
    header,
    titlesFile,
  });
}

/**
 * Every MovieLens data set by name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MOVIELENS } from "./movielens.ts";
 * const ml1m = MOVIELENS["ml-1m"];
 * assert.ok(ml1m.ratingsEntry === "ml-1m/ratings.dat" && ml1m.separator === "::");
 * assert.ok(MOVIELENS["ml-100k"].titlesFile === "u.item");
 * ```
 */
export const MOVIELENS: Readonly<Record<MovieLensName, MovieLensDataset>> = Object.freeze({
  "ml-1m": _entry("ml-1m", "ratings.dat", "::", false, "movies.dat"),
  "ml-20m": _entry("ml-20m", "ratings.csv", ",", true, "movies.csv"),
  "ml-latest-small": _entry("ml-latest-small", "ratings.csv", ",", true, "movies.csv"),
  "ml-100k": _entry("ml-100k", "u.data", "\t", false, "u.item"),
});

/**
 * Whether `name` is a MovieLens data set (an own key of {@linkcode MOVIELENS}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isMovieLens } from "./movielens.ts";
 * assert.ok(isMovieLens("ml-20m"));
 * assert.ok(!isMovieLens("csv") && !isMovieLens("toString"));
 * ```
 */
export function isMovieLens(name: string): name is MovieLensName {
  return Object.hasOwn(MOVIELENS, name);
}
