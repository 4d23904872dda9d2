/**
 * Renders the per-epoch training history (HR@10, NDCG@10, loss) as a
 * standalone SVG chart: no scripts, no external resources, same input →
 * same string.
 *
 * @module
 */

/** One evaluated epoch. */
export interface TrainingPlotPoint {
  /** Epoch number (x axis); any finite number, drawn in ascending order. */
  epoch: number;
  /** HR@10 in [0, 1] (left axis). */
  hr: number;
  /** NDCG@10 in [0, 1] (left axis). */
  ndcg: number;
  /** Mean training loss (right axis, its own scale). */
  loss: number;
}

/** Options of {@linkcode renderTrainingPlot}. */
export interface TrainingPlotOptions {
  /** Chart title (default "NCF training"); escaped for XML. */
  title?: string;
  /** Width in px (default 720, at least 320). */
  width?: number;
  /** Height in px (default 420, at least 240). */
  height?: number;
  /** The popularity baseline's metrics, drawn as dashed horizontal lines (default: none). */
  baseline?: { hr: number; ndcg: number } | undefined;
}

const _FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";
const _COLOR = {
  hr: "#0072B2",
  ndcg: "#009E73",
  loss: "#D55E00",
  text: "#1f2937",
  muted: "#4b5563",
  axis: "#9ca3af",
  grid: "#e5e7eb",
} as const;
/** Marker spacing (px) below which point markers are left out. */
const _MIN_MARKER_SPACING = 5;

/**
 * Renders HR@10 and NDCG@10 (left axis) and the training loss (right axis)
 * by epoch as a standalone SVG document, with title, legend, axis labels,
 * grid lines, point markers (left out when points are closer than 5 px) and
 * optional dashed lines for the popularity baseline. Points are drawn in
 * ascending epoch order.
 *
 * @throws {RangeError} if `points` is empty, a number is not finite, or the
 *   size is too small.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderTrainingPlot } from "./plot_svg.ts";
 * const svg = renderTrainingPlot(
 *   [
 *     { epoch: 1, hr: 0.45, ndcg: 0.25, loss: 0.42 },
 *     { epoch: 2, hr: 0.55, ndcg: 0.31, loss: 0.35 },
 *   ],
 *   { title: "ml-1m", baseline: { hr: 0.41, ndcg: 0.22 } },
 * );
 * assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
 * assert.equal(svg.match(/<polyline /g)?.length, 3);
 * ```
 */
