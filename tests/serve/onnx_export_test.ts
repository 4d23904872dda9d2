import assert from "node:assert/strict";
import onnxProto from "onnx-proto";
import type { ScoreGraph } from "../../lib/model/score_graph.ts";
import { ONNX_IR_VERSION, ONNX_OPSET, scoreGraphToOnnx } from "../../lib/serve/onnx_export.ts";
import {
  predictPairs,
  RANDOM_MODEL_CASES,
  randomModel,
  randomPairs,
} from "../model/_random_models.ts";
import { scoreWithOnnxRuntime } from "./_onnx_session.ts";

const { onnx } = onnxProto;

/** The largest |got − want| and |got − want| / max(1, |want|). */
function differences(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
): { abs: number; rel: number } {
  assert.equal(got.length, want.length);
  let abs = 0;
  let rel = 0;
  for (let k = 0; k < want.length; k++) {
    const d = Math.abs(got[k] - want[k]);
    abs = Math.max(abs, d);
    rel = Math.max(rel, d / Math.max(1, Math.abs(want[k])));
  }
  return { abs, rel };
}

const PAIRS = 1000;

Deno.test("onnxruntime scores every model kind's ONNX file as predict does, within 1e-5", async (t) => {
  for (const [n, c] of RANDOM_MODEL_CASES.entries()) {
    await t.step(c.label, async () => {
      const model = randomModel(c, { seed: 300 + n });
      const graph = model.scoreGraph();
      const tensors = model.parameters.snapshot();
      const pairs = randomPairs(model, { count: PAIRS, seed: 40 + n });
      const logits = predictPairs(model, pairs);
      const one = { users: pairs.users.subarray(3, 4), items: pairs.items.subarray(3, 4) };
      const plain = await scoreWithOnnxRuntime(scoreGraphToOnnx(graph, tensors), [pairs, one]);
      assert.deepEqual(plain.inputNames, ["user", "item"]);
      assert.deepEqual(plain.outputNames, ["logit"]);
      const d = differences(plain.outputs[0], logits);
      assert.ok(d.abs <= 1e-5, `logits: max abs ${d.abs}, rel ${d.rel}`);
      assert.ok(Math.abs(plain.outputs[1][0] - logits[3]) <= 1e-5, "any N: one pair alone");

      const withSigmoid = await scoreWithOnnxRuntime(
        scoreGraphToOnnx(graph, tensors, { sigmoid: true }),
        [pairs],
      );
      assert.deepEqual(withSigmoid.outputNames, ["probability"]);
      const probabilities = Array.from(logits, (z) => 1 / (1 + Math.exp(-z)));
      const p = differences(withSigmoid.outputs[0], probabilities);
      assert.ok(p.abs <= 1e-6, `probabilities: max abs ${p.abs}`);
      console.log(
        `${c.label}: ${PAIRS} pairs, logits in [${Math.min(...logits).toFixed(2)}, ${
          Math.max(...logits).toFixed(2)
        }], max abs difference ${d.abs.toExponential(2)}, max rel ${
          d.rel.toExponential(2)
        }; probabilities ${p.abs.toExponential(2)}`,
      );
    });
  }
});

