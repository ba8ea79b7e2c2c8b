/*
 * Kernels for tfjs' wasm backend that its own build runs slowly, compiled to a small WebAssembly module
 * that shares the backend's memory (it imports the backend's WebAssembly.Memory and reads and writes its
 * tensors in place).
 *
 * Why: tfjs-backend-wasm runs a batched or transposed matmul as a scalar loop (2.2 GFLOP/s a core), has no
 * conv filter gradient and reduces only inner axes, and its XNNPACK convolutions run at 27–31 GFLOP/s. Each
 * kernel below says what it replaces; src/wasm-simd-kernels.ts registers them.
 *
 * Rules this file keeps, because the module has no memory of its own (the backend owns every byte):
 * no static data, no stack arrays, no libc. scripts/build-wasm-kernels.mjs refuses a build that has a
 * data section or touches a global (a stack pointer would mean the module writes below the backend's heap).
 *
 * Build: node packages/backend/scripts/build-wasm-kernels.mjs (Debian: apt-get install clang lld).
 */
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(name)))

/*
 * C[M, N] = A · B for one matrix pair. A's element (i, k) sits at a[i·ai + k·ak], so A and Aᵀ are the
 * same loop with the strides swapped; B is row-major [K, N] with rows ldb apart. Four rows of C at a
 * time, eight columns (two vectors) each: 8 accumulators, 2 loads of B and 4 broadcasts of A per k.
 */
static void gemm(const float *a, int ai, int ak, const float *b, int ldb, float *c, int M, int K, int N) {
  const v128_t zero = wasm_f32x4_splat(0);
  int i = 0;
  for (; i + 4 <= M; i += 4) {
    const float *a0 = a + i * ai, *a1 = a0 + ai, *a2 = a1 + ai, *a3 = a2 + ai;
    float *c0 = c + i * N, *c1 = c0 + N, *c2 = c1 + N, *c3 = c2 + N;
    int j = 0;
    for (; j + 8 <= N; j += 8) {
      v128_t s00 = zero, s01 = zero, s10 = zero, s11 = zero, s20 = zero, s21 = zero, s30 = zero, s31 = zero;
      const float *bk = b + j;
      for (int k = 0; k < K; k++, bk += ldb) {
        const v128_t b0 = wasm_v128_load(bk), b1 = wasm_v128_load(bk + 4);
        v128_t x = wasm_v128_load32_splat(a0 + k * ak);
        s00 = wasm_f32x4_add(s00, wasm_f32x4_mul(x, b0));
        s01 = wasm_f32x4_add(s01, wasm_f32x4_mul(x, b1));
        x = wasm_v128_load32_splat(a1 + k * ak);
        s10 = wasm_f32x4_add(s10, wasm_f32x4_mul(x, b0));
        s11 = wasm_f32x4_add(s11, wasm_f32x4_mul(x, b1));
        x = wasm_v128_load32_splat(a2 + k * ak);
        s20 = wasm_f32x4_add(s20, wasm_f32x4_mul(x, b0));
        s21 = wasm_f32x4_add(s21, wasm_f32x4_mul(x, b1));
        x = wasm_v128_load32_splat(a3 + k * ak);
        s30 = wasm_f32x4_add(s30, wasm_f32x4_mul(x, b0));
        s31 = wasm_f32x4_add(s31, wasm_f32x4_mul(x, b1));
      }
      wasm_v128_store(c0 + j, s00), wasm_v128_store(c0 + j + 4, s01);
      wasm_v128_store(c1 + j, s10), wasm_v128_store(c1 + j + 4, s11);
      wasm_v128_store(c2 + j, s20), wasm_v128_store(c2 + j + 4, s21);
      wasm_v128_store(c3 + j, s30), wasm_v128_store(c3 + j + 4, s31);
    }
    for (; j + 4 <= N; j += 4) {
      v128_t s0 = zero, s1 = zero, s2 = zero, s3 = zero;
      const float *bk = b + j;
      for (int k = 0; k < K; k++, bk += ldb) {
        const v128_t b0 = wasm_v128_load(bk);
        s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load32_splat(a0 + k * ak), b0));
        s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(wasm_v128_load32_splat(a1 + k * ak), b0));
        s2 = wasm_f32x4_add(s2, wasm_f32x4_mul(wasm_v128_load32_splat(a2 + k * ak), b0));
        s3 = wasm_f32x4_add(s3, wasm_f32x4_mul(wasm_v128_load32_splat(a3 + k * ak), b0));
      }
      wasm_v128_store(c0 + j, s0), wasm_v128_store(c1 + j, s1), wasm_v128_store(c2 + j, s2), wasm_v128_store(c3 + j, s3);
    }
    for (; j < N; j++) {
      float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (int k = 0; k < K; k++) {
        const float bv = b[k * ldb + j];
        s0 += a0[k * ak] * bv, s1 += a1[k * ak] * bv, s2 += a2[k * ak] * bv, s3 += a3[k * ak] * bv;
      }
      c0[j] = s0, c1[j] = s1, c2[j] = s2, c3[j] = s3;
    }
  }
  for (; i < M; i++) {
    const float *a0 = a + i * ai;
    float *c0 = c + i * N;
    int j = 0;
    for (; j + 16 <= N; j += 16) {
      v128_t s0 = zero, s1 = zero, s2 = zero, s3 = zero;
      const float *bk = b + j;
      for (int k = 0; k < K; k++, bk += ldb) {
        const v128_t x = wasm_v128_load32_splat(a0 + k * ak);
        s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(x, wasm_v128_load(bk)));
        s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(x, wasm_v128_load(bk + 4)));
        s2 = wasm_f32x4_add(s2, wasm_f32x4_mul(x, wasm_v128_load(bk + 8)));
        s3 = wasm_f32x4_add(s3, wasm_f32x4_mul(x, wasm_v128_load(bk + 12)));
      }
      wasm_v128_store(c0 + j, s0), wasm_v128_store(c0 + j + 4, s1), wasm_v128_store(c0 + j + 8, s2), wasm_v128_store(c0 + j + 12, s3);
    }
    for (; j + 4 <= N; j += 4) {
      v128_t s0 = zero;
      const float *bk = b + j;
      for (int k = 0; k < K; k++, bk += ldb) s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load32_splat(a0 + k * ak), wasm_v128_load(bk)));
      wasm_v128_store(c0 + j, s0);
    }
    for (; j < N; j++) {
      float s0 = 0;
      for (int k = 0; k < K; k++) s0 += a0[k * ak] * b[k * ldb + j];
      c0[j] = s0;
    }
  }
}

