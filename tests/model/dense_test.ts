import assert from "node:assert/strict";
import { Dense, reluBackward, reluForward } from "../../lib/model/dense.ts";
import { Prng } from "../../lib/random/prng.ts";
import { assertGradient } from "./_grad_check.ts";

function randomArray(n: number, prng: Prng, scale = 1): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = scale * prng.nextGaussian();
  return x;
}

function makeLayer(inputs: number, outputs: number, prng: Prng): Dense {
  return new Dense({
    inputs,
    outputs,
    kernel: randomArray(inputs * outputs, prng),
    bias: randomArray(outputs, prng),
    kernelGrad: new Float32Array(inputs * outputs),
    biasGrad: new Float32Array(outputs),
  });
}

Deno.test("Dense.forward() computes y = x·W + b with W stored [inputs × outputs]", () => {
  const layer = new Dense({
    inputs: 3,
    outputs: 2,
    kernel: Float32Array.of(1, 2, 3, 4, 5, 6), // rows: input features
    bias: Float32Array.of(0.5, -1),
    kernelGrad: new Float32Array(6),
    biasGrad: new Float32Array(2),
  });
  const x = Float32Array.of(1, 0, 0, 1, 1, 1); // two rows
  const y = new Float32Array(4).fill(NaN);
  layer.forward(x, y, { count: 2 });
  assert.deepEqual([...y], [1.5, 1, 9.5, 11]);
});

Deno.test("Dense.backward() matches central differences for the kernel, bias and input (rtol 1e-2, atol 1e-4)", () => {
  const prng = new Prng(3);
  for (const [inputs, outputs, count] of [[5, 3, 4], [8, 4, 7], [3, 1, 5]]) {
    const layer = makeLayer(inputs, outputs, prng);
    const x = randomArray(count * inputs, prng);
    const r = randomArray(count * outputs, prng); // L = Σ r ⊙ y, so dL/dy = r
    const y = new Float32Array(count * outputs);
    const loss = () => {
      layer.forward(x, y, { count });
      let s = 0;
      for (let i = 0; i < count * outputs; i++) s += r[i] * y[i];
      return s;
    };
    const dx = new Float32Array(count * inputs);
    layer.forward(x, y, { count });
    layer.backward(x, r, { count, dx });
    const p = layer.params;
    assertGradient(loss, p.kernel, p.kernelGrad.slice(), { label: "kernel" });
    assertGradient(loss, p.bias, p.biasGrad.slice(), { label: "bias" });
    assertGradient(loss, x, dx, { label: "input" });
  }
});

Deno.test("Dense.backward() overwrites parameter gradients by default and adds with accumulate", () => {
  const prng = new Prng(4);
  const layer = makeLayer(4, 4, prng);
  const x = randomArray(8, prng);
  const dy = randomArray(8, prng);
  layer.backward(x, dy, { count: 2 });
  const once = layer.params.kernelGrad.slice();
  const bias = layer.params.biasGrad.slice();
  layer.backward(x, dy, { count: 2 });
  assert.deepEqual(layer.params.kernelGrad, once);
  layer.backward(x, dy, { count: 2, accumulate: true });
  for (let i = 0; i < once.length; i++) {
    assert.ok(Math.abs(layer.params.kernelGrad[i] - 2 * once[i]) <= 1e-6 * (1 + Math.abs(once[i])));
  }
  for (let j = 0; j < 4; j++) {
    assert.ok(Math.abs(layer.params.biasGrad[j] - 2 * bias[j]) <= 1e-6 * (1 + Math.abs(bias[j])));
  }
});

Deno.test("Dense refuses tensors whose sizes do not match and a too short output", () => {
  const f = (n: number) => new Float32Array(n);
  assert.throws(
    () =>
      new Dense({
        inputs: 2,
        outputs: 2,
        kernel: f(3),
        bias: f(2),
        kernelGrad: f(4),
        biasGrad: f(2),
      }),
    RangeError,
  );
  assert.throws(
    () =>
      new Dense({
        inputs: 0,
        outputs: 2,
        kernel: f(0),
        bias: f(2),
        kernelGrad: f(0),
        biasGrad: f(2),
      }),
    RangeError,
  );
  const layer = new Dense({
    inputs: 2,
    outputs: 2,
    kernel: f(4),
    bias: f(2),
    kernelGrad: f(4),
    biasGrad: f(2),
  });
  assert.throws(() => layer.forward(f(4), f(3), { count: 2 }), RangeError);
});

Deno.test("reluForward() and reluBackward() match central differences away from the kink", () => {
  const prng = new Prng(5);
  const n = 40;
  const x = randomArray(n, prng);
  for (let i = 0; i < n; i++) if (Math.abs(x[i]) < 0.05) x[i] = 0.5; // keep off the kink
  const r = randomArray(n, prng);
  const y = new Float32Array(n);
  const loss = () => {
    y.set(x);
    reluForward(y, n);
    let s = 0;
    for (let i = 0; i < n; i++) s += r[i] * y[i];
    return s;
  };
  loss();
  const grad = r.slice();
  reluBackward(y, grad);
  assertGradient(loss, x, grad, { label: "relu input" });
  assert.ok(grad.some((g) => g === 0) && grad.some((g) => g !== 0));
});

Deno.test("reluForward() and reluBackward() respect their length", () => {
  const v = Float32Array.of(-1, -2, -3);
  reluForward(v, 2);
  assert.deepEqual([...v], [0, 0, -3]);
  const g = Float32Array.of(1, 1, 1);
  reluBackward(Float32Array.of(0, 0, 0), g, { length: 1 });
  assert.deepEqual([...g], [0, 1, 1]);
});
