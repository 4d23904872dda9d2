/**
 * `deno task bench:serve`: `ncf serve` under load — top-10 recommendations
 * for random known users of an ml-1m NeuMF (8; 64,32,16,8), over loopback,
 * the load generator (autocannon, from npm, run as a library in this
 * process) on the same machine as the server.
 *
 * ```
 * deno task bench:serve [--model_dir D] [--connections 16] [--duration 10] [--amount N]
 *   [--warmup 3] [--users 4096] [--seed 1] [--with_trainer] [--ratings_file PREFIX]
 *   [--epochs 2] [--backend auto] [--threads 1]
 * ```
 *
 * - The model: `--model_dir` when given (it must hold a checkpoint), else
 *   the cached one in `bench/out/serve/` (not in git), trained on first use
 *   by the real CLI on the NCF paper's ml-1m split (`--ratings_file`, the
 *   split's prefix; default `../shared/datasets/ncf-ml-1m/ml-1m`) with the
 *   paper's flags for `--epochs` epochs (serving speed does not depend on
 *   the model's quality). Without the data set the bench says so and ends.
 * - The server: `cli.ts serve --model_dir D --port 0 --threads N` as a
 *   child process; its `listening on` line gives the URL.
 * - The load: `GET /v1/users/{id}/recommendations?k=10`, the ids drawn
 *   (seeded) from the model's users into a list of `--users` paths that
 *   every connection walks through. First `--warmup` seconds untimed, then
 *   `--duration` seconds (or `--amount` requests) with `--connections`
 *   connections. Latency percentiles are computed from every response's
 *   own time (autocannon's histogram rounds to whole ms; its figures are
 *   printed too). A sample of users is asked before and after the load, and
 *   each answer checked: status 200, the user, 10 recommendations with
 *   scores in (0, 1).
 * - `--with_trainer`: the model is copied into a fresh folder, served from
 *   there, and a real trainer resumes its run in that folder
 *   (`--resume --train_epochs <more>`: the same data, model and flags), so
 *   a new checkpoint is published after each epoch. The timed load starts
 *   once the first new checkpoint is served and lasts `--duration`
 *   (default 60 s); a checker asks a user every 50 ms throughout and
 *   checks each answer. Reports the reloads (`/metrics`), the epochs
 *   served before and after, and the failed requests (errors, timeouts,
 *   non-2xx, bad answers), which must be 0.
 *
 * Ends with `requests/s: N  p50: X ms  p99: Y ms  errors: E` (and
 * `reloads: R  failed: F` with `--with_trainer`). Exits 1 when a request
 * failed or an answer was wrong. Targets (issue 14, nothing else running):
 * ≥ 3,000 requests/s, p99 ≤ 25 ms, 0 errors; 0 failed with the trainer.
 *
 * @module
 */

import autocannon from "autocannon";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { loadModelCheckpoint } from "../lib/train/model_checkpoint.ts";
import { CHECKPOINT_FILE } from "../lib/train/checkpoint_file.ts";
import { Prng } from "../lib/random/prng.ts";
import { benchArgs } from "./_args.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SPLIT = fileURLToPath(new URL("../../shared/datasets/ncf-ml-1m/ml-1m", import.meta.url));
const OUT = join(ROOT, "bench", "out", "serve");

const { has, option } = benchArgs();
const withTrainer = has("with_trainer");
const modelDirFlag = option("model_dir", "");
const ratingsFile = option("ratings_file", SPLIT);
const connections = Number(option("connections", "16"));
const duration = Number(option("duration", withTrainer ? "60" : "10"));
const amount = Number(option("amount", "0"));
const warmup = Number(option("warmup", "3"));
const userCount = Number(option("users", "4096"));
const seed = Number(option("seed", "1"));
const epochs = Number(option("epochs", "2"));
const backend = option("backend", "auto");
const threads = Number(option("threads", "1"));

/** The NCF paper's NeuMF and training flags (as bench/paper.ts's He et al. rows). */
const PAPER_NEUMF = [
  "--model=NeuMF",
  "--num_factors=8",
  "--layers=64,32,16,8",
  "--batch_size=256",
  "--learning_rate=0.001",
  "--num_neg=4",
];

