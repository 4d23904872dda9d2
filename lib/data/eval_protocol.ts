/**
 * The evaluation protocols: which items each user's held-out item is ranked
 * against. `sampled` is the NCF paper's (1 + `num_eval_negatives` sampled
 * items, DESIGN section 5, the default); `full` ranks it against every item
 * the user has no training interaction with (Krichene & Rendle, KDD 2020:
 * sampled metrics can order models differently).
 *
 * @module
 */

/** Every evaluation protocol; the first is the default. */
export const EVAL_PROTOCOLS = ["sampled", "full"] as const;

/** One evaluation protocol. */
export type EvalProtocol = typeof EVAL_PROTOCOLS[number];

/**
 * Whether `name` is an evaluation protocol.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isEvalProtocol } from "./eval_protocol.ts";
 * assert.ok(isEvalProtocol("full") && !isEvalProtocol("fast"));
 * ```
 */
export function isEvalProtocol(name: string): name is EvalProtocol {
  return (EVAL_PROTOCOLS as readonly string[]).includes(name);
}
