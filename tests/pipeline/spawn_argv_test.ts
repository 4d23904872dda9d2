import assert from "node:assert/strict";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import {
  absoluteDenoFlags,
  denoFlagsFromCmdline,
  forwardedDenoFlags,
  generatorArgv,
  PERMISSION_NAMES,
  permissionFlags,
  type PermissionKind,
  type ProcessContext,
  shellQuote,
} from "../../lib/pipeline/spawn_argv.ts";
import denoJson from "../../deno.json" with { type: "json" };

const ALL = Object.fromEntries(PERMISSION_NAMES.map((n) => [n, true])) as Record<
  PermissionKind,
  boolean
>;
const NONE = Object.fromEntries(PERMISSION_NAMES.map((n) => [n, false])) as Record<
  PermissionKind,
  boolean
>;
const FLAGS = { data_dir: "/d", cache_dir: "/c", cache_id: "123_4_abcd", parent_pid: 99 };

function context(overrides: Partial<ProcessContext>): ProcessContext {
  return {
    standalone: false,
    execPath: "/opt/deno",
    mainModulePath: "/app/cli.ts",
    denoFlags: [],
    permissions: { global: ALL, readablePaths: [], writablePaths: [] },
    ...overrides,
  };
}

Deno.test("generatorArgv() re-invokes a compiled binary with only the generator subcommand", () => {
  const argv = generatorArgv(
    FLAGS,
    context({
      standalone: true,
      execPath: "/usr/local/bin/ncf",
      denoFlags: ["--config", "x.json"],
    }),
  );
  assert.deepEqual(argv, [
    "/usr/local/bin/ncf",
    "generator",
    "--data_dir=/d",
    "--cache_dir=/c",
    "--cache_id=123_4_abcd",
    "--parent_pid=99",
  ]);
});

Deno.test("generatorArgv() under deno run forwards config, lock and V8 flags and rebuilds permissions", async (t) => {
  await t.step("every permission granted becomes -A", () => {
    const argv = generatorArgv(
      FLAGS,
      context({
        denoFlags: [
          "--allow-read",
          "--config=/app/deno.json",
          "--lock=/app/deno.lock",
          "--v8-flags=--max-old-space-size=4096",
          "--watch",
          "--inspect",
        ],
      }),
    );
    assert.deepEqual(argv, [
      "/opt/deno",
      "run",
      "--config=/app/deno.json",
      "--lock=/app/deno.lock",
      "--v8-flags=--max-old-space-size=4096",
      "-A",
      "/app/cli.ts",
      "generator",
      "--data_dir=/d",
      "--cache_dir=/c",
      "--cache_id=123_4_abcd",
      "--parent_pid=99",
    ]);
  });
  await t.step("scoped grants become grants of the generator's paths", () => {
    const argv = generatorArgv(
      { ...FLAGS, parent_pid: undefined, flagfile_timeout: 30 },
      context({
        denoFlags: ["-c", "/app/deno.json", "--no-lock"],
        permissions: {
          global: { ...NONE, env: true, sys: true },
          readablePaths: ["/app", "/d", "/c"],
          writablePaths: ["/c"],
        },
      }),
    );
    assert.deepEqual(argv, [
      "/opt/deno",
      "run",
      "-c",
      "/app/deno.json",
      "--no-lock",
      "--allow-read=/app,/d,/c",
      "--allow-write=/c",
      "--allow-env",
      "--allow-sys",
      "/app/cli.ts",
      "generator",
      "--data_dir=/d",
      "--cache_dir=/c",
      "--cache_id=123_4_abcd",
      "--flagfile_timeout=30",
    ]);
  });
});

