/**
 * The case table behind `tests/train/bit_identity_test.ts` and `bench/compare_commits.ts`: small,
 * fast trainer runs through the real CLI (`deno run -A cli.ts trainer …`) of any checkout, and the
 * per-epoch HR@10, NDCG@10 and loss each run writes to its `--metrics_file` (exact float64s).
 *
 * Nothing here imports `lib/`: it drives a checkout only through its command line, so it works on
 * an old commit, on today's tree and on one whose `lib/` was reorganised.
 *
 * Run as a program, it prints the expected-value table of the test (paste it over `EXPECTED`):
 *
 * ```
 * git worktree add /tmp/ncf-f387e18 f387e18
 * deno run -A tests/train/_bit_identity_cases.ts /tmp/ncf-f387e18 > /tmp/expected.ts
 * ```
 *
 * @module
 */

import { join, resolve } from "node:path";

/** A `--backend` the cases run with. */
export type Backend = "ts" | "wasm" | "blas";

/** One evaluation as the metrics file records it: `[epoch, hr, ndcg, loss]`. */
export type EpochRow = [epoch: number, hr: number, ndcg: number, loss: number];

/** What one trainer run of a case produced. */
export interface StageResult {
  /** Every evaluation of the run, in order. */
  epochs: EpochRow[];
  /** The stdout lines matching the stage's `keepLines` (only when it has one). */
  lines?: string[];
}

/** What a case produced, by stage name. */
export type CaseResult = Record<string, StageResult>;

/** One `ncf trainer` run of a case; `{dir}` in `args` is the case's temp folder. */
export interface Stage {
  name: string;
  args: string[];
  /** Stdout lines to record verbatim (e.g. the pretrained model's figures before training). */
  keepLines?: RegExp;
}

/** A named sequence of trainer runs sharing one temp folder. */
export interface Case {
  name: string;
  backend: Backend;
  stages: Stage[];
  /** Relations the result must satisfy whatever the commit (e.g. resumed = uninterrupted). */
  invariant?: (result: CaseResult) => void;
}

/** The data set and model size every case shares: about 1 s a run. */
export const COMMON_ARGS: readonly string[] = [
  "--dataset=synthetic",
  "--synthetic_users=100",
  "--synthetic_items=120",
  "--synthetic_ratings_per_user=20",
  "--min_ratings=20",
  "--num_eval_negatives=50",
  "--seed=7",
  "--batch_size=64",
  "--num_neg=4",
  "--num_factors=4",
  "--layers=16,8",
];

const MODELS = ["NeuMF", "GMF", "MLP"] as const;
const OPTIMIZERS = ["adam", "lazy_adam", "sgd"] as const;
/** SGD at Adam's step size barely moves in two epochs; give it a larger one. */
const LEARNING_RATE = { adam: "0.001", lazy_adam: "0.001", sgd: "0.05" } as const;
const L2 = ["--mf_regularization=0.01", "--mlp_regularization=0.02"];

function _sameRows(a: EpochRow[], b: EpochRow[], what: string): void {
  const text = (rows: EpochRow[]) => JSON.stringify(rows);
  if (text(a) !== text(b)) throw new Error(`${what}: ${text(a)} !== ${text(b)}`);
}

