/**
 * The score graph: how a model turns its tensors into the logit of
 * (user, item) pairs, as a tiny typed IR that every model describes itself
 * in ({@linkcode Model.scoreGraph}). Exports translate it (ONNX, the
 * formula of `model.json`), so nothing outside `lib/model/` has to know a
 * concrete model's architecture.
 *
 * Names: the inputs `user` and `item` (index vectors of length N: dense row
 * numbers), the model's tensors (its `parameters` names), and one value per
 * step. Every name is distinct and matches `[a-z][a-z0-9_]*`. Shapes are
 * per batch: a value is `[N]` or `[N, d]`; a tensor has its fixed shape.
 *
 * The ops (each step writes one value, `out`):
 * - `gather(table, index)`: the rows `table[index]` of a tensor whose first
 *   axis has one row per user (`index` "user") or per item: `[rows, d]` →
 *   `[N, d]`, a vector `[rows]` → `[N]`.
 * - `mul(a, b)`, `add(a, b)`: element-wise product and sum of two operands
 *   of one shape, or of one operand and a `[1]` tensor (broadcast).
 * - `concat(a, b)`: `[N, p]` and `[N, q]` → `[N, p + q]`, `a`'s columns first.
 * - `dense(x, kernel, bias)`: `x·kernel + bias`, `[N, k]` · `[k, m]` + `[m]` → `[N, m]`.
 * - `relu(x)`: `max(x, 0)` element-wise.
 * - `sum(x)`: the sum over the last axis, `[N, d]` → `[N]`.
 * - `squeeze(x)`: `[N, 1]` → `[N]` (the only column).
 *
 * The graph's `output` names the `[N]` value that is the logit; the
 * probability is `sigmoid(logit)`.
 *
 * @module
 */

/** The two index inputs of a score graph, in this order. */
export const SCORE_INPUTS = ["user", "item"] as const;

/** One of {@linkcode SCORE_INPUTS}. */
export type ScoreInput = typeof SCORE_INPUTS[number];

/** What each tensor role means, by role (the roles a score graph's tensors may take). */
export const TENSOR_ROLES = {
  user_embedding: "one row per user, looked up by the user input",
  item_embedding: "one row per item, looked up by the item input",
  user_bias: "one value per user, looked up by the user input",
  item_bias: "one value per item, looked up by the item input",
  global_bias: "one value added to every score",
  dense_kernel: "a hidden layer's weights [inputs × outputs]: y = x·W + b",
  dense_bias: "a hidden layer's bias [outputs]",
  output_kernel: "the output unit's weights [inputs × 1]: logit = x·w + b",
  output_bias: "the output unit's bias [1]",
} as const;

/** One of the keys of {@linkcode TENSOR_ROLES}. */
export type TensorRole = keyof typeof TENSOR_ROLES;

/** A model tensor the graph reads (float32, row-major). */
export interface ScoreTensor {
  /** Its name in `parameters` (and the checkpoint, and the export's files). */
  readonly name: string;
  /** Its shape. */
  readonly shape: readonly number[];
  /** What kind of tensor it is. */
  readonly role: TensorRole;
  /** What it is in this model, for people reading `model.json`. */
  readonly description: string;
}

/** One step: an op writing the value `out` (see the module notes for each op). */
export type ScoreStep =
  | {
    readonly op: "gather";
    readonly out: string;
    readonly table: string;
    readonly index: ScoreInput;
  }
  | { readonly op: "mul"; readonly out: string; readonly a: string; readonly b: string }
  | { readonly op: "add"; readonly out: string; readonly a: string; readonly b: string }
  | { readonly op: "concat"; readonly out: string; readonly a: string; readonly b: string }
  | {
    readonly op: "dense";
    readonly out: string;
    readonly x: string;
    readonly kernel: string;
    readonly bias: string;
  }
  | { readonly op: "relu"; readonly out: string; readonly x: string }
  | { readonly op: "sum"; readonly out: string; readonly x: string }
  | { readonly op: "squeeze"; readonly out: string; readonly x: string };

/** One of the ops of a {@linkcode ScoreStep}. */
export type ScoreOp = ScoreStep["op"];

/** What each op computes, by op (the module notes say the same, with the shape rules). */
export const SCORE_OP_MEANINGS: Readonly<Record<ScoreOp, string>> = {
  gather: "table[index]: the rows of a tensor with one row per user (index user) or per item",
  mul: "a * b, element-wise (a [1] tensor broadcasts)",
  add: "a + b, element-wise (a [1] tensor broadcasts)",
  concat: "[a, b] along the last axis, a's columns first",
  dense: "x @ kernel + bias, kernel [inputs × outputs]",
  relu: "max(x, 0), element-wise",
  sum: "the sum over the last axis: [N, d] → [N]",
  squeeze: "the only column of an [N, 1] value: [N, 1] → [N]",
};

