/**
 * absl-style flags: typed definitions, argv parsing, flagfiles and
 * validation, all as pure functions (file reading is injected).
 *
 * - `--name=value` or `--name value`;
 * - booleans as `--name`, `--name=true|false`, `--noname`;
 * - `--flagfile=PATH`: lines `--name=value`, blank lines and `#` comments;
 *   flags are applied in order, so flags after it override it.
 *
 * @module
 */

import { UsageError } from "../errors.ts";

/** The value types a flag can have. */
export type FlagKind = "int" | "float" | "string" | "bool" | "int_list" | "enum";

/**
 * One flag's definition. `T` is the parsed value's type (phantom).
 */
export interface FlagDef<T = unknown> {
  /** How the value is parsed. */
  kind: FlagKind;
  /** One line of help. */
  help: string;
  /** The value when the flag is absent; `undefined` for optional flags. */
  default: T | undefined;
  /** Smallest allowed value (numbers, and each list element). */
  min?: number | undefined;
  /** Largest allowed value (numbers, and each list element). */
  max?: number | undefined;
  /** A bound the value must stay strictly above (`learning_rate` > 0). */
  above?: number | undefined;
  /** The allowed values of an `enum` flag. */
  choices?: readonly string[];
  /** Parsing fails when a required flag is absent. */
  required?: boolean | undefined;
  /** Text shown for the default in help, when it is computed at run time. */
  defaultText?: string | undefined;
  /** Phantom field carrying `T`; never set. */
  readonly __type?: T;
}

/** A named set of flag definitions. */
export type FlagDefs = Record<string, FlagDef>;

/** The parsed values of a set of flag definitions. */
export type FlagValues<D extends FlagDefs> = {
  -readonly [K in keyof D]: D[K] extends FlagDef<infer T> ? T : never;
};

interface _NumberOptions<T> {
  default?: T;
  min?: number | undefined;
  above?: number | undefined;
  max?: number | undefined;
  required?: boolean | undefined;
  defaultText?: string | undefined;
}

/**
 * An integer flag. Without a default its value is `number | undefined`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { intFlag } from "./flags.ts";
 * const batch = intFlag("Examples per batch.", { default: 256, min: 1 });
 * assert.ok(batch.default === 256);
 * ```
 */
export function intFlag<O extends _NumberOptions<number>>(
  help: string,
  options: O,
): FlagDef<O extends { default: number } | { required: true } ? number : number | undefined> {
  return { kind: "int", help, default: options.default, ..._limits(options) };
}

/**
 * A floating-point flag.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { floatFlag } from "./flags.ts";
 * const lr = floatFlag("Learning rate.", { default: 0.001, min: 0 });
 * assert.ok(lr.kind === "float");
 * ```
 */
export function floatFlag<O extends _NumberOptions<number>>(
  help: string,
  options: O,
): FlagDef<O extends { default: number } | { required: true } ? number : number | undefined> {
  return { kind: "float", help, default: options.default, ..._limits(options) };
}

/**
 * A string flag.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stringFlag } from "./flags.ts";
 * const dir = stringFlag("Where data lives.", { default: "data" });
 * assert.ok(dir.default === "data");
 * ```
 */
export function stringFlag<
  O extends { default?: string; required?: boolean; defaultText?: string },
>(
  help: string,
  options: O,
): FlagDef<O extends { default: string } | { required: true } ? string : string | undefined> {
  return {
    kind: "string",
    help,
    default: options.default,
    required: options.required,
    defaultText: options.defaultText,
  };
}

/**
 * A boolean flag (`--name`, `--noname`, `--name=true|false`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { boolFlag } from "./flags.ts";
 * const keep = boolFlag("Keep the cache folder.", { default: false });
 * assert.ok(keep.default === false);
 * ```
 */
export function boolFlag(help: string, options: { default: boolean }): FlagDef<boolean> {
  return { kind: "bool", help, default: options.default };
}

/**
 * A flag holding a comma-separated list of integers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { intListFlag } from "./flags.ts";
 * const layers = intListFlag("MLP layer sizes.", { default: [64, 32, 16, 8], min: 1 });
 * assert.ok(layers.default?.length === 4);
 * ```
 */
export function intListFlag(
  help: string,
  options: { default: number[]; min?: number; max?: number },
): FlagDef<number[]> {
  return { kind: "int_list", help, default: options.default, ..._limits(options) };
}

/**
 * A flag whose value is one of `choices`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { enumFlag } from "./flags.ts";
 * const model = enumFlag("Model.", ["GMF", "MLP", "NeuMF"] as const, { default: "NeuMF" });
 * assert.ok(model.choices?.includes("GMF"));
 * ```
 */
