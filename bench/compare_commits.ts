/**
 * Compares this checkout with a base commit: the trainer's bits (`--bits`) and the speed
 * benchmarks (`--speed`). The base is checked out as a git worktree in a temp folder (removed at
 * the end); "new" is the tree this script lives in, uncommitted edits included.
 *
 * ```
 * deno run -A bench/compare_commits.ts --base <commit> [--bits] [--speed] [--runs 5]
 *   [--backends ts,wasm,blas] [--concurrency 2]
 *   [--ratings_file ../shared/datasets/ml-100k/u.data]
 *   [--generator_ratings_file ../shared/datasets/ncf-ml-1m/ml-1m.train.rating]
 *   [--base_tasks trainer=bench:trainer,eval=…] [--new_tasks …] [--keep_worktree]
 * ```
 *
 * `--bits` runs the case table of `tests/train/_bit_identity_cases.ts` (the one
 * `tests/train/bit_identity_test.ts` pins to f387e18) with each backend of `--backends` through
 * both trees' `cli.ts trainer`, and prints `case | backend | identical?` (every epoch's HR@10,
 * NDCG@10 and loss, exact); it exits 1 if any case differs or fails in one tree only. A backend
 * that loads in neither tree (`blas` without OpenBLAS; e.g. set `LD_LIBRARY_PATH` to an unpacked
 * `libopenblas0-pthread`) is reported as skipped.
 *
 * `--speed` runs `bench:trainer`, `bench:eval` and `bench:generator` `--runs` times in each tree,
 * alternating base and new one run at a time (ABBA order, never two at once), parses each run's
 * last figure (`examples/s: N` or `seconds: S`) and prints `benchmark | base median | new median |
 * ratio` with the command lines. A benchmark is found in each tree as the task `bench:<name>`,
 * else a task whose command runs `bench/<name>.ts`, else `deno run -A bench/<name>.ts`;
 * `--base_tasks` / `--new_tasks name=task,…` override that.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import {
  type Backend,
  bitIdentityCases,
  type CaseResult,
  type Outcome,
  pool,
  runCase,
} from "../tests/train/_bit_identity_cases.ts";

const NEW_ROOT = fileURLToPath(new URL("../", import.meta.url));

const USAGE = "usage: deno run -A bench/compare_commits.ts --base COMMIT [--bits] [--speed] " +
  "[--runs 5] [--backends ts,wasm,blas] [--concurrency 2] [--ratings_file F] " +
  "[--generator_ratings_file F] [--base_tasks name=task,...] [--new_tasks name=task,...] " +
  "[--keep_worktree]";

interface Options {
  base: string;
  bits: boolean;
  speed: boolean;
  runs: number;
  backends: Backend[];
  concurrency: number;
  ratingsFile: string;
  generatorRatingsFile: string;
  baseTasks: Record<string, string>;
  newTasks: Record<string, string>;
  keepWorktree: boolean;
}

function _taskMap(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of text.split(",").filter((p) => p !== "")) {
    const [name, task] = pair.split("=");
    if (task === undefined) throw new Error(`--*_tasks wants name=task pairs, got ${pair}`);
    out[name] = task;
  }
  return out;
}

function _parseArgs(args: string[]): Options {
  const shared = resolve(NEW_ROOT, "..", "shared", "datasets");
  const o: Options = {
    base: "",
    bits: false,
    speed: false,
    runs: 5,
    backends: ["ts", "wasm", "blas"],
    concurrency: 2,
    ratingsFile: join(shared, "ml-100k", "u.data"),
    generatorRatingsFile: join(shared, "ncf-ml-1m", "ml-1m.train.rating"),
    baseTasks: {},
    newTasks: {},
    keepWorktree: false,
  };
  for (let i = 0; i < args.length; i++) {
    let [name, value] = args[i].split(/=(.*)/s, 2) as [string, string | undefined];
    const take = () => {
      if (value === undefined) {
        value = args[++i];
        if (value === undefined) throw new Error(`${name} needs a value\n${USAGE}`);
      }
      return value;
    };
    switch (name) {
      case "--base":
        o.base = take();
        break;
      case "--bits":
        o.bits = true;
        break;
      case "--speed":
        o.speed = true;
        break;
      case "--runs":
        o.runs = Number(take());
        if (!Number.isInteger(o.runs) || o.runs < 1) throw new Error(`--runs ${value}`);
        break;
      case "--backends":
        o.backends = take().split(",") as Backend[];
        for (const b of o.backends) {
          if (!["ts", "wasm", "blas"].includes(b)) throw new Error(`--backends: no backend ${b}`);
        }
        break;
      case "--concurrency":
        o.concurrency = Number(take());
        break;
      case "--ratings_file":
        o.ratingsFile = resolve(take());
        break;
      case "--generator_ratings_file":
        o.generatorRatingsFile = resolve(take());
        break;
      case "--base_tasks":
        o.baseTasks = _taskMap(take());
        break;
      case "--new_tasks":
        o.newTasks = _taskMap(take());
        break;
      case "--keep_worktree":
        o.keepWorktree = true;
        break;
      case "--help":
      case "-h":
        console.log(USAGE);
        Deno.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${args[i]}\n${USAGE}`);
    }
  }
  if (o.base === "") throw new Error(`--base is required\n${USAGE}`);
  if (!o.bits && !o.speed) throw new Error(`nothing to do: pass --bits and/or --speed\n${USAGE}`);
  return o;
}

async function _git(args: string[], cwd: string): Promise<string> {
  const out = await new Deno.Command("git", { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder();
  if (out.code !== 0) {
    throw new Error(`git ${args.join(" ")}: exit ${out.code}\n${text.decode(out.stderr)}`);
  }
  return text.decode(out.stdout).trim();
}

// ---------------------------------------------------------------------------------------------
// --bits

/** The first difference between two case results, or undefined when they are the same bits. */
function _firstDifference(a: CaseResult, b: CaseResult): string | undefined {
  if (isDeepStrictEqual(a, b)) return undefined;
  for (const stage of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[stage];
    const y = b[stage];
    if (x === undefined || y === undefined) return `stage ${stage} only in one tree`;
    const n = Math.max(x.epochs.length, y.epochs.length);
    for (let i = 0; i < n; i++) {
      const [rx, ry] = [x.epochs[i], y.epochs[i]];
      if (rx === undefined || ry === undefined) {
        return `${stage}: ${x.epochs.length} vs ${y.epochs.length} epochs`;
      }
      const names = ["epoch", "hr", "ndcg", "loss"];
      for (let k = 0; k < 4; k++) {
        if (!Object.is(rx[k], ry[k])) {
          return `${stage} epoch ${rx[0]} ${names[k]}: ${rx[k]} vs ${ry[k]}`;
        }
      }
    }
    if (!isDeepStrictEqual(x.lines, y.lines)) {
      return `${stage} output: ${JSON.stringify(x.lines)} vs ${JSON.stringify(y.lines)}`;
    }
  }
  return "differs";
}