/** The ops of a score graph, in the order the module notes list them. */
export const SCORE_OPS = Object.keys(SCORE_OP_MEANINGS) as readonly ScoreOp[];

/** A shape: a tensor's fixed sizes, or a value's `["N", d]` / `["N"]` (N pairs). */
export type ScoreShape = readonly (number | "N")[];

/** How a model computes the logit of (user, item) pairs. */
export interface ScoreGraph {
  /** One sentence: the architecture, for people (how branches join, the layers). */
  readonly summary: string;
  /** Rows of the tables each input indexes: `user` in [0, users), `item` in [0, items). */
  readonly inputs: { readonly user: number; readonly item: number };
  /** Every tensor the graph reads, in the model's `parameters` order. */
  readonly tensors: readonly ScoreTensor[];
  /** The steps, in order; each reads inputs, tensors or earlier values. */
  readonly steps: readonly ScoreStep[];
  /** The `[N]` value that is the logit. */
  readonly output: string;
}

const _NAME = /^[a-z][a-z0-9_]*$/;

/**
 * Checks a score graph and returns the shape of every name: inputs `["N"]`,
 * tensors their shapes, values `["N", d]` or `["N"]` (see the module notes
 * for each op's rule). Every tensor must be read by some step.
 *
 * @throws {RangeError} naming the step (number and op) that does not fit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scoreGraphShapes, type ScoreGraph } from "./score_graph.ts";
 * const graph: ScoreGraph = {
 *   summary: "a dot product",
 *   inputs: { user: 3, item: 4 },
 *   tensors: [
 *     { name: "p", shape: [3, 2], role: "user_embedding", description: "user factors" },
 *     { name: "q", shape: [4, 2], role: "item_embedding", description: "item factors" },
 *   ],
 *   steps: [
 *     { op: "gather", out: "pu", table: "p", index: "user" },
 *     { op: "gather", out: "qi", table: "q", index: "item" },
 *     { op: "mul", out: "pq", a: "pu", b: "qi" },
 *     { op: "sum", out: "logit", x: "pq" },
 *   ],
 *   output: "logit",
 * };
 * assert.deepEqual(scoreGraphShapes(graph).get("pq"), ["N", 2]);
 * assert.throws(() => scoreGraphShapes({ ...graph, output: "pq" }), RangeError);
 * ```
 */