export function renderTrainingPlot(
  points: readonly TrainingPlotPoint[],
  options: TrainingPlotOptions = {},
): string {
  const width = options.width ?? 720;
  const height = options.height ?? 420;
  const title = options.title ?? "NCF training";
  const baseline = options.baseline;
  _checkSize("width", width, 320);
  _checkSize("height", height, 240);
  _checkPoints(points);
  if (baseline !== undefined) {
    _checkFinite("baseline.hr", baseline.hr);
    _checkFinite("baseline.ndcg", baseline.ndcg);
  }
  const sorted = points.map((p, i) => ({ p, i }))
    .sort((a, b) => a.p.epoch - b.p.epoch || a.i - b.i)
    .map(({ p }) => p);

  // Scales.
  let mMin = Infinity, mMax = -Infinity, lMin = Infinity, lMax = -Infinity;
  for (const p of sorted) {
    mMin = Math.min(mMin, p.hr, p.ndcg);
    mMax = Math.max(mMax, p.hr, p.ndcg);
    lMin = Math.min(lMin, p.loss);
    lMax = Math.max(lMax, p.loss);
  }
  if (baseline !== undefined) {
    mMin = Math.min(mMin, baseline.hr, baseline.ndcg);
    mMax = Math.max(mMax, baseline.hr, baseline.ndcg);
  }
  if (mMax - mMin < 1e-9) {
    mMin = mMin >= 0 && mMin <= 1 ? Math.max(0, mMin - 0.05) : mMin - 0.05;
    mMax = mMax >= 0 && mMax <= 1 ? Math.min(1, mMax + 0.05) : mMax + 0.05;
  }
  const epochMin = sorted[0].epoch;
  const epochMax = sorted[sorted.length - 1].epoch;
  const xLo = epochMax > epochMin ? epochMin : epochMin - 0.5;
  const xHi = epochMax > epochMin ? epochMax : epochMax + 0.5;

  // Layout.
  const legendItems = _legendItems(baseline !== undefined);
  const legendRows = _layoutLegend(legendItems, width - 32);
  const legendTop = 44;
  const plotTop = legendTop + legendRows.length * 20 + 8;
  const plotBottom = height - 50;
  // About one grid line per 50 px, 2 to 5 intervals.
  const left = _niceTicks(
    mMin,
    mMax,
    Math.min(5, Math.max(2, Math.floor((plotBottom - plotTop) / 50))),
  );
  const right = _alignedTicks(lMin, lMax, left.values.length - 1);
  const leftLabels = Math.max(...left.labels.map((s) => _textWidth(s, 11)));
  const rightLabels = Math.max(...right.labels.map((s) => _textWidth(s, 11)));
  const plotLeft = 30 + 10 + leftLabels;
  const plotRight = width - (30 + 10 + rightLabels);
  if (plotBottom - plotTop < 60 || plotRight - plotLeft < 120) {
    throw new RangeError(
      `Cannot render training plot: ${width}x${height} px leaves no room for the plot area`,
    );
  }
  const pad = 8; // keeps end markers off the axes
  const xOf = (e: number) =>
    plotLeft + pad + ((e - xLo) / (xHi - xLo)) * (plotRight - plotLeft - 2 * pad);
  const yOf = (v: number, t: _Ticks) =>
    plotBottom - ((v - t.lo) / (t.hi - t.lo)) * (plotBottom - plotTop);
  const xTicks = _integerTicks(xLo, xHi, Math.max(2, Math.floor((plotRight - plotLeft) / 60)));

  const out: string[] = [];
  const n = _num;
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${n(width)}" height="${n(height)}" ` +
      `viewBox="0 0 ${n(width)} ${n(height)}" role="img" font-family="${_FONT}">`,
    `<title>${_escapeXml(title)}</title>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
  );

  // Grid.
  out.push(`<g class="grid" stroke="${_COLOR.grid}" stroke-width="1">`);
  for (const v of left.values) {
    const y = n(yOf(v, left));
    out.push(`<line x1="${n(plotLeft)}" y1="${y}" x2="${n(plotRight)}" y2="${y}"/>`);
  }
  for (const e of xTicks) {
    const x = n(xOf(e));
    out.push(`<line x1="${x}" y1="${n(plotTop)}" x2="${x}" y2="${n(plotBottom)}"/>`);
  }
  out.push(`</g>`);

  // Baselines.
  if (baseline !== undefined) {
    out.push(`<g class="baseline" stroke-width="1.5" stroke-dasharray="6 4">`);
    for (const key of ["hr", "ndcg"] as const) {
      const y = n(yOf(baseline[key], left));
      out.push(
        `<line class="baseline-${key}" x1="${n(plotLeft)}" y1="${y}" x2="${n(plotRight)}" ` +
          `y2="${y}" stroke="${_COLOR[key]}" stroke-opacity="0.75"/>`,
      );
    }
    out.push(`</g>`);
    out.push(
      `<g class="baseline-labels" font-size="10.5" text-anchor="end" stroke="#ffffff" ` +
        `stroke-width="3" stroke-linejoin="round" paint-order="stroke">`,
    );
    const [hi, lo] = baseline.hr >= baseline.ndcg
      ? ["hr", "ndcg"] as const
      : ["ndcg", "hr"] as const;
    const yHi = yOf(baseline[hi], left), yLo = yOf(baseline[lo], left);
    // Labels sit above their lines, unless that would hit the top or the other label.
    const yHiText = yHi - 16 >= plotTop ? yHi - 5 : yHi + 13;
    const yLoText = yLo - yHi >= 18 && yLo - yHiText >= 14 ? yLo - 5 : yLo + 13;
    for (const [key, y] of [[hi, yHiText], [lo, yLoText]] as const) {
      out.push(
        `<text class="baseline-label" x="${n(plotRight - 6)}" y="${n(y)}" fill="${_COLOR[key]}">` +
          `popularity ${_metricName(key)} ${_fixed(baseline[key], 3)}</text>`,
      );
    }
    out.push(`</g>`);
  }

  // Series: loss below the metrics.
  const spacing = sorted.length > 1
    ? (plotRight - plotLeft - 2 * pad) / (sorted.length - 1)
    : Infinity;
  const markers = spacing >= _MIN_MARKER_SPACING;
  for (const key of ["loss", "ndcg", "hr"] as const) {
    const ticks = key === "loss" ? right : left;
    const xy = sorted.map((p) => [xOf(p.epoch), yOf(p[key], ticks)]);
    const color = _COLOR[key];
    out.push(
      `<g class="series-${key}">`,
      `<polyline class="series" data-series="${key}" fill="none" stroke="${color}" ` +
        `stroke-width="2" stroke-linejoin="round" stroke-linecap="round" points="${
          xy.map(([x, y]) => `${n(x)},${n(y)}`).join(" ")
        }"/>`,
    );
    if (markers) {
      out.push(`<g fill="${color}" stroke="#ffffff" stroke-width="1">`);
      for (let i = 0; i < sorted.length; i++) {
        const [x, y] = xy[i];
        const tip = `<title>epoch ${_label(sorted[i].epoch)}: ${_metricName(key)} ${
          _value(sorted[i][key])
        }</title>`;
        out.push(`${_marker(key, x, y, tip)}`);
      }
      out.push(`</g>`);
    }
    out.push(`</g>`);
  }

  // Axes.
  out.push(
    `<g class="axes" stroke="${_COLOR.axis}" stroke-width="1">`,
    `<line x1="${n(plotLeft)}" y1="${n(plotTop)}" x2="${n(plotLeft)}" y2="${n(plotBottom)}"/>`,
    `<line x1="${n(plotRight)}" y1="${n(plotTop)}" x2="${n(plotRight)}" y2="${n(plotBottom)}"/>`,
    `<line x1="${n(plotLeft)}" y1="${n(plotBottom)}" x2="${n(plotRight)}" y2="${n(plotBottom)}"/>`,
  );
  for (const v of left.values) {
    const y = n(yOf(v, left));
    out.push(
      `<line x1="${n(plotLeft - 4)}" y1="${y}" x2="${n(plotLeft)}" y2="${y}"/>`,
      `<line x1="${n(plotRight)}" y1="${y}" x2="${n(plotRight + 4)}" y2="${y}"/>`,
    );
  }
  for (const e of xTicks) {
    const x = n(xOf(e));
    out.push(`<line x1="${x}" y1="${n(plotBottom)}" x2="${x}" y2="${n(plotBottom + 4)}"/>`);
  }
  out.push(`</g>`);

  // Tick labels.
  out.push(`<g class="tick-labels" font-size="11">`);
  for (let i = 0; i < left.values.length; i++) {
    out.push(
      `<text class="y-tick-left" x="${n(plotLeft - 7)}" y="${n(yOf(left.values[i], left))}" ` +
        `dy="0.35em" text-anchor="end" fill="${_COLOR.muted}">${left.labels[i]}</text>`,
    );
  }
  for (let i = 0; i < right.values.length; i++) {
    out.push(
      `<text class="y-tick-right" x="${n(plotRight + 7)}" y="${n(yOf(right.values[i], right))}" ` +
        `dy="0.35em" text-anchor="start" fill="${_COLOR.loss}">${right.labels[i]}</text>`,
    );
  }
  for (const e of xTicks) {
    out.push(
      `<text class="x-tick" x="${n(xOf(e))}" y="${n(plotBottom + 18)}" text-anchor="middle" ` +
        `fill="${_COLOR.muted}">${_label(e)}</text>`,
    );
  }
  out.push(`</g>`);

  // Axis labels and title.
  const midY = n((plotTop + plotBottom) / 2);
  out.push(
    `<g class="axis-labels" font-size="12">`,
    `<text x="${n((plotLeft + plotRight) / 2)}" y="${n(height - 14)}" text-anchor="middle" ` +
      `fill="${_COLOR.text}">Epoch</text>`,
    `<text transform="translate(16 ${midY}) rotate(-90)" text-anchor="middle" ` +
      `fill="${_COLOR.text}">HR@10 / NDCG@10</text>`,
    `<text transform="translate(${n(width - 16)} ${midY}) rotate(90)" text-anchor="middle" ` +
      `fill="${_COLOR.loss}">Training loss</text>`,
    `</g>`,
    `<text class="title" x="${n(width / 2)}" y="26" text-anchor="middle" font-size="16" ` +
      `font-weight="600" fill="${_COLOR.text}">${_escapeXml(title)}</text>`,
  );

  // Legend.
  out.push(`<g class="legend" font-size="12" fill="${_COLOR.text}">`);
  for (let r = 0; r < legendRows.length; r++) {
    const row = legendRows[r];
    const y = legendTop + r * 20 + 10;
    let x = (width - row.width) / 2;
    for (const item of row.items) {
      out.push(_legendSwatch(item, x, y));
      out.push(`<text x="${n(x + 30)}" y="${n(y)}" dy="0.35em">${item.text}</text>`);
      x += item.width + 20;
    }
  }
  out.push(`</g>`, `</svg>`, ``);
  return out.join("\n");
}

