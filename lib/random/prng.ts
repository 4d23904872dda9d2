/**
 * A small, fast, seedable pseudo-random number generator (xoshiro128**),
 * the only source of randomness in ncf: every random choice takes a `Prng`,
 * so the same seed always gives the same bytes.
 *
 * @module
 */

const TWO_POW_32 = 4294967296;

/** Mixes a 32-bit value (murmur3's finaliser); used to derive states and streams. */
function _mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * Hashes a seed and any number of stream indices into one 32-bit value.
 * Each argument must be an integer in [0, 2^53).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hashSeed } from "./prng.ts";
 * assert.ok(hashSeed(1, 2) === hashSeed(1, 2));
 * assert.ok(hashSeed(1, 2) !== hashSeed(2, 1));
 * ```
 */
export function hashSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    if (!Number.isSafeInteger(part) || part < 0) {
      throw new RangeError(`Cannot hash seed part: ${part} is not an integer in [0, 2^53)`);
    }
    const lo = part >>> 0;
    const hi = Math.floor(part / TWO_POW_32) >>> 0;
    h = _mix32(h ^ lo);
    h = _mix32((h + 0x7f4a7c15) ^ hi);
  }
  return h;
}

/**
 * xoshiro128** generator. Construct it from a seed (and optional stream
 * indices, e.g. a cycle and a user block) so independent parts of a job get
 * independent, reproducible streams.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Prng } from "./prng.ts";
 * const a = new Prng(42);
 * const b = new Prng(42);
 * assert.ok(a.nextUint32() === b.nextUint32());
 * const die = a.nextInt(6); // 0..5
 * assert.ok(die >= 0 && die < 6);
 * ```
 */
export class Prng {
  #s = new Uint32Array(4);

  /**
   * @param seed An integer in [0, 2^53).
   * @param streams Further integers that select an independent stream.
   */
  constructor(seed: number, ...streams: number[]) {
    let h = hashSeed(seed, ...streams);
    for (let i = 0; i < 4; i++) {
      h = (h + 0x9e3779b9) >>> 0;
      this.#s[i] = _mix32(h);
    }
    if ((this.#s[0] | this.#s[1] | this.#s[2] | this.#s[3]) === 0) this.#s[0] = 1;
  }

  /** The next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const s = this.#s;
    const r = Math.imul(_rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = _rotl(s[3], 11);
    return r;
  }

  /**
   * Fills `out` with the next `out.length` values of
   * {@linkcode Prng.nextUint32}: the same values in the same order, and the
   * generator ends in the same state, but much faster in bulk (hot loops
   * draw a block of words at a time).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Prng } from "./prng.ts";
   * const words = new Uint32Array(3);
   * new Prng(5).fillUint32(words);
   * const one = new Prng(5);
   * assert.deepEqual([...words], [one.nextUint32(), one.nextUint32(), one.nextUint32()]);
   * ```
   */
  fillUint32(out: Uint32Array): void {
    const s = this.#s;
    let s0 = s[0] | 0, s1 = s[1] | 0, s2 = s[2] | 0, s3 = s[3] | 0;
    const n = out.length;
    for (let i = 0; i < n; i++) {
      const m = Math.imul(s1, 5);
      out[i] = Math.imul((m << 7) | (m >>> 25), 9);
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
    }
    s[0] = s0;
    s[1] = s1;
    s[2] = s2;
    s[3] = s3;
  }

  /** A uniform float in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /**
   * A uniform integer in [0, n), without modulo bias.
   * @param n An integer in [1, 2^32].
   */
  nextInt(n: number): number {
    if (n <= 0 || n > TWO_POW_32) {
      throw new RangeError(`Cannot draw an integer below ${n}: n must be in [1, 2^32]`);
    }
    const threshold = TWO_POW_32 % n;
    let x = this.nextUint32();
    while (x < threshold) x = this.nextUint32();
    return x % n;
  }

  /** A standard normal deviate (Box–Muller). */
  nextGaussian(): number {
    let u = this.nextFloat();
    while (u === 0) u = this.nextFloat();
    const v = this.nextFloat();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** A copy of the internal state, for checkpoints. */
  getState(): Uint32Array {
    return this.#s.slice();
  }

  /** Restores a state returned by {@linkcode Prng.getState}. */
  setState(state: ArrayLike<number>): void {
    if (state.length !== 4) {
      throw new RangeError(`Cannot restore PRNG state: expected 4 words, got ${state.length}`);
    }
    for (let i = 0; i < 4; i++) this.#s[i] = state[i] >>> 0;
  }
}

function _rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * Shuffles `array` in place (Fisher–Yates) with `prng`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Prng, shuffle } from "./prng.ts";
 * const a = Int32Array.of(1, 2, 3, 4);
 * shuffle(a, new Prng(7));
 * assert.ok(a.length === 4);
 * ```
 */
export function shuffle(
  array: { length: number; [i: number]: number },
  prng: Prng,
): void {
  for (let i = array.length - 1; i > 0; i--) {
    const j = prng.nextInt(i + 1);
    const t = array[i];
    array[i] = array[j];
    array[j] = t;
  }
}
