import assert from "node:assert/strict";
import { buildModel, modelConfig } from "../../lib/model/registry.ts";
import {
  SCORE_OP_MEANINGS,
  SCORE_OPS,
  scoreFormula,
  type ScoreGraph,
  scoreGraphShapes,
  type ScoreStep,
  TENSOR_ROLES,
} from "../../lib/model/score_graph.ts";
import { interpretScoreGraph } from "./_score_graph_interpreter.ts";
import { predictPairs, RANDOM_MODEL_CASES, randomModel, randomPairs } from "./_random_models.ts";

Deno.test("every model's score graph, interpreted, gives predict's logits within 1e-5", async (t) => {
  for (const [n, c] of RANDOM_MODEL_CASES.entries()) {
    await t.step(c.label, () => {
      const model = randomModel(c, { seed: 100 + n });
      const graph = model.scoreGraph();
      const pairs = randomPairs(model, { count: 200, seed: 7 + n });
      const want = predictPairs(model, pairs);
      const got = interpretScoreGraph(graph, model.parameters.snapshot(), pairs);
      let worst = 0;
      for (let k = 0; k < want.length; k++) {
        worst = Math.max(worst, Math.abs(got[k] - want[k]));
      }
      assert.ok(worst <= 1e-5, `worst difference ${worst}`);
      // The weights matter: a logit spread far wider than the tolerance.
      assert.ok(Math.max(...want) - Math.min(...want) > 0.5);
    });
  }
});

Deno.test("a score graph names every tensor of the model's parameters, in order, with its shape", async (t) => {
  for (const [n, c] of RANDOM_MODEL_CASES.entries()) {
    await t.step(c.label, () => {
      const model = randomModel(c, { seed: 200 + n });
      const graph = model.scoreGraph();
      assert.deepEqual(
        graph.tensors.map((e) => [e.name, [...e.shape]]),
        model.parameters.entries.map((e) => [e.name, [...e.shape]]),
      );
      assert.deepEqual(graph.inputs, { user: 7, item: 9 });
      const shapes = scoreGraphShapes(graph);
      assert.deepEqual(shapes.get(graph.output), ["N"]);
      for (const e of graph.tensors) assert.ok(Object.hasOwn(TENSOR_ROLES, e.role));
    });
  }
});

Deno.test("the formula reads as numpy, one line per step with its shape", async (t) => {
  const graphOf = (kind: string, numFactors: number, layers: number[]) =>
    buildModel(
      modelConfig(kind, {
        numUsers: 943,
        numItems: 1682,
        numFactors,
        layers,
        mfRegularization: 0,
        mlpRegularization: 0,
      }),
      { backend: "ts", maxBatchSize: 1 },
    ).scoreGraph();
  const cases: [string, ScoreGraph, string[]][] = [
    ["NeuMF", graphOf("NeuMF", 8, [64, 32, 16]), [
      "gmf_user = mf_user_embedding[user]  # [N, 8]",
      "gmf_item = mf_item_embedding[item]  # [N, 8]",
      "gmf = gmf_user * gmf_item  # [N, 8]",
      "mlp_user = mlp_user_embedding[user]  # [N, 32]",
      "mlp_item = mlp_item_embedding[item]  # [N, 32]",
      "mlp_0 = concatenate([mlp_user, mlp_item], axis=-1)  # [N, 64]",
      "dense_0_linear = mlp_0 @ dense_0_kernel + dense_0_bias  # [N, 32]",
      "mlp_1 = maximum(dense_0_linear, 0)  # [N, 32]",
      "dense_1_linear = mlp_1 @ dense_1_kernel + dense_1_bias  # [N, 16]",
      "mlp_2 = maximum(dense_1_linear, 0)  # [N, 16]",
      "head = concatenate([gmf, mlp_2], axis=-1)  # [N, 24]",
      "output = head @ output_kernel + output_bias  # [N, 1]",
      "logit = output[:, 0]  # [N]",
    ]],
    ["GMF", graphOf("GMF", 8, [64]), [
      "gmf_user = mf_user_embedding[user]  # [N, 8]",
      "gmf_item = mf_item_embedding[item]  # [N, 8]",
      "gmf = gmf_user * gmf_item  # [N, 8]",
      "output = gmf @ output_kernel + output_bias  # [N, 1]",
      "logit = output[:, 0]  # [N]",
    ]],
    ["MF", graphOf("MF", 8, [64]), [
      "p_u = mf_user_embedding[user]  # [N, 8]",
      "q_i = mf_item_embedding[item]  # [N, 8]",
      "pq = p_u * q_i  # [N, 8]",
      "dot = pq.sum(axis=-1)  # [N]",
      "b_u = user_bias[user]  # [N]",
      "b_i = item_bias[item]  # [N]",
      "base = global_bias + b_u  # [N]",
      "base_dot = base + dot  # [N]",
      "logit = base_dot + b_i  # [N]",
    ]],
  ];
  for (const [name, graph, lines] of cases) {
    await t.step(name, () => assert.deepEqual(scoreFormula(graph), lines));
  }
  await t.step("the summary says how the branches join and the layers", () => {
    assert.equal(
      graphOf("NeuMF", 8, [64, 32, 16]).summary,
      "NeuMF (He et al. 2017): a GMF branch (user ⊙ item factors, 8 each) and an MLP branch " +
        "(user and item embeddings of 32 concatenated into 64, then dense layers of 32 → 16 units, " +
        "each with ReLU), concatenated as [gmf, mlp] into one linear output unit whose value is the logit",
    );
  });
});

