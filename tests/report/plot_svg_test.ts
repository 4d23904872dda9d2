import assert from "node:assert/strict";
import { renderTrainingPlot, type TrainingPlotPoint } from "../../lib/report/plot_svg.ts";

/** 20 epochs: HR 0.4→0.65, NDCG 0.2→0.38, loss 0.5→0.28. */
function history(count = 20): TrainingPlotPoint[] {
  const points: TrainingPlotPoint[] = [];
  for (let i = 0; i < count; i++) {
    const t = count === 1 ? 1 : i / (count - 1);
    const rise = (1 - Math.exp(-4 * t)) / (1 - Math.exp(-4));
    points.push({
      epoch: i + 1,
      hr: 0.4 + 0.25 * rise,
      ndcg: 0.2 + 0.18 * rise,
      loss: 0.28 + 0.22 * (Math.exp(-3.5 * t) - Math.exp(-3.5)) / (1 - Math.exp(-3.5)),
    });
  }
  return points;
}

/**
 * Throws unless `xml` is well-formed enough: tags balance, attributes are
 * quoted, and text holds no raw `<` or unescaped `&`. Returns the element names.
 */
function checkWellFormed(xml: string): string[] {
  const stack: string[] = [];
  const names: string[] = [];
  const entity = /^&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/;
  const checkText = (text: string, where: number) => {
    for (let i = text.indexOf("&"); i >= 0; i = text.indexOf("&", i + 1)) {
      assert.match(text.slice(i), entity, `bad '&' near offset ${where + i}`);
    }
  };
  let pos = 0;
  while (pos < xml.length) {
    const open = xml.indexOf("<", pos);
    if (open < 0) {
      checkText(xml.slice(pos), pos);
      break;
    }
    checkText(xml.slice(pos, open), pos);
    const close = xml.indexOf(">", open);
    assert.ok(close > open, `unclosed tag at offset ${open}`);
    const tag = xml.slice(open + 1, close);
    assert.ok(!tag.includes("<"), `'<' inside tag at offset ${open}`);
    const m = /^(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)$/.exec(tag);
    assert.ok(m, `malformed tag <${tag}> at offset ${open}`);
    const [, end, name, attrs, selfClose] = m;
    checkText(attrs, open);
    if (end === "/") {
      assert.equal(stack.pop(), name, `unbalanced </${name}> at offset ${open}`);
    } else {
      names.push(name);
      if (selfClose === "") stack.push(name);
    }
    if (stack.length === 0) {
      assert.equal(xml.slice(close + 1).trim(), "", "content after the root element");
    }
    pos = close + 1;
  }
  assert.deepEqual(stack, [], "unclosed elements");
  return names;
}

function attr(tag: string, name: string): string {
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  assert.ok(m, `no ${name} in ${tag}`);
  return m[1];
}

/** The polyline of each series: its points as [x, y] pairs. */
function series(svg: string): Map<string, [number, number][]> {
  const out = new Map<string, [number, number][]>();
  for (const m of svg.matchAll(/<polyline [^>]*>/g)) {
    const xy = attr(m[0], "points").split(" ").map((p) => p.split(",").map(Number));
    out.set(attr(m[0], "data-series"), xy as [number, number][]);
  }
  return out;
}

/** Left-axis ticks: [value, y]. */
function leftTicks(svg: string): [number, number][] {
  return [...svg.matchAll(/<text class="y-tick-left"[^>]*>([^<]*)<\/text>/g)].map(
    (m) => [Number(m[1]), Number(attr(m[0], "y"))],
  );
}

Deno.test("checkWellFormed() (the test's own scanner) rejects broken markup", async (t) => {
  for (
    const bad of ["<a><b></a></b>", "<a>x & y</a>", "<a x=1/>", "<a>", "<a/><b/>", "<a>1 < 2</a>"]
  ) {
    await t.step(bad, () => assert.throws(() => checkWellFormed(bad)));
  }
  assert.deepEqual(checkWellFormed('<a x="1"><b/>t &amp; u</a>'), ["a", "b"]);
});

