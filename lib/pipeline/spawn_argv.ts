/**
 * The argv that re-invokes this program as the generator (DESIGN.md
 * section 1), as one pure function for both the compiled and the
 * `deno run` case, plus shell quoting for the standalone mode.
 *
 * @module
 */

import { isAbsolute, resolve } from "node:path";

/** Permissions Deno knows. */
export const PERMISSION_NAMES = [
  "read",
  "write",
  "net",
  "env",
  "run",
  "sys",
  "ffi",
  "import",
] as const;

/** One of {@linkcode PERMISSION_NAMES}. */
export type PermissionKind = (typeof PERMISSION_NAMES)[number];

/** What the parent process may do, as far as the generator cares. */
export interface PermissionSnapshot {
  /** Whether each permission is granted globally. */
  global: Record<PermissionKind, boolean>;
  /** The generator's paths the parent may read (module folder, data_dir, cache_dir). */
  readablePaths: string[];
  /** The generator's paths the parent may write (cache_dir). */
  writablePaths: string[];
}

/** The generator's own flags (everything else comes from its flagfile). */
export interface GeneratorCommandFlags {
  data_dir: string;
  cache_dir: string;
  cache_id: string;
  flagfile_timeout?: number | undefined;
  parent_pid?: number | undefined;
}

/** How this process was started. */
export interface ProcessContext {
  /** `Deno.build.standalone`: running as a `deno compile` binary. */
  standalone: boolean;
  /** `Deno.execPath()`. */
  execPath: string;
  /** Path of `cli.ts` (under `deno run`). */
  mainModulePath: string;
  /**
   * The deno flags the parent was started with (what stood between `run` and
   * the script), from which config, lock and V8 flags are forwarded.
   */
  denoFlags: string[];
  permissions: PermissionSnapshot;
  /**
   * The folder relative paths were given against (`Deno.cwd()`). When set,
   * every path in the argv (data_dir, cache_dir, the script, config, import
   * map and lock files) is made absolute, so the command runs from any folder.
   */
  cwd?: string | undefined;
}

const _FORWARDED_WITH_VALUE = new Set(["--config", "-c", "--import-map", "--v8-flags"]);
const _FORWARDED_PREFIXES = [
  "--config=",
  "--import-map=",
  "--lock",
  "--no-lock",
  "--frozen",
  "--v8-flags=",
  "--cached-only",
  "--no-remote",
  "--no-npm",
  "--no-config",
  "--node-modules-dir",
  "--unstable",
  "--seed=",
  "--quiet",
  "-q",
];

/**
 * The deno flags to forward to the child: config, lock, import map, V8 and
 * module-resolution flags. Permission flags are rebuilt separately.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forwardedDenoFlags } from "./spawn_argv.ts";
 * const flags = forwardedDenoFlags(["-A", "--config", "x/deno.json", "--v8-flags=--max-old-space-size=900", "--watch"]);
 * assert.ok(flags.join(" ") === "--config x/deno.json --v8-flags=--max-old-space-size=900");
 * ```
 */
export function forwardedDenoFlags(denoFlags: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < denoFlags.length; i++) {
    const flag = denoFlags[i];
    if (_FORWARDED_WITH_VALUE.has(flag) && i + 1 < denoFlags.length) {
      out.push(flag, denoFlags[++i]);
    } else if (_FORWARDED_PREFIXES.some((p) => flag === p || flag.startsWith(p))) {
      out.push(flag);
    }
  }
  return out;
}

/**
 * Permission flags for the child: `-A` when every permission is granted;
 * otherwise a global grant becomes `--allow-X`, and scoped read/write grants
 * become grants of the generator's own paths that the parent holds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { permissionFlags } from "./spawn_argv.ts";
 * const global = { read: false, write: false, net: true, env: true, run: true, sys: false, ffi: false, import: false };
 * const flags = permissionFlags({ global, readablePaths: ["/app", "/data"], writablePaths: ["/data"] });
 * assert.ok(flags.join(" ") === "--allow-read=/app,/data --allow-write=/data --allow-net --allow-env --allow-run");
 * ```
 */
export function permissionFlags(permissions: PermissionSnapshot): string[] {
  const { global } = permissions;
  if (PERMISSION_NAMES.every((name) => global[name])) return ["-A"];
  const out: string[] = [];
  for (const name of PERMISSION_NAMES) {
    if (global[name]) {
      out.push(`--allow-${name}`);
      continue;
    }
    const scoped = name === "read"
      ? permissions.readablePaths
      : name === "write"
      ? permissions.writablePaths
      : [];
    if (scoped.length > 0) out.push(`--allow-${name}=${_unique(scoped).join(",")}`);
  }
  return out;
}

function _unique(values: string[]): string[] {
  return [...new Set(values)];
}

/** Deno flags whose value is a file: `--flag value` or `--flag=value`. */
const _PATH_FLAGS = new Set(["--config", "-c", "--import-map", "--lock"]);

/**
 * `denoFlags` with the files they name (config, import map, lock file) made
 * absolute against `cwd`; URLs, absolute paths and other flags are kept as
 * they are.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { absoluteDenoFlags } from "./spawn_argv.ts";
 * const flags = absoluteDenoFlags(["--config", "deno.json", "--lock=../x.lock", "--import-map=https://a/m.json"], "/app");
 * assert.ok(flags.join(" ") === "--config /app/deno.json --lock=/x.lock --import-map=https://a/m.json");
 * ```
 */
