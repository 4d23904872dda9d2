import assert from "node:assert/strict";
import { join } from "node:path";
import {
  findItemTitlesFile,
  type ItemTitlesFormat,
  readItemTitles,
} from "../../lib/data/item_titles.ts";

const SHARED = new URL("../../../shared/datasets/", import.meta.url).pathname;

async function _exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

const U_ITEM_PATH = `${SHARED}ml-100k/u.item`;
const MOVIES_CSV_PATH = `${SHARED}ml-latest-small/movies.csv`;
const hasUItem = await _exists(U_ITEM_PATH);
const hasMoviesCsv = await _exists(MOVIES_CSV_PATH);
if (!hasUItem) console.log(`Skipping the real u.item test: ${U_ITEM_PATH} is absent`);
if (!hasMoviesCsv) console.log(`Skipping the real movies.csv test: ${MOVIES_CSV_PATH} is absent`);

async function _withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ncf_item_titles_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Bytes from a string whose characters are all below 256, one byte each (Latin-1). */
function _latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => {
    const code = c.charCodeAt(0);
    if (code > 0xff) throw new RangeError(`${c} is not Latin-1`);
    return code;
  });
}

const utf8 = (text: string) => new TextEncoder().encode(text);

Deno.test("readItemTitles() reads each format into id text → title", async (t) => {
  const cases: {
    label: string;
    file: string;
    bytes: Uint8Array;
    format?: ItemTitlesFormat;
    expected: [string, string][];
  }[] = [
    {
      label: "u.item, Latin-1 (0xE9 is é)",
      file: "u.item",
      bytes: _latin1(
        "1|Toy Story (1995)|01-Jan-1995||http://x|0|0\n" +
          "10|Caf\xe9 au lait (1993)|01-Jan-1993||http://y|0|1\n",
      ),
      expected: [["1", "Toy Story (1995)"], ["10", "Café au lait (1993)"]],
    },
    {
      label: "u.item converted to UTF-8",
      file: "u.item",
      bytes: utf8("1|Café au lait (1993)|01-Jan-1993\n"),
      expected: [["1", "Café au lait (1993)"]],
    },
    {
      label: "movies.dat, Latin-1, CRLF, a blank line",
      file: "movies.dat",
      bytes: _latin1(
        "1::Toy Story (1995)::Animation|Children's|Comedy\r\n\r\n" +
          "3196::Stalag 17 (1953)::Drama|War\r\n73::Mis\xe9rables, Les (1995)::Drama\r\n",
      ),
      expected: [
        ["1", "Toy Story (1995)"],
        ["3196", "Stalag 17 (1953)"],
        ["73", "Misérables, Les (1995)"],
      ],
    },
    {
      label: "movies.csv, quoted titles with commas and doubled quotes",
      file: "movies.csv",
      bytes: utf8(
        "movieId,title,genres\n" +
          "1,Toy Story (1995),Adventure|Animation\n" +
          '11,"American President, The (1995)",Comedy|Drama|Romance\n' +
          '1920,"Brother, Can You Spare a ""Dime""? (1975)",Documentary\n' +
          "4,Amélie (2001),Comedy\n",
      ),
      expected: [
        ["1", "Toy Story (1995)"],
        ["11", "American President, The (1995)"],
        ["1920", 'Brother, Can You Spare a "Dime"? (1975)'],
        ["4", "Amélie (2001)"],
      ],
    },
    {
      label: "csv without a header, CRLF, a byte-order mark, extra columns, string ids",
      file: "titles.csv",
      bytes: utf8('\ufeffB000123,"Kettle, blue",kitchen\r\nitem 2, Toaster \r\n'),
      expected: [["B000123", "Kettle, blue"], ["item 2", "Toaster"]],
    },
    {
      label: "csv with a header naming the columns in another order",
      file: "titles.csv",
      bytes: utf8('title,movieId\r\n"Heat (1995)",6\r\nJumanji (1995),2\r\n'),
      expected: [["6", "Heat (1995)"], ["2", "Jumanji (1995)"]],
    },
    {
      label: "csv whose first title is a header word is not a header",
      file: "titles.csv",
      bytes: utf8("1,Title\n2,Name\n"),
      expected: [["1", "Title"], ["2", "Name"]],
    },
    {
      label: "a quoted title over two lines, then a last line without a line end",
      file: "titles.csv",
      bytes: utf8('id,title\n1,"Two\nlines"\n2,Last'),
      expected: [["1", "Two\nlines"], ["2", "Last"]],
    },
    {
      label: "an integer id written with zeros is found under its decimal text too",
      file: "titles.csv",
      bytes: utf8("007,GoldenEye (1995)\n"),
      expected: [["007", "GoldenEye (1995)"], ["7", "GoldenEye (1995)"]],
    },
    {
      label: "format given: u.item under another name",
      file: "items.txt",
      format: "u.item",
      bytes: _latin1("5|Copycat (1995)|01-Jan-1995\n"),
      expected: [["5", "Copycat (1995)"]],
    },
  ];
  for (const { label, file, bytes, format, expected } of cases) {
    await t.step(label, async () => {
      await _withTempDir(async (dir) => {
        const path = join(dir, file);
        await Deno.writeFile(path, bytes);
        const titles = await readItemTitles(path, { format });
        assert.deepEqual([...titles], expected);
      });
    });
  }
});

