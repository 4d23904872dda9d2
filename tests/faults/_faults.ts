/**
 * The fault-injection suite: real trainer and generator processes, faults
 * injected at random moments (mid-cycle, during evaluation, during a
 * checkpoint write, while waiting for the flagfile), and the outcome each
 * fault must have. `main.ts` runs every fault several times and prints a
 * table; `faults_test.ts` runs each once inside `deno task test`.
 */

import { join } from "node:path";
import { Prng } from "../../lib/random/prng.ts";
import { RUN_FLAGFILE } from "../../lib/flags/run_flagfile.ts";
import { CHECKPOINT_FILE } from "../../lib/train/checkpoint_file.ts";
import { loadModelCheckpoint } from "../../lib/train/model_checkpoint.ts";
import { CLI, CONFIG, listDir, processAlive, startCli, waitForExit } from "../cli/_process.ts";

/** Heartbeat timeout of the fault runs: 3× the worst gap measured under load (see README). */
export const HEARTBEAT_TIMEOUT = 6;
/** How long a dead generator may take to end the trainer (DESIGN.md, issue). */
export const EXIT_BOUND = 10;

/** The outcome of one trial. */
export interface TrialResult {
  passed: boolean;
  /** Seconds from the fault to the process's exit. */
  seconds: number;
  /** What went wrong, if anything. */
  detail: string;
  /** The longest gap between generator heartbeats the trainers saw, if measured. */
  heartbeatGap?: number | undefined;
}

/** One fault and how to inject it. */
export interface Fault {
  name: string;
  /** Runs one trial in `dir` (a fresh temporary folder). */
  trial(dir: string, prng: Prng): Promise<TrialResult>;
  /** A reason to skip on this machine, if any. */
  skip?(): Promise<string | undefined>;
}

const TRAINER = [
  "trainer",
  "--synthetic_users=1000",
  "--synthetic_items=500",
  "--num_eval_negatives=50",
  "--train_epochs=200",
  "--cycles_to_buffer=1",
  `--heartbeat_timeout=${HEARTBEAT_TIMEOUT}`,
  "--kill_grace=2",
];

const TRACE = { NCF_TRACE: "1" };

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Waits for a trace line on the trainer's stderr. */
async function waitForTrace(
  p: ReturnType<typeof startCli>,
  phase: string,
  options: { occurrence?: number; timeoutMs?: number } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const start = performance.now();
  let seen = 0;
  let found = 0;
  while (performance.now() - start < timeoutMs) {
    for (; seen < p.stderr.length; seen++) {
      if (p.stderr[seen] === `trace ${phase}` && ++found === (options.occurrence ?? 1)) return;
    }
    if (p.child.pid && !processAlive(p.child.pid)) break;
    await sleep(5);
  }
  throw new Error(`no 'trace ${phase}' within ${timeoutMs} ms; stderr:\n${p.stderr.join("\n")}`);
}

function runFolders(cache: string): string[] {
  return listDir(cache).filter((n) => n.endsWith("_ncf_cache"));
}

function result(
  checks: [boolean, string][],
  seconds: number,
  heartbeatGap?: number,
): TrialResult {
  const failed = checks.filter(([ok]) => !ok).map(([, what]) => what);
  return { passed: failed.length === 0, seconds, detail: failed.join("; "), heartbeatGap };
}

type Moment = "train" | "evaluate" | "checkpoint";

/** A random delay after a phase begins, short enough to land inside it. */
function delayFor(moment: Moment, prng: Prng): number {
  switch (moment) {
    case "train":
      return 200 + prng.nextInt(1500);
    case "evaluate":
      return prng.nextInt(40);
    case "checkpoint":
      return prng.nextInt(5);
  }
}

