import assert from "node:assert/strict";
import { type Backend, checkGemmArgs, type GemmArgs, tsBackend } from "../../lib/kernels/gemm.ts";
import { WasmArena } from "../../lib/kernels/wasm_arena.ts";
import { wasmBackend } from "../../lib/kernels/wasm_gemm.ts";
import { Prng } from "../../lib/random/prng.ts";

/** Naive float64 reference of C = alpha·op(A)·op(B) + beta·C (row-major). */
function referenceGemm(args: GemmArgs): Float64Array {
  const { transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc } = args;
  const out = Float64Array.from(c);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let t = 0;
      for (let p = 0; p < k; p++) {
        const x = transA ? a[p * lda + i] : a[i * lda + p];
        const y = transB ? b[j * ldb + p] : b[p * ldb + j];
        t += x * y;
      }
      out[i * ldc + j] = alpha * t + (beta === 0 ? 0 : beta * c[i * ldc + j]);
    }
  }
  return out;
}

type Alloc = (n: number) => Float32Array;
const plain: Alloc = (n) => new Float32Array(n);

function randomArray(n: number, prng: Prng, alloc: Alloc = plain): Float32Array {
  const x = alloc(n);
  for (let i = 0; i < n; i++) x[i] = prng.nextGaussian();
  return x;
}

function makeCase(
  prng: Prng,
  s: { transA: boolean; transB: boolean; m: number; n: number; k: number; pad: number },
  alpha: number,
  beta: number,
  alloc: Alloc = plain,
): GemmArgs {
  const { transA, transB, m, n, k, pad } = s;
  const aRows = transA ? k : m;
  const lda = (transA ? m : k) + pad;
  const bRows = transB ? n : k;
  const ldb = (transB ? k : n) + pad;
  const ldc = n + pad;
  return {
    transA,
    transB,
    m,
    n,
    k,
    alpha,
    a: randomArray(Math.max(1, aRows * lda), prng, alloc),
    lda: Math.max(1, lda),
    b: randomArray(Math.max(1, bRows * ldb), prng, alloc),
    ldb: Math.max(1, ldb),
    beta,
    c: randomArray(Math.max(1, m * ldc), prng, alloc),
    ldc: Math.max(1, ldc),
  };
}

const arena = WasmArena.create();
// The wasm backend runs in place on matrices in one arena (here at odd
// offsets: one float past each block) and copies ordinary arrays.
const inArena: Alloc = (n) => arena!.alloc(n + 1).subarray(1);
const BACKENDS: [string, Backend, Alloc][] = [
  ["tsBackend", tsBackend, plain],
  ["wasmBackend (copied)", wasmBackend, plain],
  ["wasmBackend (in an arena)", wasmBackend, inArena],
];

for (const [label, backend, alloc] of BACKENDS) {
  Deno.test(`${label}.sgemm() matches a naive reference for every transpose, size, stride, alpha and beta`, async (t) => {
    const prng = new Prng(11);
    const sizes = [
      [1, 1, 1],
      [3, 5, 7],
      [4, 4, 4],
      [8, 12, 16],
      [9, 6, 13],
      [17, 3, 2],
      [5, 1, 33],
      [
        13,
        21,
        40,
      ],
    ];
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        await t.step(`transA=${transA} transB=${transB}`, () => {
          for (const [m, n, k] of sizes) {
            for (const pad of [0, 3]) {
              for (const [alpha, beta] of [[1, 0], [1, 1], [0.5, -2], [-1.5, 0.25]]) {
                const args = makeCase(prng, { transA, transB, m, n, k, pad }, alpha, beta, alloc);
                const expected = referenceGemm(args);
                const before = args.c.slice();
                backend.sgemm(args);
                for (let i = 0; i < args.c.length; i++) {
                  const inBlock = Math.floor(i / args.ldc) < m && i % args.ldc < n;
                  const want = inBlock ? expected[i] : before[i]; // padding untouched
                  // float32 accumulation (wasm) errs up to ~k·2⁻²⁴ of the |terms|.
                  const tol = 1e-5 * (1 + Math.abs(want)) * Math.sqrt(k) * 3;
                  assert.ok(
                    Math.abs(args.c[i] - want) <= tol,
                    `${m}×${n}×${k} pad ${pad} α=${alpha} β=${beta} c[${i}] = ${
                      args.c[i]
                    }, want ${want}`,
                  );
                }
              }
            }
          }
        });
      }
    }
  });
}

Deno.test("tsBackend and wasmBackend sgemm() with beta 0 ignore NaN in C, and with alpha 0 or k 0 only scale C", () => {
  for (const backend of [tsBackend, wasmBackend]) betaAndEmptyCases(backend);
});

function betaAndEmptyCases(backend: Backend): void {
  const c = Float32Array.of(NaN, NaN);
  backend.sgemm({
    transA: false,
    transB: false,
    m: 1,
    n: 2,
    k: 1,
    alpha: 1,
    a: Float32Array.of(2),
    lda: 1,
    b: Float32Array.of(3, 4),
    ldb: 2,
    beta: 0,
    c,
    ldc: 2,
  });
  assert.deepEqual([...c], [6, 8]);
  const base = {
    transA: false,
    transB: false,
    m: 1,
    n: 2,
    a: Float32Array.of(2),
    lda: 1,
    b: Float32Array.of(3, 4),
    ldb: 2,
    ldc: 2,
  };
  backend.sgemm({ ...base, k: 1, alpha: 0, beta: 0.5, c });
  assert.deepEqual([...c], [3, 4]);
  backend.sgemm({ ...base, k: 0, alpha: 1, beta: 0, c });
  assert.deepEqual([...c], [0, 0]);
}

Deno.test("checkGemmArgs() refuses short arrays and strides below the row width", async (t) => {
  const ok: GemmArgs = {
    transA: false,
    transB: true,
    m: 2,
    n: 3,
    k: 4,
    alpha: 1,
    a: new Float32Array(8),
    lda: 4,
    b: new Float32Array(12),
    ldb: 4,
    beta: 0,
    c: new Float32Array(6),
    ldc: 3,
  };
  checkGemmArgs(ok);
  const cases: [string, Partial<GemmArgs>][] = [
    ["lda below k", { lda: 3 }],
    ["short a", { a: new Float32Array(7) }],
    ["ldb below k (B transposed)", { ldb: 2 }],
    ["short b", { b: new Float32Array(11) }],
    ["short c", { c: new Float32Array(5) }],
    ["negative m", { m: -1 }],
    ["fractional k", { k: 1.5 }],
  ];
  for (const [name, patch] of cases) {
    await t.step(name, () => {
      assert.throws(() => tsBackend.sgemm({ ...ok, ...patch }), RangeError);
      assert.throws(() => wasmBackend.sgemm({ ...ok, ...patch }), RangeError);
    });
  }
});