interface _Ticks {
  lo: number;
  hi: number;
  values: number[];
  labels: string[];
}

interface _LegendItem {
  kind: "hr" | "ndcg" | "loss" | "baseline";
  text: string;
  width: number;
}

function _checkSize(name: string, value: number, min: number): void {
  if (!Number.isFinite(value) || value < min) {
    throw new RangeError(
      `Cannot render training plot: options.${name} is ${value}, expected a number >= ${min}`,
    );
  }
}

function _checkFinite(name: string, value: number): void {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new RangeError(
      `Cannot render training plot: ${name} is ${value}, expected a finite number`,
    );
  }
}

function _checkPoints(points: readonly TrainingPlotPoint[]): void {
  if (points.length === 0) {
    throw new RangeError("Cannot render training plot: no points");
  }
  for (let i = 0; i < points.length; i++) {
    for (const key of ["epoch", "hr", "ndcg", "loss"] as const) {
      _checkFinite(`points[${i}].${key}`, points[i]?.[key]);
    }
  }
}

/** A "nice" step (1, 2, 2.5 or 5 × 10^k) at least `raw`. */
function _niceStep(raw: number, allowQuarter: boolean): number {
  if (!(raw > 0 && raw < 1e300)) {
    throw new RangeError(`Cannot render training plot: values too far apart (step ${raw})`);
  }
  const exp = Math.floor(Math.log10(raw));
  const base = 10 ** exp;
  for (const m of allowQuarter ? [1, 2, 2.5, 5, 10] : [1, 2, 5, 10]) {
    if (m * base >= raw * (1 - 1e-9)) return m * base;
  }
  return 10 * base;
}