function generatorKill(moment: Moment): Fault {
  return {
    name: `generator SIGKILL ${moment === "train" ? "mid-cycle" : `during ${moment}`}`,
    async trial(dir, prng) {
      const cache = join(dir, "cache");
      const p = startCli([
        ...TRAINER,
        `--seed=${prng.nextInt(1000)}`,
        `--cache_dir=${cache}`,
        `--model_dir=${dir}/model`,
      ], { env: TRACE });
      const [, pid] = await p.waitForLine(/generator pid (\d+)/);
      await waitForTrace(p, "train");
      if (moment !== "train") await waitForTrace(p, moment);
      await sleep(delayFor(moment, prng));
      const t0 = performance.now();
      Deno.kill(Number(pid), "SIGKILL");
      const status = await p.status;
      const seconds = (performance.now() - t0) / 1000;
      const stderr = p.stderr.join("\n");
      return result([
        [status.code === 1, `exit code ${status.code}`],
        [seconds < EXIT_BOUND, `took ${seconds.toFixed(1)} s`],
        [
          stderr.includes(`generator (pid ${pid}) was killed by SIGKILL`),
          "message does not name the generator",
        ],
        [/Its log .* ends:\n.*INFO/.test(stderr), "message does not quote the log tail"],
        [!/\n\s+at /.test(stderr), "stack trace printed"],
        [runFolders(cache).length === 0, "run folder left"],
        [!processAlive(Number(pid)), "generator still running"],
      ], seconds);
    },
  };
}

function trainerKill(moment: Moment): Fault {
  return {
    name: `trainer SIGKILL ${moment === "train" ? "mid-cycle" : `during ${moment}`}`,
    async trial(dir, prng) {
      const cache = join(dir, "cache");
      const model = join(dir, "model");
      const p = startCli([
        ...TRAINER,
        `--seed=${prng.nextInt(1000)}`,
        `--cache_dir=${cache}`,
        `--model_dir=${model}`,
      ], { env: TRACE });
      const [, pid] = await p.waitForLine(/generator pid (\d+)/);
      await waitForTrace(p, "train");
      // During a checkpoint write: the second one, so a previous complete one exists.
      if (moment !== "train") {
        await waitForTrace(p, moment, { occurrence: moment === "checkpoint" ? 2 : 1 });
      }
      await sleep(delayFor(moment, prng));
      p.child.kill("SIGKILL");
      const t0 = performance.now();
      await p.status;
      let seconds = EXIT_BOUND;
      try {
        await waitForExit(Number(pid), EXIT_BOUND * 1000);
        seconds = (performance.now() - t0) / 1000;
      } catch {
        Deno.kill(Number(pid), "SIGKILL");
      }
      const checks: [boolean, string][] = [
        [seconds < EXIT_BOUND, `generator took ${seconds.toFixed(1)} s to exit`],
        [runFolders(cache).length === 0, "orphaned run folder left"],
      ];
      // A checkpoint is published (renamed into place) after its `trace checkpoint` and before
      // the next phase's trace; a kill before that leaves at most the write's temp file.
      const traces = p.stderr.filter((l) => l.startsWith("trace "));
      const first = traces.indexOf("trace checkpoint");
      const published = first >= 0 && first < traces.length - 1;
      const files = listDir(model);
      if (moment === "checkpoint" || published || files.includes(CHECKPOINT_FILE)) {
        // Never a torn checkpoint: the previous or the new one loads, and --resume runs on.
        let loaded = false;
        try {
          await loadModelCheckpoint(model);
          loaded = true;
        } catch (e) {
          checks.push([false, `checkpoint does not load: ${(e as Error).message}`]);
        }
        if (loaded) {
          const r = startCli([
            ...TRAINER.filter((f) => !f.startsWith("--train_epochs")),
            "--train_epochs=3",
            `--cache_dir=${cache}`,
            `--model_dir=${model}`,
            "--resume",
          ]);
          const s = await r.status;
          checks.push([
            s.code === 0,
            `--resume exited ${s.code}: ${r.stderr.join(" ").slice(0, 300)}`,
          ]);
        }
      } else {
        // Killed before the first checkpoint was published: there is none to load (the next
        // run's write removes the temp file).
        checks.push([
          files.every((n) =>
            n === RUN_FLAGFILE || (n.startsWith(`.${CHECKPOINT_FILE}.`) && n.endsWith(".tmp"))
          ),
          `no checkpoint published yet, but the model folder holds ${files.join(", ")}`,
        ]);
      }
      return result(checks, seconds);
    },
  };
}

