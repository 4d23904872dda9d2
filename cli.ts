#!/usr/bin/env -S deno run --allow-read --allow-write --allow-net --allow-env --allow-run --allow-sys --allow-ffi
/**
 * `ncf`: train Neural Collaborative Filtering recommenders, with training
 * data made by an asynchronous generator process (this same program, run as
 * `ncf generator`).
 *
 * The only module that reads `Deno.args`, prints usage and exits.
 * Exit codes: 0 success, 1 failure, 2 usage error, 130 SIGINT, 143 SIGTERM.
 *
 * @module
 */

import {
  type FlagDefs,
  formatHelp,
  parseFlags,
  type ParseOptions,
  type ParseResult,
} from "./lib/flags/flags.ts";
import { parseEvaluateArgs, parseTrainerArgs } from "./lib/flags/run_flagfile.ts";
import { evaluateCheckpoint } from "./lib/train/evaluate_checkpoint.ts";
import {
  type BackendChoice,
  checkDataFlags,
  checkTrainerFlags,
  defaultCacheDir,
  DOWNLOAD_FLAGS,
  EVALUATE_FLAGS,
  EXPORT_FLAGS,
  GENERATOR_FLAGS,
  INSPECT_FLAGS,
  RECOMMEND_FLAGS,
  SERVE_FLAGS,
  SHOW_FLAGS,
  TRAINER_FLAGS,
} from "./lib/flags/specs.ts";
import { MissingDatasetError, SettingError, UsageError } from "./lib/errors.ts";
import { runTrainer, type TrainingProgress } from "./lib/train/trainer.ts";
import { readUsersFile, recommendUsers } from "./lib/serve/recommend.ts";
import { formatRecommendations } from "./lib/serve/recommendation_format.ts";
import { formatCheckpointSummary, showCheckpoint } from "./lib/serve/show_checkpoint.ts";
import { findRunItemTitles } from "./lib/serve/run_item_titles.ts";
import { readItemTitles } from "./lib/data/item_titles.ts";
import { exportModel } from "./lib/serve/export_model.ts";
import { startServers } from "./lib/serve/serve_threads.ts";
import { runGenerator } from "./lib/pipeline/generator.ts";
import { drawSeed, loadDatasetFromFlags } from "./lib/train/load_data.ts";
import { summarize } from "./lib/data/load_dataset.ts";
import { downloadDataset, formatProgress, formatRetry } from "./lib/data/download.ts";
import { formatProgressLine } from "./lib/report/progress_line.ts";
import denoJson from "./deno.json" with { type: "json" };