Deno.test("readItemTitles() names the file and line of a bad line", async (t) => {
  const cases: { label: string; file: string; bytes: Uint8Array; line: number; says: string }[] = [
    {
      label: "u.item line without a title",
      file: "u.item",
      bytes: _latin1("1|Toy Story (1995)|x\n2\n"),
      line: 2,
      says: 'expected "id|title|…" (u.item) with an id and a title, got "2"',
    },
    {
      label: "movies.dat line with an empty id",
      file: "movies.dat",
      bytes: _latin1("1::Toy Story (1995)::Comedy\n\n::Nameless::Drama\n"),
      line: 3,
      says: 'expected "id::title::genres" (movies.dat)',
    },
    {
      label: "csv line without a title",
      file: "titles.csv",
      bytes: utf8("id,title\n1,One\n2\n"),
      line: 3,
      says: 'expected "id,title"',
    },
    {
      label: "an id given twice",
      file: "titles.csv",
      bytes: utf8("1,One\n2,Two\n1,Uno\n"),
      line: 3,
      says: 'item "1" has a second title (its first is on line 1)',
    },
    {
      label: "a quoted field that never ends",
      file: "movies.csv",
      bytes: utf8('movieId,title,genres\n1,"Toy Story (1995),Comedy\n2,Jumanji,Adventure\n'),
      line: 2,
      says: "a quoted field never ends",
    },
    {
      label: "text after a closing quote",
      file: "movies.csv",
      bytes: utf8('movieId,title,genres\n1,"Toy" Story,Comedy\n'),
      line: 2,
      says: 'unexpected " " after a closing quote',
    },
    {
      label: "a csv line that is not UTF-8",
      file: "titles.csv",
      bytes: _latin1("1,One\n2,Caf\xe9\n"),
      line: 2,
      says: "not UTF-8 text",
    },
  ];
  for (const { label, file, bytes, line, says } of cases) {
    await t.step(label, async () => {
      await _withTempDir(async (dir) => {
        const path = join(dir, file);
        await Deno.writeFile(path, bytes);
        await assert.rejects(readItemTitles(path), (err: unknown) => {
          assert.ok(err instanceof SyntaxError, String(err));
          assert.ok(
            err.message.startsWith(`Cannot read item titles at ${path}:${line}: `),
            err.message,
          );
          assert.ok(err.message.includes(says), err.message);
          return true;
        });
      });
    });
  }
});

Deno.test("readItemTitles() reports a missing file as NotFound naming the path", async () => {
  await _withTempDir(async (dir) => {
    const path = join(dir, "u.item");
    await assert.rejects(readItemTitles(path), (err: unknown) => {
      assert.ok(err instanceof Deno.errors.NotFound, String(err));
      assert.equal(err.message, `Cannot read item titles: ${path} does not exist`);
      return true;
    });
  });
});

Deno.test("readItemTitles() throws the abort reason when aborted", async () => {
  await _withTempDir(async (dir) => {
    const path = join(dir, "titles.csv");
    await Deno.writeTextFile(path, "1,One\n");
    const reason = new DOMException("stop", "AbortError");
    await assert.rejects(
      readItemTitles(path, { signal: AbortSignal.abort(reason) }),
      (err: unknown) => err === reason,
    );
  });
});

Deno.test({
  name: "readItemTitles() reads the real ml-100k u.item: 1682 titles",
  ignore: !hasUItem,
  fn: async () => {
    const titles = await readItemTitles(U_ITEM_PATH);
    assert.equal(titles.size, 1682);
    assert.equal(titles.get("1"), "Toy Story (1995)");
    assert.equal(titles.get("1682"), "Scream of Stone (Schrei aus Stein) (1991)");
  },
});

Deno.test({
  name: "readItemTitles() reads the real ml-latest-small movies.csv",
  ignore: !hasMoviesCsv,
  fn: async () => {
    const titles = await readItemTitles(MOVIES_CSV_PATH);
    assert.ok(titles.size > 9000, `${titles.size} titles`);
    assert.equal(titles.get("1"), "Toy Story (1995)");
    assert.equal(titles.get("11"), "American President, The (1995)");
  },
});

Deno.test("findItemTitlesFile() finds the titles file beside each MovieLens ratings file", async (t) => {
  const cases: { ratings: string; titles: string }[] = [
    { ratings: "u.data", titles: "u.item" },
    { ratings: "ratings.dat", titles: "movies.dat" },
    { ratings: "ratings.csv", titles: "movies.csv" },
  ];
  for (const { ratings, titles } of cases) {
    await t.step(`${ratings} → ${titles}`, async () => {
      await _withTempDir(async (dir) => {
        const ratingsFile = join(dir, ratings);
        assert.equal(await findItemTitlesFile(ratingsFile), undefined);
        await Deno.writeTextFile(join(dir, titles), "1,One\n");
        assert.equal(await findItemTitlesFile(ratingsFile), join(dir, titles));
      });
    });
  }
  await t.step("a ratings file of another name has none", async () => {
    await _withTempDir(async (dir) => {
      for (const titles of ["u.item", "movies.dat", "movies.csv"]) {
        await Deno.writeTextFile(join(dir, titles), "1,One\n");
      }
      assert.equal(await findItemTitlesFile(join(dir, "my_ratings.csv")), undefined);
    });
  });
  await t.step("a folder of the titles file's name is not a titles file", async () => {
    await _withTempDir(async (dir) => {
      await Deno.mkdir(join(dir, "u.item"));
      assert.equal(await findItemTitlesFile(join(dir, "u.data")), undefined);
    });
  });
});