function trainerSignal(signal: "SIGINT" | "SIGTERM"): Fault {
  return {
    name: `trainer ${signal}`,
    async trial(dir, prng) {
      const cache = join(dir, "cache");
      const p = startCli([...TRAINER, `--seed=${prng.nextInt(1000)}`, `--cache_dir=${cache}`], {
        env: TRACE,
      });
      const [, pid] = await p.waitForLine(/generator pid (\d+)/);
      await waitForTrace(p, "train");
      await sleep(prng.nextInt(2500));
      const t0 = performance.now();
      p.child.kill(signal);
      const status = await p.status;
      const seconds = (performance.now() - t0) / 1000;
      const expected = signal === "SIGINT" ? 130 : 143;
      return result([
        [status.code === expected, `exit code ${status.code}, expected ${expected}`],
        [seconds < EXIT_BOUND, `took ${seconds.toFixed(1)} s`],
        [!processAlive(Number(pid)), "generator still running"],
        [runFolders(cache).length === 0, "run folder left"],
      ], seconds);
    },
  };
}

const generatorStop: Fault = {
  name: "generator SIGSTOP",
  async trial(dir, prng) {
    const cache = join(dir, "cache");
    const p = startCli([...TRAINER, `--seed=${prng.nextInt(1000)}`, `--cache_dir=${cache}`], {
      env: TRACE,
    });
    const [, pid] = await p.waitForLine(/generator pid (\d+)/);
    await waitForTrace(p, "train");
    await sleep(prng.nextInt(1500));
    const t0 = performance.now();
    Deno.kill(Number(pid), "SIGSTOP");
    const status = await p.status;
    const seconds = (performance.now() - t0) / 1000;
    const stderr = p.stderr.join("\n");
    const gone = !processAlive(Number(pid));
    if (!gone) Deno.kill(Number(pid), "SIGKILL");
    return result([
      [status.code === 1, `exit code ${status.code}`],
      [
        seconds >= HEARTBEAT_TIMEOUT - 0.5,
        `gave up after ${seconds.toFixed(1)} s, before --heartbeat_timeout`,
      ],
      [seconds < HEARTBEAT_TIMEOUT + EXIT_BOUND, `took ${seconds.toFixed(1)} s`],
      [
        /wrote no heartbeat .* for \d+ s \(--heartbeat_timeout\)/.test(stderr),
        "message does not explain the stale heartbeat",
      ],
      [gone, "stopped generator not killed"],
      [runFolders(cache).length === 0, "run folder left"],
    ], seconds);
  },
};

const flagfileNeverAppears: Fault = {
  name: "standalone generator, flagfile never appears",
  async trial(dir) {
    const t0 = performance.now();
    const p = startCli([
      "generator",
      `--data_dir=${dir}`,
      `--cache_dir=${dir}`,
      `--cache_id=nobody_${Date.now()}`,
      "--flagfile_timeout=2",
    ]);
    const status = await p.status;
    const seconds = (performance.now() - t0) / 1000;
    const stderr = p.stderr.join("\n");
    return result([
      [status.code === 1, `exit code ${status.code}`],
      [seconds < 2 + EXIT_BOUND, `took ${seconds.toFixed(1)} s`],
      [/no flagfile at .* after 2 s \(--flagfile_timeout\)/.test(stderr), `message: ${stderr}`],
      [listDir(dir).some((n) => n.endsWith("_generator.log")), "log not kept"],
    ], seconds);
  },
};

const generatorNeverStarts: Fault = {
  name: "standalone trainer, generator never starts",
  async trial(dir) {
    const cache = join(dir, "cache");
    const t0 = performance.now();
    const p = startCli([
      ...TRAINER,
      "--nouse_subprocess",
      "--startup_timeout=2",
      `--cache_dir=${cache}`,
    ]);
    const status = await p.status;
    const seconds = (performance.now() - t0) / 1000;
    return result([
      [status.code === 1, `exit code ${status.code}`],
      [/first heartbeat .* did not come within 2 s/.test(p.stderr.join("\n")), "message"],
      [runFolders(cache).length === 0, "run folder left"],
    ], seconds);
  },
};