interface Command {
  summary: string;
  flags: FlagDefs;
  /** Parses the command's arguments (default: `parseFlags` against `flags`). */
  parse?: (args: string[], options: ParseOptions) => ParseResult<FlagDefs>;
  run(parsed: ParseResult<FlagDefs>, signal: AbortSignal, args: string[]): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  trainer: {
    summary:
      "Train a recommender (NeuMF by default); spawns `ncf generator` for its training data.",
    flags: TRAINER_FLAGS,
    parse: (args, options) =>
      parseTrainerArgs(args, { readTextFile: options.readTextFile ?? Deno.readTextFileSync }),
    async run(parsed, signal) {
      const flags = parsed.values as ParseResult<typeof TRAINER_FLAGS>["values"];
      checkTrainerFlags(flags);
      flags.cache_dir ??= defaultCacheDir(_getEnv);
      const bar = _progressBar();
      _activeBar = bar;
      await runTrainer(flags, {
        signal,
        print: (line) => {
          bar?.clear();
          console.log(line);
        },
        progress: bar?.show,
        onWait: (line) => {
          bar?.clear();
          console.error(line);
        },
        onPhase: Deno.env.get("NCF_TRACE") === "1"
          ? (phase) => console.error(`trace ${phase}`)
          : undefined,
      });
      return 0;
    },
  },
  generator: {
    summary: "Make the training cycles of one trainer run (started by the trainer, or by an " +
      "operator in standalone mode); settings come from the run's flagfile.",
    flags: GENERATOR_FLAGS,
    async run(parsed, signal) {
      const flags = parsed.values as ParseResult<typeof GENERATOR_FLAGS>["values"];
      flags.cache_dir ??= defaultCacheDir(_getEnv);
      const standalone = flags.parent_pid === undefined;
      const result = await runGenerator(flags, {
        signal,
        onStatus: standalone
          ? (s) => {
            if (s.kind === "stopped") return; // said below, or by the signal path
            const flag = s.kind === "waiting" ? " (--flagfile_timeout)" : "";
            console.error(`ncf generator: ${s.message}${flag}`);
          }
          : undefined,
      });
      if (result.outcome === "orphaned") {
        console.error(`ncf generator: stopped: ${result.reason}`);
        return 1;
      }
      return 0;
    },
  },
  inspect: {
    summary: "Load and preprocess a data set and print its counts as one JSON object.",
    flags: INSPECT_FLAGS,
    async run(parsed, signal) {
      const flags = parsed.values as ParseResult<typeof INSPECT_FLAGS>["values"];
      checkDataFlags(flags);
      const { dataset, numInteractions } = await loadDatasetFromFlags(flags, {
        seed: flags.seed ?? drawSeed(),
        signal,
        onWarning: (m) => console.error(`warning: ${m}`),
        onProgress: _progressPrinter(flags.dataset),
      });
      console.log(JSON.stringify(summarize(dataset, numInteractions)));
      return 0;
    },
  },
  evaluate: {
    summary: "Measure a trained model's HR@10 and NDCG@10 without training, on its run's data " +
      "(from the run's saved flags) or on the data set the data flags name.",
    flags: EVALUATE_FLAGS,
    async run(parsed, signal, args) {
      parseFlags(args, EVALUATE_FLAGS, { readTextFile: Deno.readTextFileSync }); // only these flags
      const merged = parseEvaluateArgs(args, { readTextFile: Deno.readTextFileSync });
      const flags = merged.values;
      checkDataFlags(flags);
      const result = await evaluateCheckpoint(flags.model_dir!, {
        data: flags,
        sameData: merged.sameData,
        evaluation: { protocol: flags.eval_protocol, ks: flags.eval_k },
        backend: (parsed.values as { backend: BackendChoice }).backend,
        signal,
        onWarning: (m) => console.error(`warning: ${m}`),
      });
      const where = merged.sameData ? "its run's data" : `--dataset ${flags.dataset}`;
      const k = flags.eval_k[0];
      const extra = result.byK.slice(1).map((c) =>
        `  HR@${c.k} ${c.hr.toFixed(4)}  NDCG@${c.k} ${c.ndcg.toFixed(4)}`
      ).join("");
      console.log(
        `epoch ${result.epoch}  HR@${k} ${result.hr.toFixed(4)}  NDCG@${k} ${
          result.ndcg.toFixed(4)
        }${extra}  MRR ${result.mrr.toFixed(4)}  (${result.users} users, ${where}, ${
          result.protocol === "full" ? "full ranking" : "sampled negatives"
        })`,
      );
      const recorded = result.recorded;
      if (
        recorded !== undefined && merged.sameData &&
        (recorded.protocol ?? "sampled") === result.protocol && (recorded.byK?.[0]?.k ?? 10) === k
      ) {
        console.log(
          `recorded at epoch ${recorded.epoch}  HR@${k} ${recorded.hr.toFixed(4)}` +
            `  NDCG@${k} ${recorded.ndcg.toFixed(4)}`,
        );
      }
      if (result.skippedUsers > 0) {
        console.error(`note: ${result.skippedUsers} users of the data are unknown to the model`);
      }
      return 0;
    },
  },
  recommend: {
    summary: "Print a trained model's top-k unseen items for one user, a list of users or all " +
      "of them, with scores and item titles (table, csv or jsonl).",
    flags: RECOMMEND_FLAGS,
    async run(parsed, signal) {
      const f = parsed.values as ParseResult<typeof RECOMMEND_FLAGS>["values"];
      const given = [f.user, f.users, f.users_file].filter((v) => v !== undefined).length +
        (f.all_users ? 1 : 0);
      if (given !== 1) {
        throw new UsageError(
          "Cannot recommend: give exactly one of --user, --users, --users_file, --all_users",
        );
      }
      const [users, setting]: [string[] | "all", string] = f.user !== undefined
        ? [[f.user], "user"]
        : f.users !== undefined
        ? [f.users.split(",").map((s) => s.trim()).filter((s) => s !== ""), "users"]
        : f.users_file !== undefined
        ? [await readUsersFile(f.users_file), "users_file"]
        : ["all", "all_users"];
      const titlesFile = f.item_titles ?? await findRunItemTitles(f.model_dir);
      const titles = titlesFile === undefined ? undefined : await readItemTitles(titlesFile);
      const results = recommendUsers(f.model_dir, users, {
        k: f.k,
        includeSeen: f.include_seen,
        backend: f.backend,
        signal,
        setting,
      });
      const chunks = formatRecommendations(results, {
        format: f.format,
        titles,
        multipleUsers: f.user === undefined,
      });
      await _writeOutput(chunks, f.output);
      return 0;
    },
  },
  serve: {
    summary: "Serve a trained model's recommendations as a JSON API over HTTP (known users, " +
      "new users folded in, scores, similar items); reloads new checkpoints.",
    flags: SERVE_FLAGS,
    async run(parsed, signal) {
      const f = parsed.values as ParseResult<typeof SERVE_FLAGS>["values"];
      const titlesFile = f.item_titles ?? await findRunItemTitles(f.model_dir);
      const titles = titlesFile === undefined ? undefined : await readItemTitles(titlesFile);
      const server = await startServers(f.model_dir, {
        hostname: f.host,
        port: f.port,
        backend: f.backend,
        threads: f.threads,
        titles,
        signal,
        onWarning: (message) => console.error(`ncf serve: warning: ${message}`),
      });
      const threads = f.threads === 1 ? "" : ` (${f.threads} threads)`;
      console.log(`listening on ${server.url}${threads}`);
      await server.finished;
      return 0;
    },
  },
  show: {
    summary: "Describe a trained model's checkpoint: model, data, flags, epochs, best and last " +
      "metrics, size.",
    flags: SHOW_FLAGS,
    async run(parsed) {
      const f = parsed.values as ParseResult<typeof SHOW_FLAGS>["values"];
      const summary = await showCheckpoint(f.model_dir);
      console.log(formatCheckpointSummary(summary, { format: f.json ? "json" : "text" }).trimEnd());
      return 0;
    },
  },
  export: {
    summary: "Write a trained model as .npy files or one ONNX graph, with its id maps as CSV " +
      "and model.json (tensors, roles, formula).",
    flags: EXPORT_FLAGS,
    async run(parsed) {
      const flags = parsed.values as ParseResult<typeof EXPORT_FLAGS>["values"];
      const written = await exportModel(flags.model_dir, flags.out, {
        format: flags.format,
        sigmoid: flags.sigmoid,
      });
      for (const path of written) console.log(path);
      return 0;
    },
  },
  download: {
    summary: "Download a MovieLens data set from GroupLens, verify its checksum and unzip it.",
    flags: DOWNLOAD_FLAGS,
    async run(parsed, signal) {
      const flags = parsed.values as ParseResult<typeof DOWNLOAD_FLAGS>["values"];
      await Deno.mkdir(flags.data_dir, { recursive: true });
      const path = await downloadDataset(flags.dataset!, flags.data_dir, {
        baseUrl: flags.download_url,
        onProgress: _progressPrinter(flags.dataset!),
        signal,
        connectTimeoutSeconds: flags.download_connect_timeout,
        idleTimeoutSeconds: flags.download_idle_timeout,
        retries: flags.download_retries,
        onRetry: (r) => console.error(`${Deno.stderr.isTerminal() ? "\n" : ""}${formatRetry(r)}`),
      });
      console.log(path);
      return 0;
    },
  },
};