/* dst[K, N] = srcᵀ for src [N, K]: B of a transposed-B product laid out as gemm reads it. */
static void transpose(const float *src, float *dst, int N, int K) {
  for (int n = 0; n < N; n++)
    for (int k = 0; k < K; k++) dst[k * N + n] = src[n * K + k];
}

/*
 * out[p] = op(A[p]) · op(B[p]) for p < batch, tfjs' BatchMatMul on rank-3 views: A is [batchA, M, K]
 * ([batchA, K, M] when transposeA), B is [batchB, K, N] ([batchB, N, K] when transposeB); a batch of 1
 * broadcasts. `scratch` holds K·N floats when transposeB (B[p] is transposed into it first).
 * Offsets are byte offsets into the shared memory.
 */
EXPORT("batch_matmul")
void batch_matmul(const float *a, const float *b, float *out, float *scratch, int batch_a, int batch_b, int M, int K, int N, int transpose_a,
                  int transpose_b) {
  const int batch = batch_a > batch_b ? batch_a : batch_b;
  const int ai = transpose_a ? 1 : K, ak = transpose_a ? M : 1;
  for (int p = 0; p < batch; p++) {
    const float *ap = a + (batch_a == 1 ? 0 : p) * M * K;
    const float *bp = b + (batch_b == 1 ? 0 : p) * K * N;
    if (transpose_b) {
      // B broadcast over the batch is transposed once.
      if (p == 0 || batch_b != 1) transpose(bp, scratch, N, K);
      bp = scratch;
    }
    gemm(ap, ai, ak, bp, N, out + p * M * N, M, K, N);
  }
}

/*
 * x [B, H, W, C] as the zero-padded window [B, Hp, Wp, C] that starts at row −top, column −left: a stride-1
 * convolution's every output row then reads whole input rows. Written into scratch (B·Hp·Wp·C floats), or x itself
 * when the window is x.
 */
static const float *padded_input(const float *x, float *scratch, int B, int H, int W, int C, int Hp, int Wp, int top, int left) {
  if (top == 0 && left == 0 && Hp == H && Wp == W) return x;
  for (int b = 0; b < B; b++)
    for (int r = 0; r < Hp; r++)
      for (int c = 0; c < Wp; c++) {
        const int h = r - top, v = c - left;
        float *to = scratch + ((b * Hp + r) * Wp + c) * C;
        if (h >= 0 && h < H && v >= 0 && v < W) {
          const float *from = x + ((b * H + h) * W + v) * C;
          for (int i = 0; i < C; i++) to[i] = from[i];
        } else {
          for (int i = 0; i < C; i++) to[i] = 0;
        }
      }
  return scratch;
}

/*
 * One tap of dL/dW for one image: tap[ci, co] += Σ_{h,w} xp[h·xRowStride + w·Cin + ci]·dy[(h·Wo + w)·Cout + co], xp at the
 * tap's offset in the zero-padded input. Four input by eight output channels a block, over a few rows at a time
 * (what fits in L1), accumulating into tap.
 */