const fourTrainers: Fault = {
  name: "four trainers on one cache_dir",
  async trial(dir, prng) {
    const cache = join(dir, "cache");
    const seed = prng.nextInt(1000);
    const t0 = performance.now();
    const runs = Array.from(
      { length: 4 },
      (_, i) =>
        startCli([
          ...TRAINER.filter((f) => !f.startsWith("--train_epochs")),
          "--train_epochs=3",
          `--seed=${seed + (i % 2)}`,
          `--cache_dir=${cache}`,
          `--model_dir=${dir}/m${i}`,
        ]),
    );
    const statuses = await Promise.all(runs.map((r) => r.status));
    const seconds = (performance.now() - t0) / 1000;
    const gaps = runs.map((r) =>
      Number(r.stdout.join("\n").match(/longest gap ([\d.]+) s/)?.[1] ?? NaN)
    );
    const metrics = runs.map((r) =>
      r.stdout.filter((l) => l.startsWith("epoch ")).map((l) => l.replace(/\s+[\d,]+ ex\/s.*$/, ""))
        .join("|")
    );
    return result(
      [
        [
          statuses.every((s) => s.code === 0),
          `exit codes ${statuses.map((s) => s.code)}: ${
            runs.map((r) => r.stderr.join(" ")).join(" / ").slice(0, 400)
          }`,
        ],
        [
          metrics[0] === metrics[2] && metrics[1] === metrics[3],
          "same-seed runs differ (a run read another's files?)",
        ],
        [gaps.every((g) => g <= HEARTBEAT_TIMEOUT / 3), `heartbeat gaps ${gaps} s`],
        [listDir(cache).length === 0, `left in cache: ${listDir(cache)}`],
      ],
      seconds,
      Math.max(...gaps),
    );
  },
};

const diskFull: Fault = {
  name: "disk fills mid-cycle (tmpfs)",
  async skip() {
    if (Deno.build.os !== "linux") return "needs Linux tmpfs";
    const probe = await Deno.makeTempDir();
    try {
      const r = await new Deno.Command("mount", {
        args: ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe],
        stdout: "null",
        stderr: "null",
      }).output();
      if (!r.success) return "cannot mount a tmpfs here (not root, or no privilege)";
      await new Deno.Command("umount", { args: [probe] }).output();
      return undefined;
    } catch {
      return "cannot run mount";
    } finally {
      await Deno.remove(probe, { recursive: true }).catch(() => {});
    }
  },
  async trial(dir, prng) {
    const cache = join(dir, "small");
    await Deno.mkdir(cache);
    const mounted = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=1m", "tmpfs", cache],
    }).output();
    if (!mounted.success) return { passed: false, seconds: 0, detail: "mount failed" };
    try {
      const t0 = performance.now();
      const p = startCli([
        ...TRAINER.filter((f) => !f.startsWith("--train_epochs")),
        "--train_epochs=3",
        `--seed=${prng.nextInt(1000)}`,
        `--cache_dir=${cache}`,
      ]);
      const status = await p.status;
      const seconds = (performance.now() - t0) / 1000;
      const stderr = p.stderr.join("\n");
      return result([
        [status.code === 1, `exit code ${status.code}`],
        [
          /No space left on device|os error 28/.test(stderr),
          `message does not say the disk is full: ${stderr.slice(0, 300)}`,
        ],
        [runFolders(cache).length === 0, "run folder left"],
        [!/\n\s+at /.test(stderr), "stack trace printed"],
      ], seconds);
    } finally {
      await new Deno.Command("umount", { args: ["-l", cache] }).output();
    }
  },
};

/** Every fault of the suite. */
export const FAULTS: Fault[] = [
  generatorKill("train"),
  generatorKill("evaluate"),
  generatorKill("checkpoint"),
  trainerKill("train"),
  trainerKill("evaluate"),
  trainerKill("checkpoint"),
  trainerSignal("SIGINT"),
  trainerSignal("SIGTERM"),
  generatorStop,
  flagfileNeverAppears,
  generatorNeverStarts,
  fourTrainers,
  diskFull,
];

/** Runs one trial in a fresh folder, turning exceptions into failures. */
export async function runTrial(fault: Fault, seed: number): Promise<TrialResult> {
  const dir = await Deno.makeTempDir({ prefix: "ncf_fault_" });
  try {
    return await fault.trial(dir, new Prng(seed));
  } catch (e) {
    return { passed: false, seconds: NaN, detail: (e as Error).message.slice(0, 500) };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

export { CLI, CONFIG };
