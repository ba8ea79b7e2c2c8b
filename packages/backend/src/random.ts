/**
 * Seeded, counter-based randomness (Philox4x32-10, Salmon et al. 2011), computed in JS so the
 * same seed gives the same numbers on every tfjs backend and every run. A generator is a key and
 * a counter: its whole state is two numbers, saved in checkpoints and restored exactly.
 */

const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;
const TWO_POW_32 = 4294967296;

/**
 * High 32 bits of the 64-bit product of two uint32, exactly: 16-bit halves, every partial sum below 2^32,
 * so integer shifts and masks do the carries (4–5× faster than the same sums with Math.floor and division).
 */
function mulhi32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const t = a1 * b0 + ((a0 * b0) >>> 16);
  const w1 = (t & 0xffff) + a0 * b1;
  return (a1 * b1 + (t >>> 16) + (w1 >>> 16)) >>> 0;
}

/** One Philox4x32-10 block: 4 uint32 outputs for counter (c0..c3) and key (k0, k1). */
export function philox4x32(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number, out: Uint32Array): void {
  for (let round = 0; round < 10; round++) {
    const hi0 = mulhi32(PHILOX_M0, c0);
    const lo0 = Math.imul(PHILOX_M0, c0) >>> 0;
    const hi1 = mulhi32(PHILOX_M1, c2);
    const lo1 = Math.imul(PHILOX_M1, c2) >>> 0;
    const n0 = (hi1 ^ c1 ^ k0) >>> 0;
    const n2 = (hi0 ^ c3 ^ k1) >>> 0;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 = (k0 + PHILOX_W0) >>> 0;
    k1 = (k1 + PHILOX_W1) >>> 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/** FNV-1a over a string, for deriving stream keys from names. */
function hashString(s: string, h = 0x811c9dc5): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The saved form of a generator: enough to continue exactly where it stopped. */
export interface GeneratorState {
  key: [number, number];
  /** Number of 128-bit blocks consumed so far. */
  counter: number;
}

export class Generator {
  private key: [number, number];
  private counter: number;
  private readonly block = new Uint32Array(4);

  constructor(seed: number | GeneratorState = 0) {
    if (typeof seed === 'number') {
      if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
      const s = Math.floor(Math.abs(seed));
      this.key = [(s % TWO_POW_32) >>> 0, Math.floor(s / TWO_POW_32) >>> 0];
      this.counter = 0;
    } else {
      this.key = [seed.key[0] >>> 0, seed.key[1] >>> 0];
      this.counter = seed.counter;
    }
  }

  /** An independent stream named `name` (e.g. 'data', 'noise', 'dropout'): same parent + name, same stream. */
  split(name: string): Generator {
    const out = new Uint32Array(4);
    philox4x32(hashString(name), hashString(name, 0x1234567), 0xffffffff, 0xffffffff, this.key[0], this.key[1], out);
    return new Generator({ key: [out[0]!, out[1]!], counter: 0 });
  }

  state(): GeneratorState {
    return { key: [this.key[0], this.key[1]], counter: this.counter };
  }

  setState(state: GeneratorState): void {
    this.key = [state.key[0] >>> 0, state.key[1] >>> 0];
    this.counter = state.counter;
  }

  /** n raw uint32 values; consumes ceil(n/4) blocks. */
  uint32(n: number): Uint32Array {
    const out = new Uint32Array(n);
    const b = this.block;
    for (let i = 0; i < n; i += 4) {
      const c = this.counter++;
      philox4x32((c % TWO_POW_32) >>> 0, Math.floor(c / TWO_POW_32) >>> 0, 0, 0, this.key[0], this.key[1], b);
      for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = b[j]!;
    }
    return out;
  }

  /** n uniforms in the open interval (0, 1), 24-bit resolution (exactly representable in float32). */
  uniform(n: number): Float32Array {
    const u = this.uint32(n);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = ((u[i]! >>> 8) + 0.5) / 16777216;
    return out;
  }

  /** n standard normals (Box–Muller in float64, rounded to float32). */
  normal(n: number): Float32Array {
    const m = n + (n & 1);
    const u = this.uint32(m);
    const out = new Float32Array(n);
    for (let i = 0; i < m; i += 2) {
      // 32-bit uniforms in (0, 1); float64 keeps the tail accurate to ~6.7 sigma.
      const u1 = (u[i]! + 0.5) / TWO_POW_32;
      const u2 = (u[i + 1]! + 0.5) / TWO_POW_32;
      const r = Math.sqrt(-2 * Math.log(u1));
      const theta = 2 * Math.PI * u2;
      out[i] = r * Math.cos(theta);
      if (i + 1 < n) out[i + 1] = r * Math.sin(theta);
    }
    return out;
  }

  /** A uniformly random integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform(1)[0]! * n);
  }

  /** A random permutation of 0..n-1 (Fisher–Yates). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    const u = this.uniform(n);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(u[i]! * (i + 1));
      const t = p[i]!;
      p[i] = p[j]!;
      p[j] = t;
    }
    return p;
  }
}
