/**
 * Per-example SGD of a biased matrix factorisation — the `mfSgd` kernel's
 * TypeScript loop (the `ts` set's, and every set's fallback) and the
 * arithmetic it fixes; the WebAssembly kernel (`mf_sgd_*` in
 * `wasm_kernels.wat`) gives the same bits.
 *
 * The model: `y(u,i) = b + b_u + b_i + ⟨p_u, q_i⟩`. Every operation below
 * is float32 (`f` = round to float32) unless it says float64:
 *
 * - logit: `t = dot(p_u, q_i)` = four lanes `s_l = f(s_l + f(p_d·q_d))` over
 *   `d ≡ l (mod 4)`, `d < factors & ~3`, then `f(f(s_0+s_1) + f(s_2+s_3))`,
 *   then the tail `t = f(t + f(p_d·q_d))` (the `scoreRows` kernel's order);
 *   `z = f(f(f(b + b_u) + t) + b_i)`.
 * - logistic loss (labels `y`): float64 `e = exp(−|z|)`,
 *   `σ = z ≥ 0 ? 1/(1+e) : e/(1+e)`, `g = f(σ − y)` (the `bce` kernel's
 *   gradient at count 1); loss `max(z,0) − z·y + log(1+e)`.
 *   Update, with `r = reg` (2λ), `η = learningRate`, every value the old one:
 *   `p_d ← f(p_d − f(η·f(f(g·q_d) + f(r·p_d))))`, `q_d` likewise with `p_d`;
 *   `b_u ← f(b_u − f(η·f(g + f(r·b_u))))`, `b_i`, and the global `b` likewise.
 * - BPR (pairs `(u, i, j)`): `z⁺`, `z⁻` as above, float64 `d = z⁺ − z⁻`,
 *   `e = exp(−|d|)`, `s = d ≥ 0 ? e/(1+e) : 1/(1+e)` (σ(−d)), `g⁺ = f(−s)`,
 *   `g⁻ = f(s)`; loss `max(−d, 0) + log(1+e)`. Gradients (old values):
 *   `p_d: f(f(f(g⁺·q⁺_d) + f(g⁻·q⁻_d)) + f(r·p_d))`,
 *   `q⁺_d: f(f(g⁺·p_d) + f(r·q⁺_d))`, `q⁻_d: f(f(g⁻·p_d) + f(r·q⁻_d))`,
 *   `b_u: f(f(g⁺ + g⁻) + f(r·b_u))`, `b_i: f(g⁺ + f(r·b_i))`,
 *   `b_j: f(g⁻ + f(r·b_j))`, `b: f(f(g⁺ + g⁻) + f(r·b))`; when `i = j` the
 *   item's are `f(f(f(f(g⁺·p_d) + f(g⁻·p_d)) + f(r·q_d)) + f(r·q_d))` and
 *   `f(f(f(g⁺ + g⁻) + f(r·b_i)) + f(r·b_i))`. Each parameter then steps
 *   `w ← f(w − f(η·grad))`.
 *
 * These are exactly a one-example `trainStep` of the MF model followed by
 * `Sgd.step()` (the gradients accumulated in that order, then `Sgd`'s
 * `w − f(η·g)`), so the kernel and `count` such steps give the same bits.
 *
 * The loss sum, float64, per example in this order: `loss += max(…) − …`
 * (the linear part); the `log(1+e)` terms are gathered as products
 * `Π(1+e)` whose `log` is added after every {@linkcode MF_LOSS_BLOCK}th
 * example (and after the last); then, when `penalty` λ > 0, `loss += λ·n`
 * with `n` the float32 squared norm of the touched values before the
 * update: lanes `a_l = f(a_l + s_d)` of `s_d = f(f(p_d²) + f(q_d²))` (for
 * pairs `f(f(f(p_d²) + f(q⁺_d²)) + f(q⁻_d²))`), summed as the logit's
 * lanes, then the tail `f(n + s_d)`, then `f(n + f(b_u²))`, `f(b_i²)`
 * (`f(b_j²)`), `f(b²)`.
 *
 * @module
 */

import type { MfSgdOptions } from "./kernels.ts";

