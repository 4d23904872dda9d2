/**
 * A reference interpreter of score graphs, in float64 and plain loops: what
 * `lib/model/score_graph.ts` says each op means, written independently of
 * the models and of any export, so that a wrong graph shows up as a
 * difference from `Model.predict`.
 */

import type { ScoreGraph } from "../../lib/model/score_graph.ts";

interface _Value {
  data: Float64Array;
  /** Columns per row: 0 for an `[N]` value, d for `[N, d]`; a tensor's shape. */
  shape: readonly (number | "N")[];
}

/**
 * The logits of the pairs `(users[k], items[k])` the graph computes from
 * `tensors` (by name).
 */
export function interpretScoreGraph(
  graph: ScoreGraph,
  tensors: Readonly<Record<string, ArrayLike<number>>>,
  pairs: { users: Int32Array; items: Int32Array },
): Float64Array {
  const n = pairs.users.length;
  const values = new Map<string, _Value>();
  values.set("user", { data: Float64Array.from(pairs.users), shape: ["N"] });
  values.set("item", { data: Float64Array.from(pairs.items), shape: ["N"] });
  for (const t of graph.tensors) {
    values.set(t.name, { data: Float64Array.from(tensors[t.name]), shape: t.shape });
  }
  const get = (name: string): _Value => {
    const v = values.get(name);
    if (v === undefined) throw new Error(`the interpreter has no value ${name}`);
    return v;
  };
  const width = (v: _Value) => v.shape.length === 1 ? 1 : v.shape[1] as number;
  for (const step of graph.steps) {
    let out: _Value;
    switch (step.op) {
      case "gather": {
        const table = get(step.table);
        const index = get(step.index).data;
        const d = table.shape.length === 1 ? 1 : table.shape[1] as number;
        const data = new Float64Array(n * d);
        for (let k = 0; k < n; k++) {
          for (let j = 0; j < d; j++) data[k * d + j] = table.data[index[k] * d + j];
        }
        out = { data, shape: table.shape.length === 1 ? ["N"] : ["N", d] };
        break;
      }
      case "mul":
      case "add": {
        let a = get(step.a);
        let b = get(step.b);
        if (a.shape[0] !== "N") [a, b] = [b, a]; // a [1] tensor second
        const data = new Float64Array(a.data.length);
        for (let i = 0; i < data.length; i++) {
          const y = b.shape[0] === "N" ? b.data[i] : b.data[0];
          data[i] = step.op === "mul" ? a.data[i] * y : a.data[i] + y;
        }
        out = { data, shape: a.shape };
        break;
      }
      case "concat": {
        const a = get(step.a);
        const b = get(step.b);
        const p = width(a);
        const q = width(b);
        const data = new Float64Array(n * (p + q));
        for (let k = 0; k < n; k++) {
          for (let j = 0; j < p; j++) data[k * (p + q) + j] = a.data[k * p + j];
          for (let j = 0; j < q; j++) data[k * (p + q) + p + j] = b.data[k * q + j];
        }
        out = { data, shape: ["N", p + q] };
        break;
      }
      case "dense": {
        const x = get(step.x);
        const w = get(step.kernel);
        const bias = get(step.bias).data;
        const [inputs, outputs] = w.shape as number[];
        const data = new Float64Array(n * outputs);
        for (let k = 0; k < n; k++) {
          for (let o = 0; o < outputs; o++) {
            let s = bias[o];
            for (let i = 0; i < inputs; i++) s += x.data[k * inputs + i] * w.data[i * outputs + o];
            data[k * outputs + o] = s;
          }
        }
        out = { data, shape: ["N", outputs] };
        break;
      }
      case "relu": {
        const x = get(step.x);
        out = { data: x.data.map((v) => Math.max(v, 0)), shape: x.shape };
        break;
      }
      case "sum":
      case "squeeze": {
        const x = get(step.x);
        const d = width(x);
        const data = new Float64Array(n);
        for (let k = 0; k < n; k++) {
          for (let j = 0; j < d; j++) data[k] += x.data[k * d + j];
        }
        out = { data, shape: ["N"] };
        break;
      }
    }
    values.set(step.out, out);
  }
  return get(graph.output).data;
}