function _firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const unavailable = text.match(/Cannot use --backend \w+: [^(;\n]*/);
  if (unavailable) return unavailable[0].trim();
  // runCase's message: "<case> / <stage>: exit N …", then the command, stdout and stderr.
  const stderr = text.split("\nstderr:\n")[1]?.split("\n").filter((l) => l.trim() !== "");
  const first = text.split("\n")[0];
  return stderr?.length ? `${first}: ${stderr[0]}` : first;
}

async function _bits(o: Options, baseRoot: string): Promise<boolean> {
  const cases = bitIdentityCases(o.backends);
  console.log(
    `\n## Bits: ${cases.length} cases, base ${o.base} vs ${NEW_ROOT} (concurrency ${o.concurrency})\n`,
  );
  const start = performance.now();
  // Base and new of one case run side by side; cases one pair after the other.
  const tasks = cases.flatMap((c) => [
    () => runCase(baseRoot, c, { checkInvariant: false }),
    () => runCase(NEW_ROOT, c, { checkInvariant: false }),
  ]);
  const outcomes: Outcome<CaseResult>[] = await Promise.all(pool(tasks, o.concurrency));
  const rows: string[][] = [];
  let ok = true;
  for (const [i, c] of cases.entries()) {
    const [base, fresh] = [outcomes[2 * i], outcomes[2 * i + 1]];
    let verdict: string;
    if (base.ok && fresh.ok) {
      const diff = _firstDifference(base.value, fresh.value);
      verdict = diff === undefined ? "yes" : `**NO**: ${diff}`;
      if (diff !== undefined) ok = false;
      if (diff === undefined && c.invariant !== undefined) {
        try {
          c.invariant(fresh.value);
        } catch (e) {
          verdict = `yes, but the invariant fails: ${_firstLine(e)}`;
          ok = false;
        }
      }
    } else if (!base.ok && !fresh.ok) {
      const [eb, en] = [_firstLine(base.error), _firstLine(fresh.error)];
      if (/^Cannot use --backend/.test(eb) && eb === en) {
        verdict = `skipped (${eb})`;
      } else {
        verdict = `**NO**: fails in both (base: ${eb}; new: ${en})`;
        ok = false;
      }
    } else {
      const failed = base.ok ? fresh : base;
      verdict = `**NO**: fails in ${base.ok ? "new" : "base"} only: ${
        _firstLine((failed as { error: unknown }).error)
      }`;
      ok = false;
    }
    rows.push([c.name.slice(c.backend.length + 1), c.backend, verdict]);
  }
  _printTable(["case", "backend", "identical?"], rows);
  const differ = rows.filter((r) => r[2].startsWith("**NO**")).length;
  const skipped = rows.filter((r) => r[2].startsWith("skipped")).length;
  console.log(
    `\n${rows.length - differ - skipped} identical, ${differ} differ, ${skipped} skipped; ` +
      `${((performance.now() - start) / 1000).toFixed(1)} s`,
  );
  return ok;
}