/**
 * Examples per float64 product of `(1 + e)` in the loss sum (a product of
 * 64 factors in (1, 2] cannot overflow). Chunks handed to the WebAssembly
 * kernel in pieces are cut at multiples of it, so every set sums alike.
 */
export const MF_LOSS_BLOCK = 64;

/** Examples the WebAssembly kernel stages per call (a multiple of {@linkcode MF_LOSS_BLOCK}). */
export const MF_SGD_BLOCK = 4096;

/**
 * Scratch bytes the WebAssembly kernel stages a block of examples in (user,
 * item, and label or negative item: 12 bytes each); models that run
 * `mfSgd` ask their memory for this much.
 */
export const MF_SGD_SCRATCH_BYTES: number = MF_SGD_BLOCK * 12 + 64;

/**
 * The dot product of `x[xo..xo+n)` and `y[yo..yo+n)` in float32, four lanes
 * then their sum then the tail (the order `scoreRows` and `mfSgd` use).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dotLanes } from "./mf_sgd.ts";
 * const x = Float32Array.of(1, 2, 3, 4, 5);
 * assert.equal(dotLanes(x, 0, x, 0, 5), 55);
 * assert.equal(dotLanes(x, 1, x, 0, 2), 2 + 6);
 * ```
 */
export function dotLanes(
  x: Float32Array,
  xo: number,
  y: Float32Array,
  yo: number,
  n: number,
): number {
  const f = Math.fround;
  const lanes = n & ~3;
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let d = 0;
  for (; d < lanes; d += 4) {
    s0 = f(s0 + f(x[xo + d] * y[yo + d]));
    s1 = f(s1 + f(x[xo + d + 1] * y[yo + d + 1]));
    s2 = f(s2 + f(x[xo + d + 2] * y[yo + d + 2]));
    s3 = f(s3 + f(x[xo + d + 3] * y[yo + d + 3]));
  }
  let t = f(f(s0 + s1) + f(s2 + s3));
  for (; d < n; d++) t = f(t + f(x[xo + d] * y[yo + d]));
  return t;
}

/**
 * Checks the operands of `mfSgd`: arrays long enough, every id inside its
 * table, exactly one of `labels` and `negItems`.
 * @throws {RangeError} naming what does not fit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkMfSgd } from "./mf_sgd.ts";
 * const o = {
 *   users: Int32Array.of(0), items: Int32Array.of(3), labels: Int8Array.of(1), negItems: null,
 *   count: 1, userTable: new Float32Array(2), itemTable: new Float32Array(6), factors: 2,
 *   userBias: new Float32Array(1), itemBias: new Float32Array(3), globalBias: new Float32Array(1),
 *   learningRate: 0.1, reg: 0, penalty: 0,
 * };
 * assert.throws(() => checkMfSgd(o), /item 3 at position 0 is outside the 3 rows/);
 * ```
 */
export function checkMfSgd(o: MfSgdOptions): void {
  const { count, factors } = o;
  const fail = (state: string): never => {
    throw new RangeError(`Cannot run per-example SGD: ${state}`);
  };
  if (!Number.isInteger(factors) || factors < 1) fail(`factors ${factors} is not an integer ≥ 1`);
  if (!Number.isInteger(count) || count < 0) fail(`count ${count} is not an integer ≥ 0`);
  if ((o.labels === null) === (o.negItems === null)) {
    fail("give labels (logistic loss) or negItems (BPR), exactly one");
  }
  const numUsers = o.userBias.length;
  const numItems = o.itemBias.length;
  if (o.userTable.length < numUsers * factors || o.itemTable.length < numItems * factors) {
    fail(
      `the tables hold ${o.userTable.length} and ${o.itemTable.length} values, need ${numUsers}×${factors} and ${numItems}×${factors}`,
    );
  }
  if (o.globalBias.length < 1) fail("the global bias array is empty");
  const columns: [string, ArrayLike<number> | null][] = [
    ["users", o.users],
    ["items", o.items],
    ["labels", o.labels],
    ["negItems", o.negItems],
  ];
  for (const [name, column] of columns) {
    if (column !== null && column.length < count) {
      fail(`${count} examples requested, ${name} holds ${column.length}`);
    }
  }
  const ids: [string, Int32Array | null, number][] = [
    ["user", o.users, numUsers],
    ["item", o.items, numItems],
    ["negative item", o.negItems, numItems],
  ];
  for (const [name, column, rows] of ids) {
    if (column === null) continue;
    for (let e = 0; e < count; e++) {
      const id = column[e];
      if (!(id >= 0 && id < rows)) {
        fail(`${name} ${id} at position ${e} is outside the ${rows} rows`);
      }
    }
  }
}

