import assert from "node:assert/strict";
import { sigmoid, sigmoidBinaryCrossEntropy } from "../../lib/model/loss.ts";
import { assertGradient } from "./_grad_check.ts";

Deno.test("sigmoidBinaryCrossEntropy() equals the textbook mean on moderate logits", () => {
  const z = Float32Array.of(-2, -0.5, 0, 0.5, 3);
  const y = Int8Array.of(0, 1, 1, 0, 1);
  let expected = 0;
  for (let b = 0; b < 5; b++) {
    const p = 1 / (1 + Math.exp(-z[b]));
    expected -= y[b] * Math.log(p) + (1 - y[b]) * Math.log(1 - p);
  }
  expected /= 5;
  const loss = sigmoidBinaryCrossEntropy(z, y, { count: 5 });
  assert.ok(Math.abs(loss - expected) < 1e-12, `${loss} vs ${expected}`);
});

Deno.test("sigmoidBinaryCrossEntropy() is finite and exact at extreme logits", async (t) => {
  const cases: [number, number, number][] = [
    [100, 1, 0], // log1p(e^-100) underflows to ~3.7e-44
    [100, 0, 100],
    [-100, 0, 0],
    [-100, 1, 100],
    [1e30, 0, Math.fround(1e30)], // the logit is stored as float32
  ];
  for (const [z, y, want] of cases) {
    await t.step(`z=${z} y=${y}`, () => {
      const grad = new Float32Array(1);
      const loss = sigmoidBinaryCrossEntropy(Float32Array.of(z), Int8Array.of(y), {
        count: 1,
        grad,
      });
      assert.ok(Number.isFinite(loss));
      assert.ok(Math.abs(loss - want) <= 1e-12 * Math.max(1, want), `${loss}`);
      assert.ok(Math.abs(grad[0] - (sigmoid(z) - y)) < 1e-12);
    });
  }
});

Deno.test("sigmoidBinaryCrossEntropy()'s gradient matches central differences, Int8 and Float32 labels (rtol 1e-3)", () => {
  const z = Float32Array.of(-3, -0.7, 0.1, 0.9, 4, 12);
  for (const labels of [Int8Array.of(0, 1, 0, 1, 1, 0), Float32Array.of(0.2, 1, 0, 0.5, 1, 0.9)]) {
    const grad = new Float32Array(6);
    sigmoidBinaryCrossEntropy(z, labels, { count: 6, grad });
    assertGradient(() => sigmoidBinaryCrossEntropy(z, labels, { count: 6 }), z, grad, {
      eps: 1e-2,
      rtol: 1e-3,
      atol: 1e-6,
      label: labels.constructor.name,
    });
  }
});

Deno.test("sigmoidBinaryCrossEntropy() uses only the first count rows and refuses bad counts", () => {
  const z = Float32Array.of(0, 50);
  const y = Int8Array.of(1, 0);
  assert.ok(Math.abs(sigmoidBinaryCrossEntropy(z, y, { count: 1 }) - Math.LN2) < 1e-12);
  assert.throws(() => sigmoidBinaryCrossEntropy(z, y, { count: 0 }), RangeError);
  assert.throws(() => sigmoidBinaryCrossEntropy(z, y, { count: 3 }), RangeError);
  assert.throws(
    () => sigmoidBinaryCrossEntropy(z, y, { count: 2, grad: new Float32Array(1) }),
    RangeError,
  );
});

Deno.test("sigmoid() is symmetric and saturates without overflow", () => {
  for (const z of [0.1, 1, 5, 30, 800]) {
    assert.ok(Math.abs(sigmoid(z) + sigmoid(-z) - 1) < 1e-15);
  }
  assert.equal(sigmoid(-800), 0);
  assert.equal(sigmoid(800), 1);
});