Deno.test("the ONNX model decodes to the declared inputs, opset, initializers and nodes", async (t) => {
  const nodesOf: Record<string, string[]> = {
    NeuMF: [
      "Gather",
      "Gather",
      "Mul",
      "Gather",
      "Gather",
      "Concat",
      "Gemm",
      "Relu",
      "Gemm",
      "Relu",
      "Concat",
      "Gemm",
      "Squeeze",
    ],
    GMF: ["Gather", "Gather", "Mul", "Gemm", "Squeeze"],
    MF: ["Gather", "Gather", "Mul", "ReduceSum", "Gather", "Gather", "Add", "Add", "Add"],
  };
  for (const c of RANDOM_MODEL_CASES.filter((c) => Object.hasOwn(nodesOf, c.label))) {
    await t.step(c.label, () => {
      const model = randomModel(c, { seed: 5 });
      const graph = model.scoreGraph();
      const tensors = model.parameters.snapshot();
      const decoded = onnx.ModelProto.decode(
        scoreGraphToOnnx(graph, tensors, { metadata: { kind: c.kind }, sigmoid: true }),
      );
      assert.equal(Number(decoded.irVersion), ONNX_IR_VERSION);
      assert.deepEqual(
        decoded.opsetImport.map((o) => [o.domain, Number(o.version)]),
        [["", ONNX_OPSET]],
      );
      assert.deepEqual(
        decoded.metadataProps.map((p) => [p.key, p.value]),
        [["kind", c.kind]],
      );
      const g = decoded.graph as onnxProto.onnx.GraphProto;
      for (const [i, name] of ["user", "item"].entries()) {
        const type = g.input[i].type!.tensorType!;
        assert.equal(g.input[i].name, name);
        assert.equal(type.elemType, onnx.TensorProto.DataType.INT64);
        assert.deepEqual(type.shape!.dim!.map((d) => d.dimParam), ["N"]);
      }
      assert.deepEqual(g.output.map((o) => o.name), ["probability"]);
      assert.deepEqual(g.node.map((x) => x.opType), [...nodesOf[c.label], "Sigmoid"]);
      const floats = g.initializer.filter((x) => x.dataType === onnx.TensorProto.DataType.FLOAT);
      assert.deepEqual(
        floats.map((x) => [x.name, x.dims!.map(Number)]),
        model.parameters.entries.map((e) => [e.name, [...e.shape]]),
      );
      for (const x of floats) {
        const raw = x.rawData!;
        const back = new Float32Array(raw.length / 4);
        const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
        for (let i = 0; i < back.length; i++) back[i] = view.getFloat32(4 * i, true);
        assert.deepEqual(back, tensors[x.name!], `the bits of ${x.name}`);
      }
    });
  }
});

Deno.test("the ONNX translation refuses tensors that do not fit the graph", async (t) => {
  const graph: ScoreGraph = {
    summary: "test",
    inputs: { user: 2, item: 3 },
    tensors: [{ name: "b", shape: [3], role: "item_bias", description: "" }],
    steps: [{ op: "gather", out: "logit", table: "b", index: "item" }],
    output: "logit",
  };
  const cases: [string, ScoreGraph, Record<string, Float32Array>, string][] = [
    ["a missing tensor", graph, {}, "tensor b is missing"],
    [
      "a tensor of the wrong size",
      graph,
      { b: new Float32Array(2) },
      "tensor b holds 2 values; its shape [3] needs 3",
    ],
    [
      "a value named as the translation's own",
      {
        ...graph,
        steps: [{ op: "gather", out: "probability", table: "b", index: "item" }],
        output: "probability",
      },
      { b: new Float32Array(3) },
      "the score graph names 'probability', which the translation needs",
    ],
  ];
  for (const [name, g, tensors, state] of cases) {
    await t.step(name, () => {
      assert.throws(
        () => scoreGraphToOnnx(g, tensors),
        (e: Error) =>
          e instanceof RangeError && e.message === `Cannot build the ONNX graph: ${state}`,
      );
    });
  }
});

Deno.test("onnxruntime's load checks are real: a kernel of the wrong shape is refused", async () => {
  const model = randomModel(RANDOM_MODEL_CASES[0], { seed: 6 });
  const bytes = scoreGraphToOnnx(model.scoreGraph(), model.parameters.snapshot());
  const decoded = onnx.ModelProto.decode(bytes);
  const kernel = (decoded.graph as onnxProto.onnx.GraphProto).initializer
    .find((x) => x.name === "dense_0_kernel")!;
  kernel.dims = [...kernel.dims!].reverse(); // [8, 6] → [6, 8]: the product no longer fits
  const broken = onnx.ModelProto.encode(decoded).finish();
  await scoreWithOnnxRuntime(bytes, []);
  await assert.rejects(() => scoreWithOnnxRuntime(broken, []), /dense_0|Gemm|shape|dimension/i);
});
