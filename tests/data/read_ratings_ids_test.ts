import assert from "node:assert/strict";
import { parseRatingsBytes, readRatings } from "../../lib/data/read_ratings.ts";
import type { RawInteractions } from "../../lib/data/types.ts";

const encoder = new TextEncoder();

function parse(text: string, options: { denseIds?: boolean } = {}) {
  return parseRatingsBytes(encoder.encode(text), "r.csv", options);
}

/** Each row as [user, item, timestamp], string ids as written. */
function rows(raw: RawInteractions): (number | string)[][] {
  const out: (number | string)[][] = [];
  for (let r = 0; r < raw.length; r++) {
    const user = raw.userNames === undefined ? raw.users[r] : raw.userNames[raw.users[r]];
    const item = raw.itemNames === undefined ? raw.items[r] : raw.itemNames[raw.items[r]];
    out.push([user, item, raw.timestamps[r]]);
  }
  return out;
}

Deno.test("a column with any id that is not an integer keeps every id of it as written", async (t) => {
  const cases: [string, string, (number | string)[][]][] = [
    ["'u1' ids", "u1,10,1\nu2,10,2\n", [["u1", 10, 1], ["u2", 10, 2]]],
    ["mixed 'u1' and '2'", "2,10,1\nu1,10,2\n2,11,3\n", [["2", 10, 1], ["u1", 10, 2], [
      "2",
      11,
      3,
    ]]],
    ["'007' and '7' are two ids", "7,1,1\n007,1,2\nx,1,3\n", [["7", 1, 1], ["007", 1, 2], [
      "x",
      1,
      3,
    ]]],
    ["ASINs in the item column", "1,B00004Y2UT,5,1\n1,0000000116,4,2\n", [
      [1, "B00004Y2UT", 1],
      [1, "0000000116", 2],
    ]],
    ["spaces around trimmed, inside kept", " u 1 ,10,1\nu 1,10,2\n", [["u 1", 10, 1], [
      "u 1",
      10,
      2,
    ]]],
    ["fractions are strings", "1.5,10,1\n", [["1.5", 10, 1]]],
    ["integers beyond 2^53 - 1 are kept exactly", "9007199254740993,-9007199254740992,1\n", [[
      "9007199254740993",
      "-9007199254740992",
      1,
    ]]],
    ["a single ':' inside a '::' id", "a:b::c::5::1\n", [["a:b", "c", 1]]],
    ["commas inside tab-separated ids", "a,b\tc\t1\n", [["a,b", "c", 1]]],
    ["non-ASCII UTF-8", "café,ユーザー,1\n😀,ユーザー,2\n", [["café", "ユーザー", 1], [
      "😀",
      "ユーザー",
      2,
    ]]],
    ["hex hashes after a header", "user_id,item_id,ts\r\n9f86d081,e3b0c442,1\r\n", [[
      "9f86d081",
      "e3b0c442",
      1,
    ]]],
  ];
  for (const [name, text, expected] of cases) {
    await t.step(name, () => assert.deepEqual(rows(parse(text)), expected));
  }
});

Deno.test("string ids are coded in order of first appearance, and a numeric column stays numeric", () => {
  const raw = parse("b,30,1\na,10,2\nb,20,3\nc,10,4\n");
  assert.deepEqual(raw.userNames, ["b", "a", "c"]);
  assert.deepEqual(Array.from(raw.users.subarray(0, raw.length)), [0, 1, 0, 2]);
  assert.equal(raw.itemNames, undefined);
  assert.deepEqual(Array.from(raw.items.subarray(0, raw.length)), [30, 10, 20, 10]);
});

Deno.test("a numeric file gives no names and the same numbers as before", () => {
  const raw = parse("196\t242\t3\t881250949\n-5\t+7\t1\t2\n");
  assert.equal(raw.userNames, undefined);
  assert.equal(raw.itemNames, undefined);
  assert.deepEqual(rows(raw), [[196, 242, 881250949], [-5, 7, 2]]);
});

Deno.test("the same input gives the same codes and names, byte for byte", () => {
  const text = Array.from({ length: 500 }, (_, r) => `u${(r * 37) % 101},i${r % 13},${r}`).join(
    "\n",
  );
  const a = parse(text);
  const b = parse(text);
  assert.deepEqual(a.userNames, b.userNames);
  assert.deepEqual(a.users, b.users);
  assert.deepEqual(a.itemNames, b.itemNames);
});

Deno.test("string ids are refused for the dense NCF files", () => {
  assert.throws(() => parse("0\tu1\t5\t1\n", { denseIds: true }), {
    name: "SyntaxError",
    message: `Cannot parse ratings: r.csv:1: item id "u1" is not an integer`,
  });
  assert.throws(() => parse("9007199254740993\t1\t5\t1\n", { denseIds: true }), {
    message:
      "Cannot parse ratings: r.csv:1: user id 9007199254740993 is not a dense id in [0, 2147483646]",
  });
});

Deno.test("readRatings() starts over when a string id appears after the first chunk", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    const cases: [string, number, number][] = [
      ["a user id at row 100,000", 100_000, 0],
      ["an item id at the last row", 149_999, 1],
      ["both, far apart", 60_000, 2],
    ];
    for (const [name, at, which] of cases) {
      await t.step(name, async () => {
        const lines = ["userId,movieId,rating,timestamp"];
        for (let r = 0; r < 150_000; r++) lines.push(`${r % 997},${r % 1009},4,${r}`);
        const row = lines[at + 1].split(",");
        if (which !== 1) row[0] = "u007";
        if (which !== 0) row[1] = "i\u00e9";
        lines[at + 1] = row.join(",");
        if (which === 2) lines[140_001] = `0,x,1,${140_000}`;
        const text = lines.join("\r\n") + "\r\n";
        const path = `${dir}/r.csv`;
        await Deno.writeTextFile(path, text);
        const streamed = await readRatings(path, { lineNumbers: true });
        const whole = parseRatingsBytes(encoder.encode(text), path);
        assert.deepEqual(rows(streamed), rows(whole));
        // Only whole ids are interned, whatever the chunk boundaries.
        assert.deepEqual(streamed.userNames, whole.userNames);
        assert.deepEqual(streamed.itemNames, whole.itemNames);
        assert.equal(streamed.length, 150_000);
        assert.equal(streamed.userNames !== undefined, which !== 1);
        assert.equal(streamed.itemNames !== undefined, which !== 0);
        const got = rows(streamed)[at];
        if (which !== 1) assert.equal(got[0], "u007");
        if (which !== 0) assert.equal(got[1], "i\u00e9");
        // Earlier numeric ids are kept as written, e.g. user 0 as "0".
        if (which !== 1) assert.equal(rows(streamed)[997][0], "0");
        assert.equal(streamed.lineNumbers![149_999], 150_001);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readRatings() interns only whole string ids across chunk boundaries", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // No id is a prefix of another, so a token cut by a chunk boundary would show.
    const lines = [];
    for (let r = 0; r < 120_000; r++) lines.push(`user${r}x,item${r % 5000}x,${r}`);
    const text = lines.join("\n");
    const path = `${dir}/r.csv`;
    await Deno.writeTextFile(path, text);
    const streamed = await readRatings(path);
    assert.equal(streamed.userNames!.length, 120_000);
    assert.equal(streamed.itemNames!.length, 5000);
    assert.deepEqual(streamed.userNames, parseRatingsBytes(encoder.encode(text), path).userNames);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
