/**
 * Run by ts_backend_test.ts in a fresh process: counts every use of the
 * WebAssembly API from before the library is imported until a `ts` model
 * has been built, trained with each optimizer (and per example, where the
 * model can) and scored, and prints the
 * calls as JSON (`[]` when no WebAssembly was compiled or instantiated).
 *
 * @module
 */

const calls: string[] = [];
const api = WebAssembly as unknown as Record<string, unknown>;
for (const name of Object.getOwnPropertyNames(WebAssembly)) {
  const original = api[name];
  if (typeof original !== "function") continue;
  api[name] = new Proxy(original, {
    construct(target, args, newTarget) {
      calls.push(`new ${name}`);
      return Reflect.construct(target as new (...a: unknown[]) => object, args, newTarget);
    },
    apply(target, self, args) {
      calls.push(name);
      return Reflect.apply(target as (...a: unknown[]) => unknown, self, args);
    },
  });
}

const { selectKernels } = await import("../../lib/kernels/select_kernels.ts");
const { buildModel, modelConfig, MODELS } = await import("../../lib/model/registry.ts");
const { buildOptimizer, OPTIMIZERS } = await import("../../lib/optim/optimizers.ts");
const { Prng } = await import("../../lib/random/prng.ts");

const kernels = selectKernels("ts");
const prng = new Prng(1);
const count = 16;
const batch = {
  users: Int32Array.from({ length: count }, () => prng.nextInt(7)),
  items: Int32Array.from({ length: count }, () => prng.nextInt(9)),
  labels: Int8Array.from({ length: count }, (_, i) => i % 2),
  count,
};
let scores = 0;
for (const kind of MODELS) {
  for (const optimizerKind of OPTIMIZERS) {
    const config = modelConfig(kind, {
      numUsers: 7,
      numItems: 9,
      numFactors: 4,
      layers: [8, 4],
      mfRegularization: 0.01,
      mlpRegularization: 0.01,
    });
    const model = buildModel(config, { backend: "ts", prng: new Prng(2), maxBatchSize: 8 });
    const optimizer = buildOptimizer(optimizerKind, model.parameters, { learningRate: 0.01 });
    for (let s = 0; s < 3; s++) model.trainStep(batch, { optimizer });
    model.trainSequential?.(batch, { learningRate: 0.01 });
    const out = new Float32Array(9);
    model.scoreUserItems(3, Int32Array.from({ length: 9 }, (_, i) => i), { out });
    model.predict(batch, new Float32Array(count));
    scores += out.filter(Number.isFinite).length;
  }
}
console.log(JSON.stringify({ kernels: kernels.name, scores, calls }));
