/**
 * `model.json`, written by `ncf export` beside the model files: the model's
 * kind and config, every tensor's name, shape and role, the steps that turn
 * them into a score and the same steps as numpy lines, so that nobody has
 * to guess the architecture to use the `.npy` files (or to read the ONNX
 * graph). All of it comes from the model's score graph, the description the
 * ONNX file is translated from, so the two cannot drift apart.
 *
 * @module
 */

import type { ModelConfig } from "../model/model.ts";
import {
  SCORE_OP_MEANINGS,
  scoreFormula,
  type ScoreGraph,
  scoreGraphShapes,
  type ScoreOp,
  type ScoreShape,
  type ScoreStep,
  TENSOR_ROLES,
  type TensorRole,
} from "../model/score_graph.ts";

/** The `format` of a `model.json`. */
export const MODEL_JSON_FORMAT = "ncf-export";

/** The version of the `model.json` layout; a reader refuses a newer one. */
export const MODEL_JSON_VERSION = 1;

/** One tensor of a {@linkcode ModelJson}. */
export interface ModelJsonTensor {
  /** Its name (the checkpoint's, the `.npy` file's, the ONNX initializer's). */
  name: string;
  /** Its shape (float32, row-major). */
  shape: number[];
  /** What kind of tensor it is. */
  role: TensorRole;
  /** What the role means. */
  roleMeaning: string;
  /** What it is in this model. */
  description: string;
  /** Its `.npy` file, when the export wrote one. */
  file?: string;
}

/** The `model.json` document. */
export interface ModelJson {
  /** Always {@linkcode MODEL_JSON_FORMAT}. */
  format: typeof MODEL_JSON_FORMAT;
  /** {@linkcode MODEL_JSON_VERSION}. */
  version: number;
  /** The model kind (`--model`). */
  kind: string;
  /** The architecture in one sentence: how branches join, the layers, activations. */
  summary: string;
  /** The model's config, as its checkpoint stores it. */
  config: ModelConfig;
  /** The two inputs, in order: int64 row numbers of the id maps. */
  inputs: { name: "user" | "item"; rows: number; dtype: "int64"; idMap: string }[];
  /** Every tensor, in the model's order. */
  tensors: ModelJsonTensor[];
  /** The steps, in order, each with the shape of its value (N: the pairs). */
  steps: (ScoreStep & { shape: ScoreShape })[];
  /** What each op used means. */
  ops: Partial<Record<ScoreOp, string>>;
  /** The steps as numpy (`from numpy import *`), each with its shape as a comment. */
  formula: string[];
  /** The score: the logit's name and shape, and how to make it a probability. */
  output: { name: string; shape: ScoreShape; meaning: string };
  /** Every other file the export wrote, and what it holds. */
  files: Record<string, string>;
}

/** Options of {@linkcode modelJson}. */
export interface ModelJsonOptions {
  /** The tensors' `.npy` files, by tensor name (the npy format). */
  tensorFiles?: Readonly<Record<string, string>> | undefined;
  /** The id-map CSVs (default `user_ids.csv`, `item_ids.csv`). */
  idMaps?: { user: string; item: string } | undefined;
  /** Every file written besides `model.json`, and what it holds. */
  files?: Readonly<Record<string, string>> | undefined;
}

/**
 * The `model.json` document of a model: its config and its score graph.
 *
 * @throws {RangeError} when the graph does not check.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildModel, modelConfig } from "../model/registry.ts";
 * import { modelJson } from "./model_json.ts";
 * const model = buildModel(modelConfig("GMF", {
 *   numUsers: 3, numItems: 4, numFactors: 2, layers: [4], mfRegularization: 0,
 *   mlpRegularization: 0,
 * }), { backend: "ts" });
 * const doc = modelJson(model.config, model.scoreGraph());
 * assert.deepEqual(doc.tensors.map((t) => [t.name, t.shape, t.role]), [
 *   ["mf_user_embedding", [3, 2], "user_embedding"],
 *   ["mf_item_embedding", [4, 2], "item_embedding"],
 *   ["output_kernel", [2, 1], "output_kernel"],
 *   ["output_bias", [1], "output_bias"],
 * ]);
 * assert.equal(doc.formula.at(-1), "logit = output[:, 0]  # [N]");
 * ```
 */
export function modelJson(
  config: ModelConfig,
  graph: ScoreGraph,
  options: ModelJsonOptions = {},
): ModelJson {
  const shapes = scoreGraphShapes(graph);
  const idMaps = options.idMaps ?? { user: "user_ids.csv", item: "item_ids.csv" };
  const ops: Partial<Record<ScoreOp, string>> = {};
  for (const step of graph.steps) ops[step.op] = SCORE_OP_MEANINGS[step.op];
  return {
    format: MODEL_JSON_FORMAT,
    version: MODEL_JSON_VERSION,
    kind: config.kind,
    summary: graph.summary,
    config,
    inputs: [
      { name: "user", rows: graph.inputs.user, dtype: "int64", idMap: idMaps.user },
      { name: "item", rows: graph.inputs.item, dtype: "int64", idMap: idMaps.item },
    ],
    tensors: graph.tensors.map((t) => {
      const file = options.tensorFiles?.[t.name];
      return {
        name: t.name,
        shape: [...t.shape],
        role: t.role,
        roleMeaning: TENSOR_ROLES[t.role],
        description: t.description,
        ...(file === undefined ? {} : { file }),
      };
    }),
    steps: graph.steps.map((s) => ({ ...s, shape: shapes.get(s.out)! })),
    ops,
    formula: scoreFormula(graph),
    output: {
      name: graph.output,
      shape: ["N"],
      meaning: "the logit of each (user, item) pair: rank items by it; " +
        "the probability is sigmoid(logit) = 1 / (1 + exp(-logit))",
    },
    files: { ...options.files },
  };
}

/** An array of numbers or of word strings, as `JSON.stringify` indents it. */
const _SCALAR_ARRAY = /\[\s*((?:"\w*"|-?[\d.eE+-]+)(?:,\s*(?:"\w*"|-?[\d.eE+-]+))*)\s*\]/g;

/**
 * The text of a `model.json`: indented JSON with arrays of numbers and
 * short names (shapes, layer sizes) on one line, and a final line break.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatModelJson } from "./model_json.ts";
 * assert.equal(
 *   formatModelJson({ shape: ["N", 8], steps: [{ out: "a, b" }] }),
 *   '{\n  "shape": ["N", 8],\n  "steps": [\n    {\n      "out": "a, b"\n    }\n  ]\n}\n',
 * );
 * ```
 */
export function formatModelJson(doc: unknown): string {
  const text = JSON.stringify(doc, null, 2).replace(
    _SCALAR_ARRAY,
    (_, inner: string) => `[${inner.replace(/,\s+/g, ", ")}]`,
  );
  return `${text}\n`;
}