/**
 * Writes text chunks to stdout, or to `path` through a temp file renamed at
 * the end (a failure leaves no partial file).
 */
async function _writeOutput(chunks: AsyncIterable<string>, path: string | undefined) {
  const encoder = new TextEncoder();
  if (path === undefined) {
    for await (const chunk of chunks) await _writeAll(Deno.stdout, encoder.encode(chunk));
    return;
  }
  const temp = `${path}.${Deno.pid}.tmp`;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(temp, { write: true, create: true, truncate: true });
  } catch (e) {
    throw new SettingError("output", `Cannot write ${path}: ${(e as Error).message}`);
  }
  try {
    for await (const chunk of chunks) await _writeAll(file, encoder.encode(chunk));
    file.close();
    await Deno.rename(temp, path);
  } catch (e) {
    try {
      file.close();
    } catch { /* already closed */ }
    await Deno.remove(temp).catch(() => {});
    throw e;
  }
}

async function _writeAll(w: { write(p: Uint8Array): Promise<number> }, bytes: Uint8Array) {
  for (let off = 0; off < bytes.length;) off += await w.write(bytes.subarray(off));
}

/** Reads an environment variable (the CLI's only reader of the environment's defaults). */
function _getEnv(name: string): string | undefined {
  return Deno.env.get(name);
}

function _progressPrinter(label: string) {
  if (!Deno.stderr.isTerminal()) return undefined;
  const encoder = new TextEncoder();
  let last = 0;
  return (received: number, total: number | undefined) => {
    const now = performance.now();
    if (now - last < 100 && received !== total) return;
    last = now;
    const line = formatProgress(received, total, { label: `${label}.zip` });
    Deno.stderr.writeSync(encoder.encode(`\r${line}${received === total ? "\n" : ""}`));
  };
}

