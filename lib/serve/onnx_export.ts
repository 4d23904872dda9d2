/**
 * A model's score graph as one ONNX model (a `ModelProto`, encoded with the
 * `onnx-proto` package's protobuf code): inputs `user` then `item`, int64
 * index vectors of shape `[N]` (any N: the rows of the id maps), the model's
 * tensors as float32 initializers, and one output, the `logit` `[N]`, or
 * with `sigmoid` the `probability` `[N]`.
 *
 * The ops map one to one: gather → `Gather` (axis 0), mul → `Mul`, add →
 * `Add`, concat → `Concat` (last axis), dense → `Gemm`, relu → `Relu`, sum
 * → `ReduceSum` (last axis, not kept), squeeze → `Squeeze` (last axis).
 * Opset {@linkcode ONNX_OPSET} with IR version {@linkcode ONNX_IR_VERSION}
 * (the pair ONNX 1.8 introduced; onnxruntime has read both since 1.6).
 *
 * @module
 */

import onnxProto from "onnx-proto";
import {
  type ScoreGraph,
  scoreGraphShapes,
  type ScoreShape,
  type ScoreStep,
} from "../model/score_graph.ts";

const { onnx } = onnxProto;
type _Node = onnxProto.onnx.INodeProto;
type _ValueInfo = onnxProto.onnx.IValueInfoProto;
type _Tensor = onnxProto.onnx.ITensorProto;

/** The ONNX operator set the graphs use (the default domain). */
export const ONNX_OPSET = 13;

/** The ONNX IR version the files declare (the one of opset 13). */
export const ONNX_IR_VERSION = 7;

/** The name of the symbolic batch dimension of inputs and outputs. */
export const ONNX_BATCH_DIM = "N";

/** Options of {@linkcode scoreGraphToOnnx}. */
export interface OnnxExportOptions {
  /** End in `Sigmoid`: the output is `probability` (default false: the `logit`). */
  sigmoid?: boolean | undefined;
  /** The graph's name (default "ncf"). */
  name?: string | undefined;
  /** The model's doc string (e.g. the summary and the formula). */
  docString?: string | undefined;
  /** Key–value pairs of the model's `metadata_props`. */
  metadata?: Readonly<Record<string, string>> | undefined;
}

/** The helper initializer of the last-axis ops (ReduceSum, Squeeze). */
const _LAST_AXIS = "axes_last";
const _PROBABILITY = "probability";

/**
 * The encoded ONNX model of `graph` with the weights `tensors` (by name):
 * the bytes of a `.onnx` file.
 *
 * @param graph A model's score graph (`Model.scoreGraph()`).
 * @param tensors Every tensor the graph names, float32, row-major.
 * @throws {RangeError} when the graph does not check, a tensor is missing or
 *   the wrong size, or a name of the graph is one the translation needs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import onnxProto from "onnx-proto";
 * import { scoreGraphToOnnx } from "./onnx_export.ts";
 * const bytes = scoreGraphToOnnx({
 *   summary: "a user bias",
 *   inputs: { user: 2, item: 3 },
 *   tensors: [{ name: "b", shape: [2], role: "user_bias", description: "per user" }],
 *   steps: [{ op: "gather", out: "logit", table: "b", index: "user" }],
 *   output: "logit",
 * }, { b: Float32Array.of(0.5, -1) });
 * const graph = onnxProto.onnx.ModelProto.decode(bytes).graph as onnxProto.onnx.GraphProto;
 * assert.deepEqual(graph.input.map((i) => i.name), ["user", "item"]);
 * assert.deepEqual(graph.node.map((n) => n.opType), ["Gather"]);
 * ```
 */