/** Digits after the decimal point needed to print multiples of `step`. */
function _decimals(step: number): number {
  for (let d = 0; d < 15; d++) {
    const s = step * 10 ** d;
    if (Math.abs(s - Math.round(s)) < 1e-6 * Math.max(1, s)) return d;
  }
  return 15;
}

function _makeTicks(lo: number, step: number, count: number): _Ticks {
  const d = _decimals(step);
  const values: number[] = [];
  for (let i = 0; i <= count; i++) values.push(Number((lo + i * step).toFixed(d)));
  return { lo: values[0], hi: values[count], values, labels: values.map((v) => _fixed(v, d)) };
}

/** Nice ticks covering [min, max] with about `target` intervals. */
function _niceTicks(min: number, max: number, target: number): _Ticks {
  const step = _niceStep((max - min) / target, false);
  const lo = Math.floor(min / step + 1e-9) * step;
  const count = Math.max(1, Math.ceil(max / step - 1e-9) - Math.round(lo / step));
  return _makeTicks(lo, step, count);
}

/** Nice ticks covering [min, max] in exactly `count` intervals (to share grid lines). */
function _alignedTicks(min: number, max: number, count: number): _Ticks {
  if (max - min < 1e-12 * Math.max(1, Math.abs(max))) {
    const p = Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 0.5;
    min = min >= 0 ? Math.max(0, min - p) : min - p;
    max += p;
  }
  let step = _niceStep((max - min) / count, true);
  for (let k = 0; k < 20; k++) {
    const lo = Math.floor(min / step + 1e-9) * step;
    if (lo + count * step >= max - 1e-9 * step) return _makeTicks(lo, step, count);
    step = _niceStep(step * 1.0001, true);
  }
  throw new RangeError(`Cannot render training plot: no axis covers ${min}..${max}`);
}

/** Integer ticks within [lo, hi], at most about `maxCount` of them. */
function _integerTicks(lo: number, hi: number, maxCount: number): number[] {
  const step = Math.max(1, _niceStep((hi - lo) / maxCount, false));
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9; t += step) ticks.push(t);
  return ticks;
}

