import assert from "node:assert/strict";
import type { Kernels, TensorMemory } from "../../lib/kernels/kernels.ts";
import { tsKernels } from "../../lib/kernels/ts_kernels.ts";
import { Dense } from "../../lib/model/dense.ts";
import { Prng } from "../../lib/random/prng.ts";
import { assertSameBits, from, overKernelSets, randomArray } from "../kernels/_kernel_sets.ts";
import { assertGradient } from "./_grad_check.ts";

function makeLayer(
  inputs: number,
  outputs: number,
  prng: Prng,
  on: { kernels: Kernels; memory: TensorMemory },
): Dense {
  const { kernels, memory } = on;
  return new Dense({
    inputs,
    outputs,
    kernel: randomArray(memory, inputs * outputs, prng),
    bias: randomArray(memory, outputs, prng),
    kernelGrad: memory.alloc(inputs * outputs),
    biasGrad: memory.alloc(outputs),
  }, { kernels });
}

Deno.test("Dense.forward() computes y = x·W + b with W stored [inputs × outputs]", async (t) => {
  await overKernelSets(t, (kernels, memory) => {
    const layer = new Dense({
      inputs: 3,
      outputs: 2,
      kernel: from(memory, [1, 2, 3, 4, 5, 6]), // rows: input features
      bias: from(memory, [0.5, -1]),
      kernelGrad: memory.alloc(6),
      biasGrad: memory.alloc(2),
    }, { kernels });
    assert.equal(layer.kernels, kernels);
    const x = from(memory, [1, 0, 0, 1, 1, 1]); // two rows
    const y = memory.alloc(4).fill(NaN);
    layer.forward(x, y, { count: 2 });
    assert.deepEqual([...y], [1.5, 1, 9.5, 11]);
  });
});

Deno.test("Dense uses the ts kernels by default", () => {
  const f = (n: number) => new Float32Array(n);
  const layer = new Dense({
    inputs: 1,
    outputs: 1,
    kernel: f(1),
    bias: f(1),
    kernelGrad: f(1),
    biasGrad: f(1),
  });
  assert.equal(layer.kernels, tsKernels);
});

Deno.test("Dense.backward() matches central differences for the kernel, bias and input (rtol 1e-2, atol 1e-4)", async (t) => {
  await overKernelSets(t, (kernels, memory) => {
    const prng = new Prng(3);
    for (const [inputs, outputs, count] of [[5, 3, 4], [8, 4, 7], [3, 1, 5]]) {
      const layer = makeLayer(inputs, outputs, prng, { kernels, memory });
      const x = randomArray(memory, count * inputs, prng);
      const r = randomArray(memory, count * outputs, prng); // L = Σ r ⊙ y, so dL/dy = r
      const y = memory.alloc(count * outputs);
      const loss = () => {
        layer.forward(x, y, { count });
        let s = 0;
        for (let i = 0; i < count * outputs; i++) s += r[i] * y[i];
        return s;
      };
      const dx = memory.alloc(count * inputs);
      layer.forward(x, y, { count });
      layer.backward(x, r, { count, dx });
      const p = layer.params;
      assertGradient(loss, p.kernel, p.kernelGrad.slice(), { label: "kernel" });
      assertGradient(loss, p.bias, p.biasGrad.slice(), { label: "bias" });
      assertGradient(loss, x, dx, { label: "input" });
    }
  });
});

Deno.test("Dense.backward() overwrites parameter gradients by default and adds with accumulate", async (t) => {
  await overKernelSets(t, (kernels, memory) => {
    const prng = new Prng(4);
    const layer = makeLayer(4, 4, prng, { kernels, memory });
    const x = randomArray(memory, 8, prng);
    const dy = randomArray(memory, 8, prng);
    layer.backward(x, dy, { count: 2 });
    const once = layer.params.kernelGrad.slice();
    const bias = layer.params.biasGrad.slice();
    layer.backward(x, dy, { count: 2 });
    assert.deepEqual(layer.params.kernelGrad.slice(), once);
    layer.backward(x, dy, { count: 2, accumulate: true });
    for (let i = 0; i < once.length; i++) {
      assert.ok(
        Math.abs(layer.params.kernelGrad[i] - 2 * once[i]) <= 1e-6 * (1 + Math.abs(once[i])),
      );
    }
    for (let j = 0; j < 4; j++) {
      assert.ok(
        Math.abs(layer.params.biasGrad[j] - 2 * bias[j]) <= 1e-6 * (1 + Math.abs(bias[j])),
      );
    }
  });
});

Deno.test("Dense refuses tensors whose sizes do not match and a too short output", async (t) => {
  await overKernelSets(t, (kernels, memory) => {
    const f = (n: number) => memory.alloc(n);
    assert.throws(
      () =>
        new Dense({
          inputs: 2,
          outputs: 2,
          kernel: f(3),
          bias: f(2),
          kernelGrad: f(4),
          biasGrad: f(2),
        }, { kernels }),
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
        }, { kernels }),
      RangeError,
    );
    const layer = new Dense({
      inputs: 2,
      outputs: 2,
      kernel: f(4),
      bias: f(2),
      kernelGrad: f(4),
      biasGrad: f(2),
    }, { kernels });
    assert.throws(() => layer.forward(f(4), f(3), { count: 2 }), RangeError);
  });
});

Deno.test("kernels.relu() and kernels.reluBackward() match central differences away from the kink, with the ts kernels' bits", async (t) => {
  const run = (kernels: Kernels, memory: TensorMemory) => {
    const prng = new Prng(5);
    const n = 40;
    const x = randomArray(memory, n, prng);
    for (let i = 0; i < n; i++) if (Math.abs(x[i]) < 0.05) x[i] = 0.5; // keep off the kink
    const r = randomArray(memory, n, prng);
    const y = memory.alloc(n);
    const loss = () => {
      y.set(x);
      kernels.relu(y, n);
      let s = 0;
      for (let i = 0; i < n; i++) s += r[i] * y[i];
      return s;
    };
    loss();
    const grad = memory.alloc(n);
    grad.set(r);
    kernels.reluBackward(y, grad, n);
    return { loss, x, y, grad };
  };
  const reference = run(tsKernels, { alloc: (n) => new Float32Array(n) });
  await overKernelSets(t, (kernels, memory) => {
    const { loss, x, y, grad } = run(kernels, memory);
    assertSameBits(y, reference.y, "relu output");
    assertSameBits(grad, reference.grad, "relu gradient");
    assertGradient(loss, x, grad, { label: "relu input" });
    assert.ok(grad.some((g) => g === 0) && grad.some((g) => g !== 0));
  });
});

Deno.test("kernels.relu() and kernels.reluBackward() respect their length", async (t) => {
  await overKernelSets(t, (kernels, memory) => {
    const v = from(memory, [-1, -2, -3]);
    kernels.relu(v, 2);
    assert.deepEqual([...v], [0, 0, -3]);
    const g = from(memory, [1, 1, 1]);
    kernels.reluBackward(memory.alloc(3), g, 1);
    assert.deepEqual([...g], [0, 1, 1]);
  });
});
