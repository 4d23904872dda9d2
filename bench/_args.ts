/**
 * The loose argument reading the bench scripts share: `--name` switches and
 * `--name value` / `--name=value` options, anything else ignored.
 *
 * @module
 */

/** A bench script's arguments. */
export interface BenchArgs {
  /** Whether the switch `--name` is given. */
  has(name: string): boolean;
  /** The value of `--name value` or `--name=value`, else `fallback`. */
  option(name: string, fallback: string): string;
}

/**
 * Reads `args` (default `Deno.args`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { benchArgs } from "./_args.ts";
 * const a = benchArgs(["--quick", "--seeds", "1,2", "--only=mf"]);
 * assert.equal(a.has("quick"), true);
 * assert.equal(a.option("seeds", "1"), "1,2");
 * assert.equal(a.option("only", ""), "mf");
 * assert.equal(a.option("max_minutes", "85"), "85");
 * ```
 */
export function benchArgs(args: readonly string[] = Deno.args): BenchArgs {
  return {
    has: (name) => args.includes(`--${name}`),
    option: (name, fallback) => {
      const i = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
      if (i < 0) return fallback;
      return args[i].includes("=") ? args[i].slice(args[i].indexOf("=") + 1) : args[i + 1];
    },
  };
}