/** The progress line on screen, cleared before any message is written. */
let _activeBar: { clear(): void } | undefined;

/** A one-line progress bar on stderr when it is a terminal, fitted to its width. */
function _progressBar() {
  if (!Deno.stderr.isTerminal()) return undefined;
  const encoder = new TextEncoder();
  let shown = false;
  const write = (text: string) => Deno.stderr.writeSync(encoder.encode(text));
  const columns = () => {
    try {
      return Deno.consoleSize().columns;
    } catch {
      return 80;
    }
  };
  return {
    show(p: TrainingProgress) {
      write(`\r\x1b[2K${formatProgressLine(p, { columns: columns() })}`);
      shown = true;
    },
    clear() {
      if (shown) write("\r\x1b[2K");
      shown = false;
    },
  };
}

function _overview(): string {
  return [
    `ncf ${denoJson.version}: Neural Collaborative Filtering (NeuMF) from implicit feedback.`,
    "",
    "Usage: ncf <command> [flags]",
    "",
    "Commands:",
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`),
    "",
    "Run 'ncf <command> --help' (or 'ncf help <command>') for a command's flags.",
    "Exit codes: 0 success, 1 failure, 2 usage error, 130 SIGINT, 143 SIGTERM.",
  ].join("\n");
}

function _commandHelp(name: string, command: Command): string {
  return formatHelp(`ncf ${name}`, command.flags, { summary: command.summary });
}

function _findCommand(name: string): Command | undefined {
  return Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
}

function _unknownCommand(name: string): number {
  console.error(`ncf: unknown command '${name}' (expected ${Object.keys(COMMANDS).join(", ")})`);
  console.error("Run 'ncf --help' for usage.");
  return 2;
}

const _SIGNAL_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * The message of a failure; a {@linkcode SettingError} (library code names
 * settings, not flags) gets the flag of its setting.
 */
function _errorMessage(e: unknown): string {
  if (e instanceof SettingError) return `${e.message} (--${e.setting})`;
  if (e instanceof MissingDatasetError) {
    return `${e.message}; run 'ncf download --dataset ${e.dataset} --data_dir ${e.dataDir}' ` +
      "first, or add --download_if_missing";
  }
  return e instanceof Error ? e.message : String(e);
}

/** Runs the CLI on `args` and returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined) {
    console.error(_overview());
    return 2;
  }
  if (name === "--help" || name === "-h" || name === "--help=true") {
    console.log(_overview());
    return 0;
  }
  if (name === "help") {
    if (rest.length === 0) {
      console.log(_overview());
      return 0;
    }
    const topic = _findCommand(rest[0]);
    if (topic === undefined || rest.length > 1) return _unknownCommand(rest.join(" "));
    console.log(_commandHelp(rest[0], topic));
    return 0;
  }
  if (name === "--version") {
    console.log(`ncf ${denoJson.version}`);
    return 0;
  }
  const command = _findCommand(name);
  if (command === undefined) return _unknownCommand(name);
  const controller = new AbortController();
  let caught: keyof typeof _SIGNAL_CODES | undefined;
  const listeners = (Object.keys(_SIGNAL_CODES) as (keyof typeof _SIGNAL_CODES)[]).map((sig) => {
    const listener = () => {
      _activeBar?.clear();
      caught ??= sig;
      controller.abort(new Error(`Cannot continue: interrupted by ${sig}`));
    };
    Deno.addSignalListener(sig, listener);
    return [sig, listener] as const;
  });
  try {
    const parseOptions = { readTextFile: Deno.readTextFileSync };
    const parsed = command.parse?.(rest, parseOptions) ??
      parseFlags(rest, command.flags, parseOptions);
    if (parsed.help) {
      console.log(_commandHelp(name, command));
      return 0;
    }
    const code = await command.run(parsed, controller.signal, rest);
    return caught === undefined ? code : _SIGNAL_CODES[caught];
  } catch (e) {
    _activeBar?.clear();
    if (caught !== undefined) {
      console.error(`ncf ${name}: interrupted by ${caught}`);
      return _SIGNAL_CODES[caught];
    }
    if (Deno.env.get("NCF_DEBUG") === "1" && e instanceof Error) console.error(e.stack);
    console.error(`ncf ${name}: ${_errorMessage(e)}`);
    if (e instanceof UsageError || e instanceof SettingError) {
      console.error(`Run 'ncf ${name} --help' for usage.`);
      return 2;
    }
    return 1;
  } finally {
    for (const [sig, listener] of listeners) Deno.removeSignalListener(sig, listener);
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
