/** Scoring with onnxruntime-node (the npm package, loaded without its install script). */

import * as ort from "onnxruntime-node";

/** What an onnxruntime session of an exported file gives. */
export interface OnnxScores {
  /** The session's input names, in order. */
  inputNames: readonly string[];
  /** Its output names, in order. */
  outputNames: readonly string[];
  /** The first output of each batch, in order. */
  outputs: Float32Array[];
}

/**
 * Loads `model` (bytes or a path) into an onnxruntime session — its own
 * load checks run here — and scores each batch of (user, item) rows in turn.
 */
export async function scoreWithOnnxRuntime(
  model: Uint8Array | string,
  batches: readonly { users: ArrayLike<number>; items: ArrayLike<number> }[],
): Promise<OnnxScores> {
  const session = typeof model === "string"
    ? await ort.InferenceSession.create(model)
    : await ort.InferenceSession.create(model);
  try {
    const outputs: Float32Array[] = [];
    for (const { users, items } of batches) {
      const n = users.length;
      const feeds = {
        user: new ort.Tensor("int64", BigInt64Array.from(Array.from(users, BigInt)), [n]),
        item: new ort.Tensor("int64", BigInt64Array.from(Array.from(items, BigInt)), [n]),
      };
      const result = await session.run(feeds);
      const first = result[session.outputNames[0]];
      if (!(first.data instanceof Float32Array) || first.dims.join() !== `${n}`) {
        throw new Error(`onnxruntime gave ${first.type} [${first.dims}], expected float32 [${n}]`);
      }
      outputs.push(first.data);
    }
    return { inputNames: session.inputNames, outputNames: session.outputNames, outputs };
  } finally {
    await session.release();
  }
}