/**
 * The `mfSgd` kernel in TypeScript (see the module notes for the
 * arithmetic): runs `count` examples and returns the sum of their losses.
 * @throws {RangeError} on bad operands (see {@linkcode checkMfSgd}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mfSgdTs } from "./mf_sgd.ts";
 * const o = {
 *   users: Int32Array.of(0), items: Int32Array.of(1), labels: Int8Array.of(1), negItems: null,
 *   count: 1, userTable: Float32Array.of(0.5, 0.5), itemTable: Float32Array.of(0, 0, 1, 1),
 *   factors: 2, userBias: new Float32Array(1), itemBias: new Float32Array(2),
 *   globalBias: new Float32Array(1), learningRate: 0.5, reg: 0, penalty: 0,
 * };
 * const loss = mfSgdTs(o); // z = 1, loss = log(1 + e^−1)
 * assert.ok(Math.abs(loss - Math.log1p(Math.exp(-1))) < 1e-12);
 * assert.ok(o.globalBias[0] > 0 && o.itemBias[1] > 0); // pulled up by the positive
 * ```
 */
export function mfSgdTs(o: MfSgdOptions): number {
  checkMfSgd(o);
  return o.negItems === null ? _logistic(o, o.labels!) : _bpr(o, o.negItems);
}

/** `Σ` of the squared float32 norm lanes of rows x (and y, z), as the module notes say. */
function _sqLanes(
  x: Float32Array,
  xo: number,
  y: Float32Array,
  yo: number,
  z: Float32Array | null,
  zo: number,
  n: number,
): number {
  const f = Math.fround;
  const lanes = n & ~3;
  const a = _lanes;
  a[0] =
    a[1] =
    a[2] =
    a[3] =
      0;
  let d = 0;
  for (; d < lanes; d += 4) {
    for (let l = 0; l < 4; l++) a[l] = f(a[l] + _sq(x, xo + d + l, y, yo + d + l, z, zo + d + l));
  }
  let t = f(f(a[0] + a[1]) + f(a[2] + a[3]));
  for (; d < n; d++) t = f(t + _sq(x, xo + d, y, yo + d, z, zo + d));
  return t;
}
const _lanes = new Float64Array(4);

/** `f(f(x²) + f(y²))`, then `f(… + f(z²))` when `z` is given. */
function _sq(
  x: Float32Array,
  xi: number,
  y: Float32Array,
  yi: number,
  z: Float32Array | null,
  zi: number,
): number {
  const f = Math.fround;
  const s = f(f(x[xi] * x[xi]) + f(y[yi] * y[yi]));
  return z === null ? s : f(s + f(z[zi] * z[zi]));
}

