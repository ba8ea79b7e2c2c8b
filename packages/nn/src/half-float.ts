/**
 * IEEE binary16 (F16) and bfloat16 (BF16) to and from float32, on raw 16-bit patterns.
 * Encoding rounds to nearest, ties to even, as PyTorch's `.half()` / `.bfloat16()` do, so a
 * checkpoint written here in F16 holds the same bits PyTorch would write.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Decodes one binary16 pattern (subnormals, ±inf and NaN included) to a float32 value. */
export function f16BitsToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/** Decodes one bfloat16 pattern: it is the top half of a float32. */
export function bf16BitsToFloat(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0]!;
}

function roundHalfEven(q: number): number {
  const f = Math.floor(q);
  const d = q - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f + (f & 1);
}

/** Encodes a float32 value as binary16, round-to-nearest-even; overflow gives ±inf, NaN stays NaN. */
export function floatToF16Bits(value: number): number {
  f32[0] = value;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const a = Math.abs(f32[0]!);
  if (Number.isNaN(a)) return sign | 0x7e00;
  // 65520 is halfway between the largest finite half (65504) and 2^16; ties-to-even goes up.
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -14) {
    // Subnormal range: a multiple of 2^-24. A result of 1024 is the smallest normal, whose bits are 0x0400.
    return sign | roundHalfEven(a * 2 ** 24);
  }
  let e = ((bits >>> 23) & 0xff) - 127;
  // Exact in float64: the significand scaled to [1024, 2048).
  let r = roundHalfEven(a * 2 ** (10 - e));
  if (r === 2048) {
    r = 1024;
    e += 1;
  }
  return sign | ((e + 15) << 10) | (r - 1024);
}

/** Encodes a float32 value as bfloat16, round-to-nearest-even on the dropped 16 bits; NaN stays NaN. */
export function floatToBf16Bits(value: number): number {
  f32[0] = value;
  const bits = u32[0]!;
  if (Number.isNaN(f32[0]!)) return ((bits >>> 16) & 0x8000) | 0x7fc0;
  const lower = bits & 0xffff;
  let upper = bits >>> 16;
  if (lower > 0x8000 || (lower === 0x8000 && (upper & 1) === 1)) upper += 1;
  return upper & 0xffff;
}
