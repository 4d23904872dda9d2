import assert from "node:assert/strict";
import { SettingError } from "../../lib/errors.ts";
import {
  checkColumns,
  COLUMN_ALIASES,
  parseRatingsBytes,
  RATINGS_COLUMNS,
  type RatingsColumn,
  readRatings,
  type ReadRatingsOptions,
} from "../../lib/data/read_ratings.ts";
import type { RawInteractions } from "../../lib/data/types.ts";

const encoder = new TextEncoder();

function parse(text: string, options: Omit<ReadRatingsOptions, "signal"> = {}) {
  return parseRatingsBytes(encoder.encode(text), "r.csv", options);
}

function rows(raw: RawInteractions): number[][] {
  const out: number[][] = [];
  for (let r = 0; r < raw.length; r++) out.push([raw.users[r], raw.items[r], raw.timestamps[r]]);
  return out;
}

function permutations<T>(values: readonly T[]): T[][] {
  if (values.length <= 1) return [[...values]];
  return values.flatMap((v, i) =>
    permutations([...values.slice(0, i), ...values.slice(i + 1)]).map((rest) => [v, ...rest])
  );
}

/** Two rows (user 1/2, item 10/20, rating 4/3, time 100/200) laid out in `order`. */
function table(order: readonly RatingsColumn[], names: Record<RatingsColumn, string>): string {
  const values: Record<RatingsColumn, string[]> = {
    user: ["1", "2"],
    item: ["10", "20"],
    rating: ["4", "3"],
    timestamp: ["100", "200"],
  };
  const lines = [order.map((c) => names[c]).join(",")];
  for (let r = 0; r < 2; r++) lines.push(order.map((c) => values[c][r]).join(","));
  return lines.join("\n") + "\n";
}

const EXPECTED = [[1, 10, 100], [2, 20, 200]];
const MOVIELENS_NAMES = {
  user: "userId",
  item: "movieId",
  rating: "rating",
  timestamp: "timestamp",
};

Deno.test("a header's names decide the columns, in every order", async (t) => {
  const orders = [
    ...permutations(RATINGS_COLUMNS),
    ...permutations(["user", "item", "timestamp"] as const),
  ];
  assert.equal(orders.length, 24 + 6);
  for (const order of orders) {
    const text = table(order, MOVIELENS_NAMES);
    await t.step(text.split("\n")[0], () => assert.deepEqual(rows(parse(text)), EXPECTED));
  }
});

Deno.test("movieId,userId,rating,timestamp does not swap users and items", () => {
  const raw = parse("movieId,userId,rating,timestamp\n31,1,2.5,1260759144\n1029,1,3,1260759179\n");
  assert.deepEqual(rows(raw), [[1, 31, 1260759144], [1, 1029, 1260759179]]);
});

Deno.test("a header may use any alias of COLUMN_ALIASES, in any case, with spaces around", async (t) => {
  for (const column of RATINGS_COLUMNS) {
    for (const alias of COLUMN_ALIASES[column]) {
      for (const name of [alias, alias.toUpperCase(), ` ${alias.toLowerCase()} `]) {
        await t.step(`${column} as '${name}'`, () => {
          const names = { ...MOVIELENS_NAMES, [column]: name };
          assert.deepEqual(rows(parse(table(RATINGS_COLUMNS, names))), EXPECTED);
        });
      }
    }
  }
});

Deno.test("a header with tabs or '::' and data with another separator are read", async (t) => {
  const cases: [string, string][] = [
    ["tab header, tab data", "item\tuser\tts\n10\t1\t100\n20\t2\t200\n"],
    ["'::' header, '::' data", "item::user::ts\n10::1::100\n20::2::200\n"],
    ["comma header, tab data", "item,user,ts\n10\t1\t100\n20\t2\t200\n"],
  ];
  for (const [name, text] of cases) {
    await t.step(name, () => assert.deepEqual(rows(parse(text)), EXPECTED));
  }
});

const EXPECTED_NAMES = "user (user/userId/user_id/uid/reviewerID), " +
  "item (item/itemId/item_id/movie/movieId/movie_id/iid/asin), " +
  "optionally rating (rating/score/overall), and timestamp (timestamp/time/ts/unixReviewTime), " +
  "in any order";

const TAKEN = ", taken for a header as none of its fields is a number";

