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

/**
 * A setting that cannot work with the data or the run it is given (an
 * impossible value that no single flag range can catch, a missing file
 * setting). Library code names the setting, never a command-line flag;
 * `cli.ts` names the flag (`--<setting>`) and exits 2.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SettingError } from "./errors.ts";
 * const e = new SettingError("num_eval_negatives", "Cannot rank 999 negatives: 500 items");
 * assert.ok(e instanceof RangeError && e.setting === "num_eval_negatives");
 * ```
 */
export class SettingError extends RangeError {
  /** The setting's name (snake_case, as the flag of the same name). */
  readonly setting: string;
  /**
   * @param setting The setting's name (snake_case).
   * @param message "Cannot <action>: <state>", without the flag.
   */
  constructor(setting: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SettingError";
    this.setting = setting;
  }
}

/**
 * A MovieLens data set that is not in its data folder (it has to be
 * downloaded first). `cli.ts` adds how: `ncf download` or
 * `--download_if_missing`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MissingDatasetError } from "./errors.ts";
 * const e = new MissingDatasetError("ml-1m", "data", "Cannot read the ml-1m ratings: not found");
 * assert.ok(e instanceof Deno.errors.NotFound && e.dataset === "ml-1m" && e.dataDir === "data");
 * ```
 */
export class MissingDatasetError extends Deno.errors.NotFound {
  /** The data set's name. */
  readonly dataset: string;
  /** The folder it was looked for in. */
  readonly dataDir: string;
  /**
   * @param dataset The data set's name.
   * @param dataDir The folder it was looked for in.
   * @param message "Cannot <action>: <state>", naming the paths tried.
   */
  constructor(dataset: string, dataDir: string, message: string) {
    super(message);
    this.name = "MissingDatasetError";
    this.dataset = dataset;
    this.dataDir = dataDir;
  }
}
