import assert from "node:assert/strict";
import { join } from "node:path";
import { listDir, runCli, SMALL, startCli } from "./_process.ts";
import { encodeShard } from "../../lib/pipeline/shards.ts";
import { writeFileAtomic } from "../../lib/io/atomic_write.ts";

function noStackTrace(stderr: string) {
  assert.doesNotMatch(stderr, /\n\s+at .*:\d+:\d+/, `a stack trace was printed:\n${stderr}`);
}

Deno.test("bad ratings files exit 1 with a message naming the file and line", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  const cases: [string, string | Uint8Array, RegExp][] = [
    ["malformed", "1,1,5,100\n1,2,x,101\n", /bad\.csv:2: /],
    ["truncated", "1,1,5,100\n1,2,5,101\n2,1,4", /bad\.csv:3: /],
    ["empty", "", /bad\.csv: the file is empty/],
    ["binary", Uint8Array.from({ length: 200 }, (_, i) => (i * 37 + 11) % 256), /bad\.csv:1: /],
    [
      "a control byte in a string id",
      "1,1,5,100\nu\x012,2,5,101\n",
      /bad\.csv:2: /,
    ],
    [
      "users left with fewer than 2 interactions",
      "1,1,5,100\n2,2,5,101\n3,3,5,102\n",
      /no user is left/,
    ],
  ];
  try {
    for (const [name, content, pattern] of cases) {
      await t.step(name, async () => {
        const file = join(dir, "bad.csv");
        if (typeof content === "string") await Deno.writeTextFile(file, content);
        else await Deno.writeFile(file, content);
        const r = await runCli([
          "inspect",
          "--dataset=csv",
          `--ratings_file=${file}`,
          "--min_ratings=2",
          "--num_eval_negatives=1",
        ]);
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, pattern);
        noStackTrace(r.stderr);
      });
    }
    await t.step("a user who interacted with every item is dropped with a warning", async () => {
      const file = join(dir, "all.csv");
      await Deno.writeTextFile(
        file,
        "1,1,5,1\n1,2,5,2\n1,3,5,3\n2,1,5,1\n2,2,5,2\n3,2,5,1\n3,3,5,2\n",
      );
      const r = await runCli([
        "inspect",
        "--dataset=csv",
        `--ratings_file=${file}`,
        "--min_ratings=2",
        "--num_eval_negatives=1",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /warning: Dropping user 1: it interacted with all 3 items/);
      assert.equal(JSON.parse(r.stdout).num_users, 2);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("impossible flag values are usage errors (exit 2)", async (t) => {
  const cases: [string[], RegExp][] = [
    [["--batch_size=0"], /--batch_size: 0 is below the minimum 1/],
    [["--train_epochs=-1"], /--train_epochs: -1 is below the minimum 1/],
    [["--layers=63,32,16,8"], /--layers 63,32,16,8/],
    [["--synthetic_items=100", "--num_eval_negatives=99"], /--num_eval_negatives 99/],
    [["--dataset=csv", "--ratings_file=/nonexistent", "--nosuchflag"], /unknown flag --nosuchflag/],
  ];
  for (const [argv, pattern] of cases) {
    await t.step(argv.join(" "), async () => {
      const r = await runCli(["trainer", ...argv]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, pattern);
      noStackTrace(r.stderr);
    });
  }
  await t.step("--num_eval_negatives at least the items of a real data set less one", async () => {
    const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
    try {
      const file = join(dir, "r.csv");
      await Deno.writeTextFile(file, "1,1,1\n1,2,2\n2,2,1\n2,3,2\n3,1,1\n3,3,2\n");
      const r = await runCli([
        "inspect",
        "--dataset=csv",
        `--ratings_file=${file}`,
        "--min_ratings=2",
        "--num_eval_negatives=2",
      ]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /Cannot draw 2 evaluation negatives.*\(--num_eval_negatives\)/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("bad flagfiles exit 2 naming file and line", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  const cases: [string, string, RegExp][] = [
    ["truncated", "--seed=1\n--batch_si", /unknown flag --batch_si .*:2\)/],
    ["a line without --", "--seed=1\nbatch_size=3\n", /:2: expected '--name=value'/],
    ["an unknown flag", "# x\n--bogus=1\n", /unknown flag --bogus \(at .*:2\)/],
    ["a wrong type", "--batch_size=many\n", /--batch_size: 'many' is not an integer \(at .*:1\)/],
  ];
  try {
    for (const [name, text, pattern] of cases) {
      await t.step(name, async () => {
        const file = join(dir, "flags");
        await Deno.writeTextFile(file, text);
        const r = await runCli(["trainer", `--flagfile=${file}`]);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, pattern);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * Plays the generator for a standalone trainer: heartbeats, then cycle 0 as
 * `corrupt` makes it.
 */
async function fakeGenerator(corrupt: "missing" | "truncated" | "garbage") {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  const trainer = startCli([
    "trainer",
    ...SMALL,
    "--nouse_subprocess",
    "--train_epochs=1",
    `--cache_dir=${dir}`,
    "--startup_timeout=20",
  ]);
  try {
    const [line] = await trainer.waitForLine(/^.* generator --data_dir=.*$/);
    const cacheId = line.match(/--cache_id=(\S+)/)![1];
    const root = join(dir, `${cacheId}_ncf_cache`);
    let beat = 0;
    const timer = setInterval(() => {
      writeFileAtomic(join(root, "subproc.alive"), `fake ${beat++}\n`).catch(() => {});
    }, 200);
    try {
      const cycle = join(root, "training_cycles", "cycle_00000");
      await Deno.mkdir(cycle, { recursive: true });
      const columns = {
        users: Int32Array.of(0, 1),
        items: Int32Array.of(1, 2),
        labels: Int8Array.of(1, 0),
      };
      const bytes = encodeShard(columns, 0, 2);
      if (corrupt === "truncated") {
        await Deno.writeFile(
          join(cycle, "shard_00000.arrow"),
          bytes.subarray(0, bytes.length - 30),
        );
      }
      if (corrupt === "garbage") {
        await Deno.writeFile(
          join(cycle, "shard_00000.arrow"),
          bytes.map((b, i) => (i > 8 ? b ^ 0x5a : b)),
        );
      }
      await writeFileAtomic(
        join(cycle, "ready.json"),
        JSON.stringify({
          cycle: 0,
          batch_size: 256,
          batch_count: 1,
          example_count: 2,
          shards: ["shard_00000.arrow"],
          shard_rows: [2],
        }),
      );
      const status = await trainer.status;
      return {
        code: status.code,
        stderr: trainer.stderr.join("\n"),
        left: listDir(dir).filter((n) => n.endsWith("_ncf_cache")),
      };
    } finally {
      clearInterval(timer);
    }
  } finally {
    await trainer.status;
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a broken cycle ends the trainer with a message naming the shard", async (t) => {
  await t.step("ready.json names a missing shard", async () => {
    const r = await fakeGenerator("missing");
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /Cannot read shard .*shard_00000\.arrow: .*ready\.json names it, but it does not exist/,
    );
    assert.deepEqual(r.left, []);
  });
  await t.step("a truncated shard", async () => {
    const r = await fakeGenerator("truncated");
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /Cannot read shard .*shard_00000\.arrow/);
    noStackTrace(r.stderr);
  });
  await t.step("a corrupted shard", async () => {
    const r = await fakeGenerator("garbage");
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /Cannot read shard .*shard_00000\.arrow/);
    noStackTrace(r.stderr);
  });
});

Deno.test("a run in a folder the process may not write fails clearly", async (t) => {
  const root = Deno.uid() === 0;
  if (root) console.log("skipping: running as root, so file permissions do not stop writes");
  await t.step({
    name: "unwritable cache_dir",
    ignore: root,
    fn: async () => {
      const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
      try {
        await Deno.chmod(dir, 0o555);
        const r = await runCli(["trainer", ...SMALL, `--cache_dir=${dir}/c`]);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /Permission denied/);
        noStackTrace(r.stderr);
      } finally {
        await Deno.chmod(dir, 0o755);
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
});

Deno.test("path mistakes say what was expected and how to fix it", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    await Deno.writeTextFile(join(dir, "u.data"), "1\t2\t5\t100\n");
    const cases: [string, string[], number, RegExp][] = [
      [
        "--data_dir naming a file",
        ["inspect", "--dataset=ml-100k", `--data_dir=${dir}/u.data`],
        2,
        /is a file, not a folder.*\(--data_dir\)/,
      ],
      [
        "a MovieLens set that is not there",
        ["inspect", "--dataset=ml-1m", `--data_dir=${dir}`],
        1,
        /neither .* exists; run 'ncf download --dataset ml-1m --data_dir .*' first, or add --download_if_missing/,
      ],
      [
        "a model folder without a checkpoint",
        ["recommend", `--model_dir=${dir}`, "--user=1"],
        2,
        /holds no checkpoint\.ncf.*\(--model_dir\)/,
      ],
    ];
    const results = await Promise.all(cases.map(([, args]) => runCli(args)));
    for (const [i, [name, , code, pattern]] of cases.entries()) {
      await t.step(name, () => {
        assert.equal(results[i].code, code, results[i].stderr);
        assert.match(results[i].stderr, pattern);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