/** The cases for `backends`, in a fixed order (case names start with the backend). */
export function bitIdentityCases(backends: readonly Backend[]): Case[] {
  const out: Case[] = [];
  for (const backend of backends) {
    const b = [`--backend=${backend}`];
    for (const model of MODELS) {
      for (const optimizer of OPTIMIZERS) {
        out.push({
          name: `${backend} ${model} ${optimizer}`,
          backend,
          stages: [{
            name: "train",
            args: [
              ...b,
              `--model=${model}`,
              `--optimizer=${optimizer}`,
              `--learning_rate=${LEARNING_RATE[optimizer]}`,
              "--train_epochs=2",
            ],
          }],
        });
      }
    }
    for (const optimizer of OPTIMIZERS) {
      out.push({
        name: `${backend} NeuMF ${optimizer} L2`,
        backend,
        stages: [{
          name: "train",
          args: [
            ...b,
            "--model=NeuMF",
            `--optimizer=${optimizer}`,
            `--learning_rate=${LEARNING_RATE[optimizer]}`,
            ...L2,
            "--train_epochs=2",
          ],
        }],
      });
    }
    // Resume: 2 epochs with a checkpoint, then --resume to 3, beside an uninterrupted 3-epoch
    // run. With spillover (the default) a finished 2-epoch run has trained its cycle's short
    // last batch, so its epoch 2 and the resumed epoch 3 differ from the uninterrupted run's by
    // design (README: "the run ends with one short batch"); with --nospillover every epoch is
    // whole and they agree bit for bit.
    for (const spillover of [true, false]) {
      const s = spillover ? [] : ["--nospillover"];
      const common = [...b, "--model=NeuMF", "--optimizer=lazy_adam", ...L2, ...s];
      out.push({
        name: `${backend} resume${spillover ? "" : " nospillover"}`,
        backend,
        stages: [
          { name: "whole", args: [...common, "--train_epochs=3"] },
          { name: "first", args: [...common, "--train_epochs=2", "--model_dir={dir}/model"] },
          {
            name: "resumed",
            args: [...common, "--train_epochs=3", "--model_dir={dir}/model", "--resume"],
            keepLines: /^resumed from /,
          },
        ],
        invariant: (r) => {
          // With spillover the 2-epoch run's last epoch ends with the short batch: only epoch 1
          // is shared.
          const shared = spillover ? 1 : 2;
          _sameRows(
            r.first.epochs.slice(0, shared),
            r.whole.epochs.slice(0, shared),
            `epochs 1-${shared} of the 2-epoch and the 3-epoch run`,
          );
          if (spillover) return;
          _sameRows(r.resumed.epochs, r.whole.epochs.slice(2), "epoch 3 resumed vs uninterrupted");
        },
      });
    }
    // Pretraining: GMF and MLP with checkpoints, then NeuMF from both, fine-tuned with SGD.
    out.push({
      name: `${backend} pretrain`,
      backend,
      stages: [
        {
          name: "gmf",
          args: [
            ...b,
            "--model=GMF",
            "--mf_regularization=0.01",
            "--train_epochs=2",
            "--model_dir={dir}/gmf",
          ],
        },
        {
          name: "mlp",
          args: [
            ...b,
            "--model=MLP",
            "--mlp_regularization=0.02",
            "--train_epochs=2",
            "--model_dir={dir}/mlp",
          ],
        },
        {
          name: "neumf",
          args: [
            ...b,
            "--model=NeuMF",
            "--pretrain_gmf={dir}/gmf",
            "--pretrain_mlp={dir}/mlp",
            "--alpha=0.5",
            "--optimizer=sgd",
            "--learning_rate=0.05",
            "--train_epochs=2",
          ],
          keepLines: /^pretrained NeuMF before training /,
        },
      ],
    });
  }
  return out;
}

/** Whether this runtime validates a module using WebAssembly SIMD (`v128.const`). */
export function wasmSimdAvailable(): boolean {
  // (module (func (result v128) (v128.const i32x4 0 0 0 0)))
  const bytes = new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00, // magic, version
    0x01,
    0x05,
    0x01,
    0x60,
    0x00,
    0x01,
    0x7b, // type: () -> v128
    0x03,
    0x02,
    0x01,
    0x00, // function 0 has type 0
    0x0a,
    0x16,
    0x01,
    0x14,
    0x00,
    0xfd,
    0x0c, // code: no locals, v128.const
    ...new Array(16).fill(0),
    0x0b, // end
  ]);
  try {
    return WebAssembly.validate(bytes);
  } catch {
    return false;
  }
}

/** Options of {@linkcode runCase}. */
export interface RunOptions {
  /** Extra trainer flags appended to every stage (e.g. `--eval_workers=0`). */
  extraArgs?: string[];
  /** Environment added to the trainer's. */
  env?: Record<string, string>;
  /** A stage still running after this is killed (SIGTERM) and the case fails. */
  timeoutMs?: number;
  /** Check the case's invariant (default true). */
  checkInvariant?: boolean;
}

