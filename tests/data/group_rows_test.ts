import assert from "node:assert/strict";
import { groupRows } from "../../lib/data/group_rows.ts";

Deno.test("groupRows() orders rows by user, then item, then row", () => {
  const user = Int32Array.of(2, 0, 2, 1, 0, 2, 0);
  const item = Int32Array.of(3, 1, 0, 2, 1, 3, 0);
  const { order, offsets } = groupRows(user, 3, item, 4);
  assert.deepEqual(Array.from(offsets), [0, 3, 4, 7]);
  assert.deepEqual(Array.from(order), [6, 1, 4, 3, 2, 0, 5]);
});

Deno.test("groupRows() matches a comparator sort on random rows", () => {
  let x = 7;
  const next = (n: number) => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) >>> 8) % n;
  const n = 5000;
  const user = Int32Array.from({ length: n }, () => next(50));
  const item = Int32Array.from({ length: n }, () => next(80));
  const { order } = groupRows(user, 50, item, 80);
  const expected = [...Array(n).keys()].sort((a, b) =>
    user[a] - user[b] || item[a] - item[b] || a - b
  );
  assert.deepEqual(Array.from(order), expected);
});
