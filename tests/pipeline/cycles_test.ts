import assert from "node:assert/strict";
import { join } from "node:path";
import {
  carryInto,
  cycleCounts,
  type CyclePlan,
  emptyColumns,
  parseReadyManifest,
  regenerateCarry,
  writeCycle,
} from "../../lib/pipeline/cycles.ts";
import {
  allocateEpochBuffers,
  epochLayout,
  inlineRunner,
  makeEpoch,
} from "../../lib/pipeline/epoch.ts";
import type { ExampleColumns } from "../../lib/pipeline/epoch_kernels.ts";
import { decodeShard } from "../../lib/pipeline/shards.ts";
import type { FileWriter } from "../../lib/io/atomic_write.ts";
import type { ShardSchema } from "../../lib/flags/specs.ts";
import { randomPositives } from "./_fixtures.ts";

const EMPTY: ExampleColumns = {
  users: new Int32Array(0),
  items: new Int32Array(0),
  labels: new Int8Array(0),
};

function setup(seed: number, schema: ShardSchema = "pairs") {
  const positives = randomPositives(seed, { numUsers: 60, numItems: 90, maxPerUser: 20 });
  const layout = epochLayout(positives, { numItems: 90, numNeg: 3, schema });
  const context = { layout, buffers: allocateEpochBuffers(positives, layout), seed };
  const runner = inlineRunner(context);
  return {
    positives,
    layout,
    source: (e: number): Promise<ExampleColumns> => makeEpoch(context, runner, e),
  };
}

async function readCycle(dir: string) {
  const manifest = parseReadyManifest(
    await Deno.readTextFile(join(dir, "ready.json")),
    "ready.json",
  );
  const shards = [];
  for (const name of manifest.shards) {
    const bytes = await Deno.readFile(join(dir, name));
    shards.push({ bytes, columns: decodeShard(bytes, name) });
  }
  return { manifest, shards };
}

async function writeAll(plan: CyclePlan, source: (e: number) => Promise<ExampleColumns>) {
  const root = await Deno.makeTempDir();
  const cycles = [];
  let carry = emptyColumns(plan.schema ?? "pairs", 0);
  for (let c = 0; c < plan.numCycles; c++) {
    const dir = join(root, `c${c}`);
    await Deno.mkdir(dir);
    carry = (await writeCycle(c, dir, { plan, carry, source })).carry;
    cycles.push(await readCycle(dir));
  }
  await Deno.remove(root, { recursive: true });
  return cycles;
}

Deno.test("cycles cut epochs into batches of exactly batch_size and drop no example", async (t) => {
  const { layout, source } = setup(1);
  for (const spillover of [true, false]) {
    for (const epochsPerCycle of [1, 2]) {
      for (const batchSize of [64, 100, 4096]) {
        await t.step(
          `spillover ${spillover}, ${epochsPerCycle} epochs/cycle, batch ${batchSize}`,
          async () => {
            const plan = {
              epochSize: layout.size,
              epochsPerCycle,
              numCycles: 3,
              batchSize,
              spillover,
            };
            const cycles = await writeAll(plan, source);
            let total = 0;
            cycles.forEach(({ manifest, shards }, c) => {
              const rows = shards.reduce((a, s) => a + s.columns.users.length, 0);
              assert.equal(rows, manifest.example_count);
              assert.deepEqual(cycleCounts(plan, c), {
                examples: manifest.example_count,
                batches: manifest.batch_count,
              });
              const last = c === plan.numCycles - 1;
              if (spillover && !last) assert.equal(manifest.example_count % batchSize, 0);
              // Every shard but a cycle's last holds whole batches.
              shards.slice(0, -1).forEach((s) =>
                assert.equal(s.columns.users.length % batchSize, 0)
              );
              total += manifest.example_count;
            });
            assert.equal(total, layout.size * epochsPerCycle * 3);
            if (!spillover) {
              for (const { manifest } of cycles) {
                assert.equal(manifest.example_count, layout.size * epochsPerCycle);
              }
            }
          },
        );
      }
    }
  }
});

Deno.test("with spillover, the stream of cycles is the stream of epochs", async () => {
  const { layout, source } = setup(2);
  const plan = {
    epochSize: layout.size,
    epochsPerCycle: 2,
    numCycles: 2,
    batchSize: 96,
    spillover: true,
  };
  const cycles = await writeAll(plan, source);
  const stream = cycles.flatMap((c) => c.shards.flatMap((s) => [...s.columns.items]));
  const expected: number[] = [];
  for (let e = 0; e < 4; e++) expected.push(...(await source(e)).items);
  assert.deepEqual(stream, expected);
});

