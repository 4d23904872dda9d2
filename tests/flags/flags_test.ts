import assert from "node:assert/strict";
import {
  boolFlag,
  enumFlag,
  floatFlag,
  formatFlagfile,
  formatHelp,
  intFlag,
  intListFlag,
  parseFlagfileLines,
  parseFlags,
  stringFlag,
} from "../../lib/flags/flags.ts";
import { UsageError } from "../../lib/errors.ts";
import { checkTrainerFlags, GENERATOR_SETTINGS, TRAINER_FLAGS } from "../../lib/flags/specs.ts";

const DEFS = {
  batch_size: intFlag("Batch.", { default: 256, min: 1 }),
  learning_rate: floatFlag("LR.", { default: 0.001, min: 0 }),
  seed: intFlag("Seed.", { min: 0 }),
  keep_cache: boolFlag("Keep.", { default: false }),
  use_subprocess: boolFlag("Spawn.", { default: true }),
  layers: intListFlag("Layers.", { default: [64, 32, 16, 8], min: 1 }),
  model: enumFlag("Model.", ["GMF", "MLP", "NeuMF"] as const, { default: "NeuMF" }),
  data_dir: stringFlag("Dir.", { default: "data" }),
};

function files(map: Record<string, string>) {
  return {
    readTextFile: (path: string) => {
      if (!(path in map)) throw new Deno.errors.NotFound(path);
      return map[path];
    },
  };
}

function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof UsageError, `expected a UsageError, got ${e}`);
    return e.message;
  }
  assert.fail("expected a UsageError");
}

Deno.test("parseFlags() fills defaults when no flag is given", () => {
  const { values, set, help } = parseFlags([], DEFS);
  assert.deepEqual(values, {
    batch_size: 256,
    learning_rate: 0.001,
    seed: undefined,
    keep_cache: false,
    use_subprocess: true,
    layers: [64, 32, 16, 8],
    model: "NeuMF",
    data_dir: "data",
  });
  assert.equal(set.size, 0);
  assert.equal(help, false);
});

Deno.test("parseFlags() reads each type in both --name=value and --name value forms", async (t) => {
  const cases: [
    string[],
    Partial<typeof DEFS extends infer _ ? Record<string, unknown> : never>,
  ][] = [
    [["--batch_size=512"], { batch_size: 512 }],
    [["--batch_size", "512"], { batch_size: 512 }],
    [["--learning_rate=1e-3"], { learning_rate: 0.001 }],
    [["--learning_rate", ".5"], { learning_rate: 0.5 }],
    [["--layers=8,4"], { layers: [8, 4] }],
    [["--model", "GMF"], { model: "GMF" }],
    [["--data_dir=a=b"], { data_dir: "a=b" }],
    [["--seed=0"], { seed: 0 }],
    [["--seed=9007199254740991"], { seed: 9007199254740991 }],
  ];
  for (const [argv, expected] of cases) {
    await t.step(argv.join(" "), () => {
      const { values } = parseFlags(argv, DEFS);
      for (const [k, v] of Object.entries(expected)) {
        assert.deepEqual((values as Record<string, unknown>)[k], v);
      }
    });
  }
});

Deno.test("parseFlags() reads absl-style booleans", async (t) => {
  const cases: [string[], boolean, boolean][] = [
    [["--keep_cache"], true, true],
    [["--keep_cache=true"], true, true],
    [["--keep_cache=false"], false, true],
    [["--nokeep_cache"], false, true],
    [["--nouse_subprocess"], false, false],
    [["--use_subprocess=0"], true, false],
  ];
  for (const [argv, keep, spawn] of cases) {
    await t.step(argv.join(" "), () => {
      const { values } = parseFlags(argv, DEFS);
      assert.equal(values.keep_cache, argv[0].includes("keep") ? keep : false);
      if (argv[0].includes("subprocess")) assert.equal(values.use_subprocess, spawn);
    });
  }
  await t.step("a boolean never takes the next argument", () => {
    assert.match(usageMessage(() => parseFlags(["--keep_cache", "false"], DEFS)), /'false'/);
  });
});