function _legendItems(withBaseline: boolean): _LegendItem[] {
  const items: [_LegendItem["kind"], string][] = [
    ["hr", "HR@10"],
    ["ndcg", "NDCG@10"],
    ["loss", "Training loss (right axis)"],
  ];
  if (withBaseline) items.push(["baseline", "Popularity baseline"]);
  return items.map(([kind, text]) => ({ kind, text, width: 30 + _textWidth(text, 12) }));
}

function _layoutLegend(
  items: _LegendItem[],
  maxWidth: number,
): { items: _LegendItem[]; width: number }[] {
  const rows: { items: _LegendItem[]; width: number }[] = [];
  for (const item of items) {
    const row = rows[rows.length - 1];
    if (row !== undefined && row.width + 20 + item.width <= maxWidth) {
      row.items.push(item);
      row.width += 20 + item.width;
    } else {
      rows.push({ items: [item], width: item.width });
    }
  }
  return rows;
}

function _legendSwatch(item: _LegendItem, x: number, y: number): string {
  const n = _num;
  if (item.kind === "baseline") {
    return `<line x1="${n(x)}" y1="${n(y)}" x2="${n(x + 24)}" y2="${n(y)}" ` +
      `stroke="${_COLOR.muted}" stroke-width="1.5" stroke-dasharray="6 4"/>`;
  }
  const color = _COLOR[item.kind];
  return `<line x1="${n(x)}" y1="${n(y)}" x2="${n(x + 24)}" y2="${n(y)}" stroke="${color}" ` +
    `stroke-width="2"/><g fill="${color}" stroke="#ffffff" stroke-width="1">` +
    `${_marker(item.kind, x + 12, y, "")}</g>`;
}

function _marker(kind: "hr" | "ndcg" | "loss", x: number, y: number, tip: string): string {
  const n = _num;
  const close = tip === "" ? "/>" : `>${tip}`;
  if (kind === "hr") {
    return `<circle cx="${n(x)}" cy="${n(y)}" r="3.5"${close}${tip === "" ? "" : "</circle>"}`;
  }
  if (kind === "ndcg") {
    return `<rect x="${n(x - 3.2)}" y="${n(y - 3.2)}" width="6.4" height="6.4"${close}${
      tip === "" ? "" : "</rect>"
    }`;
  }
  const d = 4.2;
  return `<polygon points="${n(x)},${n(y - d)} ${n(x + d)},${n(y)} ${n(x)},${n(y + d)} ${
    n(x - d)
  },${n(y)}"${close}${tip === "" ? "" : "</polygon>"}`;
}

/**
 * Estimated width (px) of `text` in a common sans-serif font; generous, so
 * that laid-out text does not collide in wide fonts such as DejaVu Sans.
 */
function _textWidth(text: string, fontSize: number): number {
  let em = 0;
  for (const c of text) {
    if (c === " ") em += 0.32;
    else if (c === "@" || c === "W" || c === "M" || c === "m" || c === "w") em += 0.9;
    else if (c >= "A" && c <= "Z") em += 0.72;
    else if (c === "i" || c === "l" || c === "j" || c === "." || c === "," || c === ":") em += 0.3;
    else if (c === "(" || c === ")" || c === "f" || c === "t" || c === "r" || c === "-") em += 0.4;
    else em += 0.62;
  }
  return em * fontSize;
}

function _metricName(key: "hr" | "ndcg" | "loss"): string {
  return key === "hr" ? "HR@10" : key === "ndcg" ? "NDCG@10" : "loss";
}

/** A coordinate with at most 2 decimals, never "-0". */
function _num(x: number): string {
  const r = Math.round(x * 100) / 100;
  return r === 0 ? "0" : String(r);
}

function _fixed(v: number, digits: number): string {
  const s = v.toFixed(digits);
  return Number(s) === 0 ? (0).toFixed(digits) : s;
}

/** An epoch number as printed on the axis: integer, or up to 3 decimals. */
function _label(e: number): string {
  const r = Math.round(e * 1000) / 1000;
  return r === 0 ? "0" : String(r);
}

/** A value for a tooltip: 4 significant digits. */
function _value(v: number): string {
  return _escapeXml(String(Number(v.toPrecision(4))));
}

/** Escapes text for XML content and attributes; drops characters XML 1.0 forbids. */
function _escapeXml(s: string): string {
  return s
    // deno-lint-ignore no-control-regex
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, "\uFFFD")
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}