Deno.test("a generator started at cycle k writes the same cycle k as one started at 0", async () => {
  const { layout, source } = setup(3);
  const plan = {
    epochSize: layout.size,
    epochsPerCycle: 1,
    numCycles: 4,
    batchSize: 250,
    spillover: true,
  };
  const fromZero = await writeAll(plan, source);
  const root = await Deno.makeTempDir();
  try {
    for (const k of [1, 2, 3]) {
      assert.equal(carryInto(plan, k), (k * layout.size) % 250);
      const carry = await regenerateCarry(plan, k, source);
      assert.equal(carry.users.length, carryInto(plan, k));
      const dir = join(root, `k${k}`);
      await Deno.mkdir(dir);
      await writeCycle(k, dir, { plan, carry, source });
      const resumed = await readCycle(dir);
      assert.deepEqual(resumed.manifest, fromZero[k].manifest);
      resumed.shards.forEach((s, i) => assert.deepEqual(s.bytes, fromZero[k].shards[i].bytes));
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("regenerateCarry() reaches back over epochs smaller than a batch", async () => {
  const { layout, source } = setup(4);
  const plan = {
    epochSize: layout.size,
    epochsPerCycle: 1,
    numCycles: 9,
    batchSize: layout.size * 3 + 7,
    spillover: true,
  };
  const carry = await regenerateCarry(plan, 2, source);
  assert.equal(carry.users.length, 2 * layout.size);
  assert.deepEqual([...carry.items], [...(await source(0)).items, ...(await source(1)).items]);
});

Deno.test("a failed shard write publishes nothing and names the file", async () => {
  const { layout, source } = setup(5);
  const plan = {
    epochSize: layout.size,
    epochsPerCycle: 1,
    numCycles: 1,
    batchSize: 64,
    spillover: true,
  };
  const dir = await Deno.makeTempDir();
  const full: FileWriter = {
    writeFile: async (path, data) => {
      await Deno.writeFile(path, data.subarray(0, data.length >> 1));
      throw new Deno.errors.Interrupted("No space left on device (os error 28)");
    },
  };
  try {
    await assert.rejects(
      () => writeCycle(0, dir, { plan, carry: EMPTY, source, writer: full }),
      /Cannot write .*shard_00000\.arrow: No space left on device/,
    );
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a failed write of a later shard fails the cycle after the other writes end", async () => {
  // 2.5 shards of rows from a stand-in epoch; the second shard's write fails
  // while others may be in flight.
  const rows = Math.floor(2.5 * (1 << 20));
  const epoch: ExampleColumns = {
    users: new Int32Array(rows),
    items: new Int32Array(rows),
    labels: new Int8Array(rows),
  };
  const plan = {
    epochSize: rows,
    epochsPerCycle: 1,
    numCycles: 1,
    batchSize: 256,
    spillover: true,
  };
  const dir = await Deno.makeTempDir();
  let calls = 0;
  const flaky: FileWriter = {
    writeFile: async (path, data) => {
      if (calls++ === 1) throw new Deno.errors.Interrupted("No space left on device (os error 28)");
      await Deno.writeFile(path, data, { createNew: true });
    },
  };
  try {
    await assert.rejects(
      () =>
        writeCycle(0, dir, {
          plan,
          carry: EMPTY,
          source: () => Promise.resolve(epoch),
          writer: flaky,
        }),
      /Cannot write .*shard_00001\.arrow: No space left on device/,
    );
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.ok(!names.includes("ready.json") && !names.includes("shard_00001.arrow"), `${names}`);
    assert.ok(names.every((name) => /^shard_\d{5}\.arrow$/.test(name)), `${names}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseReadyManifest() rejects malformed manifests, naming the path", async (t) => {
  const cases = [
    "",
    "{",
    "[]",
    '{"cycle":0,"batch_size":2,"batch_count":1,"example_count":3,"shards":["a"],"shard_rows":[2]}',
    '{"cycle":0,"batch_size":2,"batch_count":1,"example_count":2,"shards":["../a"],"shard_rows":[2]}',
    '{"cycle":-1,"batch_size":2,"batch_count":1,"example_count":2,"shards":["a"],"shard_rows":[2]}',
    '{"cycle":0,"schema":"quads","batch_size":2,"batch_count":1,"example_count":2,"shards":["a"],"shard_rows":[2]}',
  ];
  for (const text of cases) {
    await t.step(JSON.stringify(text), () => {
      assert.throws(
        () => parseReadyManifest(text, "/x/ready.json"),
        (e: Error) => e instanceof SyntaxError && e.message.includes("/x/ready.json"),
      );
    });
  }
});

Deno.test("decodeShard() rejects truncated and foreign files", async (t) => {
  const { source } = setup(6);
  const epoch = await source(0);
  const { encodeShard } = await import("../../lib/pipeline/shards.ts");
  const bytes = encodeShard(epoch, 0, 100);
  await t.step("truncated", () => {
    assert.throws(() => decodeShard(bytes.subarray(0, bytes.length - 20), "s.arrow"), SyntaxError);
  });
  await t.step("garbage", () => {
    assert.throws(() => decodeShard(new Uint8Array(64).fill(7), "s.arrow"), /s\.arrow/);
  });
  await t.step("other schema", async () => {
    const { makeTable, tableToIPC } = await import("apache-arrow");
    const other = tableToIPC(makeTable({ user_id: new Float32Array(3) }), "file");
    assert.throws(() => decodeShard(other, "s.arrow"), /unexpected schema/);
  });
});

Deno.test("triple cycles: exact batches, the stream of epochs, and the same cycle k from any start", async (t) => {
  const { layout, positives, source } = setup(7, "triples");
  assert.equal(layout.size, positives.items.length * 3);
  assert.ok(layout.size % 100 !== 0, "the test needs a carry between cycles");
  for (const spillover of [true, false]) {
    await t.step(`spillover ${spillover}`, async () => {
      const plan: CyclePlan = {
        epochSize: layout.size,
        epochsPerCycle: 2,
        numCycles: 4,
        batchSize: 100,
        spillover,
        schema: "triples",
      };
      const cycles = await writeAll(plan, source);
      cycles.forEach(({ manifest, shards }, c) => {
        assert.equal(manifest.schema, "triples");
        assert.deepEqual(cycleCounts(plan, c), {
          examples: manifest.example_count,
          batches: manifest.batch_count,
        });
        if (spillover && c < 3) assert.equal(manifest.example_count % 100, 0);
        for (const s of shards) assert.equal(s.columns.labels, undefined);
      });
      const concat = (key: "users" | "items" | "negItems", from: typeof cycles) =>
        from.flatMap((c) => c.shards.flatMap((s) => [...(s.columns[key] ?? [])]));
      if (spillover) {
        const expected: number[] = [];
        for (let e = 0; e < 8; e++) expected.push(...(await source(e)).negItems!);
        assert.deepEqual(concat("negItems", cycles), expected);
      }
      const root = await Deno.makeTempDir();
      try {
        for (const k of [1, 3]) {
          const carry = await regenerateCarry(plan, k, source);
          assert.equal(carry.negItems?.length, carryInto(plan, k));
          const dir = join(root, `k${k}`);
          await Deno.mkdir(dir);
          await writeCycle(k, dir, { plan, carry, source });
          const resumed = await readCycle(dir);
          assert.deepEqual(resumed.manifest, cycles[k].manifest);
          resumed.shards.forEach((s, i) => assert.deepEqual(s.bytes, cycles[k].shards[i].bytes));
        }
      } finally {
        await Deno.remove(root, { recursive: true });
      }
    });
  }
});

Deno.test("writeCycle() refuses epochs or a carry of the other schema", async (t) => {
  const pairs = setup(8);
  const triples = setup(8, "triples");
  const cases = [
    { name: "triple epochs for pairs", schema: "pairs" as const, source: triples.source },
    { name: "pair epochs for triples", schema: "triples" as const, source: pairs.source },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const plan: CyclePlan = {
        epochSize: 10,
        epochsPerCycle: 1,
        numCycles: 1,
        batchSize: 4,
        spillover: true,
        schema: c.schema,
      };
      const dir = await Deno.makeTempDir();
      try {
        await assert.rejects(
          () => writeCycle(0, dir, { plan, carry: emptyColumns(c.schema, 0), source: c.source }),
          new RegExp(`Cannot write cycles of ${c.schema}: epoch 0 holds`),
        );
        await assert.rejects(
          () =>
            writeCycle(0, dir, {
              plan,
              carry: emptyColumns(c.schema === "pairs" ? "triples" : "pairs", 0),
              source: c.source,
            }),
          new RegExp(`Cannot write cycles of ${c.schema}: the carry holds`),
        );
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
});

Deno.test("ready.json names the schema; one without it describes pairs", () => {
  const body = '"batch_size":2,"batch_count":1,"example_count":2,"shards":["a"],"shard_rows":[2]';
  assert.equal(parseReadyManifest(`{"cycle":0,${body}}`, "r").schema, "pairs");
  assert.equal(parseReadyManifest(`{"cycle":0,"schema":"triples",${body}}`, "r").schema, "triples");
});