static void filter_grad_tap(const float *xp, int xRowStride, const float *dy, int Ho, int Wo, int Cin, int Cout, float *tap) {
  int rows = 6144 / (Wo * (Cin + Cout));
  if (rows < 1) rows = 1;
  for (int h0 = 0; h0 < Ho; h0 += rows) {
    const int h1 = Ho - h0 < rows ? Ho : h0 + rows;
    int ci = 0;
    for (; ci + 4 <= Cin; ci += 4) {
      float *t0 = tap + ci * Cout, *t1 = t0 + Cout, *t2 = t1 + Cout, *t3 = t2 + Cout;
      int co = 0;
      for (; co + 8 <= Cout; co += 8) {
        v128_t s00 = wasm_v128_load(t0 + co), s01 = wasm_v128_load(t0 + co + 4), s10 = wasm_v128_load(t1 + co), s11 = wasm_v128_load(t1 + co + 4);
        v128_t s20 = wasm_v128_load(t2 + co), s21 = wasm_v128_load(t2 + co + 4), s30 = wasm_v128_load(t3 + co), s31 = wasm_v128_load(t3 + co + 4);
        for (int h = h0; h < h1; h++) {
          const float *a = xp + h * xRowStride + ci, *b = dy + h * Wo * Cout + co;
          for (int w = 0; w < Wo; w++, a += Cin, b += Cout) {
            const v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4);
            v128_t x = wasm_v128_load32_splat(a);
            s00 = wasm_f32x4_add(s00, wasm_f32x4_mul(x, b0));
            s01 = wasm_f32x4_add(s01, wasm_f32x4_mul(x, b1));
            x = wasm_v128_load32_splat(a + 1);
            s10 = wasm_f32x4_add(s10, wasm_f32x4_mul(x, b0));
            s11 = wasm_f32x4_add(s11, wasm_f32x4_mul(x, b1));
            x = wasm_v128_load32_splat(a + 2);
            s20 = wasm_f32x4_add(s20, wasm_f32x4_mul(x, b0));
            s21 = wasm_f32x4_add(s21, wasm_f32x4_mul(x, b1));
            x = wasm_v128_load32_splat(a + 3);
            s30 = wasm_f32x4_add(s30, wasm_f32x4_mul(x, b0));
            s31 = wasm_f32x4_add(s31, wasm_f32x4_mul(x, b1));
          }
        }
        wasm_v128_store(t0 + co, s00), wasm_v128_store(t0 + co + 4, s01);
        wasm_v128_store(t1 + co, s10), wasm_v128_store(t1 + co + 4, s11);
        wasm_v128_store(t2 + co, s20), wasm_v128_store(t2 + co + 4, s21);
        wasm_v128_store(t3 + co, s30), wasm_v128_store(t3 + co + 4, s31);
      }
      for (; co < Cout; co++) {
        float s0 = t0[co], s1 = t1[co], s2 = t2[co], s3 = t3[co];
        for (int h = h0; h < h1; h++) {
          const float *a = xp + h * xRowStride + ci, *b = dy + h * Wo * Cout + co;
          for (int w = 0; w < Wo; w++, a += Cin, b += Cout) s0 += a[0] * *b, s1 += a[1] * *b, s2 += a[2] * *b, s3 += a[3] * *b;
        }
        t0[co] = s0, t1[co] = s1, t2[co] = s2, t3[co] = s3;
      }
    }
    for (; ci < Cin; ci++) {
      float *t0 = tap + ci * Cout;
      int co = 0;
      for (; co + 4 <= Cout; co += 4) {
        v128_t s0 = wasm_v128_load(t0 + co);
        for (int h = h0; h < h1; h++) {
          const float *a = xp + h * xRowStride + ci, *b = dy + h * Wo * Cout + co;
          for (int w = 0; w < Wo; w++, a += Cin, b += Cout) s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load32_splat(a), wasm_v128_load(b)));
        }
        wasm_v128_store(t0 + co, s0);
      }
      for (; co < Cout; co++) {
        float s0 = t0[co];
        for (int h = h0; h < h1; h++) {
          const float *a = xp + h * xRowStride + ci, *b = dy + h * Wo * Cout + co;
          for (int w = 0; w < Wo; w++, a += Cin, b += Cout) s0 += *a * *b;
        }
        t0[co] = s0;
      }
    }
  }
}

/*
 * dL/dW of a stride-1 NHWC convolution y = conv(x, W): dW[i, j, ci, co] = Σ_{b,h,w} x[b, h+i−top, w+j−left, ci]·dy[b, h, w, co].
 * The input is copied into its zero-padded window xp [B, Ho + kh − 1, Wo + kw − 1, Cin] (in scratch, B·Hp·Wp·Cin floats;
 * not when unpadded), so tap (i, j) of output pixel (h, w) reads xp's pixel (h + i, w + j): only real dy pixels are
 * multiplied, none of the padding.
 */
EXPORT("conv2d_filter_grad")
void conv2d_filter_grad(const float *x, const float *dy, float *dw, float *scratch, int B, int H, int W, int Cin, int Ho, int Wo, int Cout, int kh,
                        int kw, int top, int left) {
  const int Hp = Ho + kh - 1, Wp = Wo + kw - 1;
  const float *xp = padded_input(x, scratch, B, H, W, Cin, Hp, Wp, top, left);
  const int taps = kh * kw * Cin * Cout;
  for (int i = 0; i < taps; i++) dw[i] = 0;
  for (int b = 0; b < B; b++)
    for (int i = 0; i < kh; i++)
      for (int j = 0; j < kw; j++)
        filter_grad_tap(xp + ((b * Hp + i) * Wp + j) * Cin, Wp * Cin, dy + b * Ho * Wo * Cout, Ho, Wo, Cin, Cout, dw + (i * kw + j) * Cin * Cout);
}

/*
 * GroupNorm and SiLU, the same math as the native addon's (packages/onednn/src/addon.cc), so both paths agree to
 * float32 rounding: two-pass statistics per channel, then per group, accumulated in float64 (here over partial sums
 * of ROWS rows in float32 vectors: float64 has 2 lanes in wasm, float32 has 4).
 */
#define ROWS 64

/* e^x by Cody–Waite range reduction and a degree-6 polynomial: relative error ≈ 2e-7 (no libm here). */
static inline float exp_approx(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float n = __builtin_nearbyintf(x * 1.44269504088896341f);
  const float r = (x - n * 0.693145751953125f) - n * 1.42860682030941723212e-6f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  union {
    int i;
    float f;
  } scale = {.i = ((int)n + 127) << 23};
  return p * scale.f;
}

static inline float silu_of(float v) { return v / (1.0f + exp_approx(-v)); }
static inline float silu_grad_of(float dy, float v) {
  const float s = 1.0f / (1.0f + exp_approx(-v));
  return dy * s * (1.0f + v * (1.0f - s));
}