export function absoluteDenoFlags(denoFlags: readonly string[], cwd: string): string[] {
  const absolute = (value: string) =>
    isAbsolute(value) || /^[a-z][a-z0-9+.-]+:/i.test(value) ? value : resolve(cwd, value);
  const out: string[] = [];
  for (let i = 0; i < denoFlags.length; i++) {
    const flag = denoFlags[i];
    const eq = flag.indexOf("=");
    if (eq > 0 && _PATH_FLAGS.has(flag.slice(0, eq))) {
      out.push(`${flag.slice(0, eq + 1)}${absolute(flag.slice(eq + 1))}`);
    } else if (_PATH_FLAGS.has(flag) && flag !== "--lock" && i + 1 < denoFlags.length) {
      out.push(flag, absolute(denoFlags[++i]));
    } else {
      out.push(flag);
    }
  }
  return out;
}

/**
 * The generator's own command-line flags.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generatorFlagArgs } from "./spawn_argv.ts";
 * const args = generatorFlagArgs({ data_dir: "d", cache_dir: "c", cache_id: "x", parent_pid: 7 });
 * assert.ok(args.join(" ") === "--data_dir=d --cache_dir=c --cache_id=x --parent_pid=7");
 * ```
 */
export function generatorFlagArgs(flags: GeneratorCommandFlags): string[] {
  const args = [
    `--data_dir=${flags.data_dir}`,
    `--cache_dir=${flags.cache_dir}`,
    `--cache_id=${flags.cache_id}`,
  ];
  if (flags.flagfile_timeout !== undefined) {
    args.push(`--flagfile_timeout=${flags.flagfile_timeout}`);
  }
  if (flags.parent_pid !== undefined) args.push(`--parent_pid=${flags.parent_pid}`);
  return args;
}

/**
 * The full argv (program first) that runs the generator:
 * compiled, `[execPath, "generator", …]`; under `deno run`,
 * `[execPath, "run", <forwarded deno flags>, <permission flags>, <cli.ts>, "generator", …]`.
 * With `context.cwd`, every path in it is absolute (see {@linkcode ProcessContext}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generatorArgv } from "./spawn_argv.ts";
 * const global = { read: true, write: true, net: true, env: true, run: true, sys: true, ffi: true, import: true };
 * const context = {
 *   standalone: false,
 *   execPath: "/usr/bin/deno",
 *   mainModulePath: "/app/cli.ts",
 *   denoFlags: ["--config", "/app/deno.json"],
 *   permissions: { global, readablePaths: [], writablePaths: [] },
 * };
 * const argv = generatorArgv({ data_dir: "d", cache_dir: "c", cache_id: "x" }, context);
 * assert.ok(argv.join(" ") === "/usr/bin/deno run --config /app/deno.json -A /app/cli.ts generator --data_dir=d --cache_dir=c --cache_id=x");
 * ```
 */
export function generatorArgv(flags: GeneratorCommandFlags, context: ProcessContext): string[] {
  const { cwd } = context;
  const absolute = (path: string) => cwd === undefined ? path : resolve(cwd, path);
  const tail = [
    "generator",
    ...generatorFlagArgs({
      ...flags,
      data_dir: absolute(flags.data_dir),
      cache_dir: absolute(flags.cache_dir),
    }),
  ];
  if (context.standalone) return [absolute(context.execPath), ...tail];
  const denoFlags = forwardedDenoFlags(context.denoFlags);
  return [
    absolute(context.execPath),
    "run",
    ...(cwd === undefined ? denoFlags : absoluteDenoFlags(denoFlags, cwd)),
    ...permissionFlags(context.permissions),
    absolute(context.mainModulePath),
    ...tail,
  ];
}

/**
 * Quotes an argv for a POSIX shell, leaving plain words bare.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shellQuote } from "./spawn_argv.ts";
 * assert.ok(shellQuote(["ncf", "generator", "--data_dir=a b", "it's"]) === `ncf generator '--data_dir=a b' 'it'\\''s'`);
 * ```
 */
export function shellQuote(argv: readonly string[]): string {
  return argv.map((a) => /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)
    .join(" ");
}

/**
 * The deno flags between `run` and the script in a parent's command line
 * (e.g. from `/proc/self/cmdline`); empty when it cannot be told.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { denoFlagsFromCmdline } from "./spawn_argv.ts";
 * const flags = denoFlagsFromCmdline(["deno", "run", "-A", "--lock=x", "/app/cli.ts", "trainer"], "/app/cli.ts");
 * assert.ok(flags.join(" ") === "-A --lock=x");
 * ```
 */
export function denoFlagsFromCmdline(cmdline: readonly string[], mainModulePath: string): string[] {
  const run = cmdline.indexOf("run");
  if (run < 0) return [];
  const script = cmdline.findIndex((a, i) =>
    i > run && (a === mainModulePath || mainModulePath.endsWith(`/${a.replace(/^\.\//, "")}`))
  );
  return script < 0 ? [] : cmdline.slice(run + 1, script);
}
