import assert from "node:assert/strict";
import { ServeMetrics } from "../../lib/serve/serve_metrics.ts";

/** One sample line of the Prometheus text format: name, labels, value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text (0.0.4); throws on a line that is neither a comment nor a sample. */
function parse(text: string): { samples: Sample[]; types: Map<string, string> } {
  assert.ok(text.endsWith("\n"), "the text ends in a line feed");
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.slice(0, -1).split("\n")) {
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$/.exec(line);
    if (type !== null) {
      types.set(type[1], type[2]);
      continue;
    }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* \S.*$/.test(line)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m !== null, `a sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    if (m[2] !== undefined) {
      const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;
      while (label.lastIndex < m[2].length) {
        const l = label.exec(m[2]);
        assert.ok(l !== null, `labels of ${JSON.stringify(line)}`);
        labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => c === "n" ? "\n" : c);
      }
    }
    const value = m[3] === "+Inf" ? Infinity : Number(m[3]);
    assert.ok(!Number.isNaN(value), `a number in ${JSON.stringify(line)}`);
    samples.push({ name: m[1], labels, value });
  }
  return { samples, types };
}

/** The value of the one sample of `name` with `labels`. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) =>
    s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels)
  );
  assert.equal(found.length, 1, `one sample ${name} ${JSON.stringify(labels)}`);
  return found[0].value;
}

Deno.test("ServeMetrics.format() of a fresh server is valid Prometheus text with zeros", () => {
  const { samples, types } = parse(new ServeMetrics().format());
  assert.deepEqual(Object.fromEntries(types), {
    ncf_http_requests_total: "counter",
    ncf_http_request_duration_seconds: "histogram",
    ncf_model_load_seconds: "gauge",
    ncf_model_epoch: "gauge",
    ncf_model_reloads_total: "counter",
  });
  assert.equal(samples.filter((s) => s.name === "ncf_http_requests_total").length, 0);
  assert.equal(value(samples, "ncf_http_request_duration_seconds_count"), 0);
  assert.equal(value(samples, "ncf_http_request_duration_seconds_sum"), 0);
  assert.equal(value(samples, "ncf_model_epoch"), 0);
  assert.equal(value(samples, "ncf_model_reloads_total", { result: "ok" }), 0);
  assert.equal(value(samples, "ncf_model_reloads_total", { result: "failed" }), 0);
});

Deno.test("ServeMetrics counts requests by route and status, sorted by labels", () => {
  const metrics = new ServeMetrics();
  metrics.observe("/v1/users/:user/recommendations", 200, 0.01);
  metrics.observe("/healthz", 200, 0.001);
  metrics.observe("/v1/users/:user/recommendations", 404, 0.002);
  metrics.observe("/v1/users/:user/recommendations", 200, 0.03);
  const { samples } = parse(metrics.format());
  const requests = samples.filter((s) => s.name === "ncf_http_requests_total");
  assert.deepEqual(requests.map((s) => [s.labels.route, s.labels.status, s.value]), [
    ["/healthz", "200", 1],
    ["/v1/users/:user/recommendations", "200", 2],
    ["/v1/users/:user/recommendations", "404", 1],
  ]);
});

Deno.test("ServeMetrics escapes quotes, backslashes and line feeds in a route label", () => {
  const metrics = new ServeMetrics();
  const route = 'a"b\\c\nd';
  metrics.observe(route, 400, 0.1);
  const text = metrics.format();
  assert.ok(text.includes('ncf_http_requests_total{route="a\\"b\\\\c\\nd",status="400"} 1\n'));
  const { samples } = parse(text);
  assert.equal(value(samples, "ncf_http_requests_total", { route, status: "400" }), 1);
});

Deno.test("ServeMetrics' latency histogram is cumulative, with +Inf, sum and count", async (t) => {
  const metrics = new ServeMetrics();
  const seconds = [0.0001, 0.0005, 0.0007, 0.003, 0.01, 0.2, 1, 3, 60];
  for (const s of seconds) metrics.observe("/x", 200, s);
  const { samples } = parse(metrics.format());
  const buckets = samples.filter((s) => s.name === "ncf_http_request_duration_seconds_bucket");
  await t.step("bucket bounds ascend and end in +Inf", () => {
    const bounds = buckets.map((b) => Number(b.labels.le === "+Inf" ? Infinity : b.labels.le));
    assert.equal(bounds.at(-1), Infinity);
    for (let i = 1; i < bounds.length; i++) assert.ok(bounds[i - 1] < bounds[i]);
  });
  await t.step("each bucket counts the observations at or below its bound", () => {
    for (const b of buckets) {
      const le = b.labels.le === "+Inf" ? Infinity : Number(b.labels.le);
      assert.equal(b.value, seconds.filter((s) => s <= le).length, `le=${b.labels.le}`);
    }
  });
  await t.step("counts never decrease from one bucket to the next", () => {
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i - 1].value <= buckets[i].value);
  });
  await t.step("+Inf equals count, and sum is the total within 1e-9", () => {
    assert.equal(value(samples, "ncf_http_request_duration_seconds_bucket", { le: "+Inf" }), 9);
    assert.equal(value(samples, "ncf_http_request_duration_seconds_count"), 9);
    const sum = value(samples, "ncf_http_request_duration_seconds_sum");
    assert.ok(Math.abs(sum - seconds.reduce((a, b) => a + b, 0)) < 1e-9, `sum ${sum}`);
  });
  await t.step("an observation exactly on a bound counts in that bucket", () => {
    assert.equal(value(samples, "ncf_http_request_duration_seconds_bucket", { le: "0.0005" }), 2);
    assert.equal(value(samples, "ncf_http_request_duration_seconds_bucket", { le: "1" }), 7);
  });
});

Deno.test("ServeMetrics reports the served model and counts reloads by result", () => {
  const metrics = new ServeMetrics();
  metrics.setModel({ epoch: 3, loadSeconds: 0.25 });
  metrics.setModel({ epoch: 4, loadSeconds: 0.125 });
  metrics.countReload(true);
  metrics.countReload(false);
  metrics.countReload(true);
  const { samples } = parse(metrics.format());
  assert.equal(value(samples, "ncf_model_epoch"), 4);
  assert.equal(value(samples, "ncf_model_load_seconds"), 0.125);
  assert.equal(value(samples, "ncf_model_reloads_total", { result: "ok" }), 2);
  assert.equal(value(samples, "ncf_model_reloads_total", { result: "failed" }), 1);
});