/*
 * exp_approx on 4 lanes, the same float32 operations lane by lane, so the same results; written out because the
 * compiler's own vectorisation of the scalar form ran at 1.7 ns an element in V8: its clamp became wasm's min/max
 * (NaN- and signed-zero-exact: several x64 instructions each) and its float→int conversion a saturating one. Here
 * the clamp is pmin/pmax (x < a ? a : x, one instruction, and NaN stays NaN as in the scalar form) and n is rounded
 * by adding and subtracting 1.5·2²³ (round half to even, as nearbyint, for |x·log₂e| < 2²²), whose bits give n
 * as an integer without a conversion.
 */
static inline v128_t exp_approx4(v128_t x) {
  x = wasm_f32x4_pmin(wasm_f32x4_pmax(x, wasm_f32x4_splat(-87.0f)), wasm_f32x4_splat(88.0f));
  const v128_t magic = wasm_f32x4_splat(12582912.0f);
  const v128_t shifted = wasm_f32x4_add(wasm_f32x4_mul(x, wasm_f32x4_splat(1.44269504088896341f)), magic);
  const v128_t n = wasm_f32x4_sub(shifted, magic);
  const v128_t r = wasm_f32x4_sub(wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(0.693145751953125f))),
                                  wasm_f32x4_mul(n, wasm_f32x4_splat(1.42860682030941723212e-6f)));
  v128_t p = wasm_f32x4_splat(1.0f / 720.0f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 120.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 24.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 6.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(0.5f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f));
  const v128_t scale = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_sub(shifted, magic), wasm_i32x4_splat(127)), 23);
  return wasm_f32x4_mul(p, scale);
}

static inline v128_t silu4(v128_t v) {
  return wasm_f32x4_div(v, wasm_f32x4_add(wasm_f32x4_splat(1.0f), exp_approx4(wasm_f32x4_neg(v))));
}
static inline v128_t silu_grad4(v128_t dy, v128_t v) {
  const v128_t one = wasm_f32x4_splat(1.0f);
  const v128_t s = wasm_f32x4_div(one, wasm_f32x4_add(one, exp_approx4(wasm_f32x4_neg(v))));
  return wasm_f32x4_mul(wasm_f32x4_mul(dy, s), wasm_f32x4_add(one, wasm_f32x4_mul(v, wasm_f32x4_sub(one, s))));
}

EXPORT("silu")
void silu(const float *restrict x, float *restrict y, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, silu4(wasm_v128_load(x + i)));
  for (; i < n; i++) y[i] = silu_of(x[i]);
}

EXPORT("silu_grad")
void silu_grad(const float *restrict dy, const float *restrict x, float *restrict dx, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(dx + i, silu_grad4(wasm_v128_load(dy + i), wasm_v128_load(x + i)));
  for (; i < n; i++) dx[i] = silu_grad_of(dy[i], x[i]);
}

/*
 * Per-channel sums over a sample's rows in float32 partials of ROWS rows, added into float64 acc[c] (and, with dyx,
 * Σ x·y into acc2[c]; with mu, Σ(x − μ)² instead of Σ x). For C a multiple of 16, 16 channels at a time in 4 vector
 * registers: partials kept in memory cost a load and a store each per 4 elements, and ran GroupNorm's statistics at
 * half this speed. Each channel's sum is the same sequence of float32 additions either way.
 */
static void channel_sums(const float *xb, const float *yb, const float *mu, int HW, int C, double *acc, double *acc2, float *part, float *part2) {
  for (int c = 0; c < C; c++) acc[c] = 0;
  if (yb)
    for (int c = 0; c < C; c++) acc2[c] = 0;
  if (C % 16 == 0) {
    for (int c0 = 0; c0 < C; c0 += 16)
      for (int i0 = 0; i0 < HW; i0 += ROWS) {
        const int i1 = HW - i0 < ROWS ? HW : i0 + ROWS;
        v128_t s[4], t[4], m[4];
        for (int v = 0; v < 4; v++) {
          s[v] = t[v] = wasm_f32x4_splat(0);
          m[v] = mu ? wasm_v128_load(mu + c0 + 4 * v) : s[v];
        }
        for (int i = i0; i < i1; i++)
          for (int v = 0; v < 4; v++) {
            const v128_t xv = wasm_v128_load(xb + i * C + c0 + 4 * v);
            if (yb) {
              const v128_t yv = wasm_v128_load(yb + i * C + c0 + 4 * v);
              s[v] = wasm_f32x4_add(s[v], yv);
              t[v] = wasm_f32x4_add(t[v], wasm_f32x4_mul(yv, xv));
            } else if (mu) {
              const v128_t d = wasm_f32x4_sub(xv, m[v]);
              s[v] = wasm_f32x4_add(s[v], wasm_f32x4_mul(d, d));
            } else {
              s[v] = wasm_f32x4_add(s[v], xv);
            }
          }
        for (int v = 0; v < 4; v++) {
          wasm_v128_store(part + 4 * v, s[v]);
          wasm_v128_store(part2 + 4 * v, t[v]);
        }
        for (int l = 0; l < 16; l++) {
          acc[c0 + l] += part[l];
          if (yb) acc2[c0 + l] += part2[l];
        }
      }
    return;
  }
  for (int i0 = 0; i0 < HW; i0 += ROWS) {
    const int i1 = HW - i0 < ROWS ? HW : i0 + ROWS;
    for (int c = 0; c < C; c++) part[c] = 0, part2[c] = 0;
    for (int i = i0; i < i1; i++)
      for (int c = 0; c < C; c++) {
        const float xv = xb[i * C + c];
        if (yb) {
          const float yv = yb[i * C + c];
          part[c] += yv;
          part2[c] += yv * xv;
        } else if (mu) {
          const float d = xv - mu[c];
          part[c] += d * d;
        } else {
          part[c] += xv;
        }
      }
    for (int c = 0; c < C; c++) {
      acc[c] += part[c];
      if (yb) acc2[c] += part2[c];
    }
  }
}