export function scoreGraphToOnnx(
  graph: ScoreGraph,
  tensors: Readonly<Record<string, Float32Array>>,
  options: OnnxExportOptions = {},
): Uint8Array {
  const shapes = scoreGraphShapes(graph);
  const fail = (state: string): never => {
    throw new RangeError(`Cannot build the ONNX graph: ${state}`);
  };
  for (const name of [_LAST_AXIS, _PROBABILITY]) {
    if (shapes.has(name)) fail(`the score graph names '${name}', which the translation needs`);
  }
  const initializer: _Tensor[] = graph.tensors.map(({ name, shape }) => {
    const values = tensors[name];
    const size = shape.reduce((a, b) => a * b, 1);
    if (!(values instanceof Float32Array)) return fail(`tensor ${name} is missing`);
    if (values.length !== size) {
      fail(`tensor ${name} holds ${values.length} values; its shape [${shape}] needs ${size}`);
    }
    return {
      name,
      dims: [...shape],
      dataType: onnx.TensorProto.DataType.FLOAT,
      rawData: _littleEndianFloats(values),
    };
  });
  const node: _Node[] = [];
  for (const step of graph.steps) node.push(_node(step));
  if (graph.steps.some((s) => s.op === "sum" || s.op === "squeeze")) {
    const axes = new Uint8Array(8);
    new DataView(axes.buffer).setBigInt64(0, -1n, true);
    initializer.push({
      name: _LAST_AXIS,
      dims: [1],
      dataType: onnx.TensorProto.DataType.INT64,
      rawData: axes,
    });
  }
  const sigmoid = options.sigmoid ?? false;
  if (sigmoid) {
    node.push({
      name: "sigmoid",
      opType: "Sigmoid",
      input: [graph.output],
      output: [_PROBABILITY],
    });
  }
  const valueInfo = graph.steps
    .filter((s) => sigmoid || s.out !== graph.output)
    .map((s) => _valueInfo(s.out, onnx.TensorProto.DataType.FLOAT, shapes.get(s.out)!));
  const model = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: "", version: ONNX_OPSET }],
    producerName: "ncf",
    docString: options.docString ?? graph.summary,
    metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: options.name ?? "ncf",
      docString: graph.summary,
      input: [
        _valueInfo("user", onnx.TensorProto.DataType.INT64, [ONNX_BATCH_DIM]),
        _valueInfo("item", onnx.TensorProto.DataType.INT64, [ONNX_BATCH_DIM]),
      ],
      output: [
        _valueInfo(sigmoid ? _PROBABILITY : graph.output, onnx.TensorProto.DataType.FLOAT, [
          ONNX_BATCH_DIM,
        ]),
      ],
      initializer,
      node,
      valueInfo,
    },
  });
  const bytes = onnx.ModelProto.encode(model).finish();
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The ONNX node of one step. */
function _node(step: ScoreStep): _Node {
  const node = (opType: string, input: string[], attribute: _Node["attribute"] = []): _Node => ({
    name: `${step.out}_${step.op}`,
    opType,
    input,
    output: [step.out],
    attribute,
  });
  const int = (name: string, i: number) => ({
    name,
    type: onnx.AttributeProto.AttributeType.INT,
    i,
  });
  switch (step.op) {
    case "gather":
      return node("Gather", [step.table, step.index], [int("axis", 0)]);
    case "mul":
      return node("Mul", [step.a, step.b]);
    case "add":
      return node("Add", [step.a, step.b]);
    case "concat":
      return node("Concat", [step.a, step.b], [int("axis", -1)]);
    case "dense":
      return node("Gemm", [step.x, step.kernel, step.bias]);
    case "relu":
      return node("Relu", [step.x]);
    case "sum":
      return node("ReduceSum", [step.x, _LAST_AXIS], [int("keepdims", 0)]);
    case "squeeze":
      return node("Squeeze", [step.x, _LAST_AXIS]);
  }
}

/** A tensor-typed value info of `shape` (`"N"` the symbolic batch dimension). */
function _valueInfo(name: string, elemType: number, shape: ScoreShape): _ValueInfo {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: {
          dim: shape.map((d) => d === "N" ? { dimParam: ONNX_BATCH_DIM } : { dimValue: d }),
        },
      },
    },
  };
}

/** The bytes of float32 values, little-endian as ONNX's `raw_data` asks. */
function _littleEndianFloats(values: Float32Array): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i], true);
  return bytes;
}
