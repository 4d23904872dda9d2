/**
 * Spawning the generator: the process context the argv is computed from, and
 * the child itself (environment + `CUDA_VISIBLE_DEVICES=""`, stdin closed,
 * own process group, stderr drained).
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  denoFlagsFromCmdline,
  PERMISSION_NAMES,
  type PermissionKind,
  type ProcessContext,
} from "./spawn_argv.ts";

/**
 * Reads this process's context: compiled or not, paths, the working folder
 * (so the generator's argv can use absolute paths), the deno flags it was
 * started with (Linux: `/proc/self/cmdline`) and its permissions for the
 * generator's paths.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { currentProcessContext } from "./spawn.ts";
 * const context = currentProcessContext({ dataDir: "data", cacheDir: "/tmp/ncf" });
 * assert.ok(context.cwd === Deno.cwd() && context.execPath === Deno.execPath());
 * ```
 */
export function currentProcessContext(
  paths: { dataDir: string; cacheDir: string },
): ProcessContext {
  const standalone = Deno.build.standalone ?? false;
  const mainModulePath = Deno.mainModule.startsWith("file:")
    ? fileURLToPath(Deno.mainModule)
    : Deno.mainModule;
  let denoFlags: string[] = [];
  if (!standalone) {
    try {
      const cmdline = Deno.readTextFileSync("/proc/self/cmdline").split("\0").filter((a) => a);
      denoFlags = denoFlagsFromCmdline(cmdline, mainModulePath);
    } catch {
      // Not Linux, or not readable: forward nothing.
    }
  }
  const global = {} as Record<PermissionKind, boolean>;
  for (const name of PERMISSION_NAMES) {
    global[name] = Deno.permissions.querySync({ name } as Deno.PermissionDescriptor).state ===
      "granted";
  }
  const granted = (name: "read" | "write", path: string) =>
    Deno.permissions.querySync({ name, path }).state === "granted";
  const moduleDir = dirname(mainModulePath);
  const dataDir = resolve(paths.dataDir);
  const cacheDir = resolve(paths.cacheDir);
  return {
    standalone,
    execPath: Deno.execPath(),
    mainModulePath,
    denoFlags,
    cwd: _cwd(),
    permissions: {
      global,
      readablePaths: [moduleDir, dataDir, cacheDir].filter((p) => granted("read", p)),
      writablePaths: [cacheDir].filter((p) => granted("write", p)),
    },
  };
}

/** The working folder, or `undefined` when it cannot be read (no read permission). */
function _cwd(): string | undefined {
  try {
    return Deno.cwd();
  } catch {
    return undefined;
  }
}

/** A spawned generator. */
export interface GeneratorProcess {
  pid: number;
  /** Resolves when the child exits. */
  status: Promise<Deno.CommandStatus>;
  /** The exit status once known. */
  readonly exited: Deno.CommandStatus | undefined;
  /** The last few KiB the child wrote to stderr (it logs to its file). */
  stderrTail(): string;
  /** Sends a signal if the child is still running. */
  kill(signal: Deno.Signal): void;
}

const _STDERR_KEEP = 4096;

/**
 * Spawns `argv` with the parent's environment plus `CUDA_VISIBLE_DEVICES=""`,
 * stdin closed, stdout discarded, stderr drained into a small buffer, in its
 * own process group.
 */
export function spawnGenerator(argv: readonly string[]): GeneratorProcess {
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    env: { CUDA_VISIBLE_DEVICES: "" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    detached: true,
  }).spawn();
  let tail = "";
  const decoder = new TextDecoder();
  const drained = (async () => {
    for await (const chunk of child.stderr) {
      tail = (tail + decoder.decode(chunk, { stream: true })).slice(-_STDERR_KEEP);
    }
  })().catch(() => {});
  let exited: Deno.CommandStatus | undefined;
  const status = child.status.then(async (s) => {
    await drained;
    exited = s;
    return s;
  });
  return {
    pid: child.pid,
    status,
    get exited() {
      return exited;
    },
    stderrTail: () => tail,
    kill(signal) {
      if (exited !== undefined) return;
      try {
        child.kill(signal);
      } catch {
        // Already gone.
      }
    },
  };
}