/*
 * y = (x − μ)·inv·γ + β over NHWC viewed as [B, HW, C], statistics per sample and group of C/G adjacent channels
 * (SiLU of it when act); mean and inv = 1/√(σ² + ε) per [b, g] are kept for the gradient.
 * scratch: C doubles then 5·C floats.
 */
EXPORT("group_norm")
void group_norm(const float *restrict x, const float *restrict gamma, const float *restrict beta, float *restrict y, float *restrict mean,
                float *restrict inv, double *restrict scratch, int B, int HW, int C,
                int G, double eps, int act) {
  const int cg = C / G;
  const double n = (double)HW * cg;
  double *acc = scratch;
  float *mu = (float *)(scratch + C), *scale = mu + C, *shift = scale + C, *part = shift + C;
  for (int b = 0; b < B; b++) {
    const float *xb = x + b * HW * C;
    float *yb = y + b * HW * C;
    channel_sums(xb, 0, 0, HW, C, acc, 0, part, part + C);
    for (int g = 0; g < G; g++) {
      double s = 0;
      for (int c = 0; c < cg; c++) s += acc[g * cg + c];
      for (int c = 0; c < cg; c++) mu[g * cg + c] = (float)(s / n);
      mean[b * G + g] = (float)(s / n);
    }
    channel_sums(xb, 0, mu, HW, C, acc, 0, part, part + C);  // second pass: Σ(x − μ)², no cancellation
    for (int g = 0; g < G; g++) {
      double s = 0;
      for (int c = 0; c < cg; c++) s += acc[g * cg + c];
      const float is = (float)(1.0 / __builtin_sqrt(s / n + eps));
      inv[b * G + g] = is;
      for (int c = 0; c < cg; c++) {
        const int k = g * cg + c;
        scale[k] = is * gamma[k];
        shift[k] = beta[k] - mu[k] * scale[k];
      }
    }
    if (act)
      for (int i = 0; i < HW; i++) {
        const float *xr = xb + i * C;
        float *yr = yb + i * C;
        int c = 0;
        for (; c + 4 <= C; c += 4)
          wasm_v128_store(yr + c, silu4(wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(xr + c), wasm_v128_load(scale + c)), wasm_v128_load(shift + c))));
        for (; c < C; c++) yr[c] = silu_of(xr[c] * scale[c] + shift[c]);
      }
    else
      for (int i = 0; i < HW; i++)
        for (int c = 0; c < C; c++) yb[i * C + c] = xb[i * C + c] * scale[c] + shift[c];
  }
}

/*
 * dx = inv·(γ·dy − mean_g(γ·dy) − x̂·mean_g(γ·dy·x̂)), dγ = Σ dy·x̂, dβ = Σ dy (sums over b and HW). With act, dy is
 * first taken through SiLU's derivative at the normalised value, recomputed as the forward pass computed it, into
 * dv (HW·C floats). scratch: 4·C doubles then 5·C floats (+ HW·C floats for dv when act).
 */
EXPORT("group_norm_grad")
void group_norm_grad(const float *restrict dy, const float *restrict x, const float *restrict gamma, const float *restrict beta,
                     const float *restrict mean, const float *restrict inv, float *restrict dx, float *restrict dgamma, float *restrict dbeta,
                     double *restrict scratch, int B, int HW, int C, int G, int act) {
  const int cg = C / G;
  const double n = (double)HW * cg;
  double *sDy = scratch, *sDyX = sDy + C, *totalGamma = sDyX + C, *totalBeta = totalGamma + C;
  float *coefDy = (float *)(totalBeta + C), *coefX = coefDy + C, *bias = coefX + C, *partDy = bias + C, *partDyX = partDy + C, *dv = partDyX + C;
  for (int c = 0; c < C; c++) totalGamma[c] = 0, totalBeta[c] = 0;
  for (int b = 0; b < B; b++) {
    const int base = b * HW * C;
    const float *dyb = dy + base, *xb = x + base;
    if (act) {
      // The forward pass's scale and shift (in coefDy, bias for now), from the same float32 μ, inv, γ, β.
      for (int c = 0; c < C; c++) {
        const float mu = mean[b * G + c / cg];
        coefDy[c] = inv[b * G + c / cg] * gamma[c];
        bias[c] = beta[c] - mu * coefDy[c];
      }
      for (int i = 0; i < HW; i++) {
        const float *xr = xb + i * C, *dr = dyb + i * C;
        float *vr = dv + i * C;
        int c = 0;
        for (; c + 4 <= C; c += 4) {
          const v128_t v = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(xr + c), wasm_v128_load(coefDy + c)), wasm_v128_load(bias + c));
          wasm_v128_store(vr + c, silu_grad4(wasm_v128_load(dr + c), v));
        }
        for (; c < C; c++) vr[c] = silu_grad_of(dr[c], xr[c] * coefDy[c] + bias[c]);
      }
      dyb = dv;
    }
    channel_sums(xb, dyb, 0, HW, C, sDy, sDyX, partDy, partDyX);
    for (int g = 0; g < G; g++) {
      const double mu = mean[b * G + g], is = inv[b * G + g];
      double m1 = 0, m2 = 0;
      for (int c = 0; c < cg; c++) {
        const int k = g * cg + c;
        const double sDyXhat = is * (sDyX[k] - mu * sDy[k]);
        totalBeta[k] += sDy[k];
        totalGamma[k] += sDyXhat;
        m1 += sDy[k] * gamma[k];
        m2 += sDyXhat * gamma[k];
      }
      m1 /= n;
      m2 /= n;
      for (int c = 0; c < cg; c++) {
        const int k = g * cg + c;
        coefDy[k] = (float)(is * gamma[k]);
        coefX[k] = (float)(-is * is * m2);
        bias[k] = (float)(mu * is * is * m2 - is * m1);
      }
    }
    for (int i = 0; i < HW; i++)
      for (int c = 0; c < C; c++) {
        const int k = base + i * C + c;
        dx[k] = dyb[i * C + c] * coefDy[c] + x[k] * coefX[c] + bias[c];
      }
  }
  for (int c = 0; c < C; c++) dgamma[c] = (float)totalGamma[c], dbeta[c] = (float)totalBeta[c];
}

