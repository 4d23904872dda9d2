import assert from "node:assert/strict";
import type { MfSgdOptions, TensorMemory } from "../../lib/kernels/kernels.ts";
import {
  checkMfSgd,
  dotLanes,
  MF_LOSS_BLOCK,
  MF_SGD_BLOCK,
  MF_SGD_SCRATCH_BYTES,
  mfSgdTs,
} from "../../lib/kernels/mf_sgd.ts";
import { wasmArenaOf } from "../../lib/kernels/wasm_arena.ts";
import { Prng } from "../../lib/random/prng.ts";
import { assertSameBits, kernelSets, testMemory } from "./_kernel_sets.ts";

const PLAIN: TensorMemory = { alloc: (n) => new Float32Array(n) };
const f = Math.fround;

/** Operands over `memory`: Gaussian tables (σ 0.5), `count` random examples, both label kinds. */
function operands(
  memory: TensorMemory,
  sizes: { users: number; items: number; nf: number; count: number; pairs: boolean },
): MfSgdOptions {
  const prng = new Prng(3);
  const table = (n: number) => {
    const x = memory.alloc(n);
    for (let i = 0; i < n; i++) x[i] = 0.5 * prng.nextGaussian();
    return x;
  };
  const { users, items, nf, count, pairs } = sizes;
  const ids = (n: number) => Int32Array.from({ length: count }, () => prng.nextInt(n));
  return {
    users: ids(users),
    items: ids(items),
    labels: pairs ? null : Int8Array.from({ length: count }, () => prng.nextInt(2)),
    negItems: pairs ? ids(items) : null,
    count,
    userTable: table(users * nf),
    itemTable: table(items * nf),
    factors: nf,
    userBias: table(users),
    itemBias: table(items),
    globalBias: table(1),
    learningRate: f(0.05),
    reg: f(0.01),
    penalty: 0.005,
  };
}

function tensors(o: MfSgdOptions): Float32Array[] {
  return [o.userTable, o.itemTable, o.userBias, o.itemBias, o.globalBias];
}

Deno.test("dotLanes() sums four float32 lanes, then the lanes, then the tail — scoreRows' order on every set", async (t) => {
  // Lane sums that cancel and a tail: a sequential float32 sum would differ.
  const x = Float32Array.of(1e8, 1, -1e8, 1, 3, 1e-3, 7, 1e8, 0.5);
  const y = Float32Array.of(1, 1, 1, 1, 1, 1, 1, -1, 1);
  const s = [f(f(1e8) + f(3)), f(1 + f(1e-3)), f(-1e8 + 7), f(1 - 1e8)];
  const want = f(f(f(s[0] + s[1]) + f(s[2] + s[3])) + 0.5);
  assert.equal(dotLanes(x, 0, y, 0, 9), want);
  for (const kernels of kernelSets()) {
    await t.step(kernels.name, () => {
      const memory = testMemory(kernels);
      const table = memory.alloc(9);
      table.set(x);
      const uw = memory.alloc(9);
      uw.set(y);
      const logits = memory.alloc(1);
      kernels.scoreRows(Int32Array.of(0), {
        count: 1,
        gmf: table,
        gmfStride: 9,
        nf: 9,
        uw,
        base: 0,
        logits,
        mlp: logits,
        mlpStride: 1,
        mlpOffset: 0,
        width: 0,
        userPart: uw,
        act: logits,
      });
      assert.equal(logits[0], want);
    });
  }
});

Deno.test("mfSgdTs() steps one labelled example as the module notes spell it", () => {
  const o = operands(PLAIN, { users: 2, items: 3, nf: 6, count: 1, pairs: false });
  const before = tensors(o).map((x) => x.slice());
  const [P, Q, bu, bi, b] = before;
  const u = o.users[0] * 6;
  const i = o.items[0] * 6;
  const z = f(f(f(b[0] + bu[o.users[0]]) + dotLanes(P, u, Q, i, 6)) + bi[o.items[0]]);
  const y = o.labels![0];
  const e = Math.exp(-Math.abs(z));
  const g = f((z >= 0 ? 1 / (1 + e) : e / (1 + e)) - y);
  const { learningRate: lr, reg: r } = o;
  const step = (w: number, grad: number) => f(w - f(lr * grad));
  const loss = mfSgdTs(o);
  for (let d = 0; d < 6; d++) {
    assert.equal(o.userTable[u + d], step(P[u + d], f(f(g * Q[i + d]) + f(r * P[u + d]))));
    assert.equal(o.itemTable[i + d], step(Q[i + d], f(f(g * P[u + d]) + f(r * Q[i + d]))));
  }
  assert.equal(o.userBias[o.users[0]], step(bu[o.users[0]], f(g + f(r * bu[o.users[0]]))));
  assert.equal(o.itemBias[o.items[0]], step(bi[o.items[0]], f(g + f(r * bi[o.items[0]]))));
  assert.equal(o.globalBias[0], step(b[0], f(g + f(r * b[0]))));
  let norm = 0;
  for (let d = 0; d < 6; d++) norm += P[u + d] ** 2 + Q[i + d] ** 2;
  norm += bu[o.users[0]] ** 2 + bi[o.items[0]] ** 2 + b[0] ** 2;
  const want = (z > 0 ? z : 0) - z * y + Math.log1p(e) + o.penalty * norm;
  assert.ok(Math.abs(loss - want) <= 1e-7 * want, `${loss} vs ${want}`);
});

