/**
 * What evaluation asks of a model: scores of a user's candidate items.
 * Models, the most-popular baseline and test doubles all fit it.
 *
 * @module
 */

/**
 * Anything that scores a user's candidate items (higher is better). The
 * full-ranking protocol scores every item for every user; a scorer with a
 * faster way than {@linkcode Scorer.scoreUserItems} over the list of all
 * items offers it through the optional methods, which evaluation prefers in
 * this order: {@linkcode Scorer.scoreUsersAll}, {@linkcode Scorer.scoreUserAll}.
 */
export interface Scorer {
  /** Writes the scores of `items[0..count)` for `user` into `out`. */
  scoreUserItems(
    user: number,
    items: Int32Array,
    options: { out: Float32Array; count?: number },
  ): void;
  /**
   * Writes the scores of user `user` against every item into `out[i]`,
   * `i < numItems`.
   */
  scoreUserAll?(user: number, out: Float32Array): void;
  /**
   * Writes the scores of each of `users[0..count)` against every item,
   * row-major: `out[b·numItems + i]` for user `users[b]` and item `i`. For
   * models that score a block of users through matrix products. Evaluation
   * calls it on blocks of consecutive users starting at multiples of a fixed
   * size, so a user's scores may depend on the block it came in, never on
   * which thread asked.
   */
  scoreUsersAll?(users: Int32Array, options: { out: Float32Array; count: number }): void;
}
