import assert from "node:assert/strict";
import type { Kernels, TensorMemory } from "../../lib/kernels/kernels.ts";
import { tsKernels } from "../../lib/kernels/ts_kernels.ts";
import {
  binaryCrossEntropy,
  bprLoss,
  isPairwiseLoss,
  lossByName,
  LOSSES,
  sigmoid,
} from "../../lib/model/loss.ts";
import {
  assertSameBits,
  from,
  kernelSets,
  overKernelSets,
  testMemory,
} from "../kernels/_kernel_sets.ts";
import { assertGradient } from "./_grad_check.ts";

const PLAIN: TensorMemory = { alloc: (n) => new Float32Array(n) };

Deno.test("kernels.sigmoidCrossEntropy() equals the textbook mean on moderate logits", async (t) => {
  await overKernelSets(t, (kernels, memory) => {
    const z = from(memory, [-2, -0.5, 0, 0.5, 3]);
    const y = Int8Array.of(0, 1, 1, 0, 1);
    let expected = 0;
    for (let b = 0; b < 5; b++) {
      const p = 1 / (1 + Math.exp(-z[b]));
      expected -= y[b] * Math.log(p) + (1 - y[b]) * Math.log(1 - p);
    }
    expected /= 5;
    const loss = kernels.sigmoidCrossEntropy(z, y, { count: 5 });
    assert.ok(Math.abs(loss - expected) < 1e-12, `${loss} vs ${expected}`);
  });
});

Deno.test("kernels.sigmoidCrossEntropy() is finite and exact at extreme logits", async (t) => {
  const cases: [number, number, number][] = [
    [100, 1, 0], // log1p(e^-100) underflows to ~3.7e-44
    [100, 0, 100],
    [-100, 0, 0],
    [-100, 1, 100],
    [1e30, 0, Math.fround(1e30)], // the logit is stored as float32
  ];
  for (const kernels of kernelSets()) {
    const memory = testMemory(kernels);
    for (const [z, y, want] of cases) {
      await t.step(`${kernels.name} z=${z} y=${y}`, () => {
        const grad = memory.alloc(1);
        const loss = kernels.sigmoidCrossEntropy(from(memory, [z]), Int8Array.of(y), {
          count: 1,
          grad,
        });
        assert.ok(Number.isFinite(loss));
        assert.ok(Math.abs(loss - want) <= 1e-12 * Math.max(1, want), `${loss}`);
        assert.ok(Math.abs(grad[0] - (sigmoid(z) - y)) < 1e-12);
      });
    }
  }
});

Deno.test("kernels.sigmoidCrossEntropy()'s gradient matches central differences, Int8 and Float32 labels (rtol 1e-3), with the ts kernels' bits", async (t) => {
  const logits = [-3, -0.7, 0.1, 0.9, 4, 12];
  const soft = [0.2, 1, 0, 0.5, 1, 0.9];
  const run = (kernels: Kernels, memory: TensorMemory, float: boolean) => {
    const z = from(memory, logits);
    const labels = float ? from(memory, soft) : Int8Array.of(0, 1, 0, 1, 1, 0);
    const grad = memory.alloc(6);
    const loss = kernels.sigmoidCrossEntropy(z, labels, { count: 6, grad });
    return { z, labels, grad, loss };
  };
  await overKernelSets(t, (kernels, memory) => {
    for (const float of [false, true]) {
      const { z, labels, grad, loss } = run(kernels, memory, float);
      const reference = run(tsKernels, PLAIN, float);
      assert.ok(Object.is(loss, reference.loss), `${loss} vs ts ${reference.loss}`);
      assertSameBits(grad, reference.grad, "gradient");
      assertGradient(() => kernels.sigmoidCrossEntropy(z, labels, { count: 6 }), z, grad, {
        eps: 1e-2,
        rtol: 1e-3,
        atol: 1e-6,
        label: labels.constructor.name,
      });
    }
  });
});

Deno.test("kernels.sigmoidCrossEntropy() uses only the first count rows and refuses bad counts", async (t) => {
  await overKernelSets(t, (kernels, memory) => {
    const z = from(memory, [0, 50]);
    const y = Int8Array.of(1, 0);
    assert.ok(Math.abs(kernels.sigmoidCrossEntropy(z, y, { count: 1 }) - Math.LN2) < 1e-12);
    assert.throws(() => kernels.sigmoidCrossEntropy(z, y, { count: 0 }), RangeError);
    assert.throws(() => kernels.sigmoidCrossEntropy(z, y, { count: 3 }), RangeError);
    assert.throws(
      () => kernels.sigmoidCrossEntropy(z, y, { count: 2, grad: memory.alloc(1) }),
      RangeError,
    );
  });
});