Deno.test("renderTrainingPlot() returns a well-formed standalone SVG document", () => {
  const svg = renderTrainingPlot(history(), { baseline: { hr: 0.41, ndcg: 0.22 } });
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" '));
  assert.match(svg, /^<svg [^>]*viewBox="0 0 720 420"/);
  const names = checkWellFormed(svg);
  assert.equal(names[0], "svg");
  assert.ok(!names.includes("script") && !names.includes("image") && !names.includes("a"));
  assert.ok(!/href|url\(|@import|on\w+=/i.test(svg), "no external resources or handlers");
  assert.ok(names.includes("title") && svg.includes(">Epoch<") && svg.includes(">Training loss<"));
  assert.match(svg, /<g class="baseline"[^>]*stroke-dasharray/);
  assert.equal([...svg.matchAll(/<line class="baseline-/g)].length, 2);
});

Deno.test("renderTrainingPlot() draws one polyline per series with one vertex per point", async (t) => {
  for (const count of [1, 2, 20, 500]) {
    await t.step(`${count} point(s)`, () => {
      const svg = renderTrainingPlot(history(count));
      checkWellFormed(svg);
      const lines = series(svg);
      assert.deepEqual([...lines.keys()].sort(), ["hr", "loss", "ndcg"]);
      for (const [key, xy] of lines) {
        assert.equal(xy.length, count, key);
        for (const [x, y] of xy) assert.ok(x >= 0 && x <= 720 && y >= 0 && y <= 420, key);
        for (let i = 1; i < xy.length; i++) assert.ok(xy[i][0] > xy[i - 1][0], "x increases");
      }
    });
  }
});

Deno.test("renderTrainingPlot() puts markers on sparse points and leaves them out on dense ones", () => {
  const sparse = renderTrainingPlot(history(20));
  assert.equal(sparse.match(/<circle /g)?.length, 20 + 1); // + the legend's
  const dense = renderTrainingPlot(history(500));
  assert.equal(dense.match(/<circle /g)?.length, 1);
});

Deno.test("renderTrainingPlot() maps the max HR to the left axis' scale", () => {
  const points = history();
  const svg = renderTrainingPlot(points);
  const ticks = leftTicks(svg);
  assert.ok(ticks.length >= 3);
  const [v0, y0] = ticks[0], [v1, y1] = ticks[ticks.length - 1];
  // The axis covers the data, tightly: HR max 0.65, NDCG min 0.2.
  assert.ok(v0 <= 0.2 && v0 >= 0 && v1 >= 0.65 && v1 <= 1);
  const best = points.reduce((a, b) => (b.hr > a.hr ? b : a));
  const at = points.indexOf(best);
  const [, y] = series(svg).get("hr")![at];
  const expected = y0 + ((best.hr - v0) / (v1 - v0)) * (y1 - y0);
  assert.ok(Math.abs(y - expected) < 0.02, `y ${y} vs ${expected}`);
  // And it is the topmost HR vertex (smallest y).
  assert.equal(Math.min(...series(svg).get("hr")!.map(([, yy]) => yy)), y);
});

Deno.test("renderTrainingPlot() uses integer epoch ticks", () => {
  const svg = renderTrainingPlot(history(7));
  const labels = [...svg.matchAll(/<text class="x-tick"[^>]*>([^<]*)</g)].map((m) => m[1]);
  assert.ok(labels.length >= 2);
  for (const label of labels) assert.match(label, /^-?\d+$/);
});

Deno.test("renderTrainingPlot() escapes the title for XML", () => {
  const svg = renderTrainingPlot(history(3), { title: `a <b> & "c" 'd' \u0001` });
  checkWellFormed(svg);
  assert.ok(svg.includes("a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos; \uFFFD"));
  assert.ok(!svg.includes("<b>"));
});

Deno.test("renderTrainingPlot() draws a single point without dividing by zero", () => {
  const svg = renderTrainingPlot([{ epoch: 3, hr: 0.5, ndcg: 0.5, loss: 0 }], {
    baseline: { hr: 0.5, ndcg: 0.5 },
  });
  checkWellFormed(svg);
  assert.ok(!/NaN|Infinity/.test(svg));
  for (const xy of series(svg).values()) assert.equal(xy.length, 1);
});

Deno.test("renderTrainingPlot() is deterministic and honours width and height", () => {
  const a = renderTrainingPlot(history(), { width: 900, height: 500, title: "x" });
  const b = renderTrainingPlot(history(), { width: 900, height: 500, title: "x" });
  assert.equal(a, b);
  assert.match(a, /viewBox="0 0 900 500"/);
  assert.ok(!/\d\.\d{3,}"/.test(a.replace(/<title>[^<]*<\/title>/g, "")), "2 decimals at most");
});

Deno.test("renderTrainingPlot() draws points in epoch order whatever the input order", () => {
  const points = history(5);
  const shuffled = [points[3], points[0], points[4], points[2], points[1]];
  assert.equal(renderTrainingPlot(shuffled), renderTrainingPlot(points));
});

Deno.test("renderTrainingPlot() throws RangeError on empty or non-finite input", async (t) => {
  const ok = { epoch: 1, hr: 0.5, ndcg: 0.3, loss: 0.4 };
  const cases: [string, TrainingPlotPoint[], object, RegExp][] = [
    ["no points", [], {}, /no points/],
    ["NaN hr", [ok, { ...ok, hr: NaN }], {}, /points\[1\]\.hr is NaN/],
    ["infinite loss", [{ ...ok, loss: Infinity }], {}, /points\[0\]\.loss is Infinity/],
    ["undefined epoch", [{ ...ok, epoch: undefined as unknown as number }], {}, /epoch/],
    ["NaN baseline", [ok], { baseline: { hr: 0.4, ndcg: NaN } }, /baseline\.ndcg/],
    ["zero width", [ok], { width: 0 }, /options\.width/],
    ["NaN height", [ok], { height: NaN }, /options\.height/],
    ["huge loss span", [ok, { ...ok, loss: 1e308 }, { ...ok, loss: -1e308 }], {}, /too far/],
  ];
  for (const [name, points, options, message] of cases) {
    await t.step(name, () => {
      assert.throws(() => renderTrainingPlot(points, options), (e: unknown) => {
        assert.ok(e instanceof RangeError);
        assert.match(e.message, /^Cannot render training plot: /);
        assert.match(e.message, message);
        return true;
      });
    });
  }
});