/*
 * [G, R, C] → [G, C], summing each group's R rows: the gradient of every bias add (G = 1) and of a time
 * embedding added over H×W (G = B). The backend reduces only an inner axis, so it transposes the whole tensor
 * first. Rows are summed 64 at a time in float32 vectors, the partial sums added in float64.
 * scratch: C doubles then C floats.
 */
EXPORT("sum_leading")
void sum_leading(const float *restrict x, float *restrict y, double *restrict scratch, int G, int R, int C) {
  double *acc = scratch;
  float *part = (float *)(scratch + C);
  for (int g = 0; g < G; g++) {
    const float *xg = x + g * R * C;
    for (int c = 0; c < C; c++) acc[c] = 0;
    for (int r0 = 0; r0 < R; r0 += 64) {
      const int r1 = R - r0 < 64 ? R : r0 + 64;
      for (int c = 0; c < C; c++) part[c] = 0;
      for (int r = r0; r < r1; r++)
        for (int c = 0; c < C; c++) part[c] += xg[r * C + c];
      for (int c = 0; c < C; c++) acc[c] += part[c];
    }
    for (int c = 0; c < C; c++) y[g * C + c] = (float)acc[c];
  }
}

/*
 * out = a + b for a of [G, R, C] and b of the same shape (same) or [G, C] added to each of a group's R rows (a
 * bias: G = 1; a time embedding [B, 1, 1, C] on [B, H, W, C]: G = B). The backend's broadcasting Add walks
 * indices element by element.
 */
EXPORT("add_rows")
void add_rows(const float *restrict a, const float *restrict b, float *restrict out, int G, int R, int C, int same) {
  if (same) {
    const int n = G * R * C;
    for (int i = 0; i < n; i++) out[i] = a[i] + b[i];
    return;
  }
  for (int row = 0; row < G * R; row++) {
    const float *bg = b + (row / R) * C, *ar = a + row * C;
    float *o = out + row * C;
    for (int c = 0; c < C; c++) o[c] = ar[c] + bg[c];
  }
}

/*
 * One output row of a stride-1 convolution: y[p, co] = bias[co] + Σ_{i,j,ci} xrow[i·rowStride + (p + j)·Cin + ci]·W[i, j, ci, co]
 * for p < Wo, from a zero-padded input whose row (b, h) starts at xrow. As gemm, four pixels by eight output
 * channels at a time, with the kh·kw taps inside the accumulation: each output is loaded and stored once.
 */
static inline float lane_sum(v128_t v) {
  return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 2)) + (wasm_f32x4_extract_lane(v, 1) + wasm_f32x4_extract_lane(v, 3));
}

