import assert from "node:assert/strict";
import { IdSearch } from "../../lib/serve/id_search.ts";

const TITLES = [
  "Star Wars (1977)",
  "Stargate (1994)",
  "Lone Star (1996)",
  undefined,
  "Fargo (1996)",
];
const search = new IdSearch(Float64Array.of(50, 7, 8, 500, 100), {
  labels: (i) => TITLES[i],
  weights: [10, 3, 5, 1, 8],
});

Deno.test("IdSearch finds ids and labels containing the text, best first", async (t) => {
  const cases: {
    query: string;
    offset?: number;
    limit?: number;
    found: number[];
    total: number;
  }[] = [
    { query: "", found: [0, 4, 2, 1, 3], total: 5 },
    { query: "", offset: 1, limit: 2, found: [4, 2], total: 5 },
    { query: "", offset: 5, found: [], total: 5 },
    { query: "star", found: [0, 1, 2], total: 3 },
    { query: "  sTaR ", limit: 1, found: [0], total: 3 },
    { query: "50", found: [0, 3], total: 2 },
    { query: "500", found: [3], total: 1 },
    { query: "(1996)", found: [4, 2], total: 2 },
    { query: "7", found: [1, 0], total: 2 },
    { query: "nothing", found: [], total: 0 },
  ];
  for (const { query, offset, limit, found, total } of cases) {
    await t.step(`'${query}' offset ${offset ?? 0} limit ${limit ?? 20}: ${found}`, () => {
      const got = search.search(query, { offset, limit });
      assert.deepEqual([...got.found], found);
      assert.equal(got.total, total);
    });
  }
});

Deno.test("IdSearch without weights lists every entry in dense order, a page at a time", () => {
  const users = new IdSearch(["u1", "U2", "x"]);
  assert.equal(users.size, 3);
  assert.deepEqual([...users.search("", { offset: 1, limit: 5 }).found], [1, 2]);
  assert.deepEqual([...users.search("u").found], [0, 1]);
  assert.deepEqual([...users.search("u2").found], [1]);
  assert.equal(users.search("", { offset: 7 }).found.length, 0);
});