Deno.test("parseFlags() rejects bad values, naming the flag", async (t) => {
  const cases: [string[], RegExp][] = [
    [["--batch_size=abc"], /--batch_size: 'abc' is not an integer/],
    [["--batch_size=1.5"], /--batch_size: '1.5' is not an integer/],
    [["--batch_size=0"], /--batch_size: 0 is below the minimum 1/],
    [["--batch_size=-3"], /--batch_size: -3 is below the minimum 1/],
    [["--seed=9007199254740993"], /--seed: '9007199254740993' is not an integer/],
    [["--learning_rate=fast"], /--learning_rate: 'fast' is not a number/],
    [["--learning_rate=Infinity"], /--learning_rate/],
    [["--layers=64,x"], /--layers: '64,x' is not a comma-separated list/],
    [["--layers=64,0"], /--layers: 0 is below the minimum 1/],
    [["--layers="], /--layers/],
    [["--model=SVD"], /--model: 'SVD' is not one of GMF, MLP, NeuMF/],
    [["--keep_cache=yes"], /--keep_cache: 'yes' is not true or false/],
    [["--batch_size"], /--batch_size: it needs a value/],
    [["--batchsize=3"], /unknown flag --batchsize; did you mean --batch_size\?/],
    [["--nobatch_size"], /unknown flag --nobatch_size/],
    [["extra"], /unexpected argument 'extra'/],
  ];
  for (const [argv, pattern] of cases) {
    await t.step(argv.join(" "), () => {
      assert.match(usageMessage(() => parseFlags(argv, DEFS)), pattern);
    });
  }
});

Deno.test("parseFlags() reports -h, --help and --help=true|false", () => {
  assert.equal(parseFlags(["--help"], DEFS).help, true);
  assert.equal(parseFlags(["--seed=1", "-h"], DEFS).help, true);
  assert.equal(parseFlags(["--help=true"], DEFS).help, true);
  assert.equal(parseFlags(["--help", "--help=false"], DEFS).help, false);
});

Deno.test("parseFlags() skips the required-flag check when help is asked for", () => {
  const defs = { cache_id: stringFlag("Id.", { required: true }) };
  assert.equal(parseFlags(["--help"], defs).help, true);
  assert.match(usageMessage(() => parseFlags([], defs)), /--cache_id: the flag is required/);
});

Deno.test("parseFlags() refuses values at or below a strict lower bound", () => {
  const defs = { lr: floatFlag("Step.", { default: 0.1, above: 0 }) };
  assert.match(usageMessage(() => parseFlags(["--lr=0"], defs)), /--lr: 0 is not above 0/);
  assert.equal(parseFlags(["--lr=1e-9"], defs).values.lr, 1e-9);
});

Deno.test("parseFlags() requires required flags", () => {
  const defs = { cache_id: stringFlag("Id.", { required: true }) };
  assert.match(usageMessage(() => parseFlags([], defs)), /--cache_id: the flag is required/);
  assert.equal(parseFlags(["--cache_id=x"], defs).values.cache_id, "x");
});

Deno.test("a flagfile is applied in order, so later flags override it", () => {
  const fs = files({ "run.flags": "# settings\n--batch_size=128\n\n--nokeep_cache\n--seed=5\n" });
  const before = parseFlags(["--batch_size=1", "--flagfile=run.flags"], DEFS, fs).values;
  assert.equal(before.batch_size, 128);
  const after = parseFlags(["--flagfile", "run.flags", "--batch_size=1"], DEFS, fs).values;
  assert.equal(after.batch_size, 1);
  assert.equal(after.seed, 5);
  assert.equal(after.keep_cache, false);
});

Deno.test("flagfile errors name the file and line", async (t) => {
  const cases: [string, RegExp][] = [
    ["--seed=1\nseed=2\n", /flagfile f:2: expected '--name=value', found 'seed=2'/],
    ["--seed=1\n\n--bogus=1\n", /unknown flag --bogus \(at f:3\)/],
    ["# c\n--batch_size=big\n", /--batch_size: 'big' is not an integer \(at f:2\)/],
    ["--batch_size\n", /--batch_size: it needs a value \(at f:1\)/],
    ["--seed=1\n--batch_size=\n", /--batch_size: '' is not an integer \(at f:2\)/],
    ["--\n", /f:1/],
    ["\u0000\u0001binary", /f:1/],
    ["--flagfile=f\n", /nest too deeply/],
  ];
  for (const [text, pattern] of cases) {
    await t.step(JSON.stringify(text), () => {
      assert.match(
        usageMessage(() => parseFlags(["--flagfile=f"], DEFS, files({ f: text }))),
        pattern,
      );
    });
  }
  await t.step("a missing flagfile", () => {
    assert.match(
      usageMessage(() => parseFlags(["--flagfile=nope"], DEFS, files({}))),
      /Cannot read --flagfile=nope: no such file/,
    );
  });
  await t.step("flagfiles are refused without a reader", () => {
    assert.match(usageMessage(() => parseFlags(["--flagfile=f"], DEFS)), /not allowed/);
  });
});

