/**
 * The server's counters, written in the Prometheus text exposition format
 * (version 0.0.4) for `GET /metrics`: requests by route and status, a
 * request latency histogram, and the served model's load time, epoch and
 * reloads.
 *
 * @module
 */

/** Upper bounds (seconds) of the latency histogram's buckets. */
const _BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * Request and model metrics of one server.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ServeMetrics } from "./serve_metrics.ts";
 * const metrics = new ServeMetrics();
 * metrics.observe("/healthz", 200, 0.002);
 * metrics.setModel({ epoch: 3, loadSeconds: 0.5 });
 * const text = metrics.format();
 * assert.match(text, /^ncf_http_requests_total\{route="\/healthz",status="200"\} 1$/m);
 * assert.match(text, /^ncf_http_request_duration_seconds_bucket\{le="0.0025"\} 1$/m);
 * assert.match(text, /^ncf_model_epoch 3$/m);
 * ```
 */
export class ServeMetrics {
  readonly #requests = new Map<string, number>();
  readonly #buckets = new Float64Array(_BUCKETS.length);
  #count = 0;
  #sum = 0;
  #epoch = 0;
  #loadSeconds = 0;
  #reloads = 0;
  #failedReloads = 0;

  /** Counts one answered request of `route` (a pattern, not the path) that took `seconds`. */
  observe(route: string, status: number, seconds: number): void {
    const key = `route="${_escape(route)}",status="${status}"`;
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
    this.#count++;
    this.#sum += seconds;
    for (let b = 0; b < _BUCKETS.length; b++) if (seconds <= _BUCKETS[b]) this.#buckets[b]++;
  }

  /** Records the model now served: its epoch and how long it took to load. */
  setModel(model: { epoch: number; loadSeconds: number }): void {
    this.#epoch = model.epoch;
    this.#loadSeconds = model.loadSeconds;
  }

  /** Counts a reload: a new checkpoint served, or one that failed to load (`ok` false). */
  countReload(ok: boolean): void {
    if (ok) this.#reloads++;
    else this.#failedReloads++;
  }

  /** Every metric as Prometheus text, ending in a line feed. */
  format(): string {
    const lines = [
      "# HELP ncf_http_requests_total HTTP requests answered, by route and status.",
      "# TYPE ncf_http_requests_total counter",
    ];
    for (const [labels, n] of [...this.#requests].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)) {
      lines.push(`ncf_http_requests_total{${labels}} ${n}`);
    }
    lines.push(
      "# HELP ncf_http_request_duration_seconds Time to answer a request.",
      "# TYPE ncf_http_request_duration_seconds histogram",
    );
    _BUCKETS.forEach((le, b) => {
      lines.push(`ncf_http_request_duration_seconds_bucket{le="${le}"} ${this.#buckets[b]}`);
    });
    lines.push(
      `ncf_http_request_duration_seconds_bucket{le="+Inf"} ${this.#count}`,
      `ncf_http_request_duration_seconds_sum ${this.#sum}`,
      `ncf_http_request_duration_seconds_count ${this.#count}`,
      "# HELP ncf_model_load_seconds Seconds the served checkpoint took to load.",
      "# TYPE ncf_model_load_seconds gauge",
      `ncf_model_load_seconds ${this.#loadSeconds}`,
      "# HELP ncf_model_epoch Epochs trained in the served checkpoint.",
      "# TYPE ncf_model_epoch gauge",
      `ncf_model_epoch ${this.#epoch}`,
      "# HELP ncf_model_reloads_total Checkpoints loaded after the first, by result.",
      "# TYPE ncf_model_reloads_total counter",
      `ncf_model_reloads_total{result="ok"} ${this.#reloads}`,
      `ncf_model_reloads_total{result="failed"} ${this.#failedReloads}`,
    );
    return lines.join("\n") + "\n";
  }
}

/** A label value with backslashes, quotes and line feeds escaped. */
function _escape(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => c === "\n" ? "\\n" : `\\${c}`);
}
