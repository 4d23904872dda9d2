/**
 * The NCF paper's pretraining: NeuMF starts from a trained GMF and a trained
 * MLP, its output layer the two output layers weighted by α and 1 − α.
 *
 * @module
 */

import type { NeuMF } from "../model/neumf.ts";
import type { LoadedModelCheckpoint } from "./model_checkpoint.ts";

/**
 * Copies the GMF and MLP checkpoints' weights into `model` (a fresh NeuMF of
 * matching sizes): embeddings and hidden layers as they are, the output
 * kernel `[α·h_GMF; (1 − α)·h_MLP]` and bias `α·b_GMF + (1 − α)·b_MLP`.
 * Throws a `RangeError` naming the checkpoint that does not fit.
 */
export function applyPretraining(
  model: NeuMF,
  sources: { gmf: LoadedModelCheckpoint; mlp: LoadedModelCheckpoint; alpha: number },
  options: { gmfDir?: string; mlpDir?: string } = {},
): void {
  const { gmf, mlp, alpha } = sources;
  const config = model.config;
  const fail = (which: string, why: string) => {
    throw new RangeError(`Cannot pretrain from ${which}: ${why}`);
  };
  const gmfName = `--pretrain_gmf ${options.gmfDir ?? ""}`.trim();
  const mlpName = `--pretrain_mlp ${options.mlpDir ?? ""}`.trim();
  if (config.model !== "NeuMF") fail(gmfName, `the model is ${config.model}, not NeuMF`);
  if (gmf.meta.model.kind !== "GMF") fail(gmfName, `it holds a ${gmf.meta.model.kind} model`);
  if (mlp.meta.model.kind !== "MLP") fail(mlpName, `it holds a ${mlp.meta.model.kind} model`);
  for (const [name, ckpt] of [[gmfName, gmf], [mlpName, mlp]] as const) {
    if (
      ckpt.meta.model.numUsers !== config.numUsers || ckpt.meta.model.numItems !== config.numItems
    ) {
      fail(
        name,
        `it has ${ckpt.meta.model.numUsers} users × ${ckpt.meta.model.numItems} items, the data ${config.numUsers} × ${config.numItems}`,
      );
    }
  }
  if (gmf.meta.model.numFactors !== config.numFactors) {
    fail(gmfName, `num_factors ${gmf.meta.model.numFactors}, expected ${config.numFactors}`);
  }
  if (mlp.meta.model.layers.join() !== config.layers.join()) {
    fail(mlpName, `layers ${mlp.meta.model.layers}, expected ${config.layers}`);
  }
  const tensor = (ckpt: LoadedModelCheckpoint, name: string) =>
    ckpt.data.arrays[`param/${name}`] as Float32Array;
  const values: Record<string, Float32Array> = {};
  for (const e of model.parameters.entries) {
    if (e.name.startsWith("mf_")) values[e.name] = tensor(gmf, e.name);
    else if (e.name.startsWith("mlp_") || e.name.startsWith("dense_")) {
      values[e.name] = tensor(mlp, e.name);
    }
  }
  const gmfKernel = tensor(gmf, "output_kernel");
  const mlpKernel = tensor(mlp, "output_kernel");
  const kernel = new Float32Array(gmfKernel.length + mlpKernel.length);
  for (let i = 0; i < gmfKernel.length; i++) kernel[i] = alpha * gmfKernel[i];
  for (let i = 0; i < mlpKernel.length; i++) {
    kernel[gmfKernel.length + i] = (1 - alpha) * mlpKernel[i];
  }
  values.output_kernel = kernel;
  values.output_bias = Float32Array.of(
    alpha * tensor(gmf, "output_bias")[0] + (1 - alpha) * tensor(mlp, "output_bias")[0],
  );
  model.parameters.restore(values);
  model.prepareEval();
}
