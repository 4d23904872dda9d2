import assert from "node:assert/strict";
import {
  formatRecommendations,
  formatUserRecommendations,
  RECOMMENDATION_FORMATS,
  type RecommendationFormatOptions,
  recommendationHeader,
  recommendationJson,
} from "../../lib/serve/recommendation_format.ts";
import { recommendUsers, type UserRecommendations } from "../../lib/serve/recommend.ts";
import { saveSmallModel, smallDataset } from "./_model_fixture.ts";

const NUMERIC: UserRecommendations[] = [
  { user: 196, recommendations: [{ item: 50, score: 0.98765432 }, { item: 181, score: 0.5 }] },
  { user: 186, recommendations: [{ item: 7, score: 0.25 }] },
];

const STRINGS: UserRecommendations[] = [
  {
    user: 'user "one", first',
    recommendations: [{ item: "B00\tX", score: 0.125 }, { item: "007", score: 1e-7 }],
  },
];

const TITLES = new Map([
  ["50", "Star Wars (1977)"],
  ["7", 'Twelve Monkeys, "12 Monkeys" (1995)'],
  ["B00\tX", "Line\nbreak"],
]);

async function text(
  results: UserRecommendations[],
  options: RecommendationFormatOptions,
): Promise<string> {
  return (await Array.fromAsync(formatRecommendations(results, options))).join("");
}

Deno.test("formatRecommendations() writes each format as documented", async (t) => {
  const cases: [string, UserRecommendations[], RecommendationFormatOptions, string][] = [
    [
      "table for one user: the columns ncf recommend always printed",
      NUMERIC.slice(0, 1),
      { format: "table" },
      "rank\titem\tscore\n1\t50\t0.987654\n2\t181\t0.500000\n",
    ],
    [
      "table for one user with titles: a title column, empty where unknown",
      NUMERIC.slice(0, 1),
      { format: "table", titles: TITLES },
      "rank\titem\tscore\ttitle\n1\t50\t0.987654\tStar Wars (1977)\n2\t181\t0.500000\t\n",
    ],
    [
      "table for several users: a leading user column",
      NUMERIC,
      { format: "table", multipleUsers: true },
      "user\trank\titem\tscore\n196\t1\t50\t0.987654\n196\t2\t181\t0.500000\n186\t1\t7\t0.250000\n",
    ],
    [
      "table with tabs and line breaks in ids and titles: spaces instead",
      STRINGS,
      { format: "table", titles: TITLES, multipleUsers: true },
      'user\trank\titem\tscore\ttitle\nuser "one", first\t1\tB00 X\t0.125000\tLine break\n' +
      'user "one", first\t2\t007\t0.000000\t\n',
    ],
    [
      "csv: the full header even for one user, quoted fields, empty unknown titles",
      NUMERIC,
      { format: "csv", titles: TITLES },
      "user,rank,item,score,title\n196,1,50,0.987654,Star Wars (1977)\n196,2,181,0.500000,\n" +
      '186,1,7,0.250000,"Twelve Monkeys, ""12 Monkeys"" (1995)"\n',
    ],
    [
      "csv with string ids",
      STRINGS,
      { format: "csv", titles: TITLES },
      'user,rank,item,score,title\n"user ""one"", first",1,B00\tX,0.125000,"Line\nbreak"\n' +
      '"user ""one"", first",2,007,0.000000,\n',
    ],
    [
      "jsonl: one object per user, no header",
      NUMERIC,
      { format: "jsonl", titles: TITLES },
      '{"user":196,"recommendations":[{"item":50,"score":0.98765432,"title":"Star Wars (1977)"},' +
      '{"item":181,"score":0.5}]}\n' +
      '{"user":186,"recommendations":[{"item":7,"score":0.25,"title":"Twelve Monkeys, \\"12 Monkeys\\" (1995)"}]}\n',
    ],
    [
      "jsonl with string ids: strings, even when they look like numbers",
      STRINGS,
      { format: "jsonl" },
      '{"user":"user \\"one\\", first","recommendations":[{"item":"B00\\tX","score":0.125},' +
      '{"item":"007","score":1e-7}]}\n',
    ],
    [
      "table for no users: the header alone",
      [],
      { format: "table", multipleUsers: true },
      "user\trank\titem\tscore\n",
    ],
    ["csv for no users: the header alone", [], { format: "csv" }, "user,rank,item,score,title\n"],
    ["jsonl for no users: nothing", [], { format: "jsonl" }, ""],
  ];
  for (const [name, results, options, want] of cases) {
    await t.step(name, async () => assert.equal(await text(results, options), want));
  }
});

Deno.test("formatRecommendations() streams one chunk per user as it arrives, the header leading the first", async () => {
  const chunks: string[] = [];
  let produced = 0;
  async function* results() {
    for (const r of NUMERIC) {
      produced++;
      yield r;
    }
  }
  for await (const chunk of formatRecommendations(results(), { format: "csv" })) {
    chunks.push(chunk);
    assert.equal(produced, chunks.length, "one user formatted per user produced");
  }
  assert.deepEqual(chunks, [
    recommendationHeader({ format: "csv" }) +
    formatUserRecommendations(NUMERIC[0], { format: "csv" }),
    formatUserRecommendations(NUMERIC[1], { format: "csv" }),
  ]);
});

Deno.test("formatRecommendations() yields nothing before the first result, so an unknown user's error comes first", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ncf_test_" });
  try {
    await saveSmallModel(dir, smallDataset("integer"));
    const chunks: string[] = [];
    await assert.rejects(async () => {
      const results = recommendUsers(dir, ["100", "9"], { setting: "users" });
      for await (const chunk of formatRecommendations(results, { format: "table" })) {
        chunks.push(chunk);
      }
    }, /Cannot recommend for user 9: no such user/);
    assert.deepEqual(chunks, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("every format has a header and rows, and the jsonl line is recommendationJson()", () => {
  assert.deepEqual([...RECOMMENDATION_FORMATS], ["table", "csv", "jsonl"]);
  for (const format of RECOMMENDATION_FORMATS) {
    const rows = formatUserRecommendations(NUMERIC[0], { format, titles: TITLES });
    assert.equal(rows.split("\n").length - 1, format === "jsonl" ? 1 : 2, format);
  }
  assert.deepEqual(
    JSON.parse(formatUserRecommendations(STRINGS[0], { format: "jsonl", titles: TITLES })),
    recommendationJson(STRINGS[0], { titles: TITLES }),
  );
  assert.deepEqual(recommendationJson(NUMERIC[1]), {
    user: 186,
    recommendations: [{ item: 7, score: 0.25 }],
  });
});