Deno.test("generatorArgv() with the parent's cwd uses absolute paths only, so it runs from any folder", async (t) => {
  const relative = { data_dir: "data", cache_dir: ".cache", cache_id: "123_4_abcd" };
  const cases = [
    {
      name: "compiled",
      context: context({ standalone: true, execPath: "/usr/local/bin/ncf", cwd: "/home/u/w" }),
      expected: [
        "/usr/local/bin/ncf",
        "generator",
        "--data_dir=/home/u/w/data",
        "--cache_dir=/home/u/w/.cache",
        "--cache_id=123_4_abcd",
      ],
    },
    {
      name: "deno run, with a relative config, lock and import map",
      context: context({
        mainModulePath: "/app/cli.ts",
        denoFlags: ["--config", "deno.json", "--lock=../deno.lock", "--import-map=map.json"],
        cwd: "/app",
      }),
      expected: [
        "/opt/deno",
        "run",
        "--config",
        "/app/deno.json",
        "--lock=/deno.lock",
        "--import-map=/app/map.json",
        "-A",
        "/app/cli.ts",
        "generator",
        "--data_dir=/app/data",
        "--cache_dir=/app/.cache",
        "--cache_id=123_4_abcd",
      ],
    },
    {
      name: "deno run, with absolute paths already",
      context: context({ denoFlags: ["-c", "/etc/deno.json"], cwd: "/elsewhere" }),
      expected: [
        "/opt/deno",
        "run",
        "-c",
        "/etc/deno.json",
        "-A",
        "/app/cli.ts",
        "generator",
        "--data_dir=/d",
        "--cache_dir=/c",
        "--cache_id=123_4_abcd",
      ],
      flags: { data_dir: "/d", cache_dir: "/c", cache_id: "123_4_abcd" },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.deepEqual(generatorArgv(c.flags ?? relative, c.context), c.expected);
    });
  }
  await t.step("without a cwd, paths are kept as given", () => {
    assert.deepEqual(generatorArgv(relative, context({ standalone: true })).slice(2, 4), [
      "--data_dir=data",
      "--cache_dir=.cache",
    ]);
  });
});

Deno.test("absoluteDenoFlags() resolves the files flags name, and leaves URLs and other flags", () => {
  assert.deepEqual(
    absoluteDenoFlags([
      "-c=x.json",
      "--import-map",
      "https://example.com/m.json",
      "--lock",
      "--v8-flags=--max-old-space-size=900",
      "--config=file:///a/deno.json",
    ], "/w"),
    [
      "-c=/w/x.json",
      "--import-map",
      "https://example.com/m.json",
      "--lock",
      "--v8-flags=--max-old-space-size=900",
      "--config=file:///a/deno.json",
    ],
  );
});

Deno.test("permissionFlags() never grants what the parent lacks", () => {
  assert.deepEqual(permissionFlags({ global: NONE, readablePaths: [], writablePaths: [] }), []);
  assert.deepEqual(
    permissionFlags({
      global: { ...NONE, write: true },
      readablePaths: ["/a", "/a"],
      writablePaths: ["/x"],
    }),
    ["--allow-read=/a", "--allow-write"],
  );
});

Deno.test("forwardedDenoFlags() keeps only module-resolution, lock and V8 flags", () => {
  assert.deepEqual(
    forwardedDenoFlags([
      "-A",
      "--allow-net=x",
      "--reload",
      "--import-map",
      "m.json",
      "--cached-only",
      "--frozen",
      "--node-modules-dir=auto",
      "-q",
    ]),
    ["--import-map", "m.json", "--cached-only", "--frozen", "--node-modules-dir=auto", "-q"],
  );
});

Deno.test("denoFlagsFromCmdline() finds the flags between run and the script", () => {
  assert.deepEqual(
    denoFlagsFromCmdline([
      "/bin/deno",
      "run",
      "-A",
      "--config",
      "deno.json",
      "cli.ts",
      "trainer",
      "--seed=1",
    ], "/app/cli.ts"),
    ["-A", "--config", "deno.json"],
  );
  assert.deepEqual(denoFlagsFromCmdline(["/bin/deno", "test", "x"], "/app/cli.ts"), []);
});

Deno.test("shellQuote() quotes what a shell would split or expand", () => {
  assert.equal(shellQuote(["a", "b c", "$HOME", "it's", ""]), `a 'b c' '$HOME' 'it'\\''s' ''`);
});

Deno.test("the compile task includes every worker module", async () => {
  const root = fileURLToPath(new URL("../../", import.meta.url));
  const workers: string[] = [];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (entry.name.endsWith(".ts")) {
        const text = await Deno.readTextFile(path);
        for (const m of text.matchAll(/new URL\("(\.\/_[\w]+_worker\.ts)", import\.meta\.url\)/g)) {
          workers.push(relative(root, new URL(m[1], `file://${path}`).pathname));
        }
      }
    }
  };
  await walk(`${root}lib`);
  assert.ok(workers.length >= 2, `found only ${workers}`);
  const task = denoJson.tasks.compile;
  for (const worker of workers) {
    assert.ok(task.includes(`--include ${worker}`), `compile task lacks --include ${worker}`);
  }
});