Deno.test("a header that cannot be read names line 1, the columns found and those expected", async (t) => {
  const tail = `(expected ${EXPECTED_NAMES}; or name the columns with the columns option)`;
  const cases: [string, string, string][] = [
    [
      "unknown names",
      "reviewer,product,score,time\n",
      `cannot read the header (columns reviewer, product, score, time): "reviewer", "product" are not column names ${tail}`,
    ],
    [
      "short names",
      "u\ti\tt\n1\t2\t3\n",
      `cannot read the header (columns u, i, t${TAKEN}): "u", "i", "t" are not column names ${tail}`,
    ],
    [
      "no item column",
      "userId,rating,timestamp\n1,5,100\n",
      `cannot read the header (columns userId, rating, timestamp): no item column ${tail}`,
    ],
    [
      "no user column",
      "movieId,rating,timestamp\n1,5,100\n",
      `cannot read the header (columns movieId, rating, timestamp): no user column ${tail}`,
    ],
    [
      "no timestamp column",
      "userId,movieId,rating\n1,2,5\n",
      `cannot read the header (columns userId, movieId, rating): no timestamp column (the timestamp decides which interaction is held out) ${tail}`,
    ],
    [
      "a column twice",
      "userId,user_id,movieId,timestamp\n",
      `cannot read the header (columns userId, user_id, movieId, timestamp): the user column is named twice ${tail}`,
    ],
    [
      "an extra column",
      "userId,movieId,rating,timestamp,tag\n",
      `cannot read the header (columns userId, movieId, rating, timestamp, tag): "tag" is not a column name ${tail}`,
    ],
    [
      "a single word",
      "ratings\n1,2,3\n",
      `cannot read the header (columns ratings${TAKEN}): "ratings" is not a column name ${tail}`,
    ],
    [
      "a data line without any number",
      "u1,i1,abc\nu1,i2,5\n",
      `cannot read the header (columns u1, i1, abc${TAKEN}): "u1", "i1", "abc" are not column names ${tail}`,
    ],
    [
      "quoted names",
      `"userId","movieId","rating","timestamp"\n1,2,3,4\n`,
      `header name "userId" is quoted (quoted fields are not supported; save the file without quotes)`,
    ],
  ];
  for (const [name, text, message] of cases) {
    await t.step(name, () => {
      assert.throws(() => parse(text), (e: unknown) => {
        assert.ok(e instanceof SyntaxError, `${e}`);
        assert.equal(e.message, `Cannot parse ratings: r.csv:1: ${message}`);
        return true;
      });
    });
  }
});

Deno.test("the columns option orders a file without header", async (t) => {
  const cases: [string, string[], string][] = [
    [
      "item,user,rating,timestamp",
      ["item", "user", "rating", "timestamp"],
      "10,1,4,100\n20,2,3,200\n",
    ],
    ["timestamp first, by aliases", ["ts", "movieId", "userId"], "100,10,1\n200,20,2\n"],
    [
      "Amazon's order",
      ["asin", "reviewerID", "overall", "unixReviewTime"],
      "10,1,5,100\n20,2,1,200\n",
    ],
  ];
  for (const [name, columns, text] of cases) {
    await t.step(name, () => assert.deepEqual(rows(parse(text, { columns })), EXPECTED));
  }
});

Deno.test("with the columns option a header line is skipped, whatever it says", async (t) => {
  const columns = ["item", "user", "timestamp"];
  const cases: [string, string][] = [
    ["a header that agrees", "item,user,timestamp\n10,1,100\n20,2,200\n"],
    ["a header that disagrees (columns win)", "userId,movieId,timestamp\n10,1,100\n20,2,200\n"],
    ["a header of unknown names", "product,customer,date\r\n10,1,100\r\n20,2,200\r\n"],
  ];
  for (const [name, text] of cases) {
    await t.step(name, () => assert.deepEqual(rows(parse(text, { columns })), EXPECTED));
  }
});

Deno.test("an empty columns option is the same as none", () => {
  assert.deepEqual(rows(parse("1,10,100\n2,20,200\n", { columns: [] })), EXPECTED);
});

Deno.test("the columns option fixes the field count of every row", () => {
  assert.throws(() => parse("10,1,100\n20,2,5,200\n", { columns: ["item", "user", "timestamp"] }), {
    name: "SyntaxError",
    message:
      "Cannot parse ratings: r.csv:2: expected 3 fields (as the columns option names: item, user, timestamp), found 4",
  });
  assert.throws(() => parse("10,1,5,100\n", { columns: ["item", "user", "timestamp"] }), {
    name: "SyntaxError",
    message:
      "Cannot parse ratings: r.csv:1: expected 3 fields (as the columns option names: item, user, timestamp), found 4",
  });
});

Deno.test("checkColumns() returns canonical names and refuses what cannot work, naming the setting", async (t) => {
  assert.deepEqual(checkColumns(["MovieId", " userId ", "Rating", "TS"]), [
    "item",
    "user",
    "rating",
    "timestamp",
  ]);
  const cases: [string, string[], string][] = [
    ["an unknown name", ["user", "item", "stamp"], `"stamp" is not a column name`],
    ["no user", ["item", "rating", "timestamp"], "no user column"],
    ["no item", ["user", "timestamp"], "no item column"],
    [
      "no timestamp",
      ["user", "item", "rating"],
      "no timestamp column (the timestamp decides which interaction is held out)",
    ],
    ["a name twice", ["user", "item", "movieId", "timestamp"], "the item column is named twice"],
    ["nothing", [], "no user column"],
  ];
  for (const [name, columns, problem] of cases) {
    await t.step(name, () => {
      assert.throws(() => checkColumns(columns), (e: unknown) => {
        assert.ok(e instanceof SettingError, `${e}`);
        assert.equal(e.setting, "columns");
        assert.equal(
          e.message,
          `Cannot read ratings with columns ${
            JSON.stringify(columns.join(","))
          }: ${problem} (expected ${EXPECTED_NAMES})`,
        );
        return true;
      });
    });
  }
});

Deno.test("readRatings() checks the columns option before reading", async () => {
  await assert.rejects(
    () => readRatings("/nonexistent/ratings.csv", { columns: ["user", "item"] }),
    (e: unknown) => e instanceof SettingError && e.setting === "columns",
  );
});