// ---------------------------------------------------------------------------------------------
// --speed

interface Benchmark {
  name: "trainer" | "eval" | "generator";
  /** The figure's line and which way is better. */
  figure: RegExp;
  unit: string;
  higherIsBetter: boolean;
  args: (o: Options, scratch: string) => string[];
}

const BENCHMARKS: Benchmark[] = [
  {
    name: "trainer",
    figure: /^examples\/s: ([\d.]+)\s*$/m,
    unit: "examples/s",
    higherIsBetter: true,
    args: (o) => [
      "--ratings_file",
      o.ratingsFile,
      "--epochs",
      "6",
      "--warmup_epochs",
      "1",
      "--num_eval_negatives",
      "99",
      "--seed",
      "1",
    ],
  },
  {
    name: "eval",
    figure: /^seconds: ([\d.]+)\s*$/m,
    unit: "s",
    higherIsBetter: false,
    args: () => ["--num_users", "15000", "--repeats", "3", "--seed", "1"],
  },
  {
    name: "generator",
    figure: /^examples\/s: ([\d.]+)\s*$/m,
    unit: "examples/s",
    higherIsBetter: true,
    args: (o, scratch) => [
      "--ratings_file",
      o.generatorRatingsFile,
      "--num_workers",
      "1",
      "--cycles",
      "3",
      "--warmup_cycles",
      "1",
      "--epochs_per_cycle",
      "8",
      "--out_dir",
      scratch,
    ],
  },
];

/** How to start benchmark `name` in the tree at `root`: a deno argv prefix (run from `root`). */
function _resolveBenchmark(
  root: string,
  name: string,
  override: string | undefined,
): { argv: string[]; label: string } {
  const config = join(root, "deno.json");
  let tasks: Record<string, string | { command?: string }> = {};
  try {
    tasks = JSON.parse(Deno.readTextFileSync(config)).tasks ?? {};
  } catch { /* no deno.json or no tasks: fall back to the file */ }
  const task = (t: string) => ({
    argv: ["task", `--config=${config}`, t],
    label: `deno task ${t}`,
  });
  if (override !== undefined) return task(override);
  if (`bench:${name}` in tasks) return task(`bench:${name}`);
  for (const [t, spec] of Object.entries(tasks)) {
    const command = typeof spec === "string" ? spec : spec.command ?? "";
    if (new RegExp(`(^|[\\s/])bench/${name}\\.ts(\\s|$)`).test(command)) return task(t);
  }
  const file = join(root, "bench", `${name}.ts`);
  try {
    Deno.statSync(file);
  } catch {
    throw new Error(`${root}: no task bench:${name}, no task running bench/${name}.ts, no ${file}`);
  }
  return {
    argv: ["run", "-A", `--config=${config}`, file],
    label: `deno run -A bench/${name}.ts`,
  };
}

