/**
 * The error classes callers catch. Everything else throws the built-in
 * `TypeError`, `RangeError` or `SyntaxError`.
 *
 * @module
 */

/**
 * A mistake in how the program was called: a bad flag, a bad flag value, an
 * impossible combination. The CLI prints the message with a help hint and
 * exits 2.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UsageError } from "./errors.ts";
 * const e = new UsageError("Cannot parse --batch_size: 'x' is not an integer");
 * assert.ok(e instanceof Error && e.name === "UsageError");
 * ```
 */
export class UsageError extends Error {
  /** @param message "Cannot <action>: <state>", naming the flag (and file:line). */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}