Deno.test("binaryCrossEntropy.compute() is the kernel set's sigmoid cross-entropy", async (t) => {
  await overKernelSets(t, (kernels, memory) => {
    assert.equal(binaryCrossEntropy.name, "bce");
    const z = from(memory, [-1.5, 0.25, 7]);
    const labels = Int8Array.of(1, 0, 1);
    const a = memory.alloc(3);
    const b = memory.alloc(3);
    const viaLoss = binaryCrossEntropy.compute(kernels, z, labels, { count: 3, grad: a });
    const viaKernel = kernels.sigmoidCrossEntropy(z, labels, { count: 3, grad: b });
    assert.ok(Object.is(viaLoss, viaKernel));
    assertSameBits(a, b, "gradient");
    assert.throws(() => binaryCrossEntropy.compute(kernels, z, labels, { count: 0 }), RangeError);
  });
});

Deno.test("sigmoid() is symmetric and saturates without overflow", () => {
  for (const z of [0.1, 1, 5, 30, 800]) {
    assert.ok(Math.abs(sigmoid(z) + sigmoid(-z) - 1) < 1e-15);
  }
  assert.equal(sigmoid(-800), 0);
  assert.equal(sigmoid(800), 1);
});

Deno.test("bprLoss.compute() is the mean of −log σ(z⁺ − z⁻) over pairs laid out positives first", async (t) => {
  await overKernelSets(t, (kernels, memory) => {
    // Pairs (1.5, −0.5), (0, 2), (3, 3): positives first, then negatives.
    const z = from(memory, [1.5, 0, 3, -0.5, 2, 3]);
    let expected = 0;
    for (const d of [2, -2, 0]) expected -= Math.log(1 / (1 + Math.exp(-d)));
    expected /= 3;
    const grad = memory.alloc(6);
    const loss = bprLoss.compute(kernels, z, { count: 3, grad });
    assert.ok(Math.abs(loss - expected) < 1e-12, `${loss} vs ${expected}`);
    for (let k = 0; k < 3; k++) {
      const d = z[k] - z[3 + k];
      const want = -sigmoid(-d) / 3;
      assert.ok(Math.abs(grad[k] - want) < 1e-7, `positive ${k}: ${grad[k]} vs ${want}`);
      assert.ok(Object.is(grad[3 + k], -grad[k]), `negative ${k} is exactly the opposite`);
    }
    assert.ok(Object.is(bprLoss.compute(kernels, z, { count: 3 }), loss), "no grad, same loss");
  });
});

Deno.test("bprLoss.compute() is finite and exact at extreme differences", async (t) => {
  // [z⁺, z⁻, loss, ∂/∂z⁺]
  const cases: [number, number, number, number][] = [
    [100, 0, 0, 0], // log1p(e^-100) ≈ 3.7e-44
    [0, 100, 100, -1],
    [-1e30, 1e30, 2 * Math.fround(1e30), -1],
    [1e30, -1e30, 0, 0],
  ];
  for (const [zp, zn, want, dWant] of cases) {
    await t.step(`z⁺ ${zp} z⁻ ${zn}`, () => {
      const grad = new Float32Array(2);
      const loss = bprLoss.compute(tsKernels, Float32Array.of(zp, zn), { count: 1, grad });
      assert.ok(Number.isFinite(loss));
      assert.ok(Math.abs(loss - want) <= 1e-12 * Math.max(1, want), `${loss}`);
      assert.ok(Math.abs(grad[0] - dWant) < 1e-12 && Object.is(grad[1], -grad[0]));
    });
  }
});

Deno.test("bprLoss.compute()'s gradient matches central differences (rtol 1e-3)", async (t) => {
  await overKernelSets(t, (kernels, memory) => {
    const z = from(memory, [-3, 0.1, 4, 2.5, -0.7, 0.9, 4, -1]);
    const grad = memory.alloc(8);
    bprLoss.compute(kernels, z, { count: 4, grad });
    assertGradient(() => bprLoss.compute(kernels, z, { count: 4 }), z, grad, {
      eps: 1e-2,
      rtol: 1e-3,
      atol: 1e-6,
    });
  });
});

Deno.test("bprLoss.compute() refuses bad counts and short arrays", () => {
  const z = Float32Array.of(0, 1, 2, 3);
  assert.throws(() => bprLoss.compute(tsKernels, z, { count: 0 }), RangeError);
  assert.throws(() => bprLoss.compute(tsKernels, z, { count: 3 }), /need 6 logits, there are 4/);
  assert.throws(
    () => bprLoss.compute(tsKernels, z, { count: 2, grad: new Float32Array(3) }),
    /grad holds 3 values, need 4/,
  );
});

Deno.test("lossByName() gives each of LOSSES its loss object, pairwise only for bpr", () => {
  assert.deepEqual([...LOSSES], ["bce", "bpr"]);
  assert.equal(lossByName("bce"), binaryCrossEntropy);
  assert.equal(lossByName("bpr"), bprLoss);
  for (const kind of LOSSES) assert.equal(lossByName(kind).name, kind);
  assert.ok(isPairwiseLoss(bprLoss) && !isPairwiseLoss(binaryCrossEntropy));
  assert.throws(() => lossByName("hinge" as "bce"), /the losses are bce, bpr/);
});