export function scoreGraphShapes(graph: ScoreGraph): Map<string, ScoreShape> {
  const shapes = new Map<string, ScoreShape>();
  const tensors = new Set<string>();
  const unread = new Set<string>();
  const fail = (where: string, state: string): never => {
    throw new RangeError(`Cannot check the score graph: ${where} ${state}`);
  };
  const declare = (where: string, name: string, shape: ScoreShape) => {
    if (!_NAME.test(name)) fail(where, `has the name '${name}'; expected [a-z][a-z0-9_]*`);
    if (shapes.has(name)) fail(where, `reuses the name '${name}'`);
    shapes.set(name, shape);
  };
  for (const input of SCORE_INPUTS) {
    const rows = graph.inputs[input];
    if (!Number.isInteger(rows) || rows < 1) fail(`input ${input}`, `has ${rows} rows`);
    declare(`input ${input}`, input, ["N"]);
  }
  for (const t of graph.tensors) {
    if (t.shape.length < 1 || t.shape.some((d) => !Number.isInteger(d) || d < 1)) {
      fail(`tensor ${t.name}`, `has the shape [${t.shape}]`);
    }
    if (!Object.hasOwn(TENSOR_ROLES, t.role)) fail(`tensor ${t.name}`, `has no role '${t.role}'`);
    declare(`tensor ${t.name}`, t.name, t.shape);
    tensors.add(t.name);
    unread.add(t.name);
  }
  const same = (a: ScoreShape, b: ScoreShape) =>
    a.length === b.length && a.every((d, i) => d === b[i]);
  graph.steps.forEach((step, s) => {
    const where = `step ${s + 1} (${step.op} → ${step.out})`;
    const of = (name: string): ScoreShape => {
      const shape = shapes.get(name);
      if (shape === undefined) {
        return fail(where, `reads '${name}', which no input, tensor or earlier step defines`);
      }
      unread.delete(name);
      return shape;
    };
    const tensor = (name: string): ScoreShape => {
      if (!tensors.has(name)) fail(where, `needs a tensor, and '${name}' is not one`);
      return of(name);
    };
    const batch = (name: string, rank: number): number => {
      const shape = of(name);
      if (shape[0] !== "N" || shape.length !== rank) {
        fail(where, `reads '${name}' of shape [${shape}]; expected rank ${rank} with N rows`);
      }
      return rank === 2 ? shape[1] as number : 0;
    };
    let out: ScoreShape;
    switch (step.op) {
      case "gather": {
        const table = tensor(step.table);
        const rows = graph.inputs[step.index];
        if (table[0] !== rows || table.length > 2) {
          fail(
            where,
            `gathers '${step.table}' [${table}] by ${step.index}; expected [${rows}] or [${rows}, d]`,
          );
        }
        out = ["N", ...table.slice(1)];
        break;
      }
      case "mul":
      case "add": {
        const a = of(step.a);
        const b = of(step.b);
        const scalar = (x: ScoreShape) => x.length === 1 && x[0] === 1;
        if (same(a, b) || scalar(b)) out = a;
        else if (scalar(a)) out = b;
        else out = fail(where, `combines [${a}] and [${b}]; expected one shape, or a [1] tensor`);
        break;
      }
      case "concat":
        out = ["N", batch(step.a, 2) + batch(step.b, 2)];
        break;
      case "dense": {
        const k = batch(step.x, 2);
        const kernel = tensor(step.kernel);
        const bias = tensor(step.bias);
        if (kernel.length !== 2 || kernel[0] !== k || !same(bias, [kernel[1]])) {
          fail(
            where,
            `multiplies [N,${k}] by '${step.kernel}' [${kernel}] plus '${step.bias}' [${bias}]; expected [${k}, m] and [m]`,
          );
        }
        out = ["N", kernel[1]];
        break;
      }
      case "relu":
        out = of(step.x);
        break;
      case "sum":
        batch(step.x, 2);
        out = ["N"];
        break;
      case "squeeze":
        if (batch(step.x, 2) !== 1) {
          fail(where, `squeezes '${step.x}', which has more than one column`);
        }
        out = ["N"];
        break;
      default:
        out = fail(where, `has no op '${(step as { op: string }).op}'`);
    }
    declare(where, step.out, out);
  });
  const output = shapes.get(graph.output);
  if (
    output === undefined || !same(output, ["N"]) || !graph.steps.some((s) => s.out === graph.output)
  ) {
    fail(`output '${graph.output}'`, "is no [N] value of a step");
  }
  if (unread.size > 0) fail(`tensor ${[...unread][0]}`, "is never read");
  return shapes;
}

/**
 * One step as a line of numpy (`from numpy import *`, with `relu(x) =
 * maximum(x, 0)` written out), without its shape.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatScoreStep } from "./score_graph.ts";
 * assert.equal(
 *   formatScoreStep({ op: "dense", out: "h", x: "x", kernel: "w", bias: "b" }),
 *   "h = x @ w + b",
 * );
 * ```
 */
export function formatScoreStep(step: ScoreStep): string {
  const rhs = (): string => {
    switch (step.op) {
      case "gather":
        return `${step.table}[${step.index}]`;
      case "mul":
        return `${step.a} * ${step.b}`;
      case "add":
        return `${step.a} + ${step.b}`;
      case "concat":
        return `concatenate([${step.a}, ${step.b}], axis=-1)`;
      case "dense":
        return `${step.x} @ ${step.kernel} + ${step.bias}`;
      case "relu":
        return `maximum(${step.x}, 0)`;
      case "sum":
        return `${step.x}.sum(axis=-1)`;
      case "squeeze":
        return `${step.x}[:, 0]`;
    }
  };
  return `${step.out} = ${rhs()}`;
}

/**
 * The formula of a score graph: one line of numpy per step, its shape as a
 * comment (`user` and `item` are int arrays of row numbers; each tensor is
 * the array of its `.npy` file).
 *
 * @throws {RangeError} when the graph does not check (see {@linkcode scoreGraphShapes}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scoreFormula } from "./score_graph.ts";
 * const lines = scoreFormula({
 *   summary: "a user bias",
 *   inputs: { user: 2, item: 2 },
 *   tensors: [{ name: "b", shape: [2], role: "user_bias", description: "per user" }],
 *   steps: [{ op: "gather", out: "logit", table: "b", index: "user" }],
 *   output: "logit",
 * });
 * assert.deepEqual(lines, ["logit = b[user]  # [N]"]);
 * ```
 */
export function scoreFormula(graph: ScoreGraph): string[] {
  const shapes = scoreGraphShapes(graph);
  return graph.steps.map((step) =>
    `${formatScoreStep(step)}  # [${shapes.get(step.out)!.join(", ")}]`
  );
}
