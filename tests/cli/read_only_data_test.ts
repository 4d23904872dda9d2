import assert from "node:assert/strict";
import { join } from "node:path";
import { startCli } from "./_process.ts";

/** Mounts a small tmpfs at `dir`; false where mounting is not allowed. */
async function mountTmpfs(dir: string): Promise<boolean> {
  if (Deno.build.os !== "linux") return false;
  try {
    const r = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir],
      stdout: "null",
      stderr: "null",
    }).output();
    return r.success;
  } catch {
    return false;
  }
}

async function run(cmd: string, args: string[]) {
  await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output();
}

/** Whether this process may mount a tmpfs (root on Linux, with the privilege). */
const canMount = await (async () => {
  const probe = await Deno.makeTempDir({ prefix: "ncf_probe_" });
  const ok = await mountTmpfs(probe);
  if (ok) await run("umount", [probe]);
  await Deno.remove(probe, { recursive: true });
  return ok;
})();
if (!canMount) console.log("Skipping the read-only data test: cannot mount a tmpfs here");

Deno.test({
  name:
    "training never writes into the data folder: a read-only one works with the default cache folder",
  ignore: !canMount,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
    const data = join(dir, "data");
    await Deno.mkdir(data);
    const mounted = await mountTmpfs(data);
    try {
      assert.ok(mounted, "mounting worked in the probe");
      const lines = ["user,item,rating,timestamp"];
      for (let u = 0; u < 30; u++) {
        for (let i = 0; i < 25; i++) lines.push(`${u},${(u * 7 + i * 3) % 60},5,${u * 100 + i}`);
      }
      await Deno.writeTextFile(join(data, "ratings.csv"), lines.join("\n") + "\n");
      await run("mount", ["-o", "remount,ro", data]);
      const p = startCli([
        "trainer",
        "--dataset=csv",
        `--ratings_file=${data}/ratings.csv`,
        `--data_dir=${data}`,
        "--num_eval_negatives=10",
        "--train_epochs=1",
        "--seed=1",
        "--backend=ts",
      ], { env: { XDG_CACHE_HOME: join(dir, "xdg") } });
      const status = await p.status;
      assert.equal(status.code, 0, p.stderr.join("\n"));
      assert.deepEqual([...Deno.readDirSync(data)].map((e) => e.name), ["ratings.csv"]);
      assert.ok(
        Deno.statSync(join(dir, "xdg", "ncf")).isDirectory,
        "the run used $XDG_CACHE_HOME/ncf",
      );
    } finally {
      if (mounted) await run("umount", [data]);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