/** The full command line of one stage (for messages). */
function _commandLine(args: string[]): string {
  return args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`))
    .join(" ");
}

/**
 * Runs `c` with the CLI of the checkout at `root` (`deno run -A <root>/cli.ts trainer …`, from
 * `root`, with `Deno.execPath()`), every stage with its own metrics file, cache and model dirs in
 * a temp folder removed afterwards. Throws when a stage exits non-zero, with its output's tail.
 */
export async function runCase(
  root: string,
  c: Case,
  options: RunOptions = {},
): Promise<CaseResult> {
  const dir = await Deno.makeTempDir({ prefix: "ncf_bits_" });
  const result: CaseResult = {};
  try {
    for (const stage of c.stages) {
      const metrics = join(dir, `${stage.name}.jsonl`);
      const args = [
        "run",
        "-A",
        `--config=${join(root, "deno.json")}`,
        join(root, "cli.ts"),
        "trainer",
        ...COMMON_ARGS,
        ...stage.args.map((a) => a.replaceAll("{dir}", dir)),
        `--cache_dir=${join(dir, "cache")}`,
        `--metrics_file=${metrics}`,
        ...(options.extraArgs ?? []),
      ];
      const child = new Deno.Command(Deno.execPath(), {
        args,
        cwd: root,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1", ...options.env },
      }).spawn();
      const timer = setTimeout(() => {
        try {
          child.kill("SIGTERM");
        } catch { /* already gone */ }
      }, options.timeoutMs ?? 180_000);
      const out = await child.output().finally(() => clearTimeout(timer));
      const stdout = new TextDecoder().decode(out.stdout);
      if (out.code !== 0) {
        const stderr = new TextDecoder().decode(out.stderr);
        throw new Error(
          `${c.name} / ${stage.name}: exit ${out.code} (signal ${out.signal})\n` +
            `command: ${_commandLine([Deno.execPath(), ...args])}\n` +
            `stdout:\n${stdout.slice(-2000)}\nstderr:\n${stderr.slice(-2000)}`,
        );
      }
      const epochs = (await Deno.readTextFile(metrics)).split("\n").filter((l) => l !== "").map(
        (line) => {
          const m = JSON.parse(line);
          return [m.epoch, m.hr, m.ndcg, m.loss] as EpochRow;
        },
      );
      result[stage.name] = { epochs };
      if (stage.keepLines !== undefined) {
        const keep = stage.keepLines;
        result[stage.name].lines = stdout.split("\n").filter((l) => keep.test(l))
          .map((l) => l.replaceAll(dir, "{dir}"));
      }
    }
    if (options.checkInvariant ?? true) c.invariant?.(result);
    return result;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** A settled outcome (so that a failure waiting for its turn is never an unhandled rejection). */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Runs `tasks` at most `concurrency` at a time; the i-th promise settles with the i-th outcome. */
export function pool<T>(tasks: (() => Promise<T>)[], concurrency: number): Promise<Outcome<T>>[] {
  const resolvers: ((o: Outcome<T>) => void)[] = [];
  const promises = tasks.map(() => new Promise<Outcome<T>>((r) => resolvers.push(r)));
  let next = 0;
  const lane = async () => {
    while (next < tasks.length) {
      const i = next++;
      try {
        resolvers[i]({ ok: true, value: await tasks[i]() });
      } catch (error) {
        resolvers[i]({ ok: false, error });
      }
    }
  };
  for (let k = 0; k < Math.min(concurrency, tasks.length); k++) lane();
  return promises;
}

/** The expected-value table for `results`, as TypeScript source. */
export function formatExpected(results: [string, CaseResult][]): string {
  const lines = ["const EXPECTED: Record<string, CaseResult> = {"];
  for (const [name, result] of results) {
    lines.push(`  ${JSON.stringify(name)}: {`);
    for (const [stage, r] of Object.entries(result)) {
      lines.push(`    ${stage}: {`, `      epochs: [`);
      for (const row of r.epochs) {
        lines.push(`        ${JSON.stringify(row).replaceAll(",", ", ")},`);
      }
      lines.push(`      ],`);
      if (r.lines !== undefined) lines.push(`      lines: ${JSON.stringify(r.lines)},`);
      lines.push(`    },`);
    }
    lines.push(`  },`);
  }
  lines.push("};");
  return lines.join("\n");
}

if (import.meta.main) {
  const [root, ...rest] = Deno.args;
  if (root === undefined || root.startsWith("-")) {
    console.error(
      "usage: deno run -A tests/train/_bit_identity_cases.ts CHECKOUT [--backends ts,wasm] " +
        "[--concurrency 2] [-- extra trainer flags]",
    );
    Deno.exit(2);
  }
  let backends: Backend[] = ["ts", "wasm"];
  let concurrency = 2;
  let extraArgs: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === "--backends") backends = rest[++i].split(",") as Backend[];
    else if (rest[i] === "--concurrency") concurrency = Number(rest[++i]);
    else if (rest[i] === "--") {
      extraArgs = rest.slice(i + 1);
      break;
    } else throw new Error(`unknown argument ${rest[i]}`);
  }
  const cases = bitIdentityCases(backends);
  const abs = resolve(root);
  const start = performance.now();
  const outcomes = await Promise.all(
    pool(cases.map((c) => () => runCase(abs, c, { extraArgs })), concurrency),
  );
  const failed = outcomes.flatMap((o, i) => (o.ok ? [] : [`${cases[i].name}: ${o.error}`]));
  if (failed.length > 0) {
    console.error(failed.join("\n"));
    Deno.exit(1);
  }
  console.log(
    formatExpected(outcomes.map((o, i) => [cases[i].name, (o as { value: CaseResult }).value])),
  );
  console.error(`${cases.length} cases in ${((performance.now() - start) / 1000).toFixed(1)} s`);
}