Deno.test("mfSgdTs() steps one triple as the module notes spell it, i ≠ j and i = j", async (t) => {
  for (const same of [false, true]) {
    await t.step(same ? "i = j" : "i ≠ j", () => {
      const o = operands(PLAIN, { users: 2, items: 3, nf: 5, count: 1, pairs: true });
      o.items[0] = 1;
      o.negItems![0] = same ? 1 : 2;
      const [P, Q, bu, bi, b] = tensors(o).map((x) => x.slice());
      const { learningRate: lr, reg: r } = o;
      const uo = o.users[0] * 5;
      const [i, j] = [o.items[0], o.negItems![0]];
      const base = f(b[0] + bu[o.users[0]]);
      const zi = f(f(base + dotLanes(P, uo, Q, i * 5, 5)) + bi[i]);
      const zj = f(f(base + dotLanes(P, uo, Q, j * 5, 5)) + bi[j]);
      const dz = zi - zj;
      const e = Math.exp(-Math.abs(dz));
      const s = dz >= 0 ? e / (1 + e) : 1 / (1 + e);
      const [gi, gj] = [f(-s), f(s)];
      const step = (w: number, grad: number) => f(w - f(lr * grad));
      mfSgdTs(o);
      for (let d = 0; d < 5; d++) {
        const p = P[uo + d];
        const qi = Q[i * 5 + d];
        const qj = Q[j * 5 + d];
        assert.equal(o.userTable[uo + d], step(p, f(f(f(gi * qi) + f(gj * qj)) + f(r * p))));
        if (same) {
          const twice = f(f(f(f(gi * p) + f(gj * p)) + f(r * qi)) + f(r * qi));
          assert.equal(o.itemTable[i * 5 + d], step(qi, twice));
        } else {
          assert.equal(o.itemTable[i * 5 + d], step(qi, f(f(gi * p) + f(r * qi))));
          assert.equal(o.itemTable[j * 5 + d], step(qj, f(f(gj * p) + f(r * qj))));
        }
      }
      const gu = f(gi + gj);
      assert.equal(gu, 0, "b and b_u take no loss gradient");
      assert.equal(o.userBias[o.users[0]], step(bu[o.users[0]], f(gu + f(r * bu[o.users[0]]))));
      assert.equal(o.globalBias[0], step(b[0], f(gu + f(r * b[0]))));
      const want = same
        ? step(bi[i], f(f(gu + f(r * bi[i])) + f(r * bi[i])))
        : step(bi[i], f(gi + f(r * bi[i])));
      assert.equal(o.itemBias[i], want);
    });
  }
});

Deno.test("mfSgdTs()'s loss is the sum of the examples' losses before their updates (within 1e-12)", async (t) => {
  for (const pairs of [false, true]) {
    await t.step(pairs ? "bpr" : "bce", () => {
      const count = 3 * MF_LOSS_BLOCK + 5;
      const o = operands(PLAIN, { users: 4, items: 6, nf: 5, count, pairs });
      const copy = operands(PLAIN, { users: 4, items: 6, nf: 5, count, pairs });
      let want = 0;
      for (let e = 0; e < count; e++) {
        want += mfSgdTs({
          ...copy,
          users: copy.users.subarray(e),
          items: copy.items.subarray(e),
          labels: copy.labels?.subarray(e) ?? null,
          negItems: copy.negItems?.subarray(e) ?? null,
          count: 1,
        });
      }
      const got = mfSgdTs(o);
      assert.ok(Math.abs(got - want) <= 1e-12 * want, `${got} vs ${want}`);
      for (const [a, b] of tensors(o).map((x, k) => [x, tensors(copy)[k]])) {
        assertSameBits(a, b, "one call or one per example");
      }
    });
  }
});