export function enumFlag<const C extends readonly string[], O extends { default?: C[number] }>(
  help: string,
  choices: C,
  options: O & { required?: boolean },
): FlagDef<O extends { default: C[number] } ? C[number] : C[number] | undefined> {
  return {
    kind: "enum",
    help,
    choices,
    default: options.default,
    required: options.required,
  } as FlagDef<O extends { default: C[number] } ? C[number] : C[number] | undefined>;
}

function _limits(o: {
  min?: number | undefined;
  above?: number | undefined;
  max?: number | undefined;
  required?: boolean | undefined;
  defaultText?: string | undefined;
}) {
  return {
    min: o.min,
    max: o.max,
    above: o.above,
    required: o.required,
    defaultText: o.defaultText,
  };
}

/** Options of {@linkcode parseFlags}. */
export interface ParseOptions {
  /**
   * Reads a flagfile's text. Default: none, so `--flagfile` fails; the CLI
   * passes `Deno.readTextFileSync`.
   */
  readTextFile?: (path: string) => string;
  /** Accept `-h`/`--help` (the result's `help` is then true). Default true. */
  allowHelp?: boolean;
}

/** What {@linkcode parseFlags} returns. */
export interface ParseResult<D extends FlagDefs> {
  /** Every flag's value, defaults filled in. */
  values: FlagValues<D>;
  /** Names of the flags that were set explicitly (argv or flagfile). */
  set: Set<keyof D & string>;
  /** True when `-h` or `--help` was given. */
  help: boolean;
}

interface _Origin {
  /** A flagfile path and 1-based line, when the flag came from a file. */
  file?: string | undefined;
  line?: number;
}

const _MAX_FLAGFILE_DEPTH = 8;

/**
 * Parses an argv array (without the subcommand) against `defs`.
 * Throws {@linkcode UsageError} naming the flag (and file:line for flags from
 * a flagfile) on any mistake.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { intFlag, boolFlag, parseFlags } from "./flags.ts";
 * const defs = {
 *   batch_size: intFlag("Batch size.", { default: 256, min: 1 }),
 *   keep_cache: boolFlag("Keep the cache.", { default: false }),
 * };
 * const { values } = parseFlags(["--batch_size=512", "--keep_cache"], defs);
 * assert.ok(values.batch_size === 512 && values.keep_cache === true);
 * ```
 */
export function parseFlags<D extends FlagDefs>(
  argv: readonly string[],
  defs: D,
  options: ParseOptions = {},
): ParseResult<D> {
  const raw = new Map<string, unknown>();
  const set = new Set<keyof D & string>();
  let help = false;
  const apply = (args: readonly string[], origin: _Origin[], depth: number) => {
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      const where = origin[i] ?? {};
      const helpValue = _helpFlag(arg);
      if (helpValue !== undefined && (options.allowHelp ?? true)) {
        if (helpValue === "bad") {
          throw new UsageError(`Cannot parse --help: '${_clip(arg)}' is not true or false`);
        }
        help = helpValue;
        continue;
      }
      if (!arg.startsWith("--") || arg === "--") {
        throw new UsageError(`Cannot parse flags: unexpected argument '${arg}'${_at(where)}`);
      }
      const eq = arg.indexOf("=");
      let name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      let value: string | undefined = eq < 0 ? undefined : arg.slice(eq + 1);
      if (name === "flagfile") {
        if (value === undefined) {
          if (i + 1 >= args.length) {
            throw new UsageError(`Cannot parse --flagfile: it needs a path${_at(where)}`);
          }
          value = args[++i];
        }
        if (depth >= _MAX_FLAGFILE_DEPTH) {
          throw new UsageError(`Cannot read --flagfile=${value}: flagfiles nest too deeply`);
        }
        const text = _readFlagfile(value, options, where);
        const lines = parseFlagfileLines(text, value);
        apply(
          lines.map((l) => l.arg),
          lines.map((l) => ({ file: value, line: l.line })),
          depth + 1,
        );
        continue;
      }
      let def = defs[name] as FlagDef | undefined;
      if (def === undefined && value === undefined && name.startsWith("no")) {
        const positive = defs[name.slice(2)];
        if (positive?.kind === "bool") {
          name = name.slice(2);
          def = positive;
          value = "false";
        }
      }
      if (def === undefined) {
        throw new UsageError(
          `Cannot parse flags: unknown flag --${name}${_at(where)}${_suggest(name, defs)}`,
        );
      }
      if (value === undefined) {
        if (def.kind === "bool") {
          value = "true";
        } else if (i + 1 < args.length && origin.length === 0) {
          value = args[++i];
        } else {
          throw new UsageError(`Cannot parse --${name}: it needs a value${_at(where)}`);
        }
      }
      raw.set(name, parseFlagValue(name, value, def, where));
      set.add(name as keyof D & string);
    }
  };
  apply(argv, [], 0);
  const values = {} as Record<string, unknown>;
  for (const [name, def] of Object.entries(defs)) {
    const v = raw.has(name) ? raw.get(name) : _copy(def.default);
    if (v === undefined && def.required && !help) {
      throw new UsageError(`Cannot run without --${name}: the flag is required`);
    }
    values[name] = v;
  }
  return { values: values as FlagValues<D>, set, help };
}

