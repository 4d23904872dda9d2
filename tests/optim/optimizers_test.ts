import assert from "node:assert/strict";
import { Parameters } from "../../lib/kernels/parameters.ts";
import { Adam, LazyAdam } from "../../lib/optim/adam.ts";
import { buildOptimizer, OPTIMIZERS } from "../../lib/optim/optimizers.ts";
import { Sgd } from "../../lib/optim/sgd.ts";

function tableWithDense(): Parameters {
  return new Parameters([
    { name: "emb", shape: [3, 2], sparse: true },
    { name: "bias", shape: [1] },
  ]);
}

Deno.test("OPTIMIZERS lists adam, lazy_adam and sgd, and buildOptimizer() builds each with its hyper-parameters", () => {
  assert.deepEqual([...OPTIMIZERS], ["adam", "lazy_adam", "sgd"]);
  const options = { learningRate: 0.02, beta1: 0.8, beta2: 0.99, epsilon: 1e-7 };
  const classes = { adam: Adam, lazy_adam: LazyAdam, sgd: Sgd };
  for (const kind of OPTIMIZERS) {
    const p = tableWithDense();
    const opt = buildOptimizer(kind, p, options);
    assert.equal(opt.constructor, classes[kind], kind);
    assert.equal(opt.kind, kind);
    assert.equal(opt.learningRate, 0.02);
    assert.equal(opt.stepCount, 0);
    if (kind === "sgd") {
      assert.equal(opt.beta1, undefined);
      assert.equal(opt.epsilon, undefined);
    } else {
      assert.deepEqual([opt.beta1, opt.beta2, opt.epsilon], [0.8, 0.99, 1e-7]);
    }
    // The row-sparse optimizers start tracking the rows a batch touches.
    assert.equal(p.touchedRows("emb") !== null, kind !== "adam", kind);
  }
});

Deno.test("buildOptimizer() defaults to the paper's learning rate and Keras' Adam constants", () => {
  const adam = buildOptimizer("adam", tableWithDense());
  assert.deepEqual([adam.learningRate, adam.beta1, adam.beta2, adam.epsilon], [
    0.001,
    0.9,
    0.999,
    1e-8,
  ]);
  assert.equal(buildOptimizer("sgd", tableWithDense()).learningRate, 0.001);
});

Deno.test("buildOptimizer() refuses an unknown kind and out-of-range hyper-parameters", () => {
  const p = tableWithDense();
  assert.throws(
    () => buildOptimizer("rmsprop" as "adam", p),
    /the optimizers are adam, lazy_adam, sgd/,
  );
  assert.throws(() => buildOptimizer("adam", p, { beta1: 1 }), RangeError);
  assert.throws(() => buildOptimizer("lazy_adam", p, { epsilon: -1 }), RangeError);
  assert.throws(() => buildOptimizer("sgd", p, { learningRate: -0.1 }), RangeError);
});

Deno.test("an optimizer built by buildOptimizer() steps its parameters and consumes the gradients", () => {
  for (const kind of OPTIMIZERS) {
    const p = tableWithDense();
    const opt = buildOptimizer(kind, p, { learningRate: 0.1 });
    p.get("emb").grads.set([1, -1], 2);
    p.get("bias").grads[0] = 0.5;
    p.touchedRows("emb")?.mark(1);
    opt.step();
    assert.equal(opt.stepCount, 1);
    assert.ok(p.get("emb").values[2] < 0 && p.get("emb").values[3] > 0, kind);
    assert.ok(p.get("bias").values[0] < 0, kind);
    assert.ok(p.grads.every((g) => g === 0), kind);
  }
});