Deno.test("a score graph that does not fit is refused, naming the step", async (t) => {
  const base: ScoreGraph = {
    summary: "test",
    inputs: { user: 3, item: 4 },
    tensors: [
      { name: "p", shape: [3, 2], role: "user_embedding", description: "" },
      { name: "q", shape: [4, 2], role: "item_embedding", description: "" },
      { name: "w", shape: [2, 1], role: "output_kernel", description: "" },
      { name: "b", shape: [1], role: "output_bias", description: "" },
    ],
    steps: [
      { op: "gather", out: "pu", table: "p", index: "user" },
      { op: "gather", out: "qi", table: "q", index: "item" },
      { op: "mul", out: "pq", a: "pu", b: "qi" },
      { op: "dense", out: "o", x: "pq", kernel: "w", bias: "b" },
      { op: "squeeze", out: "logit", x: "o" },
    ],
    output: "logit",
  };
  const withStep = (s: number, step: ScoreStep): ScoreGraph => ({
    ...base,
    steps: base.steps.map((x, i) => i === s ? step : x),
  });
  assert.deepEqual([...scoreGraphShapes(base).entries()].slice(-5), [
    ["pu", ["N", 2]],
    ["qi", ["N", 2]],
    ["pq", ["N", 2]],
    ["o", ["N", 1]],
    ["logit", ["N"]],
  ]);
  const cases: [string, ScoreGraph, string][] = [
    [
      "a table gathered by the wrong input",
      withStep(0, { op: "gather", out: "pu", table: "p", index: "item" }),
      "step 1 (gather → pu) gathers 'p' [3,2] by item; expected [4] or [4, d]",
    ],
    [
      "an undefined operand",
      withStep(2, { op: "mul", out: "pq", a: "pu", b: "qj" }),
      "step 3 (mul → pq) reads 'qj', which no input, tensor or earlier step defines",
    ],
    [
      "a value used as a kernel",
      withStep(3, { op: "dense", out: "o", x: "pq", kernel: "pu", bias: "b" }),
      "step 4 (dense → o) needs a tensor, and 'pu' is not one",
    ],
    [
      "a name used twice",
      withStep(2, { op: "mul", out: "pu", a: "pu", b: "qi" }),
      "step 3 (mul → pu) reuses the name 'pu'",
    ],
    [
      "shapes that do not combine",
      withStep(2, { op: "add", out: "pq", a: "pu", b: "w" }),
      "step 3 (add → pq) combines [N,2] and [2,1]; expected one shape, or a [1] tensor",
    ],
    [
      "an output that is not [N]",
      { ...base, output: "pq" },
      "output 'pq' is no [N] value of a step",
    ],
    [
      "a tensor never read",
      {
        ...base,
        tensors: [...base.tensors, { name: "z", shape: [1], role: "global_bias", description: "" }],
      },
      "tensor z is never read",
    ],
    [
      "a name that is no identifier",
      withStep(2, { op: "mul", out: "p.q", a: "pu", b: "qi" }),
      "step 3 (mul → p.q) has the name 'p.q'; expected [a-z][a-z0-9_]*",
    ],
  ];
  for (const [name, graph, state] of cases) {
    await t.step(name, () => {
      assert.throws(
        () => scoreGraphShapes(graph),
        (e: Error) =>
          e instanceof RangeError && e.message === `Cannot check the score graph: ${state}`,
      );
    });
  }
});

Deno.test("every op has its meaning, listed in the module's order", () => {
  assert.deepEqual(SCORE_OPS, [
    "gather",
    "mul",
    "add",
    "concat",
    "dense",
    "relu",
    "sum",
    "squeeze",
  ]);
  for (const op of SCORE_OPS) assert.ok(SCORE_OP_MEANINGS[op].length > 10, op);
});
