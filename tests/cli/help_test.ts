import assert from "node:assert/strict";
import { runCli } from "./_process.ts";

Deno.test("every command prints its own help and exits 0, however help is asked for", async (t) => {
  const cases: [string[], RegExp][] = [
    [["recommend", "--help"], /^Usage: ncf recommend \[flags\]/],
    [["export", "-h"], /^Usage: ncf export \[flags\]/],
    [["download", "--help=true"], /^Usage: ncf download \[flags\]/],
    [["generator", "--help"], /^Usage: ncf generator \[flags\]/],
    [["help", "trainer"], /^Usage: ncf trainer \[flags\]/],
    [["inspect", "--seed=3", "-h"], /^Usage: ncf inspect \[flags\]/],
  ];
  const results = await Promise.all(cases.map(([args]) => runCli(args)));
  for (const [i, [args, usage]] of cases.entries()) {
    await t.step(args.join(" "), () => {
      const { code, stdout, stderr } = results[i];
      assert.equal(code, 0, stderr);
      assert.match(stdout, usage);
      assert.doesNotMatch(stdout, /Commands:/, "a command's help is not the overview");
    });
  }
});

Deno.test("a command's help shows each flag's valid range", async () => {
  const { code, stdout } = await runCli(["trainer", "--help"]);
  assert.equal(code, 0);
  assert.match(stdout, /--min_ratings=<int>\n.*\(>= 2; default: 20\)/);
  assert.match(stdout, /--learning_rate=<float>\n.*\(> 0; default: 0.001\)/);
  assert.match(stdout, /--layers=<int,int,...>\n.*\(each >= 1; default: 64,32,16,8\)/);
});

Deno.test("bare ncf prints a short overview to stderr and exits 2; --help prints it to stdout", async () => {
  const [bare, help] = await Promise.all([runCli([]), runCli(["--help"])]);
  assert.equal(bare.code, 2);
  assert.equal(bare.stdout, "");
  assert.match(bare.stderr, /Commands:\n {2}trainer/);
  assert.ok(bare.stderr.split("\n").length < 30, "the overview is short");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Run 'ncf <command> --help'/);
  assert.doesNotMatch(help.stdout, /--batch_size/, "the overview lists no flags");
});

Deno.test("help for an unknown command, or a bad --help value, is a usage error", async () => {
  const [unknown, bad] = await Promise.all([
    runCli(["help", "train"]),
    runCli(["export", "--help=maybe"]),
  ]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command 'train'/);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Cannot parse --help: '--help=maybe' is not true or false/);
});
