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

/** Encodes a float32 value as binary16, round-to-nearest-even; overflow gives ±inf, NaN stays NaN. Integer bit work only. */
export function floatToF16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const abs = x & 0x7fffffff;
  if (abs >= 0x7f800000) return sign | (abs > 0x7f800000 ? 0x7e00 : 0x7c00);
  // 65520 (0x477ff000) is halfway between the largest finite half (65504) and 2^16; ties-to-even goes up.
  if (abs >= 0x477ff000) return sign | 0x7c00;
  if (abs < 0x38800000) {
    // Below 2^-14 the result is subnormal: round(|x| · 2^24). At most 2^-25 (0x33000000) that is 0.
    if (abs <= 0x33000000) return sign;
    const m = (abs & 0x7fffff) | 0x800000;
    const shift = 126 - (abs >>> 23);
    const r = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    // A carry out of 1023 gives 0x0400, the smallest normal: the bit layout makes that right.
    return sign | (r + (rem > half || (rem === half && (r & 1) === 1) ? 1 : 0));
  }
  let h = ((((abs >>> 23) - 112) << 10) | ((abs & 0x7fffff) >>> 13)) >>> 0;
  const rem = abs & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h += 1;
  return sign | h;
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
