import assert from "node:assert/strict";
import { join } from "node:path";
import { listDir, LONG, runCli, SMALL, startCli, waitForExit } from "./_process.ts";
import { spawnGenerator } from "../../lib/pipeline/spawn.ts";

async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "ncf_test_" });
}

Deno.test("the trainer runs the generator over several cycles and leaves nothing behind", async () => {
  const cache = await tempDir();
  try {
    const r = await runCli([
      "trainer",
      ...SMALL,
      "--train_epochs=6",
      "--epochs_between_evals=2",
      "--seed=3",
      `--cache_dir=${cache}`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const cycles = r.stdout.split("\n").filter((l) => l.startsWith("epoch "));
    assert.equal(cycles.length, 3, r.stdout);
    assert.match(r.stdout, /generator pid \d+/);
    assert.deepEqual(listDir(cache), []);
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("the generator is spawned with CUDA_VISIBLE_DEVICES set to the empty string", async () => {
  const dir = await tempDir();
  try {
    const out = join(dir, "env.json");
    const child = spawnGenerator([
      Deno.execPath(),
      "eval",
      `Deno.writeTextFileSync(${JSON.stringify(out)}, JSON.stringify({
        cuda: Deno.env.get("CUDA_VISIBLE_DEVICES"), path: Deno.env.get("PATH") ?? null }))`,
    ]);
    const status = await child.status;
    assert.equal(status.code, 0, child.stderrTail());
    const env = JSON.parse(await Deno.readTextFile(out));
    assert.equal(env.cuda, "");
    assert.equal(env.path, Deno.env.get("PATH") ?? null, "the parent's environment is kept");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--nouse_subprocess prints the generator command and works with a separately started generator", async () => {
  const cache = await tempDir();
  try {
    const trainer = startCli([
      "trainer",
      ...SMALL,
      "--nouse_subprocess",
      "--train_epochs=3",
      "--seed=4",
      `--cache_dir=${cache}`,
    ]);
    await trainer.waitForLine(/^standalone mode/);
    const [line] = await trainer.waitForLine(/^.* generator --data_dir=.*$/);
    assert.match(
      line,
      / run .* -A .*cli\.ts generator --data_dir=\S+ --cache_dir=\S+ --cache_id=\S+ --flagfile_timeout=300$/,
    );
    assert.doesNotMatch(line, /--parent_pid/);
    const generator = new Deno.Command("sh", {
      args: ["-c", `exec ${line}`],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const [g, t] = await Promise.all([generator.output(), trainer.status]);
    assert.equal(t.code, 0, trainer.stderr.join("\n"));
    assert.equal(g.code, 0, new TextDecoder().decode(g.stderr));
    assert.equal(trainer.stdout.filter((l) => l.startsWith("epoch ")).length, 3);
    assert.deepEqual(listDir(cache), []);
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("a SIGKILLed generator makes the trainer exit 1 within 10 s, naming it", async () => {
  const cache = await tempDir();
  try {
    const trainer = startCli(["trainer", ...LONG, "--seed=5", `--cache_dir=${cache}`]);
    const [, pid] = await trainer.waitForLine(/generator pid (\d+)/);
    await trainer.waitForLine(/^epoch 1 /);
    const killedAt = performance.now();
    Deno.kill(Number(pid), "SIGKILL");
    const status = await trainer.status;
    const seconds = (performance.now() - killedAt) / 1000;
    assert.equal(status.code, 1);
    assert.ok(seconds < 10, `took ${seconds} s`);
    const stderr = trainer.stderr.join("\n");
    assert.match(stderr, new RegExp(`the generator \\(pid ${pid}\\) was killed by SIGKILL`));
    assert.match(stderr, /Its log .*_generator\.log ends:\n.*INFO/);
    // The run folder is gone; the log is kept for the post-mortem.
    assert.deepEqual(listDir(cache).filter((n) => n.endsWith("_ncf_cache")), []);
    assert.equal(listDir(cache).filter((n) => n.endsWith("_generator.log")).length, 1);
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("a SIGKILLed trainer makes the generator exit within 10 s and remove the run folder", async () => {
  const cache = await tempDir();
  try {
    const trainer = startCli(["trainer", ...LONG, "--seed=6", `--cache_dir=${cache}`]);
    const [, pid] = await trainer.waitForLine(/generator pid (\d+)/);
    await trainer.waitForLine(/^epoch 1 /);
    trainer.child.kill("SIGKILL");
    await trainer.status;
    const seconds = await waitForExit(Number(pid), 10_000);
    assert.ok(seconds < 10);
    assert.deepEqual(listDir(cache).filter((n) => n.endsWith("_ncf_cache")), []);
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("SIGINT on the trainer exits 130 with no process and no run folder left", async () => {
  const cache = await tempDir();
  try {
    const trainer = startCli(["trainer", ...LONG, "--seed=7", `--cache_dir=${cache}`]);
    const [, pid] = await trainer.waitForLine(/generator pid (\d+)/);
    await trainer.waitForLine(/^epoch 2 /);
    trainer.child.kill("SIGINT");
    const status = await trainer.status;
    assert.equal(status.code, 130, trainer.stderr.join("\n"));
    assert.match(trainer.stderr.join("\n"), /interrupted by SIGINT/);
    await waitForExit(Number(pid), 1_000);
    assert.deepEqual(listDir(cache).filter((n) => n.endsWith("_ncf_cache")), []);
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("two trainers on one cache_dir at once both succeed", async () => {
  const cache = await tempDir();
  try {
    const args = ["trainer", ...SMALL, "--train_epochs=4", "--seed=8", `--cache_dir=${cache}`];
    const [a, b] = await Promise.all([runCli(args), runCli(args)]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    // Same seed, same data: both trained the same, bit for bit.
    const lines = (s: string) =>
      s.split("\n").filter((l) => l.startsWith("epoch ")).map((l) =>
        l.replace(/\s+[\d,]+ ex\/s.*$/, "")
      );
    assert.deepEqual(lines(a.stdout), lines(b.stdout));
    assert.notEqual(a.stdout.match(/run (\S+):/)![1], b.stdout.match(/run (\S+):/)![1]);
    assert.deepEqual(listDir(cache), []);
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("a bad flag exits 2 naming it, and a flagfile error names file:line", async () => {
  const dir = await tempDir();
  try {
    const bad = await runCli(["trainer", "--batch_size=0"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--batch_size: 0 is below the minimum 1/);
    assert.match(bad.stderr, /Run 'ncf trainer --help'/);
    await Deno.writeTextFile(join(dir, "f"), "--seed=1\n--layers=63,32,16,8\n--bogus=2\n");
    const file = await runCli(["trainer", `--flagfile=${join(dir, "f")}`]);
    assert.equal(file.code, 2);
    assert.match(file.stderr, new RegExp(`unknown flag --bogus \\(at ${join(dir, "f")}:3\\)`));
    const odd = await runCli(["trainer", "--layers=63,32,16,8"]);
    assert.equal(odd.code, 2);
    assert.match(odd.stderr, /--layers 63,32,16,8/);
    const help = await runCli(["trainer", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--heartbeat_timeout=<float>\n.*\(>= 1; default: 30\)/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