async function _runBenchmark(
  root: string,
  start: { argv: string[] },
  b: Benchmark,
  o: Options,
): Promise<{ figure: number; seconds: number }> {
  const scratch = await Deno.makeTempDir({ prefix: "ncf_compare_" });
  try {
    const args = [...start.argv, ...b.args(o, scratch)];
    const t0 = performance.now();
    const out = await new Deno.Command(Deno.execPath(), {
      args,
      cwd: root,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const seconds = (performance.now() - t0) / 1000;
    const stdout = new TextDecoder().decode(out.stdout);
    const match = stdout.match(b.figure);
    if (out.code !== 0 || match === null) {
      throw new Error(
        `${root}: ${b.name} exited ${out.code}${match === null ? " without its figure" : ""}\n` +
          `${stdout.slice(-1500)}\n${new TextDecoder().decode(out.stderr).slice(-1500)}`,
      );
    }
    return { figure: Number(match[1]), seconds };
  } finally {
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
}

function _median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function _fmt(x: number, unit: string): string {
  return unit === "s" ? `${x.toFixed(2)} s` : `${Math.round(x).toLocaleString("en-US")} ${unit}`;
}

async function _speed(o: Options, baseRoot: string): Promise<void> {
  const trees = [
    { side: "base", root: baseRoot, overrides: o.baseTasks },
    { side: "new", root: NEW_ROOT, overrides: o.newTasks },
  ] as const;
  const starts = BENCHMARKS.map((b) =>
    trees.map((t) => _resolveBenchmark(t.root, b.name, t.overrides[b.name]))
  );
  console.log(
    `\n## Speed: ${o.runs} runs of each benchmark in each tree, alternating base and new ` +
      `(ABBA), one process at a time\n`,
  );
  const figures = BENCHMARKS.map(() => [[], []] as [number[], number[]]);
  for (let run = 0; run < o.runs; run++) {
    for (const [k, b] of BENCHMARKS.entries()) {
      const order = run % 2 === 0 ? [0, 1] : [1, 0];
      for (const side of order) {
        const r = await _runBenchmark(trees[side].root, starts[k][side], b, o);
        figures[k][side].push(r.figure);
        console.log(
          `run ${run + 1}/${o.runs} ${b.name.padEnd(9)} ${trees[side].side.padEnd(4)} ` +
            `${_fmt(r.figure, b.unit).padStart(22)}  (${r.seconds.toFixed(1)} s wall)`,
        );
      }
    }
  }
  console.log("");
  const rows = BENCHMARKS.map((b, k) => {
    const [base, fresh] = figures[k].map(_median);
    const better = b.higherIsBetter ? "higher is better" : "lower is better";
    return [
      `${b.name} (${b.unit}, ${better})`,
      _fmt(base, b.unit),
      _fmt(fresh, b.unit),
      `${(fresh / base).toFixed(3)}`,
    ];
  });
  _printTable(["benchmark", "base median", "new median", "ratio (new/base)"], rows);
  console.log("\nEach run's figures (base | new):");
  for (const [k, b] of BENCHMARKS.entries()) {
    const list = (xs: number[]) => xs.map((x) => (b.unit === "s" ? x.toFixed(2) : Math.round(x)));
    console.log(
      `- ${b.name}: ${list(figures[k][0]).join(", ")} | ${list(figures[k][1]).join(", ")}`,
    );
  }
  console.log("\nCommands (run from each tree's root; `<tmp>` is a fresh temp folder):");
  for (const [k, b] of BENCHMARKS.entries()) {
    for (const [side, t] of trees.entries()) {
      console.log(`- ${t.side}: \`${starts[k][side].label} ${b.args(o, "<tmp>").join(" ")}\``);
    }
  }
}

// ---------------------------------------------------------------------------------------------

function _printTable(head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  console.log(line(head));
  console.log(`| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`);
  for (const r of rows) console.log(line(r));
}

async function main(args: string[]): Promise<number> {
  let o: Options;
  try {
    o = _parseArgs(args);
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  const commit = await _git(["rev-parse", "--verify", `${o.base}^{commit}`], NEW_ROOT);
  const head = await _git(["rev-parse", "--short", "HEAD"], NEW_ROOT);
  const dirty = (await _git(["status", "--porcelain", "--untracked-files=no"], NEW_ROOT)) !== "";
  const scratch = await Deno.makeTempDir({ prefix: "ncf_compare_" });
  const baseRoot = join(scratch, `ncf-${commit.slice(0, 7)}`);
  await _git(["worktree", "add", "--detach", baseRoot, commit], NEW_ROOT);
  console.log(
    `# ${o.base} (${commit.slice(0, 7)}) vs ${NEW_ROOT} (HEAD ${head}${
      dirty ? " + uncommitted edits" : ""
    })`,
  );
  console.log(`base worktree: ${baseRoot}`);
  let ok = true;
  try {
    if (o.bits) ok = await _bits(o, baseRoot);
    if (o.speed) await _speed(o, baseRoot);
  } finally {
    if (o.keepWorktree) {
      console.log(`\nkept ${baseRoot} (git worktree remove --force ${baseRoot})`);
    } else {
      await _git(["worktree", "remove", "--force", baseRoot], NEW_ROOT).catch((e) =>
        console.error(`could not remove the worktree ${baseRoot}: ${e.message}`)
      );
      await Deno.remove(scratch, { recursive: true }).catch(() => {});
    }
  }
  return ok ? 0 : 1;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