/** What the trimmed autocannon result holds (the package ships no types). */
interface CannonResult {
  requests: { mean: number; total: number };
  latency: { p50: number; p99: number; mean: number; max: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  resets: number;
  "2xx": number;
  duration: number;
}

/** A child process whose output lines are kept, with a wait for a stdout line. */
interface Child {
  process: Deno.ChildProcess;
  stdout: string[];
  stderr: string[];
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  status: Promise<Deno.CommandStatus>;
}

/** `deno run -A cli.ts <argv>`, its output kept line by line (and echoed with `echo`). */
function startCli(argv: string[], echo: string | undefined): Child {
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `--config=${join(ROOT, "deno.json")}`, join(ROOT, "cli.ts"), ...argv],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>, into: string[]) => {
    let rest = "";
    // (decoded by hand: with the npm packages' Node types in the same check,
    // `pipeThrough(new TextDecoderStream())` no longer type-checks)
    const decoder = new TextDecoder();
    for await (const bytes of stream) {
      const text = decoder.decode(bytes, { stream: true });
      const lines = (rest + text).split("\n");
      rest = lines.pop()!;
      for (const line of lines) {
        into.push(line);
        if (echo !== undefined) console.log(`  ${echo}: ${line}`);
        for (let i = waiters.length - 1; i >= 0; i--) {
          const m = line.match(waiters[i].pattern);
          if (m !== null) {
            waiters[i].resolve(m);
            waiters.splice(i, 1);
          }
        }
      }
    }
    if (rest !== "") into.push(rest);
  };
  const pumped = Promise.all([pump(process.stdout, stdout), pump(process.stderr, stderr)]);
  const status = pumped.then(() => process.status);
  return {
    process,
    stdout,
    stderr,
    status,
    waitForLine(pattern, timeoutMs) {
      for (const line of [...stdout, ...stderr]) {
        const m = line.match(pattern);
        if (m !== null) return Promise.resolve(m);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(
            new Error(
              `Cannot find a line matching ${pattern} within ${timeoutMs / 1000} s; output:\n${
                [...stdout, ...stderr].slice(-20).join("\n")
              }`,
            ),
          );
        }, timeoutMs);
        waiters.push({
          pattern,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
        // A process that ends first fails the wait at once.
        status.then((s) => {
          clearTimeout(timer);
          reject(
            new Error(
              `Cannot find a line matching ${pattern}: the process ended (code ${s.code}); output:\n${
                [...stdout, ...stderr].slice(-20).join("\n")
              }`,
            ),
          );
        });
      });
    },
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** The cached model (trained by the real CLI on first use), or the one `--model_dir` names. */
async function modelFolder(): Promise<{ dir: string; command: string | undefined }> {
  if (modelDirFlag !== "") {
    if (!await exists(join(modelDirFlag, CHECKPOINT_FILE))) {
      throw new Error(
        `Cannot use --model_dir ${modelDirFlag}: it holds no ${CHECKPOINT_FILE}; give a trained model's folder, or leave the flag out to train (once) the cached model in ${OUT}`,
      );
    }
    return { dir: modelDirFlag, command: undefined };
  }
  const dir = join(OUT, `neumf_8_64-32-16-8_ml-1m_e${epochs}_s${seed}`);
  const argv = [
    "trainer",
    "--dataset=ncf",
    `--ratings_file=${ratingsFile}`,
    ...PAPER_NEUMF,
    `--train_epochs=${epochs}`,
    `--seed=${seed}`,
    `--cache_dir=${join(OUT, "cache")}`,
  ];
  const command = `deno run -A cli.ts ${argv.join(" ")} --model_dir=${dir}`;
  if (await exists(join(dir, CHECKPOINT_FILE))) return { dir, command };
  // Trained into a side folder and renamed when done: an interrupted run leaves no cache.
  const partial = `${dir}.partial`;
  await Deno.remove(partial, { recursive: true }).catch(() => {});
  await Deno.mkdir(OUT, { recursive: true });
  console.log(`training the model to serve (once; cached in ${dir}):\n  ${command}`);
  const started = performance.now();
  const trainer = startCli([...argv, `--model_dir=${partial}`], "trainer");
  const status = await trainer.status;
  if (status.code !== 0) {
    throw new Error(`Cannot train the model to serve: the trainer exited with ${status.code}`);
  }
  await Deno.rename(partial, dir);
  console.log(`trained in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return { dir, command };
}

/** The server on `dir`, once it listens. */
async function startServe(dir: string): Promise<{ child: Child; url: string; command: string }> {
  const argv = [
    "serve",
    `--model_dir=${dir}`,
    "--port=0",
    `--backend=${backend}`,
    `--threads=${threads}`,
  ];
  const child = startCli(argv, undefined);
  try {
    const [, url] = await child.waitForLine(/^listening on (\S+)/, 60_000);
    return { child, url, command: `deno run -A cli.ts ${argv.join(" ")}` };
  } catch (e) {
    await stop(child);
    throw e;
  }
}

/** Stops a child with SIGTERM (SIGKILL after 10 s); its exit status. */
async function stop(child: Child): Promise<Deno.CommandStatus> {
  try {
    child.process.kill("SIGTERM");
  } catch {
    // already gone
  }
  const timer = setTimeout(() => {
    try {
      child.process.kill("SIGKILL");
    } catch {
      // already gone
    }
  }, 10_000);
  const status = await child.status;
  clearTimeout(timer);
  return status;
}

/** `count` recommendation paths for users drawn (seeded) from the model's users. */
function userPaths(ids: ArrayLike<number | string>, count: number): string[] {
  const prng = new Prng(seed, 14);
  return Array.from(
    { length: count },
    () =>
      `/v1/users/${encodeURIComponent(String(ids[prng.nextInt(ids.length)]))}/recommendations?k=10`,
  );
}

/** Asks for `path` and checks the answer; a description of what is wrong, or undefined. */
async function checkAnswer(url: string, path: string): Promise<string | undefined> {
  try {
    const response = await fetch(new URL(path, url));
    const text = await response.text();
    if (response.status !== 200) return `${path}: status ${response.status}: ${text.slice(0, 200)}`;
    const body = JSON.parse(text);
    const user = decodeURIComponent(path.split("/")[3]);
    const recs = body.recommendations;
    if (String(body.user) !== user) return `${path}: user ${body.user}`;
    if (!Array.isArray(recs) || recs.length !== 10) return `${path}: not 10 recommendations`;
    for (const r of recs) {
      if (!(r.score > 0 && r.score < 1) || r.item === undefined) {
        return `${path}: a bad recommendation ${JSON.stringify(r)}`;
      }
    }
    return undefined;
  } catch (e) {
    return `${path}: ${e instanceof Error ? e.message : e}`;
  }
}

/** Checks the answers for the first `count` paths; throws on the first wrong one. */
async function checkSample(url: string, paths: string[], count: number, when: string) {
  for (const path of paths.slice(0, count)) {
    const wrong = await checkAnswer(url, path);
    if (wrong !== undefined) throw new Error(`Cannot confirm the answers ${when}: ${wrong}`);
  }
  console.log(`checked ${count} answers ${when}: status 200, 10 recommendations each`);
}

/** The server's `/metrics` reload counters and request-time sum and count, and its `/healthz` epoch. */
async function modelState(url: string): Promise<{
  reloads: number;
  failed: number;
  epoch: number;
  seconds: number;
  answered: number;
}> {
  const metrics = await (await fetch(new URL("/metrics", url))).text();
  const value = (name: string) => {
    const line = metrics.split("\n").find((l) => l.startsWith(`${name} `));
    return Number(line?.slice(name.length + 1) ?? NaN);
  };
  const health = await (await fetch(new URL("/healthz", url))).json();
  return {
    reloads: value('ncf_model_reloads_total{result="ok"}'),
    failed: value('ncf_model_reloads_total{result="failed"}'),
    epoch: health.epoch,
    seconds: value("ncf_http_request_duration_seconds_sum"),
    answered: value("ncf_http_request_duration_seconds_count"),
  };
}

/** One autocannon run over `paths`; every response's time kept too. */
async function load(
  url: string,
  paths: string[],
  o: { duration: number; amount: number },
): Promise<{ result: CannonResult; times: Float64Array; statuses: Map<number, number> }> {
  let times = new Float64Array(1 << 16);
  let n = 0;
  const statuses = new Map<number, number>();
  const options = {
    url,
    connections,
    ...(o.amount > 0 ? { amount: o.amount } : { duration: o.duration }),
    requests: paths.map((path) => ({ method: "GET", path })),
  };
  const result = await new Promise<CannonResult>((resolve, reject) => {
    const instance = autocannon(options, (error: Error | null, r: CannonResult) => {
      if (error) reject(error);
      else resolve(r);
    });
    instance.on("response", (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (n === times.length) {
        const grown = new Float64Array(2 * n);
        grown.set(times);
        times = grown;
      }
      times[n++] = ms;
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    });
  });
  return { result, times: times.slice(0, n).sort(), statuses };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function loadLine(): string {
  const [one, five, fifteen] = Deno.loadavg();
  return `load average ${one.toFixed(2)}, ${five.toFixed(2)}, ${
    fifteen.toFixed(2)
  } (${navigator.hardwareConcurrency} cores)`;
}

const fmt = (x: number, digits = 0) =>
  x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

async function main(): Promise<number> {
  if (modelDirFlag === "" && !await exists(`${ratingsFile}.train.rating`)) {
    console.log(
      `bench:serve skipped: the NCF split ${ratingsFile}.train.rating is not there (give --ratings_file PREFIX, or --model_dir of a trained model)`,
    );
    return 0;
  }
  console.log(`deno task bench:serve ${Deno.args.join(" ")}`.trimEnd());
  const model = await modelFolder();
  if (model.command !== undefined) console.log(`model: ${model.command}`);
  const checkpoint = await loadModelCheckpoint(model.dir);
  const ids = checkpoint.maps.userIds;
  const meta = checkpoint.meta;
  console.log(
    `model: ${meta.model.kind} (${meta.model.numFactors}; ${
      (meta.model.layers as number[] | undefined)?.join(",") ?? "–"
    }), ${meta.model.numUsers.toLocaleString("en-US")} users × ${
      meta.model.numItems.toLocaleString("en-US")
    } items, epoch ${meta.run.epochsDone}, in ${model.dir}`,
  );
  const paths = userPaths(ids, userCount);

  let served = model.dir;
  if (withTrainer) {
    // A copy: the trainer extends the run there, the cached model stays as it is.
    served = join(OUT, `live_${Deno.pid}`);
    await Deno.remove(served, { recursive: true }).catch(() => {});
    await Deno.mkdir(served, { recursive: true });
    for (const name of [CHECKPOINT_FILE, "flags"]) {
      if (await exists(join(model.dir, name))) {
        await Deno.copyFile(join(model.dir, name), join(served, name));
      }
    }
  }
  const server = await startServe(served);
  let trainer: Child | undefined;
  let code = 0;
  try {
    console.log(`server: ${server.command} → ${server.url}`);
    await checkSample(server.url, paths, 50, "before the load");
    if (warmup > 0) {
      await load(server.url, paths, { duration: warmup, amount: 0 });
      console.log(`warmed up for ${warmup} s`);
    }
    let checker: Promise<{ asked: number; wrong: string[] }> | undefined;
    let checking = true;
    let before = await modelState(server.url);
    if (withTrainer) {
      const argv = [
        "trainer",
        `--model_dir=${served}`,
        "--resume",
        `--train_epochs=${meta.run.epochsDone + 1000}`,
        `--cache_dir=${join(OUT, "cache")}`,
      ];
      console.log(`trainer: deno run -A cli.ts ${argv.join(" ")}`);
      trainer = startCli(argv, "trainer");
      let ended: number | undefined;
      trainer.status.then((s) => void (ended = s.code));
      // The timed load starts once the trainer's first checkpoint is served.
      const started = performance.now();
      while ((await modelState(server.url)).reloads === before.reloads) {
        if (ended !== undefined) {
          throw new Error(
            `Cannot load the server while training: the trainer exited with ${ended}`,
          );
        }
        if (performance.now() - started > 300_000) {
          throw new Error("Cannot see the trainer's first checkpoint served within 300 s");
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      console.log(
        `the trainer's first checkpoint was served after ${
          ((performance.now() - started) / 1000).toFixed(1)
        } s`,
      );
      before = await modelState(server.url);
      checker = (async () => {
        const wrong: string[] = [];
        let asked = 0;
        while (checking) {
          const w = await checkAnswer(server.url, paths[asked % paths.length]);
          asked++;
          if (w !== undefined) wrong.push(w);
          await new Promise((r) => setTimeout(r, 50));
        }
        return { asked, wrong };
      })();
    }
    const loadBefore = loadLine();
    const { result, times, statuses } = await load(server.url, paths, { duration, amount });
    checking = false;
    const checked = await checker;
    const after = await modelState(server.url);
    const loadAfter = loadLine();
    await checkSample(server.url, paths, 50, "after the load");

    const p50 = percentile(times, 50);
    const p99 = percentile(times, 99);
    const errors = result.errors + result.timeouts;
    const statusText = [...statuses].sort(([a], [b]) => a - b).map(([s, c]) => `${s}: ${fmt(c)}`)
      .join(", ");
    console.log(
      [
        "",
        `GET /v1/users/{id}/recommendations?k=10, ${userCount} random users (seed ${seed}), ${connections} connections, ${
          amount > 0 ? `${fmt(amount)} requests` : `${duration} s`
        } (autocannon 9.0.0 in this process; server backend ${backend}, ${threads} thread${
          threads === 1 ? "" : "s"
        })`,
        `machine: before the load ${loadBefore}; after ${loadAfter}`,
        `requests: ${fmt(result.requests.total)} in ${result.duration} s (statuses ${statusText})`,
        `autocannon: ${
          fmt(result.requests.mean)
        } requests/s mean, latency p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, max ${result.latency.max} ms (whole ms)`,
        `each response: p50 ${p50.toFixed(2)} ms, p90 ${percentile(times, 90).toFixed(2)} ms, p99 ${
          p99.toFixed(2)
        } ms, max ${(times.at(-1) ?? NaN).toFixed(2)} ms`,
        `server: ${
          ((1000 * (after.seconds - before.seconds)) / (after.answered - before.answered)).toFixed(
            2,
          )
        } ms per request inside its handler (mean, its /metrics)`,
        `errors ${result.errors}, timeouts ${result.timeouts}, resets ${result.resets}, non-2xx ${result.non2xx}`,
      ].join("\n"),
    );
    let failed = errors + result.non2xx;
    if (withTrainer) {
      const wrong = checked?.wrong ?? [];
      failed += wrong.length;
      console.log(
        `model during the load: epoch ${before.epoch} → ${after.epoch}, ${
          after.reloads - before.reloads
        } reloads (${after.failed - before.failed} failed to load); checker: ${
          checked?.asked ?? 0
        } answers checked, ${wrong.length} wrong${
          wrong.length > 0 ? `: ${wrong.slice(0, 3).join("; ")}` : ""
        }`,
      );
    }
    const warnings = server.child.stderr.filter((l) => l.includes("warning"));
    if (warnings.length > 0) console.log(`server warnings:\n  ${warnings.join("\n  ")}`);
    console.log(
      `\nrequests/s: ${fmt(result.requests.mean)}  p50: ${p50.toFixed(2)} ms  p99: ${
        p99.toFixed(2)
      } ms  errors: ${errors + result.non2xx}` +
        (withTrainer ? `  reloads: ${after.reloads - before.reloads}  failed: ${failed}` : ""),
    );
    if (failed > 0) code = 1;
  } finally {
    if (trainer !== undefined) {
      const s = await stop(trainer);
      console.log(`trainer stopped (exit ${s.code})`);
    }
    const s = await stop(server.child);
    if (s.code !== 143) {
      console.log(`server exit ${s.code}; stderr:\n${server.child.stderr.slice(-20).join("\n")}`);
      code = 1;
    }
    if (withTrainer) await Deno.remove(served, { recursive: true }).catch(() => {});
  }
  return code;
}

try {
  Deno.exit(await main());
} catch (e) {
  // The bench's own failures say what went wrong; anything else keeps its stack.
  if (!(e instanceof Error) || !e.message.startsWith("Cannot ")) throw e;
  console.error(`bench:serve: ${e.message}`);
  Deno.exit(1);
}