static void conv_row(const float *xrow, int rowStride, const float *w, const float *bias, float *yrow, int Wo, int Cin, int Cout, int kh, int kw) {
  const v128_t zero = wasm_f32x4_splat(0);
  const int tapStride = Cin * Cout;
  int p = 0;
  for (; p + 4 <= Wo; p += 4) {
    float *y0 = yrow + p * Cout, *y1 = y0 + Cout, *y2 = y1 + Cout, *y3 = y2 + Cout;
    int co = 0;
    for (; co + 8 <= Cout; co += 8) {
      const v128_t c0 = bias ? wasm_v128_load(bias + co) : zero, c1 = bias ? wasm_v128_load(bias + co + 4) : zero;
      v128_t s00 = c0, s01 = c1, s10 = c0, s11 = c1, s20 = c0, s21 = c1, s30 = c0, s31 = c1;
      for (int i = 0; i < kh; i++)
        for (int j = 0; j < kw; j++) {
          const float *a0 = xrow + i * rowStride + (p + j) * Cin, *a1 = a0 + Cin, *a2 = a1 + Cin, *a3 = a2 + Cin;
          const float *wk = w + (i * kw + j) * tapStride + co;
          for (int k = 0; k < Cin; k++, wk += Cout) {
            const v128_t b0 = wasm_v128_load(wk), b1 = wasm_v128_load(wk + 4);
            v128_t x = wasm_v128_load32_splat(a0 + k);
            s00 = wasm_f32x4_add(s00, wasm_f32x4_mul(x, b0));
            s01 = wasm_f32x4_add(s01, wasm_f32x4_mul(x, b1));
            x = wasm_v128_load32_splat(a1 + k);
            s10 = wasm_f32x4_add(s10, wasm_f32x4_mul(x, b0));
            s11 = wasm_f32x4_add(s11, wasm_f32x4_mul(x, b1));
            x = wasm_v128_load32_splat(a2 + k);
            s20 = wasm_f32x4_add(s20, wasm_f32x4_mul(x, b0));
            s21 = wasm_f32x4_add(s21, wasm_f32x4_mul(x, b1));
            x = wasm_v128_load32_splat(a3 + k);
            s30 = wasm_f32x4_add(s30, wasm_f32x4_mul(x, b0));
            s31 = wasm_f32x4_add(s31, wasm_f32x4_mul(x, b1));
          }
        }
      wasm_v128_store(y0 + co, s00), wasm_v128_store(y0 + co + 4, s01);
      wasm_v128_store(y1 + co, s10), wasm_v128_store(y1 + co + 4, s11);
      wasm_v128_store(y2 + co, s20), wasm_v128_store(y2 + co + 4, s21);
      wasm_v128_store(y3 + co, s30), wasm_v128_store(y3 + co + 4, s31);
    }
    // Four more channels (the latent UNet's output: 4): the 4 pixels' accumulators, one weight vector a k.
    for (; co + 4 <= Cout; co += 4) {
      const v128_t c0 = bias ? wasm_v128_load(bias + co) : zero;
      v128_t s0 = c0, s1 = c0, s2 = c0, s3 = c0;
      for (int i = 0; i < kh; i++)
        for (int j = 0; j < kw; j++) {
          const float *a0 = xrow + i * rowStride + (p + j) * Cin, *a1 = a0 + Cin, *a2 = a1 + Cin, *a3 = a2 + Cin;
          const float *wk = w + (i * kw + j) * tapStride + co;
          for (int k = 0; k < Cin; k++, wk += Cout) {
            const v128_t b0 = wasm_v128_load(wk);
            s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load32_splat(a0 + k), b0));
            s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(wasm_v128_load32_splat(a1 + k), b0));
            s2 = wasm_f32x4_add(s2, wasm_f32x4_mul(wasm_v128_load32_splat(a2 + k), b0));
            s3 = wasm_f32x4_add(s3, wasm_f32x4_mul(wasm_v128_load32_splat(a3 + k), b0));
          }
        }
      wasm_v128_store(y0 + co, s0), wasm_v128_store(y1 + co, s1), wasm_v128_store(y2 + co, s2), wasm_v128_store(y3 + co, s3);
    }
    // One output channel (an image's): its weights are contiguous over Cin, so each pixel is a dot product of
    // vectors over the input channels, summed across lanes at the end.
    if (Cout == 1 && Cin % 4 == 0) {
      v128_t s0 = zero, s1 = zero, s2 = zero, s3 = zero;
      for (int i = 0; i < kh; i++)
        for (int j = 0; j < kw; j++) {
          const float *a0 = xrow + i * rowStride + (p + j) * Cin, *a1 = a0 + Cin, *a2 = a1 + Cin, *a3 = a2 + Cin;
          const float *wk = w + (i * kw + j) * tapStride;
          for (int k = 0; k < Cin; k += 4) {
            const v128_t b0 = wasm_v128_load(wk + k);
            s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(a0 + k), b0));
            s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(wasm_v128_load(a1 + k), b0));
            s2 = wasm_f32x4_add(s2, wasm_f32x4_mul(wasm_v128_load(a2 + k), b0));
            s3 = wasm_f32x4_add(s3, wasm_f32x4_mul(wasm_v128_load(a3 + k), b0));
          }
        }
      const float c0 = bias ? bias[0] : 0;
      y0[0] = c0 + lane_sum(s0), y1[0] = c0 + lane_sum(s1), y2[0] = c0 + lane_sum(s2), y3[0] = c0 + lane_sum(s3);
      co = 1;
    }
    for (; co < Cout; co++) {
      const float c0 = bias ? bias[co] : 0;
      float s0 = c0, s1 = c0, s2 = c0, s3 = c0;
      for (int i = 0; i < kh; i++)
        for (int j = 0; j < kw; j++) {
          const float *a0 = xrow + i * rowStride + (p + j) * Cin;
          const float *wk = w + (i * kw + j) * tapStride + co;
          for (int k = 0; k < Cin; k++) {
            const float wv = wk[k * Cout];
            s0 += a0[k] * wv, s1 += a0[Cin + k] * wv, s2 += a0[2 * Cin + k] * wv, s3 += a0[3 * Cin + k] * wv;
          }
        }
      y0[co] = s0, y1[co] = s1, y2[co] = s2, y3[co] = s3;
    }
  }
  for (; p < Wo; p++) {
    float *y0 = yrow + p * Cout;
    int co = 0;
    for (; co + 4 <= Cout; co += 4) {
      v128_t s0 = bias ? wasm_v128_load(bias + co) : zero;
      for (int i = 0; i < kh; i++)
        for (int j = 0; j < kw; j++) {
          const float *a0 = xrow + i * rowStride + (p + j) * Cin;
          const float *wk = w + (i * kw + j) * tapStride + co;
          for (int k = 0; k < Cin; k++, wk += Cout) s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load32_splat(a0 + k), wasm_v128_load(wk)));
        }
      wasm_v128_store(y0 + co, s0);
    }
    for (; co < Cout; co++) {
      float s0 = bias ? bias[co] : 0;
      for (int i = 0; i < kh; i++)
        for (int j = 0; j < kw; j++) {
          const float *a0 = xrow + i * rowStride + (p + j) * Cin;
          const float *wk = w + (i * kw + j) * tapStride + co;
          for (int k = 0; k < Cin; k++) s0 += a0[k] * wk[k * Cout];
        }
      y0[co] = s0;
    }
  }
}

