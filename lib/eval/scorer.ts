/**
 * What evaluation asks of a model: scores of a user's candidate items.
 * Models, the most-popular baseline and test doubles all fit it.
 *
 * @module
 */

/** Anything that scores a user's candidate items (higher is better). */
export interface Scorer {
  /** Writes the scores of `items[0..count)` for `user` into `out`. */
  scoreUserItems(
    user: number,
    items: Int32Array,
    options: { out: Float32Array; count?: number },
  ): void;
}
