/** Helpers for tests that run the real CLI as processes. */

import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const CLI = `${ROOT}cli.ts`;
export const CONFIG = `${ROOT}deno.json`;

/** A running CLI process with its output collected line by line. */
export interface CliProcess {
  child: Deno.ChildProcess;
  stdout: string[];
  stderr: string[];
  /** Resolves with the first stdout line matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  status: Promise<Deno.CommandStatus>;
}

/** Starts `deno run -A cli.ts <args>`. */
export function startCli(
  args: string[],
  options: { env?: Record<string, string> } = {},
): CliProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `--config=${CONFIG}`, CLI, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...options.env },
  }).spawn();
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>, into: string[], notify: boolean) => {
    const decoder = new TextDecoder();
    let rest = "";
    for await (const chunk of stream) {
      rest += decoder.decode(chunk, { stream: true });
      const lines = rest.split("\n");
      rest = lines.pop()!;
      for (const line of lines) {
        into.push(line);
        if (!notify) continue;
        for (let i = waiters.length - 1; i >= 0; i--) {
          const m = line.match(waiters[i].pattern);
          if (m) {
            waiters[i].resolve(m);
            waiters.splice(i, 1);
          }
        }
      }
    }
    if (rest !== "") into.push(rest);
  };
  const pumped = Promise.all([pump(child.stdout, stdout, true), pump(child.stderr, stderr, false)]);
  const status = pumped.then(() => child.status);
  return {
    child,
    stdout,
    stderr,
    status,
    waitForLine(pattern, timeoutMs = 60_000) {
      for (const line of stdout) {
        const m = line.match(pattern);
        if (m) return Promise.resolve(m);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `no line matching ${pattern}; stdout:\n${stdout.join("\n")}\nstderr:\n${
                  stderr.join("\n")
                }`,
              ),
            ),
          timeoutMs,
        );
        const done = (m: RegExpMatchArray) => {
          clearTimeout(timer);
          resolve(m);
        };
        waiters.push({ pattern, resolve: done });
        status.then(() => {
          clearTimeout(timer);
          reject(
            new Error(
              `exited before a line matching ${pattern}; stdout:\n${stdout.join("\n")}\nstderr:\n${
                stderr.join("\n")
              }`,
            ),
          );
        });
      });
    },
  };
}

/** Runs the CLI to completion. */
export async function runCli(args: string[]) {
  const p = startCli(args);
  const status = await p.status;
  return { code: status.code, stdout: p.stdout.join("\n"), stderr: p.stderr.join("\n") };
}

/** Whether process `pid` still exists (and is not a zombie). */
export function processAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/s.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return false;
  }
}

/** Waits until `pid` is gone; returns the seconds it took, or throws after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<number> {
  const start = performance.now();
  while (processAlive(pid)) {
    if (performance.now() - start > timeoutMs) {
      throw new Error(`process ${pid} still alive after ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return (performance.now() - start) / 1000;
}

/** The names in `dir`. */
export function listDir(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

/** Small, quick training flags on the synthetic set. */
export const SMALL = [
  "--synthetic_users=300",
  "--synthetic_items=200",
  "--num_eval_negatives=50",
  "--heartbeat_timeout=5",
  "--kill_grace=2",
];

/** A run long enough to interrupt at leisure. */
export const LONG = [
  "--synthetic_users=1000",
  "--synthetic_items=500",
  "--num_eval_negatives=50",
  "--train_epochs=400",
  "--cycles_to_buffer=1",
  "--heartbeat_timeout=5",
  "--kill_grace=2",
];