/*
 * y = conv(x, W) (+ bias) for a stride-1, undilated NHWC convolution with any padding. The input is copied into
 * its zero-padded window [B, Ho + kh − 1, Wo + kw − 1, Cin] in scratch (not when it has no padding), so every
 * output row reads whole input rows. bias: 0 for none.
 */
EXPORT("conv2d")
void conv2d(const float *x, const float *w, const float *bias, float *y, float *scratch, int B, int H, int W, int Cin, int Ho, int Wo, int Cout, int kh,
            int kw, int top, int left) {
  const int Hp = Ho + kh - 1, Wp = Wo + kw - 1;
  const float *xp = padded_input(x, scratch, B, H, W, Cin, Hp, Wp, top, left);
  for (int b = 0; b < B; b++)
    for (int h = 0; h < Ho; h++) conv_row(xp + (b * Hp + h) * Wp * Cin, Wp * Cin, w, bias, y + (b * Ho + h) * Wo * Cout, Wo, Cin, Cout, kh, kw);
}

/*
 * One Adam/AdamW step of every parameter of a model in one call, as the op sequence in @ldm/nn's Adam computes it
 * (float32, each operation rounded as the backend's own kernels round it; contraction is off in this build):
 * g′ = g·clip (+ wd·p, coupled), m′ = β₁m + (1−β₁)g′, v′ = β₂v + (1−β₂)g′², p′ = p·decay − (m′ / (√v′ / √(1−β₂ᵗ) + ε))·stepSize.
 * Composed of tfjs ops it is ~10 kernel dispatches a parameter (1,440 on the latent UNet). table: per parameter
 * [size, p, g, m, v, pOut, mOut, vOut] (an element count, then byte addresses); clip: the clipping factor's address
 * when clipped.
 */
EXPORT("adam_steps")
void adam_steps(const int *table, int count, int clipped, const float *clip, double beta1, double beta2, double epsilon, double weightDecay,
                double decay, double stepSize, double biasCorrection2Sqrt) {
  const float b1 = (float)beta1, b2 = (float)beta2, eps = (float)epsilon, wd = (float)weightDecay, dec = (float)decay;
  const float step = (float)stepSize, bc2 = (float)biasCorrection2Sqrt, omb1 = (float)(1.0 - beta1), omb2 = (float)(1.0 - beta2);
  const float c = clipped ? *clip : 1.0f;
  for (int k = 0; k < count; k++) {
    const int *t = table + 8 * k;
    const int n = t[0];
    const float *p = (const float *)t[1], *g = (const float *)t[2], *m = (const float *)t[3], *v = (const float *)t[4];
    float *pOut = (float *)t[5], *mOut = (float *)t[6], *vOut = (float *)t[7];
    for (int i = 0; i < n; i++) {
      float gi = clipped ? g[i] * c : g[i];
      if (wd != 0.0f) gi = gi + p[i] * wd;
      const float mi = m[i] * b1 + gi * omb1;
      const float vi = v[i] * b2 + (gi * gi) * omb2;
      const float denom = __builtin_sqrtf(vi) / bc2 + eps;
      const float param = dec != 1.0f ? p[i] * dec : p[i];
      mOut[i] = mi;
      vOut[i] = vi;
      pOut[i] = param - (mi / denom) * step;
    }
  }
}

/* The EMA of every parameter in one call, as @ldm/nn's EMA.update: s′ = s − (s − p)·(1 − decay). table: per parameter [size, s, p, sOut]. */
EXPORT("ema_update")
void ema_update(const int *table, int count, double oneMinusDecay) {
  const float f = (float)oneMinusDecay;
  for (int k = 0; k < count; k++) {
    const int *t = table + 4 * k;
    const int n = t[0];
    const float *s = (const float *)t[1], *p = (const float *)t[2];
    float *out = (float *)t[3];
    for (int i = 0; i < n; i++) out[i] = s[i] - (s[i] - p[i]) * f;
  }
}

/*
 * out = √(Σₖ Σᵢ gₖᵢ²), bit for bit as @ldm/nn's globalNormOps composes it of the backend's kernels: each gradient's
 * squares summed in order (a float sum the compiler does not reorder), the sums added in order. table: per gradient [size, g].
 */
EXPORT("global_norm")
void global_norm(const int *table, int count, float *out) {
  float total = 0.0f;
  for (int k = 0; k < count; k++) {
    const int n = table[2 * k];
    const float *g = (const float *)table[2 * k + 1];
    float sum = 0.0f;
    for (int i = 0; i < n; i++) sum += g[i] * g[i];
    total += sum;
  }
  *out = __builtin_sqrtf(total);
}

/*
 * dst[r·dstStride + k] = src[r·srcStride + k] for r < rows, k < run: the strided row copies that Concat, Slice and
 * SplitV make of a tensor (src/row-copies.ts). The backend's own kernels walk them element by element.
 */
EXPORT("copy_rows")
void copy_rows(const float *src, float *dst, int rows, int run, int srcStride, int dstStride) {
  for (int r = 0; r < rows; r++) {
    const float *s = src + r * srcStride;
    float *d = dst + r * dstStride;
    int k = 0;
    for (; k + 4 <= run; k += 4) wasm_v128_store(d + k, wasm_v128_load(s + k));
    for (; k < run; k++) d[k] = s[k];
  }
}