Deno.test("parseFlagfileLines() handles CRLF, comments and indentation", () => {
  const lines = parseFlagfileLines("  --a=1\r\n# x\r\n\r\n\t--b=2", "f");
  assert.deepEqual(lines, [{ arg: "--a=1", line: 1 }, { arg: "--b=2", line: 4 }]);
});

Deno.test("a written flag set reads back identical", async (t) => {
  await t.step("every type", () => {
    const values = {
      batch_size: 17,
      learning_rate: 0.1 + 0.2,
      seed: 2 ** 53 - 1,
      keep_cache: true,
      use_subprocess: false,
      layers: [128, 64, 2],
      model: "MLP" as const,
      data_dir: "/tmp/a b/#c",
    };
    const text = formatFlagfile(values, DEFS, { header: "written by a test\nsecond line" });
    const back = parseFlags(["--flagfile=f"], DEFS, files({ f: text })).values;
    assert.deepEqual(back, values);
  });
  await t.step("the generator settings", () => {
    const settings = {
      cache_id: "1700000000000_123_abcd",
      num_users: 943,
      num_items: 1682,
      num_train_positives: 99057,
      num_neg: 4,
      epochs_per_cycle: 2,
      num_cycles: 10,
      start_cycle: 3,
      train_batch_size: 256,
      spillover: false,
      cycles_to_buffer: 3,
      seed: 42,
      num_workers: 2,
      heartbeat_timeout: 7.5,
      use_subprocess: true,
      schema: "triples" as const,
      negative_sampling: "uniform" as const,
    };
    const text = formatFlagfile(settings, GENERATOR_SETTINGS);
    const back = parseFlags(["--flagfile=f"], GENERATOR_SETTINGS, files({ f: text })).values;
    assert.deepEqual(back, settings);
  });
  await t.step("a value with a line break cannot be written", () => {
    assert.throws(() => formatFlagfile({ data_dir: "a\nb" }, DEFS), RangeError);
  });
});

Deno.test("a truncated generator flagfile is refused, naming the missing key", () => {
  const text = "--cache_id=x\n--num_users=3\n--num_it";
  assert.match(
    usageMessage(() => parseFlags(["--flagfile=f"], GENERATOR_SETTINGS, files({ f: text }))),
    /unknown flag --num_it \(at f:3\)/,
  );
  const cut = "--cache_id=x\n--num_users=3\n";
  assert.match(
    usageMessage(() => parseFlags(["--flagfile=f"], GENERATOR_SETTINGS, files({ f: cut }))),
    /--num_items: the flag is required/,
  );
});

Deno.test("formatHelp() lists every flag with its default", () => {
  const text = formatHelp("ncf trainer", TRAINER_FLAGS);
  for (const name of Object.keys(TRAINER_FLAGS)) {
    assert.ok(text.includes(`--${name}`), `help lacks --${name}`);
  }
  assert.match(text, /--batch_size=<int>\n\s+Training examples per batch\. \(>= 1; default: 256\)/);
  assert.match(text, /--layers=<int,int,...>\n.*\(each >= 1; default: 64,32,16,8\)/);
  assert.match(text, /--cache_dir=<string>\n.*\(default: \$XDG_CACHE_HOME\/ncf, else/);
  assert.match(text, /--num_neg=<int>\n.*\(>= 1; default: 4\)/);
  assert.match(text, /--flagfile/);
});

Deno.test("checkTrainerFlags() rejects impossible combinations as usage errors", async (t) => {
  const cases: [string[], RegExp][] = [
    [["--layers=63,32,16,8"], /--layers 63,32,16,8: .* must be even/],
    [["--dataset=csv"], /--dataset csv: it needs --ratings_file/],
    [["--dataset=ncf"], /--dataset ncf: it needs --ratings_file/],
    [["--ratings_file=x"], /--ratings_file with --dataset synthetic/],
    [["--synthetic_items=100", "--num_eval_negatives=99"], /--num_eval_negatives 99/],
  ];
  for (const [argv, pattern] of cases) {
    await t.step(argv.join(" "), () => {
      assert.match(
        usageMessage(() => checkTrainerFlags(parseFlags(argv, TRAINER_FLAGS).values)),
        pattern,
      );
    });
  }
  await t.step("the defaults pass", () => {
    checkTrainerFlags(parseFlags([], TRAINER_FLAGS).values);
  });
});