/** `-h`, `--help`, `--help=true|1` → true, `--help=false|0` → false, another value → "bad". */
function _helpFlag(arg: string): boolean | "bad" | undefined {
  if (arg === "-h" || arg === "--help") return true;
  if (!arg.startsWith("--help=")) return undefined;
  const value = arg.slice("--help=".length);
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  return "bad";
}

function _copy(v: unknown): unknown {
  return Array.isArray(v) ? [...v] : v;
}

function _readFlagfile(path: string, options: ParseOptions, where: _Origin): string {
  if (options.readTextFile === undefined) {
    throw new UsageError(`Cannot read --flagfile=${path}: flagfiles are not allowed here`);
  }
  try {
    return options.readTextFile(path);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message;
    throw new UsageError(`Cannot read --flagfile=${path}: ${why}${_at(where)}`, { cause: e });
  }
}

function _at(where: _Origin): string {
  return where.file === undefined ? "" : ` (at ${where.file}:${where.line})`;
}

function _suggest(name: string, defs: FlagDefs): string {
  let best = "";
  let bestDistance = 3;
  for (const candidate of Object.keys(defs)) {
    const d = _editDistance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best === "" ? "" : `; did you mean --${best}?`;
}

function _editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

/**
 * Splits a flagfile's text into `--name=value` arguments with their line
 * numbers. Blank lines and `#` comments are skipped; any other line must
 * start with `--`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseFlagfileLines } from "./flags.ts";
 * const lines = parseFlagfileLines("# run 1\n--seed=3\n\n--num_neg=4\n", "flagfile");
 * assert.ok(lines.length === 2 && lines[1].line === 4);
 * ```
 */
export function parseFlagfileLines(
  text: string,
  path: string,
): { arg: string; line: number }[] {
  const out: { arg: string; line: number }[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, "").trim();
    if (line === "" || line.startsWith("#")) continue;
    if (!line.startsWith("--") || line.length === 2) {
      throw new UsageError(
        `Cannot parse flagfile ${path}:${i + 1}: expected '--name=value', found '${_clip(line)}'`,
      );
    }
    out.push({ arg: line, line: i + 1 });
  }
  return out;
}

function _clip(s: string): string {
  const printable = s.replace(/[^\x20-\x7e]/g, "?");
  return printable.length > 60 ? `${printable.slice(0, 57)}...` : printable;
}

/**
 * Parses and validates one flag value from its text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { intListFlag, parseFlagValue } from "./flags.ts";
 * const def = intListFlag("Layers.", { default: [64, 32], min: 1 });
 * assert.equal(String(parseFlagValue("layers", "8,4", def)), "8,4");
 * ```
 */
export function parseFlagValue(
  name: string,
  text: string,
  def: FlagDef,
  where: _Origin = {},
): unknown {
  const fail = (why: string): never => {
    throw new UsageError(`Cannot parse --${name}: ${why}${_at(where)}`);
  };
  switch (def.kind) {
    case "bool":
      if (text === "true" || text === "1") return true;
      if (text === "false" || text === "0") return false;
      return fail(`'${_clip(text)}' is not true or false`);
    case "string":
      return text;
    case "enum":
      if (!def.choices!.includes(text)) {
        return fail(`'${_clip(text)}' is not one of ${def.choices!.join(", ")}`);
      }
      return text;
    case "int":
    case "float": {
      const n = _parseNumber(text, def.kind === "int");
      if (n === undefined) {
        return fail(`'${_clip(text)}' is not ${def.kind === "int" ? "an integer" : "a number"}`);
      }
      _checkRange(n, def, fail);
      return n;
    }
    case "int_list": {
      const parts = text.split(",");
      const list: number[] = [];
      for (const part of parts) {
        const n = _parseNumber(part.trim(), true);
        if (n === undefined) {
          return fail(`'${_clip(text)}' is not a comma-separated list of integers`);
        }
        _checkRange(n, def, fail);
        list.push(n);
      }
      return list;
    }
  }
}

