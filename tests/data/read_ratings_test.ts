import assert from "node:assert/strict";
import {
  MAX_LINE_BYTES,
  parseRatingsBytes,
  readRatings,
  type ReadRatingsOptions,
} from "../../lib/data/read_ratings.ts";
import type { RawInteractions } from "../../lib/data/types.ts";

const encoder = new TextEncoder();

function parse(text: string | Uint8Array, options: Omit<ReadRatingsOptions, "signal"> = {}) {
  return parseRatingsBytes(
    typeof text === "string" ? encoder.encode(text) : text,
    "r.csv",
    options,
  );
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

Deno.test("parseRatingsBytes() reads every separator, with and without header, 3 or 4 fields", async (t) => {
  const expected = [[1, 10, 100], [2, 20, 200.5]];
  const cases: [string, string][] = [
    ["comma, 4 fields, header", "userId,movieId,rating,timestamp\n1,10,4.5,100\n2,20,3,200.5\n"],
    ["comma, 3 fields", "1,10,100\n2,20,200.5\n"],
    ["comma, 3 fields, header", "user,item,timestamp\n1,10,100\n2,20,200.5\n"],
    ["tab, 4 fields", "1\t10\t5\t100\n2\t20\t1\t200.5\n"],
    ["tab, 3 fields, header", "user\titem\tts\n1\t10\t100\n2\t20\t200.5\n"],
    ["'::', 4 fields", "1::10::5::100\n2::20::3::200.5\n"],
    ["'::', 3 fields", "1::10::100\n2::20::200.5\n"],
    ["CRLF", "userId,movieId,rating,timestamp\r\n1,10,4.5,100\r\n2,20,3,200.5\r\n"],
    ["no final newline", "1,10,4.5,100\n2,20,3,200.5"],
    ["no final newline after CR", "1,10,4.5,100\r\n2,20,3,200.5\r"],
    ["CRLF without header, no final line end", "1,10,4.5,100\r\n2,20,3,200.5"],
    [
      "CR CR LF (CRLF converted twice)",
      "userId,movieId,timestamp\r\r\n1,10,100\r\r\n2,20,200.5\r\r\n",
    ],
    ["lone CR (old Mac Excel)", "userId,movieId,timestamp\r1,10,100\r2,20,200.5\r"],
    ["CRLF with trailing blank lines", "1,10,100\r\n2,20,200.5\r\n\r\n\r\n"],
    ["a leading '+' on ids", "+1,+10,100\n2,20,200.5\n"],
    ["trailing blank lines", "1,10,4.5,100\n2,20,3,200.5\n\n\r\n  \n"],
    ["byte-order mark", "\ufeffuserId,movieId,rating,timestamp\n1,10,4.5,100\n2,20,3,200.5\n"],
    ["spaces around fields", "1, 10 , 4.5, 100\n 2 ,20,3 , 200.5 \n"],
    ["signed and bare-point numbers", "1,10,+4.,100.\n2,20,-.5,200.50\n"],
  ];
  for (const [name, text] of cases) {
    await t.step(name, () => assert.deepEqual(rows(parse(text)), expected));
  }
});

Deno.test("parseRatingsBytes() accepts negative ids and ids up to 2^53 - 1", () => {
  const raw = parse("-5,-0,1\n9007199254740991,-9007199254740991,2\n");
  assert.deepEqual(rows(raw), [[-5, 0, 1], [9007199254740991, -9007199254740991, 2]]);
  assert.ok(Object.is(raw.items[0], 0));
});

Deno.test("parseRatingsBytes() converts timestamps exactly like Number()", () => {
  const stamps = ["0.1", "1234567890.123456", "12345678901234567890", "-3.75", "978300760"];
  const raw = parse(stamps.map((s, i) => `1,${i},${s}\n`).join(""));
  assert.deepEqual(Array.from(raw.timestamps.subarray(0, raw.length)), stamps.map(Number));
});

Deno.test("parseRatingsBytes() returns line numbers when asked", () => {
  const raw = parse("user,item,rating,ts\n1,2,3,4\n5,6,7,8\n\n", { lineNumbers: true });
  assert.deepEqual(Array.from(raw.lineNumbers!.subarray(0, raw.length)), [2, 3]);
});

Deno.test("parseRatingsBytes() names the file and line of a malformed line", async (t) => {
  const cases: [string, string | Uint8Array, string][] = [
    ["too few fields", "1,2,3,4\n1,2,3,4\n1,2,3\n", "3: expected 4 fields (as on line 1), found 3"],
    ["too many fields", "1,2,3\n1,2,3,4\n", "2: expected 3 fields (as on line 1), found 4"],
    [
      "two fields on the first line",
      "1,2\n",
      "1: expected 3 or 4 fields (user, item[, rating], timestamp), found 2",
    ],
    [
      "five fields on the first line",
      "1\t2\t3\t4\t5\n",
      "1: expected 3 or 4 fields (user, item[, rating], timestamp), found 5",
    ],
    [
      "fewer fields than the header",
      "item,user,rating,timestamp\n1,2,3\n",
      "2: expected 4 fields (as the header on line 1), found 3",
    ],
    [
      "an unknown separator",
      "1;2;3;4\n",
      "1: expected 3 or 4 fields (user, item[, rating], timestamp) separated by comma, tab or '::', found 1",
    ],
    [
      "no separator",
      "12345\n",
      "1: expected 3 or 4 fields (user, item[, rating], timestamp) separated by comma, tab or '::', found 1",
    ],
    ["rating not a number", "1,2,abc,4\n", `1: rating "abc" is not a decimal number`],
    [
      "timestamp not a number beside string ids",
      "u1,i1,5\nu2,i2,x\n",
      `2: timestamp "x" is not a decimal number`,
    ],
    ["exponent timestamp", "1,2,3,1e9\n", `1: timestamp "1e9" is not a decimal number`],
    [
      "timestamp out of range",
      `1,2,${"9".repeat(400)}\n`,
      `1: timestamp ${"9".repeat(400)} is out of range`,
    ],
    ["empty field", "1,2,3,4\n1,,3,4\n", "2: empty item id field"],
    ["empty timestamp", "1,2,3,\n", "1: empty timestamp field"],
    ["NUL byte", "1,2,3\n1,\0,3\n", "2: binary byte 0x00 at column 3 (not a text ratings file?)"],
    [
      "non-ASCII text in a number",
      "1,2,3\n1,2,3\xe9\n",
      `2: timestamp "3é" is not a decimal number`,
    ],
    [
      "invalid UTF-8 (a Latin-1 byte)",
      Uint8Array.of(...encoder.encode("1,2,3\nu"), 0xe9, ...encoder.encode(",2,3\n")),
      "2: byte 0xE9 at column 2 is not valid UTF-8 (not a text ratings file, or not saved as UTF-8?)",
    ],
    [
      "a UTF-16 surrogate encoded in UTF-8",
      Uint8Array.of(...encoder.encode("1,2,3\n"), 0xed, 0xa0, 0x80, ...encoder.encode(",2,3\n")),
      "2: byte 0xED at column 1 is not valid UTF-8 (not a text ratings file, or not saved as UTF-8?)",
    ],
    [
      "DEL byte",
      "1,2,3\n1,2\x7f,3\n",
      "2: binary byte 0x7F at column 4 (not a text ratings file?)",
    ],
    [
      "a tab inside a string id",
      "u1,2,3\nu\t2,2,3\n",
      `2: user id "u\\t2" has a control character (a tab?)`,
    ],
    [
      "a quoted id",
      '1,2,3\n"u1",2,3\n',
      `2: user id "\\"u1\\"" is quoted (quoted fields are not supported; save the file without quotes)`,
    ],
    ["an empty string id", "u1,2,3\n ,2,3\n", "2: empty user id field"],
    [
      "single ':' in a '::' file",
      "1::2::3\n1:2::3\n",
      `2: expected 3 fields (as on line 1), found 2`,
    ],
    [
      "blank line in a file of lone CRs",
      "1,2,3\r\r1,2,3\r",
      "2: blank line before more data (only trailing blank lines are allowed)",
    ],
    [
      "blank line before data",
      "1,2,3\n\n1,2,3\n",
      "2: blank line before more data (only trailing blank lines are allowed)",
    ],
    [
      "header on the second line",
      "1,2,3\nuser,item,ts\n",
      `2: timestamp "ts" is not a decimal number`,
    ],
    [
      "header with a NUL",
      "user\0,item,ts\n1,2,3\n",
      "1: binary byte 0x00 at column 5 (not a text ratings file?)",
    ],
  ];
  for (const [name, text, message] of cases) {
    await t.step(name, () => {
      assert.throws(
        () => parse(text),
        (e: unknown) => {
          assert.ok(e instanceof SyntaxError, `${e}`);
          assert.equal(e.message, `Cannot parse ratings: r.csv:${message}`);
          return true;
        },
      );
    });
  }
});

Deno.test("parseRatingsBytes() rejects ids outside the dense range when asked", () => {
  assert.throws(
    () => parse("0\t1\t5\t0\n-1\t2\t3\t4\n", { denseIds: true }),
    {
      name: "SyntaxError",
      message: "Cannot parse ratings: r.csv:2: user id -1 is not a dense id in [0, 2147483646]",
    },
  );
  assert.throws(
    () => parse("0\t2147483647\t5\t0\n", { denseIds: true }),
    {
      message:
        "Cannot parse ratings: r.csv:1: item id 2147483647 is not a dense id in [0, 2147483646]",
    },
  );
});

Deno.test("parseRatingsBytes() refuses binary junk", () => {
  const junk = new Uint8Array(5000);
  let x = 12345;
  for (let i = 0; i < junk.length; i++) junk[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  assert.throws(() => parseRatingsBytes(junk, "junk.bin"), (e: unknown) => {
    assert.ok(e instanceof SyntaxError);
    assert.match(
      e.message,
      /^Cannot parse ratings: junk\.bin:\d+: binary byte 0x[0-9A-F]{2} at column \d+/,
    );
    return true;
  });
});

Deno.test("parseRatingsBytes() refuses a malformed line longer than MAX_LINE_BYTES", () => {
  const long = encoder.encode(`1,2,3\n${"x".repeat(MAX_LINE_BYTES + 1)}`);
  assert.throws(() => parseRatingsBytes(long, "r.csv"), {
    message: `Cannot parse ratings: r.csv:2: line is longer than ${MAX_LINE_BYTES} bytes`,
  });
});

Deno.test("parseRatingsBytes() refuses a file without data rows, naming it", async (t) => {
  const cases: [string, string, string][] = [
    ["empty", "", "the file is empty"],
    ["header only", "userId,movieId,rating,timestamp\n", "no data rows (only a header line)"],
    ["blank lines only", "\n\r\n\n", "no data rows"],
  ];
  for (const [name, text, state] of cases) {
    await t.step(name, () => {
      assert.throws(() => parse(text), {
        name: "SyntaxError",
        message: `Cannot parse ratings: r.csv: ${state}`,
      });
    });
  }
});

Deno.test("readRatings() streams a multi-chunk file with the same result as parseRatingsBytes()", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lines = ["userId,movieId,rating,timestamp"];
    for (let r = 0; r < 120_000; r++) {
      lines.push(`${r % 997},${(r * 7919) % 100_003},3.5,${1e9 + r}`);
    }
    const text = lines.join("\r\n"); // > 2 MiB, CRLF, no final newline
    const path = `${dir}/ratings.csv`;
    await Deno.writeTextFile(path, text);
    const streamed = await readRatings(path);
    const whole = parseRatingsBytes(encoder.encode(text), path);
    assert.equal(streamed.length, 120_000);
    assert.deepEqual(rows(streamed), rows(whole));
    assert.deepEqual(rows(streamed).at(-1), [
      119_999 % 997,
      (119_999 * 7919) % 100_003,
      1e9 + 119_999,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readRatings() streams every line end across chunk boundaries", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    for (const end of ["\r\n", "\r\r\n", "\r"]) {
      await t.step(JSON.stringify(end), async () => {
        const lines = ["user_id,item_id,rating,timestamp"];
        for (let r = 0; r < 100_000; r++) lines.push(`${r % 991},${r % 1013},5,${r}`);
        const text = lines.join(end) + end;
        const path = `${dir}/ratings.csv`;
        await Deno.writeTextFile(path, text);
        const streamed = await readRatings(path, { lineNumbers: true });
        assert.equal(streamed.length, 100_000);
        assert.deepEqual(rows(streamed), rows(parseRatingsBytes(encoder.encode(text), path)));
        assert.deepEqual(rows(streamed)[99_999], [99_999 % 991, 99_999 % 1013, 99_999]);
        assert.equal(streamed.lineNumbers![99_999], 100_001);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readRatings() reports the right line number past the first chunk", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lines = [];
    for (let r = 0; r < 100_000; r++) lines.push(`${r}\t${r}\t5\t${r}`);
    lines[87_654] = "1\t2\t3";
    const path = `${dir}/u.data`;
    await Deno.writeTextFile(path, lines.join("\n") + "\n");
    await assert.rejects(() => readRatings(path), {
      name: "SyntaxError",
      message: `Cannot parse ratings: ${path}:87655: expected 4 fields (as on line 1), found 3`,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readRatings() stops early on a huge file without newlines", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/blob`, new Uint8Array(3 << 20).fill(120));
    await assert.rejects(() => readRatings(`${dir}/blob`), {
      name: "SyntaxError",
      message: `Cannot parse ratings: ${dir}/blob:1: line is longer than ${MAX_LINE_BYTES} bytes`,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readRatings() throws NotFound for a missing file", async () => {
  const path = `${await Deno.makeTempDir()}/nothing.csv`;
  await assert.rejects(() => readRatings(path), (e: unknown) => {
    assert.ok(e instanceof Deno.errors.NotFound);
    assert.equal(e.message, `Cannot read ratings: ${path} does not exist`);
    return true;
  });
  await Deno.remove(path.slice(0, path.lastIndexOf("/")));
});

Deno.test("readRatings() refuses an empty file and a folder", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/empty.csv`, "");
    await assert.rejects(() => readRatings(`${dir}/empty.csv`), {
      name: "SyntaxError",
      message: `Cannot parse ratings: ${dir}/empty.csv: the file is empty`,
    });
    await assert.rejects(() => readRatings(dir), {
      message: `Cannot read ratings: ${dir} is a directory`,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readRatings() stops when its signal is aborted", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/r.csv`, "1,2,3\n");
    const controller = new AbortController();
    controller.abort(new Error("stop"));
    await assert.rejects(() => readRatings(`${dir}/r.csv`, { signal: controller.signal }), {
      message: "stop",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