function _logistic(o: MfSgdOptions, labels: Int8Array | Float32Array): number {
  const { users, items, count, userTable: P, itemTable: Q, factors: nf } = o;
  const { userBias: BU, itemBias: BI, globalBias, learningRate: lr, reg: r, penalty } = o;
  const f = Math.fround;
  let b = globalBias[0];
  let loss = 0;
  let product = 1;
  for (let e = 0; e < count; e++) {
    const u = users[e];
    const i = items[e];
    const po = u * nf;
    const qo = i * nf;
    const bu = BU[u];
    const bi = BI[i];
    const z = f(f(f(b + bu) + dotLanes(P, po, Q, qo, nf)) + bi);
    const y = labels[e];
    const ex = Math.exp(-Math.abs(z));
    const g = f((z >= 0 ? 1 / (1 + ex) : ex / (1 + ex)) - y);
    loss += (z > 0 ? z : 0) - z * y;
    product *= 1 + ex;
    if ((e + 1) % MF_LOSS_BLOCK === 0) {
      loss += Math.log(product);
      product = 1;
    }
    if (penalty > 0) {
      const n = _sqLanes(P, po, Q, qo, null, 0, nf);
      loss += penalty * f(f(f(n + f(bu * bu)) + f(bi * bi)) + f(b * b));
    }
    for (let d = 0; d < nf; d++) {
      const pd = P[po + d];
      const qd = Q[qo + d];
      P[po + d] = f(pd - f(lr * f(f(g * qd) + f(r * pd))));
      Q[qo + d] = f(qd - f(lr * f(f(g * pd) + f(r * qd))));
    }
    BU[u] = f(bu - f(lr * f(g + f(r * bu))));
    BI[i] = f(bi - f(lr * f(g + f(r * bi))));
    b = f(b - f(lr * f(g + f(r * b))));
  }
  if (count % MF_LOSS_BLOCK !== 0) loss += Math.log(product);
  globalBias[0] = b;
  return loss;
}

function _bpr(o: MfSgdOptions, negItems: Int32Array): number {
  const { users, items, count, userTable: P, itemTable: Q, factors: nf } = o;
  const { userBias: BU, itemBias: BI, globalBias, learningRate: lr, reg: r, penalty } = o;
  const f = Math.fround;
  let b = globalBias[0];
  let loss = 0;
  let product = 1;
  for (let e = 0; e < count; e++) {
    const u = users[e];
    const i = items[e];
    const j = negItems[e];
    const po = u * nf;
    const io = i * nf;
    const jo = j * nf;
    const bu = BU[u];
    const bi = BI[i];
    const bj = BI[j];
    const base = f(b + bu);
    const zi = f(f(base + dotLanes(P, po, Q, io, nf)) + bi);
    const zj = f(f(base + dotLanes(P, po, Q, jo, nf)) + bj);
    const dz = zi - zj;
    const ex = Math.exp(-Math.abs(dz));
    const s = dz >= 0 ? ex / (1 + ex) : 1 / (1 + ex);
    const gi = f(-s);
    const gj = f(s);
    loss += dz < 0 ? -dz : 0;
    product *= 1 + ex;
    if ((e + 1) % MF_LOSS_BLOCK === 0) {
      loss += Math.log(product);
      product = 1;
    }
    if (penalty > 0) {
      const n = _sqLanes(P, po, Q, io, Q, jo, nf);
      loss += penalty * f(f(f(f(n + f(bu * bu)) + f(bi * bi)) + f(bj * bj)) + f(b * b));
    }
    const gu = f(gi + gj);
    if (i !== j) {
      for (let d = 0; d < nf; d++) {
        const pd = P[po + d];
        const qi = Q[io + d];
        const qj = Q[jo + d];
        P[po + d] = f(pd - f(lr * f(f(f(gi * qi) + f(gj * qj)) + f(r * pd))));
        Q[io + d] = f(qi - f(lr * f(f(gi * pd) + f(r * qi))));
        Q[jo + d] = f(qj - f(lr * f(f(gj * pd) + f(r * qj))));
      }
      BI[i] = f(bi - f(lr * f(gi + f(r * bi))));
      BI[j] = f(bj - f(lr * f(gj + f(r * bj))));
    } else {
      for (let d = 0; d < nf; d++) {
        const pd = P[po + d];
        const q = Q[io + d];
        const rq = f(r * q);
        P[po + d] = f(pd - f(lr * f(f(f(gi * q) + f(gj * q)) + f(r * pd))));
        Q[io + d] = f(q - f(lr * f(f(f(f(gi * pd) + f(gj * pd)) + rq) + rq)));
      }
      const rb = f(r * bi);
      BI[i] = f(bi - f(lr * f(f(gu + rb) + rb)));
    }
    BU[u] = f(bu - f(lr * f(gu + f(r * bu))));
    b = f(b - f(lr * f(gu + f(r * b))));
  }
  if (count % MF_LOSS_BLOCK !== 0) loss += Math.log(product);
  globalBias[0] = b;
  return loss;
}