function _parseNumber(text: string, integer: boolean): number | undefined {
  const pattern = integer ? /^[+-]?\d+$/ : /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
  if (!pattern.test(text)) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n)) return undefined;
  if (integer && !Number.isSafeInteger(n)) return undefined;
  return n;
}

function _checkRange(n: number, def: FlagDef, fail: (why: string) => never): void {
  if (def.min !== undefined && n < def.min) fail(`${n} is below the minimum ${def.min}`);
  if (def.max !== undefined && n > def.max) fail(`${n} is above the maximum ${def.max}`);
  if (def.above !== undefined && !(n > def.above)) fail(`${n} is not above ${def.above}`);
}

/**
 * Formats one flag's value as flag text (the inverse of
 * {@linkcode parseFlagValue}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatFlagValue } from "./flags.ts";
 * assert.ok(formatFlagValue([64, 32]) === "64,32");
 * assert.ok(formatFlagValue(0.001) === "0.001");
 * ```
 */
export function formatFlagValue(value: unknown): string {
  if (Array.isArray(value)) return value.join(",");
  return String(value);
}

/**
 * Writes a flag set as flagfile text: one `--name=value` line per flag whose
 * value is defined, in definition order. Reading it back with
 * {@linkcode parseFlags} gives the same values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatFlagfile, intFlag, parseFlags } from "./flags.ts";
 * const defs = { seed: intFlag("Seed.", {}), num_neg: intFlag("Negatives.", { default: 4 }) };
 * const text = formatFlagfile({ seed: 7, num_neg: 4 }, defs);
 * const back = parseFlags(["--flagfile=f"], defs, { readTextFile: () => text }).values;
 * assert.ok(back.seed === 7 && back.num_neg === 4);
 * ```
 */
export function formatFlagfile<D extends FlagDefs>(
  values: Partial<FlagValues<D>>,
  defs: D,
  options: { header?: string } = {},
): string {
  const lines: string[] = [];
  if (options.header !== undefined) {
    for (const line of options.header.split("\n")) lines.push(`# ${line}`);
  }
  for (const name of Object.keys(defs)) {
    const value = (values as Record<string, unknown>)[name];
    if (value === undefined) continue;
    const text = formatFlagValue(value);
    if (/[\r\n]/.test(text)) {
      throw new RangeError(`Cannot write --${name} to a flagfile: its value holds a line break`);
    }
    lines.push(`--${name}=${text}`);
  }
  return lines.join("\n") + "\n";
}

/**
 * Formats the help text of a subcommand: usage line, summary, then every
 * flag with its default.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatHelp, intFlag } from "./flags.ts";
 * const text = formatHelp("ncf demo", { n: intFlag("A number.", { default: 1 }) }, {
 *   summary: "Demonstrates help.",
 * });
 * assert.ok(text.includes("--n") && text.includes("default: 1"));
 * ```
 */
export function formatHelp(
  usage: string,
  defs: FlagDefs,
  options: { summary?: string } = {},
): string {
  const out = [`Usage: ${usage} [flags]`];
  if (options.summary !== undefined) out.push("", options.summary);
  out.push("", "Flags:");
  const entries = Object.entries(defs);
  entries.push(["flagfile", {
    kind: "string",
    help: "Read flags from a file of --name=value lines (later flags override it).",
    default: undefined,
  }]);
  entries.push(["help", { kind: "bool", help: "Show this help and exit.", default: undefined }]);
  for (const [name, def] of entries) {
    const placeholder = def.kind === "bool" ? "" : `=<${_placeholder(def)}>`;
    out.push(`  --${name}${placeholder}`);
    const notes: string[] = [];
    const range = _rangeText(def);
    if (range !== "") notes.push(range);
    if (def.required) notes.push("required");
    else if (def.defaultText !== undefined) notes.push(`default: ${def.defaultText}`);
    else if (def.default !== undefined) notes.push(`default: ${formatFlagValue(def.default)}`);
    out.push(`      ${def.help}${notes.length === 0 ? "" : ` (${notes.join("; ")})`}`);
  }
  return out.join("\n");
}

function _rangeText(def: FlagDef): string {
  const parts: string[] = [];
  if (def.above !== undefined) parts.push(`> ${def.above}`);
  if (def.min !== undefined && def.max !== undefined) parts.push(`${def.min}..${def.max}`);
  else if (def.min !== undefined) parts.push(`>= ${def.min}`);
  else if (def.max !== undefined) parts.push(`<= ${def.max}`);
  if (parts.length === 0) return "";
  return (def.kind === "int_list" ? "each " : "") + parts.join(", ");
}

function _placeholder(def: FlagDef): string {
  switch (def.kind) {
    case "enum":
      return def.choices!.join("|");
    case "int_list":
      return "int,int,...";
    default:
      return def.kind;
  }
}
