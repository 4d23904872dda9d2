/**
 * Measures the generator's throughput: epochs made and written as shards
 * exactly as `ncf generator` does (epoch workers + `writeCycle`, shards
 * published by rename), on the training positives of a ratings file loaded
 * with the project's loader. Loading is not timed; the last line is
 * `examples/s: N` over the timed cycles.
 *
 * ```
 * deno run -A bench/generator.ts --ratings_file /tmp/ml20m.csv [--num_workers 1]
 *   [--cycles 3] [--warmup_cycles 1] [--epochs_per_cycle 1] [--num_neg 4]
 *   [--batch_size 256] [--seed 1] [--schema pairs|triples]
 *   [--negative_sampling exact|uniform] [--out_dir DIR] [--keep]
 * ```
 *
 * `--schema triples` makes the shards of a pairwise loss (each positive
 * `num_neg` times with its own negative: `num_neg` examples per positive
 * instead of `1 + num_neg`); `--negative_sampling uniform` draws negatives
 * from all items.
 *
 * Shards go to a temp folder inside `--out_dir` (default: the folder of the
 * ratings file, i.e. the same disk as the data), one cycle folder at a time,
 * each removed (untimed) once written unless `--keep`.
 *
 * The 20M-row file: `python3 ../shared/bench/numpy_negatives.py --write-csv /tmp/ml20m.csv`.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { loadDataset } from "../lib/data/load_dataset.ts";
import { allocateEpochBuffers, epochLayout, makeEpoch } from "../lib/pipeline/epoch.ts";
import { startEpochWorkers } from "../lib/pipeline/epoch_workers.ts";
import { type CyclePlan, emptyColumns, writeCycle } from "../lib/pipeline/cycles.ts";
import {
  NEGATIVE_SAMPLINGS,
  type NegativeSampling,
  SHARD_SCHEMAS,
  type ShardSchema,
} from "../lib/flags/specs.ts";

const _USAGE = "usage: deno run -A bench/generator.ts --ratings_file F [--num_workers 1] " +
  "[--cycles 3] [--warmup_cycles 1] [--epochs_per_cycle 1] [--num_neg 4] [--batch_size 256] " +
  "[--seed 1] [--schema pairs|triples] [--negative_sampling exact|uniform] [--out_dir DIR] " +
  "[--keep]";

/** A /proc/self/status size (VmHWM: peak RSS, VmRSS: RSS) in MiB, or NaN where /proc is missing. */
function _statusMiB(key: "VmHWM" | "VmRSS"): number {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const match = status.match(new RegExp(`${key}:\\s+(\\d+)\\s+kB`));
    return match ? Number(match[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** CPU seconds (user, system) of the whole process so far, or NaN where /proc is missing. */
function _cpuSeconds(): { user: number; system: number } {
  try {
    const stat = Deno.readTextFileSync("/proc/self/stat");
    // Fields after the command name (which may hold spaces): utime is 14th, stime 15th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
  } catch {
    return { user: NaN, system: NaN };
  }
}

function _flag(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return args[i + 1];
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
  }
  return undefined;
}

function _int(args: string[], name: string, fallback: number, min: number): number {
  const text = _flag(args, name);
  const value = text === undefined ? fallback : Number(text);
  if (!Number.isSafeInteger(value) || value < min) {
    console.error(`Cannot use --${name} ${text}: not an integer ≥ ${min}\n${_USAGE}`);
    Deno.exit(2);
  }
  return value;
}

function _choice<T extends string>(args: string[], name: string, values: readonly T[]): T {
  const text = _flag(args, name) ?? values[0];
  if (!(values as readonly string[]).includes(text)) {
    console.error(`Cannot use --${name} ${text}: expected one of ${values.join(", ")}\n${_USAGE}`);
    Deno.exit(2);
  }
  return text as T;
}

/** Loads the ratings and sets up the epoch buffers; the data set itself is dropped. */
async function _setUp(
  file: string,
  options: {
    seed: number;
    numNeg: number;
    schema: ShardSchema;
    negativeSampling: NegativeSampling;
  },
) {
  // Evaluation negatives are not the generator's business: none are drawn.
  const { dataset } = await loadDataset({
    dataset: "csv",
    ratingsFile: file,
    seed: options.seed,
    numEvalNegatives: 0,
  });
  const positives = { offsets: dataset.trainOffsets, items: dataset.trainItems };
  const layout = epochLayout(positives, {
    numItems: dataset.numItems,
    numNeg: options.numNeg,
    schema: options.schema,
    negativeSampling: options.negativeSampling,
  });
  const context = { layout, buffers: allocateEpochBuffers(positives, layout), seed: options.seed };
  return { context, numUsers: dataset.numUsers, numItems: dataset.numItems };
}

async function _main(args: string[]): Promise<void> {
  const file = _flag(args, "ratings_file");
  if (file === undefined) {
    console.error(_USAGE);
    Deno.exit(2);
  }
  const numWorkers = _int(args, "num_workers", 1, 1);
  const cycles = _int(args, "cycles", 3, 1);
  const warmup = _int(args, "warmup_cycles", 1, 0);
  const epochsPerCycle = _int(args, "epochs_per_cycle", 1, 1);
  const numNeg = _int(args, "num_neg", 4, 0);
  const batchSize = _int(args, "batch_size", 256, 1);
  const seed = _int(args, "seed", 1, 0);
  const schema = _choice(args, "schema", SHARD_SCHEMAS);
  const negativeSampling = _choice(args, "negative_sampling", NEGATIVE_SAMPLINGS);
  const keep = args.includes("--keep");
  const outDir = _flag(args, "out_dir") ?? dirname(file);

  const t0 = performance.now();
  const { context, numUsers, numItems } = await _setUp(file, {
    seed,
    numNeg,
    schema,
    negativeSampling,
  });
  const { layout } = context;
  // The generator process holds only the positives: let the loader's
  // garbage go before measuring (needs --v8-flags=--expose-gc).
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const pool = startEpochWorkers(context, numWorkers);
  const root = await Deno.makeTempDir({ dir: outDir, prefix: "ncf_bench_generator_" });
  console.log(`file            ${file}`);
  console.log(`users           ${numUsers}`);
  console.log(`items           ${numItems}`);
  console.log(`train positives ${context.buffers.positives.items.length}`);
  console.log(`schema          ${schema}, ${numNeg} ${negativeSampling} negatives per positive`);
  console.log(`examples/epoch  ${layout.size}`);
  console.log(`workers         ${numWorkers}`);
  console.log(`shards in       ${root}`);
  console.log(`load            ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  console.log(
    `RSS after load  ${_statusMiB("VmRSS").toFixed(0)} MiB (peak ${
      _statusMiB("VmHWM").toFixed(0)
    }` +
      `${
        gc === undefined ? "; run with --v8-flags=--expose-gc to collect the loader's garbage" : ""
      })`,
  );
  try {
    const plan: CyclePlan = {
      epochSize: layout.size,
      epochsPerCycle,
      numCycles: warmup + cycles,
      batchSize,
      spillover: true,
      schema,
    };
    const source = (epoch: number) => makeEpoch(context, pool, epoch);
    let carry = emptyColumns(schema, 0);
    let timedExamples = 0;
    let timedMs = 0;
    let cpu = { user: 0, system: 0 };
    for (let cycle = 0; cycle < plan.numCycles; cycle++) {
      const dir = join(root, `cycle_${cycle}`);
      await Deno.mkdir(dir);
      const startedCpu = _cpuSeconds();
      const started = performance.now();
      const written = await writeCycle(cycle, dir, { plan, carry, source });
      const ms = performance.now() - started;
      const endedCpu = _cpuSeconds();
      const user = endedCpu.user - startedCpu.user;
      const system = endedCpu.system - startedCpu.system;
      carry = written.carry;
      const examples = written.manifest.example_count;
      const timed = cycle >= warmup;
      if (timed) {
        timedExamples += examples;
        timedMs += ms;
        cpu = { user: cpu.user + user, system: cpu.system + system };
      }
      console.log(
        `cycle ${cycle}${
          timed ? "" : " (warm-up)"
        }: ${examples} examples in ${written.manifest.shards.length} shards, ${
          (ms / 1000).toFixed(2)
        } s = ${(examples / ms / 1000).toFixed(2)} M/s ` +
          `(cpu: user ${user.toFixed(2)} s, system ${system.toFixed(2)} s; ` +
          `RSS ${_statusMiB("VmRSS").toFixed(0)} MiB)`,
      );
      if (!keep) await Deno.remove(dir, { recursive: true });
    }
    console.log(
      `cpu per example ${((cpu.user + cpu.system) / timedExamples * 1e9).toFixed(1)} ns ` +
        `(user ${(cpu.user / timedExamples * 1e9).toFixed(1)}, system ${
          (cpu.system / timedExamples * 1e9).toFixed(1)
        })`,
    );
    console.log(`peak RSS (VmHWM) ${_statusMiB("VmHWM").toFixed(0)} MiB`);
    console.log(`examples/s: ${Math.round(timedExamples / timedMs * 1000)}`);
  } finally {
    pool.close();
    if (!keep) await Deno.remove(root, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) await _main(Deno.args);