Deno.test("every set's mfSgd runs several staging blocks with the ts loop's bits; the wasm sets stage them in their arena", async (t) => {
  assert.equal(MF_SGD_BLOCK % MF_LOSS_BLOCK, 0, "blocks end on loss blocks");
  const count = 2 * MF_SGD_BLOCK + 300;
  for (const pairs of [false, true]) {
    for (const nf of [3, 16, 21]) {
      const sizes = { users: 40, items: 30, nf, count, pairs };
      const reference = operands(PLAIN, sizes);
      const want = mfSgdTs(reference);
      for (const kernels of kernelSets()) {
        await t.step(`${kernels.name} ${pairs ? "bpr" : "bce"} ${nf} factors`, () => {
          const memory = kernels.memory({
            floats: 1 << 16,
            scratchBytes: MF_SGD_SCRATCH_BYTES,
            idsBytes: 1 << 12,
          });
          const o = operands(memory, sizes);
          const got = kernels.mfSgd(o);
          assert.ok(Object.is(got, want), `${got} vs ts ${want}`);
          tensors(o).forEach((x, k) => assertSameBits(x, tensors(reference)[k], `tensor ${k}`));
          if (kernels.name !== "ts") {
            const arena = wasmArenaOf(o.userTable)!;
            assert.ok(arena.owns(...tensors(o)));
            // The last block's users sit in the arena's scratch: the WebAssembly kernel ran.
            const at = arena.scratch(MF_SGD_SCRATCH_BYTES)!;
            const staged = new Int32Array(arena.memory.buffer, at, 300);
            assert.deepEqual(staged, o.users.subarray(2 * MF_SGD_BLOCK));
          }
        });
      }
    }
  }
});

Deno.test("mfSgd refuses bad operands on every set before changing anything", async (t) => {
  const cases: [string, (o: MfSgdOptions) => MfSgdOptions, RegExp][] = [
    ["a user outside", (o) => ({ ...o, users: Int32Array.of(0, 9) }), /user 9 at position 1/],
    ["a negative item", (o) => ({ ...o, items: Int32Array.of(-1, 0) }), /item -1 at position 0/],
    [
      "a negative id outside",
      (o) => ({ ...o, labels: null, negItems: Int32Array.of(0, 3) }),
      /negative item 3 at position 1/,
    ],
    ["both labels and negatives", (o) => ({ ...o, negItems: Int32Array.of(0, 0) }), /exactly one/],
    ["neither", (o) => ({ ...o, labels: null }), /exactly one/],
    ["short labels", (o) => ({ ...o, labels: Int8Array.of(1) }), /labels holds 1/],
    ["no factors", (o) => ({ ...o, factors: 0 }), /factors 0/],
    ["a short table", (o) => ({ ...o, itemTable: o.itemTable.subarray(1) }), /tables hold/],
  ];
  for (const kernels of kernelSets()) {
    for (const [name, spoil, message] of cases) {
      await t.step(`${kernels.name} ${name}`, () => {
        const o = spoil(operands(testMemory(kernels), {
          users: 2,
          items: 3,
          nf: 4,
          count: 2,
          pairs: false,
        }));
        const before = tensors(o).map((x) => x.slice());
        assert.throws(
          () => kernels.mfSgd(o),
          (e: Error) => e instanceof RangeError && message.test(e.message),
        );
        tensors(o).forEach((x, k) => assert.deepEqual(x, before[k]));
      });
    }
  }
  assert.throws(
    () =>
      checkMfSgd({
        ...operands(PLAIN, { users: 1, items: 1, nf: 1, count: 1, pairs: false }),
        count: -1,
      }),
    /count -1/,
  );
});

Deno.test("mfSgd with count 0 changes nothing and returns 0", async (t) => {
  for (const kernels of kernelSets()) {
    await t.step(kernels.name, () => {
      const o = operands(testMemory(kernels), {
        users: 2,
        items: 3,
        nf: 4,
        count: 0,
        pairs: false,
      });
      const before = tensors(o).map((x) => x.slice());
      assert.equal(kernels.mfSgd(o), 0);
      tensors(o).forEach((x, k) => assert.deepEqual(x, before[k]));
    });
  }
});
