// Node-API addon: oneDNN kernels that work in place on the tfjs wasm backend's heap.
//
// The wasm backend keeps every tensor in one WebAssembly.Memory; its buffer is a plain ArrayBuffer,
// so a kernel gets (heap, byte offsets, sizes) and reads/writes float32 tensors with no copy.
// Layouts are tfjs' own: activations NHWC, conv filters HWIO (tfjs) = [KH, KW, Cin, Cout].
// Primitives are cached by their shapes: building a oneDNN primitive descriptor costs far more than
// a small convolution.
#include <napi.h>
#include <omp.h>

#include <cmath>
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "oneapi/dnnl/dnnl.hpp"

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

// Per thread: the addon also loads in worker_threads (the data-parallel trainer), and a stream and
// the primitive caches must not be shared between threads that run ops at the same time.
dnnl::engine& engine() {
  static thread_local dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}
dnnl::stream& stream() {
  static thread_local dnnl::stream s(engine());
  return s;
}

typedef float v16 __attribute__((vector_size(64)));

// Mixed precision for convolutions (setConvPrecision): off, every convolution is float32 throughout.
// On, its inputs (activations, filter, incoming gradient) are rounded to bfloat16 as they are read,
// and it accumulates and writes float32, as PyTorch's autocast to bfloat16 on a CPU: on a CPU with
// AVX512-BF16 its dot products run at twice the float32 rate. Process-wide, so worker threads follow.
std::atomic<bool> convBf16{false};

float* at(uint8_t* heap, int64_t offset) { return reinterpret_cast<float*>(heap + offset); }

// ---------------------------------------------------------------------------------------------
// Convolution (2-D, NHWC activations, HWIO filter, groups = 1).
// p = [N, H, W, Cin, KH, KW, Cout, OH, OW, strideH, strideW, dilH, dilW, padT, padL, padB, padR]
struct ConvShape {
  int64_t n, h, w, ci, kh, kw, co, oh, ow, sh, sw, dh, dw, pt, pl, pb, pr;
  bool bf16 = false;  // the inputs it reads rounded to bfloat16 (convBf16)
  // oneDNN fixes a primitive's thread count when it is built: one built for 1 thread runs on 1 after
  // setThreads(2) (measured: B64 8×8 32→32, 600 µs either way; 300 µs built for 2).
  int threads = 1;
  std::string key() const {
    std::string k = (bf16 ? "bf16:" : "f32:") + std::to_string(threads) + ':';
    for (int64_t v : {n, h, w, ci, kh, kw, co, oh, ow, sh, sw, dh, dw, pt, pl, pb, pr}) k += std::to_string(v) + ',';
    return k;
  }
  // What the primitives read: float32, or bfloat16 copies of the inputs; what they write is float32.
  dt in() const { return bf16 ? dt::bf16 : dt::f32; }
  memory::desc src() const { return memory::desc({n, ci, h, w}, dt::f32, tag::nhwc); }
  memory::desc dst() const { return memory::desc({n, co, oh, ow}, dt::f32, tag::nhwc); }
  memory::desc srcIn() const { return memory::desc({n, ci, h, w}, in(), tag::nhwc); }
  memory::desc dstIn() const { return memory::desc({n, co, oh, ow}, in(), tag::nhwc); }
  // tfjs HWIO = oneDNN "hwio" tag over logical dims {O, I, H, W}.
  memory::desc userWeights() const { return memory::desc({co, ci, kh, kw}, dt::f32, tag::hwio); }
  memory::desc anyWeights() const { return memory::desc({co, ci, kh, kw}, in(), tag::any); }
  memory::desc anyDiffWeights() const { return memory::desc({co, ci, kh, kw}, dt::f32, tag::any); }
  memory::desc bias() const { return memory::desc({co}, dt::f32, tag::x); }
  memory::dims strides() const { return {sh, sw}; }
  memory::dims dilation() const { return {dh - 1, dw - 1}; }  // oneDNN counts dilation from 0
  memory::dims padL() const { return {pt, pl}; }
  memory::dims padR() const { return {pb, pr}; }
};

ConvShape readConvShape(const Napi::Int32Array& a) {
  const int32_t* p = a.Data();
  return {p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16], convBf16.load(), omp_get_max_threads()};
}

struct ConvPrimitives {
  dnnl::convolution_forward::primitive_desc fwdPd;
  dnnl::convolution_forward fwd;
  // The same convolution adding a bias [Cout] as it writes its output (tf.fused.conv2d with a bias).
  bool haveFwdBias = false;
  dnnl::convolution_forward::primitive_desc fwdBiasPd;
  dnnl::convolution_forward fwdBias;
  bool haveBwdData = false, haveBwdWeights = false;
  dnnl::convolution_backward_data::primitive_desc bwdDataPd;
  dnnl::convolution_backward_data bwdData;
  dnnl::convolution_backward_weights::primitive_desc bwdWeightsPd;
  dnnl::convolution_backward_weights bwdWeights;
  // bfloat16 copies of the activations and of the incoming gradient (bf16 only), made once per shape.
  memory srcIn, dstIn;
};

// The input at `data` as the primitive reads it: in place for float32, else rounded into `copy`.
memory readAs(const memory::desc& user, const memory::desc& want, memory& copy, void* data);

thread_local std::unordered_map<std::string, std::unique_ptr<ConvPrimitives>> convCache;

ConvPrimitives& convPrimitives(const ConvShape& s) {
  auto key = s.key();
  auto it = convCache.find(key);
  if (it != convCache.end()) return *it->second;
  auto cp = std::make_unique<ConvPrimitives>();
  auto desc = dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, s.srcIn(),
                                              s.anyWeights(), s.dst(), s.strides(), s.dilation(), s.padL(), s.padR());
  cp->fwdPd = dnnl::convolution_forward::primitive_desc(desc, engine());
  cp->fwd = dnnl::convolution_forward(cp->fwdPd);
  auto* raw = cp.get();
  convCache.emplace(key, std::move(cp));
  return *raw;
}

// Reorders between the user's HWIO filter and the layout a primitive chose.
void reorder(const memory& from, const memory& to) {
  dnnl::reorder(from, to).execute(stream(), const_cast<memory&>(from), const_cast<memory&>(to));
}

memory readAs(const memory::desc& user, const memory::desc& want, memory& copy, void* data) {
  memory given(user, engine(), data);
  if (want == user) return given;
  if (!copy) copy = memory(want, engine());
  reorder(given, copy);
  return copy;
}

// Memory-bound kernels split over the threads from this many float32 elements: a parallel region costs
// 1–3 µs while the helper thread spins (GOMP_SPINCOUNT), a 32,768-element pass about 10 µs on one.
constexpr int64_t kParallelMin = 32768;

// ---------------------------------------------------------------------------------------------
// Convolutions that produce at most 4 channels from 16·K (K ≤ 8): a model's last convolution (to an image or latents)
// forward and its filter gradient, and the input gradient of its first (from one). Stride 1, no dilation, float32.
// oneDNN blocks over output channels and ran these at 6–28 GFLOP/s: the VAE's 16 → 1 output convolution (B32,
// 32×32) took 1.44 ms forward and 1.36 for its filter gradient, the 1 → 16 input convolution's input gradient 1.29
// (the other directions, few channels in, it runs well: 0.13–0.21 ms). Here each output pixel is a vector dot product
// over its taps. The input gradient of a stride-1 convolution is itself one (of dy, taps flipped, in and out
// exchanged), so one loop serves forward and input gradient; the filter gradient has its own.
constexpr int64_t kNarrowChannels = 4;
std::atomic<int64_t> narrowConvCount{0};

// A stride-1 convolution from `wide` channels (16·K, K ≤ 8) to `narrow` (≤ 4), padded at most KH − 1 rows and KW − 1
// columns a side (so that the flipped convolution of an input gradient is padded too).
bool narrowShape(const ConvShape& s, int64_t wide, int64_t narrow) {
  if (s.bf16 || s.sh != 1 || s.sw != 1 || s.dh != 1 || s.dw != 1) return false;
  if (s.pt >= s.kh || s.pb >= s.kh || s.pl >= s.kw || s.pr >= s.kw) return false;
  return narrow <= kNarrowChannels && wide % 16 == 0 && wide <= 128;
}
// Forward and filter gradient: few output channels. Input gradient: few input channels (dx is the narrow side).
bool narrowForward(const ConvShape& s) { return narrowShape(s, s.ci, s.co); }
bool narrowBackwardData(const ConvShape& s) { return narrowShape(s, s.co, s.ci); }

// y[b, i, j, :] = bias + Σ over taps inside the input of x[b, i − pt + u, j − pl + v, :] · w[u, v] (w: [KH, KW, ci, co]).
struct DirectConv {
  int64_t n, h, w, ci, co, kh, kw, oh, ow, pt, pl;
};

inline v16 load16(const float* p) {
  v16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline float sum16(v16 a) {
  typedef float v8 __attribute__((vector_size(32)));
  typedef float v4 __attribute__((vector_size(16)));
  const v8 b = __builtin_shufflevector(a, a, 0, 1, 2, 3, 4, 5, 6, 7) + __builtin_shufflevector(a, a, 8, 9, 10, 11, 12, 13, 14, 15);
  const v4 c = __builtin_shufflevector(b, b, 0, 1, 2, 3) + __builtin_shufflevector(b, b, 4, 5, 6, 7);
  return (c[0] + c[2]) + (c[1] + c[3]);
}

// J adjacent output pixels at once: each pixel's sum is a chain of dependent fused multiply-adds, and one chain at
// a time ran at its latency (the VAE's 16 → 1 forward took 404 µs a pixel at a time, 254 four at a time); J·K chains
// of 4–8 keep the FMA units busy.
template <int K>
constexpr int pixelsAtOnce = K >= 5 ? 1 : K >= 3 ? 2 : 4;

// The taps of output pixel (i, j) inside the input: u in [u0, u1), v in [v0, v1).
struct TapRange {
  int64_t u0, u1, v0, v1;
};

// Calls pixels(j, std::integral_constant<int, N>, taps) for runs of N = J pixels of output row i whose taps all fall
// inside the input's columns, N = 1 for the others (near the left and right edges).
template <int J, typename Pixels>
inline void overRow(const DirectConv& d, int64_t i, Pixels pixels) {
  const int64_t u0 = std::max<int64_t>(0, d.pt - i), u1 = std::min(d.kh, d.h + d.pt - i);
  for (int64_t j = 0; j < d.ow;) {
    if (j + J <= d.ow && j >= d.pl && j + J - 1 - d.pl + d.kw <= d.w) {
      pixels(j, std::integral_constant<int, J>{}, TapRange{u0, u1, 0, d.kw});
      j += J;
    } else {
      pixels(j, std::integral_constant<int, 1>{}, TapRange{u0, u1, std::max<int64_t>(0, d.pl - j), std::min(d.kw, d.w + d.pl - j)});
      j += 1;
    }
  }
}

// ci = 16·K, few output channels: per output channel a vector dot product over the taps, summed across lanes
// (wT: the filter as [co, KH, KW, ci], each output channel's weights contiguous). The taps are bounded per row and,
// near the left and right edges, per pixel.
template <int K>
void dotProductConv(const DirectConv& d, const float* x, const float* wT, const float* bias, float* out) {
#pragma omp parallel for collapse(2) schedule(static) num_threads(d.n * d.oh * d.ow * d.ci >= kParallelMin ? omp_get_max_threads() : 1)
  for (int64_t b = 0; b < d.n; b++)
    for (int64_t i = 0; i < d.oh; i++) {
      const float* xb = x + b * d.h * d.w * d.ci;
      // always_inline: GCC otherwise kept the lambda out of line, and the 16 → 1 forward took 330 µs instead of 264.
      overRow<pixelsAtOnce<K>>(d, i, [&](int64_t j, auto pixels, TapRange t) __attribute__((always_inline)) {
        constexpr int N = decltype(pixels)::value;
        for (int64_t oc = 0; oc < d.co; oc++) {
          const float* wo = wT + oc * d.kh * d.kw * d.ci;
          v16 acc[N][K] = {};
          for (int64_t u = t.u0; u < t.u1; u++)
            for (int64_t v = t.v0; v < t.v1; v++) {
              const float* px = xb + ((i - d.pt + u) * d.w + (j - d.pl + v)) * d.ci;
              const float* wt = wo + (u * d.kw + v) * d.ci;
              for (int k = 0; k < K; k++) {
                const v16 wk = load16(wt + 16 * k);
                for (int p = 0; p < N; p++) acc[p][k] += load16(px + p * d.ci + 16 * k) * wk;
              }
            }
          for (int p = 0; p < N; p++) {
            for (int k = 1; k < K; k++) acc[p][0] += acc[p][k];
            out[((b * d.oh + i) * d.ow + j + p) * d.co + oc] = sum16(acc[p][0]) + (bias ? bias[oc] : 0.0f);
          }
        }
      });
    }
}

// co ≤ 4 output channels from ci = 16·K; w as [KH, KW, ci, co]; bias [co] or null.
void directConv(const DirectConv& d, const float* x, const float* w, const float* bias, float* out) {
  narrowConvCount++;
  std::vector<float> wT(d.co * d.kh * d.kw * d.ci);
  for (int64_t t = 0; t < d.kh * d.kw; t++)
    for (int64_t c = 0; c < d.ci; c++)
      for (int64_t oc = 0; oc < d.co; oc++) wT[(oc * d.kh * d.kw + t) * d.ci + c] = w[(t * d.ci + c) * d.co + oc];
  switch (d.ci / 16) {
    case 1: return dotProductConv<1>(d, x, wT.data(), bias, out);
    case 2: return dotProductConv<2>(d, x, wT.data(), bias, out);
    case 3: return dotProductConv<3>(d, x, wT.data(), bias, out);
    case 4: return dotProductConv<4>(d, x, wT.data(), bias, out);
    case 5: return dotProductConv<5>(d, x, wT.data(), bias, out);
    case 6: return dotProductConv<6>(d, x, wT.data(), bias, out);
    case 7: return dotProductConv<7>(d, x, wT.data(), bias, out);
    default: return dotProductConv<8>(d, x, wT.data(), bias, out);
  }
}

void narrowConvForward(const ConvShape& s, const float* x, const float* w, const float* bias, float* y) {
  directConv({s.n, s.h, s.w, s.ci, s.co, s.kh, s.kw, s.oh, s.ow, s.pt, s.pl}, x, w, bias, y);
}

// dx[b, p, q] = Σ dy[b, p + pt − u, q + pl − v] · w[u, v]ᵀ: a convolution of dy with the taps flipped, padded KH − 1 − pt
// on top and KW − 1 − pl on the left.
void narrowConvBackwardData(const ConvShape& s, const float* dy, const float* w, float* dx) {
  std::vector<float> flipped(s.kh * s.kw * s.co * s.ci);
  for (int64_t u = 0; u < s.kh; u++)
    for (int64_t v = 0; v < s.kw; v++)
      for (int64_t c = 0; c < s.ci; c++)
        for (int64_t oc = 0; oc < s.co; oc++)
          flipped[(((s.kh - 1 - u) * s.kw + (s.kw - 1 - v)) * s.co + oc) * s.ci + c] = w[((u * s.kw + v) * s.ci + c) * s.co + oc];
  directConv({s.n, s.oh, s.ow, s.co, s.ci, s.kh, s.kw, s.h, s.w, s.kh - 1 - s.pt, s.kw - 1 - s.pl}, dy, flipped.data(), nullptr, dx);
}

// dw[u, v, :, oc] = Σ_b Σ_(i, j) x[b, i − pt + u, j − pl + v, :] · dy[b, i, j, oc], for ≤ 4 output channels and
// ci = 16·K: one image's sums in float vectors, added into a double array per thread, those added at the end.
template <int K>
void narrowConvFilterGrad(const ConvShape& s, const float* x, const float* dy, float* dw) {
  const int64_t taps = s.kh * s.kw, size = taps * s.ci * s.co;
  const int threads = s.n * s.oh * s.ow * s.ci >= kParallelMin ? omp_get_max_threads() : 1;
  std::vector<double> parts(static_cast<size_t>(threads) * size, 0.0);
#pragma omp parallel num_threads(threads)
  {
    double* part = parts.data() + static_cast<int64_t>(omp_get_thread_num()) * size;
#pragma omp for schedule(static)
    for (int64_t b = 0; b < s.n; b++) {
      const float* xb = x + b * s.h * s.w * s.ci;
      const float* dyb = dy + b * s.oh * s.ow * s.co;
      for (int64_t u = 0; u < s.kh; u++)
        for (int64_t v = 0; v < s.kw; v++)
          for (int64_t oc = 0; oc < s.co; oc++) {
            v16 acc[K] = {};
            for (int64_t i = std::max<int64_t>(0, s.pt - u); i < std::min(s.oh, s.h + s.pt - u); i++)
              for (int64_t j = std::max<int64_t>(0, s.pl - v); j < std::min(s.ow, s.w + s.pl - v); j++) {
                const float g = dyb[(i * s.ow + j) * s.co + oc];
                const float* px = xb + ((i - s.pt + u) * s.w + (j - s.pl + v)) * s.ci;
                for (int k = 0; k < K; k++) acc[k] += g * load16(px + 16 * k);
              }
            double* dst = part + (u * s.kw + v) * s.ci * s.co + oc;
            for (int k = 0; k < K; k++)
              for (int l = 0; l < 16; l++) dst[(16 * k + l) * s.co] += acc[k][l];
          }
    }
  }
  for (int64_t e = 0; e < size; e++) {
    double total = 0;
    for (int t = 0; t < threads; t++) total += parts[static_cast<size_t>(t) * size + e];
    dw[e] = static_cast<float>(total);
  }
}

void narrowConvBackwardWeights(const ConvShape& s, const float* x, const float* dy, float* dw) {
  narrowConvCount++;
  switch (s.ci / 16) {
    case 1: return narrowConvFilterGrad<1>(s, x, dy, dw);
    case 2: return narrowConvFilterGrad<2>(s, x, dy, dw);
    case 3: return narrowConvFilterGrad<3>(s, x, dy, dw);
    case 4: return narrowConvFilterGrad<4>(s, x, dy, dw);
    case 5: return narrowConvFilterGrad<5>(s, x, dy, dw);
    case 6: return narrowConvFilterGrad<6>(s, x, dy, dw);
    case 7: return narrowConvFilterGrad<7>(s, x, dy, dw);
    default: return narrowConvFilterGrad<8>(s, x, dy, dw);
  }
}

// biasOff < 0: no bias.
Napi::Value Conv2dForward(const Napi::CallbackInfo& info) {
  auto heap = static_cast<uint8_t*>(info[0].As<Napi::ArrayBuffer>().Data());
  auto s = readConvShape(info[1].As<Napi::Int32Array>());
  int64_t xOff = info[2].As<Napi::Number>().Int64Value();
  int64_t wOff = info[3].As<Napi::Number>().Int64Value();
  int64_t yOff = info[4].As<Napi::Number>().Int64Value();
  int64_t biasOff = info.Length() > 5 ? info[5].As<Napi::Number>().Int64Value() : -1;
  if (narrowForward(s)) {
    narrowConvForward(s, at(heap, xOff), at(heap, wOff), biasOff >= 0 ? at(heap, biasOff) : nullptr, at(heap, yOff));
    return info.Env().Undefined();
  }
  auto& cp = convPrimitives(s);
  if (biasOff >= 0 && !cp.haveFwdBias) {
    auto desc = dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, s.srcIn(),
                                                s.anyWeights(), s.bias(), s.dst(), s.strides(), s.dilation(), s.padL(), s.padR());
    cp.fwdBiasPd = dnnl::convolution_forward::primitive_desc(desc, engine());
    cp.fwdBias = dnnl::convolution_forward(cp.fwdBiasPd);
    cp.haveFwdBias = true;
  }
  const auto& pd = biasOff >= 0 ? cp.fwdBiasPd : cp.fwdPd;
  memory src = readAs(s.src(), s.srcIn(), cp.srcIn, at(heap, xOff));
  memory dst(s.dst(), engine(), at(heap, yOff));
  memory userW(s.userWeights(), engine(), at(heap, wOff));
  memory w = userW;
  if (pd.weights_desc() != userW.get_desc()) {
    w = memory(pd.weights_desc(), engine());
    reorder(userW, w);
  }
  if (biasOff >= 0) {
    memory bias(s.bias(), engine(), at(heap, biasOff));
    cp.fwdBias.execute(stream(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST, dst}});
  } else {
    cp.fwd.execute(stream(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, dst}});
  }
  stream().wait();
  return info.Env().Undefined();
}

Napi::Value Conv2dBackwardData(const Napi::CallbackInfo& info) {
  auto heap = static_cast<uint8_t*>(info[0].As<Napi::ArrayBuffer>().Data());
  auto s = readConvShape(info[1].As<Napi::Int32Array>());
  int64_t dyOff = info[2].As<Napi::Number>().Int64Value();
  int64_t wOff = info[3].As<Napi::Number>().Int64Value();
  int64_t dxOff = info[4].As<Napi::Number>().Int64Value();
  if (narrowBackwardData(s)) {
    narrowConvBackwardData(s, at(heap, dyOff), at(heap, wOff), at(heap, dxOff));
    return info.Env().Undefined();
  }
  auto& cp = convPrimitives(s);
  if (!cp.haveBwdData) {
    auto desc = dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, s.src(), s.anyWeights(), s.dstIn(),
                                                      s.strides(), s.dilation(), s.padL(), s.padR());
    cp.bwdDataPd = dnnl::convolution_backward_data::primitive_desc(desc, engine(), cp.fwdPd);
    cp.bwdData = dnnl::convolution_backward_data(cp.bwdDataPd);
    cp.haveBwdData = true;
  }
  memory diffDst = readAs(s.dst(), s.dstIn(), cp.dstIn, at(heap, dyOff));
  memory diffSrc(s.src(), engine(), at(heap, dxOff));
  memory userW(s.userWeights(), engine(), at(heap, wOff));
  memory w = userW;
  if (cp.bwdDataPd.weights_desc() != userW.get_desc()) {
    w = memory(cp.bwdDataPd.weights_desc(), engine());
    reorder(userW, w);
  }
  cp.bwdData.execute(stream(), {{DNNL_ARG_DIFF_DST, diffDst}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DIFF_SRC, diffSrc}});
  stream().wait();
  return info.Env().Undefined();
}

Napi::Value Conv2dBackwardWeights(const Napi::CallbackInfo& info) {
  auto heap = static_cast<uint8_t*>(info[0].As<Napi::ArrayBuffer>().Data());
  auto s = readConvShape(info[1].As<Napi::Int32Array>());
  int64_t xOff = info[2].As<Napi::Number>().Int64Value();
  int64_t dyOff = info[3].As<Napi::Number>().Int64Value();
  int64_t dwOff = info[4].As<Napi::Number>().Int64Value();
  if (narrowForward(s)) {
    narrowConvBackwardWeights(s, at(heap, xOff), at(heap, dyOff), at(heap, dwOff));
    return info.Env().Undefined();
  }
  auto& cp = convPrimitives(s);
  if (!cp.haveBwdWeights) {
    auto desc = dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, s.srcIn(), s.anyDiffWeights(), s.dstIn(),
                                                         s.strides(), s.dilation(), s.padL(), s.padR());
    cp.bwdWeightsPd = dnnl::convolution_backward_weights::primitive_desc(desc, engine(), cp.fwdPd);
    cp.bwdWeights = dnnl::convolution_backward_weights(cp.bwdWeightsPd);
    cp.haveBwdWeights = true;
  }
  memory src = readAs(s.src(), s.srcIn(), cp.srcIn, at(heap, xOff));
  memory diffDst = readAs(s.dst(), s.dstIn(), cp.dstIn, at(heap, dyOff));
  memory userDw(s.userWeights(), engine(), at(heap, dwOff));
  bool direct = cp.bwdWeightsPd.diff_weights_desc() == userDw.get_desc();
  memory dw = direct ? userDw : memory(cp.bwdWeightsPd.diff_weights_desc(), engine());
  cp.bwdWeights.execute(stream(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diffDst}, {DNNL_ARG_DIFF_WEIGHTS, dw}});
  if (!direct) reorder(dw, userDw);
  stream().wait();
  return info.Env().Undefined();
}

// ---------------------------------------------------------------------------------------------
// Batched matmul C[b] = op(A[b]) · op(B[b]), row-major, batch of one side broadcast when it is 1.
// p = [batchA, batchB, M, K, N, transposeA, transposeB].
// Our own loop, not oneDNN: its matmul primitive ran a UNet's small layers at 0.2–8 GFLOP/s (a
// 64×32·32×128 time-embedding layer took 2 ms), and dnnl_sgemm 2.6 corrupted the malloc heap on
// this machine (glibc abort inside its parallel region, reproduced under `node --cpu-prof`). The
// shapes here are small (M ≤ a few thousand, K, N ≤ a few hundred).
//
// Every output element is one accumulator summed over k in order (fused multiply-adds), whatever
// the tile it falls in, so a result does not depend on the tiling or the thread count.

// dst[c][r] = src[r][c] for a rows × cols matrix, in 16 × 16 blocks: a column-at-a-time copy writes
// with a stride of whole rows, and at 1,024 floats (4 KiB) every write of a column lands in the same
// cache set (a [1024, 64] transpose took most of a 480-µs product).
void transpose(const float* src, int64_t rows, int64_t cols, float* dst) {
  constexpr int64_t T = 16;
  for (int64_t r0 = 0; r0 < rows; r0 += T)
    for (int64_t c0 = 0; c0 < cols; c0 += T) {
      const int64_t r1 = std::min(r0 + T, rows), c1 = std::min(c0 + T, cols);
      for (int64_t c = c0; c < c1; c++)
        for (int64_t r = r0; r < r1; r++) dst[c * rows + r] = src[r * cols + c];
    }
}

// One register tile: C[R rows, 16·V columns] = Σ_k A(i + r, k) · B[k, j …], A(r, k) = a[r·ai + k·ak].
// The strides let op(A) be read in place whether A is transposed or not (a transposed A is read
// along its rows: R adjacent floats a k). Up to 24 accumulators of 16 floats stay in zmm registers
// (with the V vectors of B and one broadcast: 29 of 32).
#ifdef __AVX512F__
constexpr bool kZmmRegisters = true;
#else
constexpr bool kZmmRegisters = false;
#endif
template <int R, int V>
inline void tile(const float* a, int64_t ai, int64_t ak, const float* b, int64_t n, float* c, int64_t k) {
  v16 acc[R][V] = {};
  for (int64_t kk = 0; kk < k; kk++) {
    v16 bv[V];
    for (int v = 0; v < V; v++) std::memcpy(&bv[v], b + kk * n + 16 * v, sizeof(v16));
    const float* ar = a + kk * ak;
    for (int r = 0; r < R; r++) {
      const float av = ar[r * ai];
      for (int v = 0; v < V; v++) acc[r][v] += av * bv[v];
    }
  }
  for (int r = 0; r < R; r++)
    for (int v = 0; v < V; v++) std::memcpy(c + r * n + 16 * v, &acc[r][v], sizeof(v16));
}

// Rows [i, i + rows) of one product, rows ≤ R: full tiles of 64, 32 and 16 columns, then a plain loop
// over the last n mod 16 columns.
template <int R>
void rowBlock(const float* a, int64_t ai, int64_t ak, const float* b, int64_t n, float* c, int64_t k, int64_t rows) {
  auto run = [&](auto v, int64_t j) {
    constexpr int V = decltype(v)::value;
    switch (rows) {
      case R: tile<R, V>(a, ai, ak, b + j, n, c + j, k); break;
      default:
        for (int64_t r = 0; r < rows; r++) tile<1, V>(a + r * ai, ai, ak, b + j, n, c + r * n + j, k);
    }
  };
  int64_t j = 0;
  if constexpr (kZmmRegisters)
    for (; j + 64 <= n; j += 64) run(std::integral_constant<int, 4>{}, j);
  for (; j + 32 <= n; j += 32) run(std::integral_constant<int, 2>{}, j);
  for (; j + 16 <= n; j += 16) run(std::integral_constant<int, 1>{}, j);
  if (j == n) return;
  for (int64_t r = 0; r < rows; r++) {
    float* __restrict cr = c + r * n;
    for (int64_t jj = j; jj < n; jj++) cr[jj] = 0.0f;
    for (int64_t kk = 0; kk < k; kk++) {
      const float av = a[r * ai + kk * ak];
      const float* __restrict br = b + kk * n;
      for (int64_t jj = j; jj < n; jj++) cr[jj] += av * br[jj];
    }
  }
}

Napi::Value BatchMatMul(const Napi::CallbackInfo& info) {
  auto heap = static_cast<uint8_t*>(info[0].As<Napi::ArrayBuffer>().Data());
  const int32_t* p = info[1].As<Napi::Int32Array>().Data();
  const int64_t ba = p[0], bb = p[1], m = p[2], k = p[3], n = p[4];
  const bool ta = p[5] != 0, tb = p[6] != 0;
  const float* A = at(heap, info[2].As<Napi::Number>().Int64Value());
  const float* B = at(heap, info[3].As<Napi::Number>().Int64Value());
  float* C = at(heap, info[4].As<Napi::Number>().Int64Value());
  const int64_t bc = ba > bb ? ba : bb;
  // op(A) in place (strides); a transposed B ([N, K]) is copied to [K, N] so every tile reads rows of
  // 16 contiguous floats. The copy costs 1/M of the product. Per thread: worker_threads load the addon too.
  static thread_local std::vector<float> bT;
  if (tb && bT.size() < static_cast<size_t>(bb * k * n)) bT.resize(bb * k * n);
  const float* Bk = tb ? bT.data() : B;
  float* bTk = bT.data();
  const int64_t ai = ta ? 1 : k, ak = ta ? m : 1;
  // With AVX-512: 6 rows when tiles are 64 columns wide (24 accumulators: a [1024, 64]·[64, 64] product 58 → 104
  // GFLOP/s on one thread), 8 rows for narrower ones (16 accumulators at 32 columns, 8 at the attention's 16).
  // With AVX2 a v16 takes two of its 16 registers: at most 8 accumulators, 4 rows of 32 columns.
  const int64_t R = kZmmRegisters ? (n >= 64 ? 6 : 8) : (n >= 32 ? 4 : 8);
  const int64_t blocks = (m + R - 1) / R;
  // Threads only for large products, through num_threads rather than `parallel … if (…)`, whose
  // serial fallback GCC compiles less well (see elementwise). The copies of Bᵀ split over the same
  // threads: done before the region, the attention's 128 small copies ran on one thread while the
  // other waited (q·kᵀ took longer on two threads than on one).
  const int threads = bc * m * n * k > (1 << 17) ? omp_get_max_threads() : 1;
#pragma omp parallel num_threads(threads)
  {
    if (tb) {
#pragma omp for schedule(static)
      for (int64_t b = 0; b < bb; b++) transpose(B + b * k * n, n, k, bTk + b * k * n);
    }
#pragma omp for collapse(2) schedule(static)
    for (int64_t b = 0; b < bc; b++)
      for (int64_t blk = 0; blk < blocks; blk++) {
        const int64_t i = blk * R, rows = std::min(R, m - i);
        const float* a = A + (ba == 1 ? 0 : b) * m * k + i * ai;
        const float* bm = Bk + (bb == 1 ? 0 : b) * k * n;
        float* c = C + b * m * n + i * n;
        switch (R) {
          case 4: rowBlock<4>(a, ai, ak, bm, n, c, k, rows); break;
          case 6: rowBlock<6>(a, ai, ak, bm, n, c, k, rows); break;
          default: rowBlock<8>(a, ai, ak, bm, n, c, k, rows);
        }
      }
  }
  return info.Env().Undefined();
}

// ---------------------------------------------------------------------------------------------
// Fused element-wise kernels. Each replaces 10–30 small wasm kernels (one dispatch, one pass over
// memory, both cores) in the ops that dominate a training step once convolutions are fast.

// e^x for float32 in a form the compiler vectorises (std::exp is a scalar libm call here):
// x = n·ln2 + r, |r| ≤ ln2/2, e^r by a degree-6 polynomial, 2^n through the exponent bits.
// Relative error ≈ 2e-7 over the clamped range.
inline float expApprox(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);  // std::fmin/fmax would block vectorising (NaN stays NaN)
  const float n = std::nearbyint(x * 1.44269504088896341f);
  const float r = (x - n * 0.693145751953125f) - n * 1.42860682030941723212e-6f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  return p * __builtin_bit_cast(float, bits);
}

// SiLU and its derivative, shared by the SiLU kernels and GroupNorm's fused activation so both give
// the same float32 results.
inline float siluOf(float v) { return v / (1.0f + expApprox(-v)); }
inline float siluGradOf(float dy, float v) {
  const float s = 1.0f / (1.0f + expApprox(-v));
  return dy * s * (1.0f + v * (1.0f - s));
}

// Per-channel sums over the rows of one [rows, C] sample, S of them at once: sums[s·C + c] = Σᵢ terms(i, c)[s],
// in double. terms(load, i, c) reads its inputs through load(pointer), which gives 16 channels as a float vector
// or, for widths that are not a multiple of 16, one channel as a double. For C = 16·K (K ≤ 8: every width of
// the UNets and the VAE) the vectors are summed in registers over 32 rows and then added into the doubles.
// Summing in double throughout ran at half the SIMD width, and not vectorised at all for C = 16: a
// [32, 32, 32, 16] GroupNorm's two statistics passes took 394 µs, 106 in blocks.
template <int K, int S, typename Terms>
inline void channelSumsBlocked(int64_t rows, int64_t C, double* sums, Terms terms) {
  constexpr int64_t kRowsPerPartial = 32;
  const auto load = [](const float* q) {
    v16 v;
    std::memcpy(&v, q, sizeof v);
    return v;
  };
  for (int64_t i0 = 0; i0 < rows; i0 += kRowsPerPartial) {
    v16 part[S][K] = {};
    const int64_t i1 = std::min(rows, i0 + kRowsPerPartial);
    for (int64_t i = i0; i < i1; i++)
      for (int k = 0; k < K; k++) {
        const std::array<v16, S> t = terms(load, i, 16 * k);
        for (int q = 0; q < S; q++) part[q][k] += t[q];
      }
    for (int q = 0; q < S; q++)
      for (int k = 0; k < K; k++)
        for (int l = 0; l < 16; l++) sums[q * C + 16 * k + l] += part[q][k][l];
  }
}

template <int S, typename Terms>
void channelSums(int64_t rows, int64_t C, double* sums, Terms terms) {
  switch (C) {
    case 16: return channelSumsBlocked<1, S>(rows, C, sums, terms);
    case 32: return channelSumsBlocked<2, S>(rows, C, sums, terms);
    case 48: return channelSumsBlocked<3, S>(rows, C, sums, terms);
    case 64: return channelSumsBlocked<4, S>(rows, C, sums, terms);
    case 80: return channelSumsBlocked<5, S>(rows, C, sums, terms);
    case 96: return channelSumsBlocked<6, S>(rows, C, sums, terms);
    case 112: return channelSumsBlocked<7, S>(rows, C, sums, terms);
    case 128: return channelSumsBlocked<8, S>(rows, C, sums, terms);
  }
  const auto load = [](const float* q) { return static_cast<double>(*q); };
  for (int64_t i = 0; i < rows; i++)
    for (int64_t c = 0; c < C; c++) {
      const std::array<double, S> t = terms(load, i, c);
      for (int q = 0; q < S; q++) sums[q * C + c] += t[q];
    }
}

// GroupNorm over NHWC viewed as [B, HW, C], groups of C/G adjacent channels.
// p = [B, HW, C, G, silu]; y = (x − μ)·inv·γ + β, and μ, inv = 1/√(σ² + ε) per [b, g] for the gradient.
// With silu = 1, y = SiLU((x − μ)·inv·γ + β): the ResNet blocks' norm-then-activation in one pass.
// Every pass runs over a sample's rows with per-channel accumulators, so the inner loop is
// contiguous over C and vectorises; samples run in parallel.
Napi::Value GroupNormForward(const Napi::CallbackInfo& info) {
  auto heap = static_cast<uint8_t*>(info[0].As<Napi::ArrayBuffer>().Data());
  const int32_t* p = info[1].As<Napi::Int32Array>().Data();
  const int64_t B = p[0], HW = p[1], C = p[2], G = p[3], cg = C / G;
  const bool act = info[1].As<Napi::Int32Array>().ElementLength() > 4 && p[4] != 0;
  const double eps = info[2].As<Napi::Number>().DoubleValue();
  const float* x = at(heap, info[3].As<Napi::Number>().Int64Value());
  const float* gamma = at(heap, info[4].As<Napi::Number>().Int64Value());
  const float* beta = at(heap, info[5].As<Napi::Number>().Int64Value());
  float* y = at(heap, info[6].As<Napi::Number>().Int64Value());
  float* mean = at(heap, info[7].As<Napi::Number>().Int64Value());
  float* inv = at(heap, info[8].As<Napi::Number>().Int64Value());
  const double n = static_cast<double>(HW * cg);
#pragma omp parallel for schedule(static) num_threads(B * HW * C > 16384 ? omp_get_max_threads() : 1)
  for (int64_t b = 0; b < B; b++) {
    const float* xb = x + b * HW * C;
    float* yb = y + b * HW * C;
    std::vector<double> acc(C, 0.0);
    channelSums<1>(HW, C, acc.data(), [=](auto load, int64_t i, int64_t c) { return std::array{load(xb + i * C + c)}; });
    std::vector<float> mu(C), scale(C), shift(C);
    for (int64_t g = 0; g < G; g++) {
      double s = 0;
      for (int64_t c = 0; c < cg; c++) s += acc[g * cg + c];
      for (int64_t c = 0; c < cg; c++) mu[g * cg + c] = static_cast<float>(s / n);
      mean[b * G + g] = static_cast<float>(s / n);
    }
    std::fill(acc.begin(), acc.end(), 0.0);  // second pass: Σ(x − μ)², no cancellation
    const float* m = mu.data();
    channelSums<1>(HW, C, acc.data(), [=](auto load, int64_t i, int64_t c) {
      const auto d = load(xb + i * C + c) - load(m + c);
      return std::array{d * d};
    });
    for (int64_t g = 0; g < G; g++) {
      double s = 0;
      for (int64_t c = 0; c < cg; c++) s += acc[g * cg + c];
      const float is = static_cast<float>(1.0 / std::sqrt(s / n + eps));
      inv[b * G + g] = is;
      for (int64_t c = 0; c < cg; c++) {
        const int64_t k = g * cg + c;
        scale[k] = is * gamma[k];
        shift[k] = beta[k] - mu[k] * scale[k];
      }
    }
    if (act)
      for (int64_t i = 0; i < HW; i++)
#pragma omp simd
        for (int64_t c = 0; c < C; c++) yb[i * C + c] = siluOf(xb[i * C + c] * scale[c] + shift[c]);
    else
      for (int64_t i = 0; i < HW; i++)
#pragma omp simd
        for (int64_t c = 0; c < C; c++) yb[i * C + c] = xb[i * C + c] * scale[c] + shift[c];
  }
  return info.Env().Undefined();
}

// dx = inv·(γ·dy − mean_g(γ·dy) − x̂·mean_g(γ·dy·x̂)), dγ = Σ dy·x̂, dβ = Σ dy (sums over b and HW).
// p = [B, HW, C, G, silu]; with silu = 1 (beta's offset follows dBeta's), dy is first taken through
// SiLU's derivative at the normalised value, recomputed exactly as the forward pass computed it.
Napi::Value GroupNormBackward(const Napi::CallbackInfo& info) {
  auto heap = static_cast<uint8_t*>(info[0].As<Napi::ArrayBuffer>().Data());
  const int32_t* p = info[1].As<Napi::Int32Array>().Data();
  const int64_t B = p[0], HW = p[1], C = p[2], G = p[3], cg = C / G;
  const float* dy = at(heap, info[2].As<Napi::Number>().Int64Value());
  const float* x = at(heap, info[3].As<Napi::Number>().Int64Value());
  const float* gamma = at(heap, info[4].As<Napi::Number>().Int64Value());
  const float* mean = at(heap, info[5].As<Napi::Number>().Int64Value());
  const float* inv = at(heap, info[6].As<Napi::Number>().Int64Value());
  float* dx = at(heap, info[7].As<Napi::Number>().Int64Value());
  float* dgamma = at(heap, info[8].As<Napi::Number>().Int64Value());
  float* dbeta = at(heap, info[9].As<Napi::Number>().Int64Value());
  const bool act = info[1].As<Napi::Int32Array>().ElementLength() > 4 && p[4] != 0;
  const float* beta = act ? at(heap, info[10].As<Napi::Number>().Int64Value()) : nullptr;
  const double n = static_cast<double>(HW * cg);
  std::vector<double> partGamma(B * C), partBeta(B * C);
#pragma omp parallel for schedule(static) num_threads(B * HW * C > 16384 ? omp_get_max_threads() : 1)
  for (int64_t b = 0; b < B; b++) {
    const int64_t base = b * HW * C;
    const float* dyb = dy + base;
    const float* xb = x + base;
    std::vector<float> dv;
    if (act) {
      // The forward pass's scale and shift, from the same float32 μ, inv, γ, β.
      std::vector<float> scale(C), shift(C);
      for (int64_t c = 0; c < C; c++) {
        const float mu = mean[b * G + c / cg];
        scale[c] = inv[b * G + c / cg] * gamma[c];
        shift[c] = beta[c] - mu * scale[c];
      }
      dv.resize(HW * C);
      for (int64_t i = 0; i < HW; i++)
#pragma omp simd
        for (int64_t c = 0; c < C; c++) dv[i * C + c] = siluGradOf(dyb[i * C + c], xb[i * C + c] * scale[c] + shift[c]);
      dyb = dv.data();
    }
    std::vector<double> sums(2 * C, 0.0);  // Σ dy, then Σ dy·x
    channelSums<2>(HW, C, sums.data(), [=](auto load, int64_t i, int64_t c) {
      const auto d = load(dyb + i * C + c);
      return std::array{d, d * load(xb + i * C + c)};
    });
    const double* sDy = sums.data();
    const double* sDyX = sums.data() + C;
    std::vector<float> coefDy(C), coefX(C), bias(C);
    for (int64_t g = 0; g < G; g++) {
      const double mu = mean[b * G + g], is = inv[b * G + g];
      double m1 = 0, m2 = 0;
      for (int64_t c = 0; c < cg; c++) {
        const int64_t k = g * cg + c;
        const double sDyXhat = is * (sDyX[k] - mu * sDy[k]);  // Σ dy·x̂ without materialising x̂
        partBeta[b * C + k] = sDy[k];
        partGamma[b * C + k] = sDyXhat;
        m1 += sDy[k] * gamma[k];
        m2 += sDyXhat * gamma[k];
      }
      m1 /= n;
      m2 /= n;
      // dx = dy·(inv·γ) + x·(−inv²·m2) + (μ·inv²·m2 − inv·m1): per-channel coefficients
      for (int64_t c = 0; c < cg; c++) {
        const int64_t k = g * cg + c;
        coefDy[k] = static_cast<float>(is * gamma[k]);
        coefX[k] = static_cast<float>(-is * is * m2);
        bias[k] = static_cast<float>(mu * is * is * m2 - is * m1);
      }
    }
    for (int64_t i = 0; i < HW; i++)
#pragma omp simd
      for (int64_t c = 0; c < C; c++) {
        const int64_t k = base + i * C + c;
        dx[k] = dyb[i * C + c] * coefDy[c] + x[k] * coefX[c] + bias[c];
      }
  }
  for (int64_t c = 0; c < C; c++) {
    double sg = 0, sb = 0;
    for (int64_t b = 0; b < B; b++) {
      sg += partGamma[b * C + c];
      sb += partBeta[b * C + c];
    }
    dgamma[c] = static_cast<float>(sg);
    dbeta[c] = static_cast<float>(sb);
  }
  return info.Env().Undefined();
}



// An elementwise loop, vectorised, split over OpenMP's threads when it is large. The thread count goes
// through num_threads, not `parallel for simd if (n > …)`: GCC runs that construct's serial fallback
// without vectorising it (a 65,536-element SiLU took 347 µs that way, 96 µs in a one-thread team).
template <typename Body>
inline void elementwise(int64_t n, Body body) {
  const int threads = n >= kParallelMin ? omp_get_max_threads() : 1;
#pragma omp parallel for simd schedule(static) num_threads(threads)
  for (int64_t i = 0; i < n; i++) body(i);
}

// SiLU y = x·σ(x) and its gradient dx = dy·σ(x)·(1 + x·(1 − σ(x))).
Napi::Value SiluForward(const Napi::CallbackInfo& info) {
  auto heap = static_cast<uint8_t*>(info[0].As<Napi::ArrayBuffer>().Data());
  const int64_t n = info[1].As<Napi::Number>().Int64Value();
  const float* x = at(heap, info[2].As<Napi::Number>().Int64Value());
  float* y = at(heap, info[3].As<Napi::Number>().Int64Value());
  elementwise(n, [=](int64_t i) { y[i] = siluOf(x[i]); });
  return info.Env().Undefined();
}

Napi::Value SiluBackward(const Napi::CallbackInfo& info) {
  auto heap = static_cast<uint8_t*>(info[0].As<Napi::ArrayBuffer>().Data());
  const int64_t n = info[1].As<Napi::Number>().Int64Value();
  const float* dy = at(heap, info[2].As<Napi::Number>().Int64Value());
  const float* x = at(heap, info[3].As<Napi::Number>().Int64Value());
  float* dx = at(heap, info[4].As<Napi::Number>().Int64Value());
  elementwise(n, [=](int64_t i) { dx[i] = siluGradOf(dy[i], x[i]); });
  return info.Env().Undefined();
}

// body(k, begin, end) over the elements of `count` arrays laid end to end (array k has sizes(k) elements),
// the whole range split evenly over the threads when it is large. One parallel region for a model's
// parameters: most of the latent UNet's 144 are too small to split alone, so a loop of elementwise calls
// ran the optimizer step on one thread.
template <typename Sizes, typename Body>
void overArrays(int64_t count, Sizes sizes, Body body) {
  std::vector<int64_t> start(count + 1, 0);
  for (int64_t k = 0; k < count; k++) start[k + 1] = start[k] + sizes(k);
  const int64_t total = start[count];
  const int threads = total >= kParallelMin ? omp_get_max_threads() : 1;
#pragma omp parallel num_threads(threads)
  {
    const int64_t parts = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t lo = total * t / parts, hi = total * (t + 1) / parts;
    for (int64_t k = 0; k < count; k++) {
      const int64_t b = std::max(lo, start[k]), e = std::min(hi, start[k + 1]);
      if (b < e) body(k, b - start[k], e - start[k]);
    }
  }
}

// One Adam/AdamW update of elements [begin, end) of one parameter, as the op sequence in @ldm/nn's Adam
// (float32 arithmetic): g' = g·clip (+ wd·p, coupled), m' = β₁m + (1−β₁)g', v' = β₂v + (1−β₂)g'²,
// p' = p·decay − stepSize·m' / (√v' / √(1−β₂ᵗ) + ε).
// a = [beta1, beta2, epsilon, coupledWeightDecay, decoupledDecay, stepSize, biasCorrection2Sqrt]
void adamUpdate(int64_t begin, int64_t end, const double* a, const float* p, const float* g, const float* m, const float* v, bool clipped,
                float clip, float* pOut, float* mOut, float* vOut) {
  const float b1 = a[0], b2 = a[1], eps = a[2], wd = a[3], decay = a[4], stepSize = a[5], bc2 = a[6];
  const float omb1 = 1.0 - a[0], omb2 = 1.0 - a[1];
#pragma omp simd
  for (int64_t i = begin; i < end; i++) {
    float gi = clipped ? g[i] * clip : g[i];
    if (wd != 0.0f) gi = gi + p[i] * wd;
    const float mi = m[i] * b1 + gi * omb1;
    const float vi = v[i] * b2 + (gi * gi) * omb2;
    const float denom = std::sqrt(vi) / bc2 + eps;
    const float param = decay != 1.0f ? p[i] * decay : p[i];
    mOut[i] = mi;
    vOut[i] = vi;
    pOut[i] = param - (mi / denom) * stepSize;
  }
}

// The update of every parameter of a model in one call: one kernel dispatch per parameter (144 on the
// latent UNet) cost more than the updates themselves.
// t = per parameter [size, p, g, m, v, pOut, mOut, vOut] (byte offsets); clipOff < 0: no clipping.
Napi::Value AdamSteps(const Napi::CallbackInfo& info) {
  auto heap = static_cast<uint8_t*>(info[0].As<Napi::ArrayBuffer>().Data());
  const Napi::Float64Array t = info[1].As<Napi::Float64Array>();
  const double* a = info[2].As<Napi::Float64Array>().Data();
  const int64_t clipOff = info[3].As<Napi::Number>().Int64Value();
  const float clip = clipOff >= 0 ? *at(heap, clipOff) : 1.0f;
  const double* r = t.Data();
  overArrays(
      static_cast<int64_t>(t.ElementLength() / 8), [=](int64_t k) { return static_cast<int64_t>(r[8 * k]); },
      [=](int64_t k, int64_t begin, int64_t end) {
        const double* q = r + 8 * k;
        adamUpdate(begin, end, a, at(heap, q[1]), at(heap, q[2]), at(heap, q[3]), at(heap, q[4]), clipOff >= 0, clip, at(heap, q[5]),
                   at(heap, q[6]), at(heap, q[7]));
      });
  return info.Env().Undefined();
}

// EMA of every parameter in one call, as @ldm/nn's EMA.update in float32: s' = s − (s − p)·(1 − decay).
// t = per parameter [size, s, p, sOut] (byte offsets).
Napi::Value EmaUpdate(const Napi::CallbackInfo& info) {
  auto heap = static_cast<uint8_t*>(info[0].As<Napi::ArrayBuffer>().Data());
  const Napi::Float64Array t = info[1].As<Napi::Float64Array>();
  const float oneMinusDecay = static_cast<float>(info[2].As<Napi::Number>().DoubleValue());
  const double* r = t.Data();
  overArrays(
      static_cast<int64_t>(t.ElementLength() / 4), [=](int64_t k) { return static_cast<int64_t>(r[4 * k]); },
      [=](int64_t k, int64_t begin, int64_t end) {
        const float* s = at(heap, r[4 * k + 1]);
        const float* p = at(heap, r[4 * k + 2]);
        float* out = at(heap, r[4 * k + 3]);
#pragma omp simd
        for (int64_t i = begin; i < end; i++) out[i] = s[i] - (s[i] - p[i]) * oneMinusDecay;
      });
  return info.Env().Undefined();
}

// The global gradient norm √(Σᵢ Σⱼ gᵢⱼ²) in float32, bit for bit as the tfjs ops it replaces compute it on
// wasm (@ldm/nn's globalNorm: square, sum, add per gradient): each gradient's squares summed in order, as
// the wasm Sum kernel does, then the per-gradient sums added in order. Three dispatches a gradient cost
// more than the sums. Contraction stays off: an FMA would round g² differently, and the VAE's early
// steps, clipped at norms near 3·10⁴, measured sensitive to any change in this norm (a float64 version
// trained a worse VAE on 4 seeds out of 4).
// t = per gradient [size, offset].
__attribute__((optimize("fp-contract=off"))) Napi::Value GlobalNorm(const Napi::CallbackInfo& info) {
  auto heap = static_cast<uint8_t*>(info[0].As<Napi::ArrayBuffer>().Data());
  const Napi::Float64Array t = info[1].As<Napi::Float64Array>();
  float* out = at(heap, info[2].As<Napi::Number>().Int64Value());
  float total = 0.0f;
  for (size_t k = 0; k + 2 <= t.ElementLength(); k += 2) {
    const int64_t n = static_cast<int64_t>(t[k]);
    const float* g = at(heap, t[k + 1]);
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) {
      const float square = g[i] * g[i];
      sum += square;
    }
    total += sum;
  }
  *out = std::sqrt(total);
  return info.Env().Undefined();
}

// out = a + b for float32 a of [G, R, C], b either the same shape or [G, C] added to each of a group's R rows
// (a bias: G = 1; a time embedding [B, 1, 1, C] on [B, H, W, C]: G = B). The wasm backend's broadcasting
// Add ran these at 3–4 GB/s.
Napi::Value AddRows(const Napi::CallbackInfo& info) {
  auto heap = static_cast<uint8_t*>(info[0].As<Napi::ArrayBuffer>().Data());
  const int64_t G = info[1].As<Napi::Number>().Int64Value();
  const int64_t R = info[2].As<Napi::Number>().Int64Value();
  const int64_t C = info[3].As<Napi::Number>().Int64Value();
  const bool sameShape = info[4].As<Napi::Number>().Int64Value() == 1;
  const float* a = at(heap, info[5].As<Napi::Number>().Int64Value());
  const float* b = at(heap, info[6].As<Napi::Number>().Int64Value());
  float* out = at(heap, info[7].As<Napi::Number>().Int64Value());
  if (sameShape) {
    elementwise(G * R * C, [=](int64_t i) { out[i] = a[i] + b[i]; });
    return info.Env().Undefined();
  }
#pragma omp parallel for schedule(static) num_threads(G * R * C >= kParallelMin ? omp_get_max_threads() : 1)
  for (int64_t row = 0; row < G * R; row++) {
    const float* __restrict bg = b + (row / R) * C;
    const float* __restrict ar = a + row * C;
    float* __restrict o = out + row * C;
#pragma omp simd
    for (int64_t c = 0; c < C; c++) o[c] = ar[c] + bg[c];
  }
  return info.Env().Undefined();
}

// [G, R, C] → [G, C], summing the R rows of each group (float64 accumulation): the gradient of every bias
// add (G = 1) and of a time embedding added over H×W (G = B). The wasm backend reduces only inner axes,
// so it transposes the whole tensor first. Many groups: one group a thread at a time. One group: its rows
// split over the threads, each summing into its own accumulator (padded apart: two threads adding into
// one cache line made the 2-thread sum of a [32·32·32, 16] bias gradient slower than 1 thread), added in
// thread order, so the result depends on the thread count but not on timing.
Napi::Value SumLeading(const Napi::CallbackInfo& info) {
  auto heap = static_cast<uint8_t*>(info[0].As<Napi::ArrayBuffer>().Data());
  const int64_t G = info[1].As<Napi::Number>().Int64Value();
  const int64_t R = info[2].As<Napi::Number>().Int64Value();
  const int64_t C = info[3].As<Napi::Number>().Int64Value();
  const float* x0 = at(heap, info[4].As<Napi::Number>().Int64Value());
  float* y0 = at(heap, info[5].As<Napi::Number>().Int64Value());
  const bool large = G * R * C >= kParallelMin;
  const int64_t stride = (C + 7) / 8 * 8 + 8;  // doubles: a whole cache line between two threads' accumulators
  if (G > 1) {
#pragma omp parallel num_threads(large ? omp_get_max_threads() : 1)
    {
      std::vector<double> acc(static_cast<size_t>(C));
#pragma omp for schedule(static)
      for (int64_t g = 0; g < G; g++) {
        std::fill(acc.begin(), acc.end(), 0.0);
        const float* x = x0 + g * R * C;
        for (int64_t r = 0; r < R; r++)
#pragma omp simd
          for (int64_t c = 0; c < C; c++) acc[c] += x[r * C + c];
        for (int64_t c = 0; c < C; c++) y0[g * C + c] = static_cast<float>(acc[c]);
      }
    }
    return info.Env().Undefined();
  }
  const int threads = large ? omp_get_max_threads() : 1;
  std::vector<double> part(static_cast<size_t>(threads * stride), 0.0);
#pragma omp parallel num_threads(threads)
  {
    double* acc = part.data() + static_cast<int64_t>(omp_get_thread_num()) * stride;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < R; r++)
#pragma omp simd
      for (int64_t c = 0; c < C; c++) acc[c] += x0[r * C + c];
  }
  for (int64_t c = 0; c < C; c++) {
    double s = 0;
    for (int t = 0; t < threads; t++) s += part[static_cast<int64_t>(t) * stride + c];
    y0[c] = static_cast<float>(s);
  }
  return info.Env().Undefined();
}

// y = x transposed by `perm` (float32, rank ≤ 8; the caller merges axes that stay adjacent). When the last
// axis stays last, rows of it are copied whole; otherwise element by element, the output's last axis
// innermost. The wasm backend's Transpose runs on one thread; the attention's head split ([B, N, h, d] →
// [B, h, N, d]) and the conv gradients' layout changes are where a step spends it.
// p = [rank, shape…, perm…]
Napi::Value Transpose(const Napi::CallbackInfo& info) {
  auto heap = static_cast<uint8_t*>(info[0].As<Napi::ArrayBuffer>().Data());
  const int32_t* p = info[1].As<Napi::Int32Array>().Data();
  const float* x = at(heap, info[2].As<Napi::Number>().Int64Value());
  float* y = at(heap, info[3].As<Napi::Number>().Int64Value());
  const int rank = p[0];
  if (rank < 1 || rank > 8) throw std::invalid_argument("transpose: rank 1–8");
  int64_t shape[8], inStride[8], outShape[8], srcStride[8];
  for (int i = 0; i < rank; i++) shape[i] = p[1 + i];
  inStride[rank - 1] = 1;
  for (int i = rank - 2; i >= 0; i--) inStride[i] = inStride[i + 1] * shape[i + 1];
  int64_t total = 1;
  for (int i = 0; i < rank; i++) {
    const int a = p[1 + rank + i];
    outShape[i] = shape[a];
    srcStride[i] = inStride[a];  // input elements between neighbours along output axis i
    total *= outShape[i];
  }
  const bool rowsWhole = srcStride[rank - 1] == 1;
  const int64_t run = outShape[rank - 1];
  const int64_t rows = run == 0 ? 0 : total / run;
  const int threads = total >= kParallelMin ? omp_get_max_threads() : 1;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t row = 0; row < rows; row++) {
    int64_t rem = row, src = 0;
    for (int i = rank - 2; i >= 0; i--) {
      src += (rem % outShape[i]) * srcStride[i];
      rem /= outShape[i];
    }
    float* __restrict o = y + row * run;
    if (rowsWhole) {
      std::memcpy(o, x + src, run * sizeof(float));
    } else {
      const float* __restrict s = x + src;
      const int64_t step = srcStride[rank - 1];
      for (int64_t k = 0; k < run; k++) o[k] = s[k * step];
    }
  }
  return info.Env().Undefined();
}

// ---------------------------------------------------------------------------------------------
// Strided copy of float32 rows: dst[r·dstStride + k] = src[r·srcStride + k] for k < run. Concat along
// any axis is one call per input and a slice of the innermost axes one call; the wasm backend's
// Concat and Slice on the channel axis of NHWC tensors are slow generic loops.
Napi::Value CopyRows(const Napi::CallbackInfo& info) {
  auto heap = static_cast<uint8_t*>(info[0].As<Napi::ArrayBuffer>().Data());
  const int64_t rows = info[1].As<Napi::Number>().Int64Value();
  const int64_t run = info[2].As<Napi::Number>().Int64Value();
  const int64_t srcStride = info[3].As<Napi::Number>().Int64Value();
  const int64_t dstStride = info[4].As<Napi::Number>().Int64Value();
  const float* src = at(heap, info[5].As<Napi::Number>().Int64Value());
  float* dst = at(heap, info[6].As<Napi::Number>().Int64Value());
#pragma omp parallel for schedule(static) num_threads(rows * run > 262144 ? omp_get_max_threads() : 1)
  for (int64_t r = 0; r < rows; r++) std::memcpy(dst + r * dstStride, src + r * srcStride, run * sizeof(float));
  return info.Env().Undefined();
}

// y = x padded with a constant (float32, rank ≤ 8). p = [rank, inShape…, before…, after…]. The output is filled
// with the value, then each input row (its last axis) is copied to its place. The wasm backend's PadV2 runs
// on one thread (a VAE's downsampling pads every step).
Napi::Value Pad(const Napi::CallbackInfo& info) {
  auto heap = static_cast<uint8_t*>(info[0].As<Napi::ArrayBuffer>().Data());
  const int32_t* p = info[1].As<Napi::Int32Array>().Data();
  const float value = static_cast<float>(info[2].As<Napi::Number>().DoubleValue());
  const float* x = at(heap, info[3].As<Napi::Number>().Int64Value());
  float* y = at(heap, info[4].As<Napi::Number>().Int64Value());
  const int rank = p[0];
  if (rank < 1 || rank > 8) throw std::invalid_argument("pad: rank 1–8");
  int64_t in[8], before[8], out[8], outStride[8];
  int64_t total = 1, rows = 1;
  for (int i = 0; i < rank; i++) {
    in[i] = p[1 + i];
    before[i] = p[1 + rank + i];
    out[i] = in[i] + before[i] + p[1 + 2 * rank + i];
    total *= out[i];
    if (i < rank - 1) rows *= in[i];
  }
  outStride[rank - 1] = 1;
  for (int i = rank - 2; i >= 0; i--) outStride[i] = outStride[i + 1] * out[i + 1];
  const int64_t run = in[rank - 1];
  const int threads = total >= kParallelMin ? omp_get_max_threads() : 1;
#pragma omp parallel num_threads(threads)
  {
#pragma omp for simd schedule(static)
    for (int64_t i = 0; i < total; i++) y[i] = value;
#pragma omp for schedule(static)
    for (int64_t row = 0; row < rows; row++) {
      int64_t rem = row, dst = before[rank - 1];
      for (int i = rank - 2; i >= 0; i--) {
        dst += (rem % in[i] + before[i]) * outStride[i];
        rem /= in[i];
      }
      std::memcpy(y + dst, x + row * run, run * sizeof(float));
    }
  }
  return info.Env().Undefined();
}

// Nearest-neighbour resizing of NHWC float32: output pixel (i, j) copies input pixel (rowOf[i], colOf[j]),
// the index maps computed by the caller as tfjs computes them. p = [B, H, W, C, OH, OW].
Napi::Value ResizeNearest(const Napi::CallbackInfo& info) {
  auto heap = static_cast<uint8_t*>(info[0].As<Napi::ArrayBuffer>().Data());
  const int32_t* p = info[1].As<Napi::Int32Array>().Data();
  const int32_t* rowOf = info[2].As<Napi::Int32Array>().Data();
  const int32_t* colOf = info[3].As<Napi::Int32Array>().Data();
  const float* x = at(heap, info[4].As<Napi::Number>().Int64Value());
  float* y = at(heap, info[5].As<Napi::Number>().Int64Value());
  const int64_t B = p[0], H = p[1], W = p[2], C = p[3], OH = p[4], OW = p[5];
  const int threads = B * OH * OW * C >= kParallelMin ? omp_get_max_threads() : 1;
#pragma omp parallel for collapse(2) schedule(static) num_threads(threads)
  for (int64_t b = 0; b < B; b++)
    for (int64_t i = 0; i < OH; i++) {
      const float* src = x + (b * H + rowOf[i]) * W * C;
      float* dst = y + (b * OH + i) * OW * C;
      for (int64_t j = 0; j < OW; j++) std::memcpy(dst + j * C, src + colOf[j] * C, C * sizeof(float));
    }
  return info.Env().Undefined();
}

// Average pooling of NHWC float32 over non-overlapping k×k windows (stride k, no padding): the gradient of
// a ×2 nearest upsampling (4·avgPool) is a sum of 2×2 blocks. Each window summed row by row, then scaled
// by 1/k². p = [B, H, W, C, KH, KW].
Napi::Value AvgPoolBlocks(const Napi::CallbackInfo& info) {
  auto heap = static_cast<uint8_t*>(info[0].As<Napi::ArrayBuffer>().Data());
  const int32_t* p = info[1].As<Napi::Int32Array>().Data();
  const float* x = at(heap, info[2].As<Napi::Number>().Int64Value());
  float* y = at(heap, info[3].As<Napi::Number>().Int64Value());
  const int64_t B = p[0], H = p[1], W = p[2], C = p[3], KH = p[4], KW = p[5];
  const int64_t OH = H / KH, OW = W / KW;
  const float scale = 1.0f / static_cast<float>(KH * KW);
  const int threads = B * H * W * C >= kParallelMin ? omp_get_max_threads() : 1;
#pragma omp parallel for collapse(2) schedule(static) num_threads(threads)
  for (int64_t b = 0; b < B; b++)
    for (int64_t i = 0; i < OH; i++)
      for (int64_t j = 0; j < OW; j++) {
        float* __restrict o = y + ((b * OH + i) * OW + j) * C;
        for (int64_t c = 0; c < C; c++) o[c] = 0.0f;
        for (int64_t u = 0; u < KH; u++)
          for (int64_t v = 0; v < KW; v++) {
            const float* __restrict s = x + ((b * H + i * KH + u) * W + j * KW + v) * C;
#pragma omp simd
            for (int64_t c = 0; c < C; c++) o[c] += s[c];
          }
#pragma omp simd
        for (int64_t c = 0; c < C; c++) o[c] *= scale;
      }
  return info.Env().Undefined();
}

// ---------------------------------------------------------------------------------------------
// OpenMP's thread count is per calling thread: a worker_thread setting 1 leaves the main thread's.
Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  omp_set_num_threads(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

Napi::Value SetConvPrecision(const Napi::CallbackInfo& info) {
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  if (name != "f32" && name != "bf16") throw std::invalid_argument("setConvPrecision: 'f32' or 'bf16', got '" + name + "'");
  convBf16.store(name == "bf16");
  return info.Env().Undefined();
}

Napi::Value GetConvPrecision(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), convBf16.load() ? "bf16" : "f32"); }

Napi::Value GetThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), omp_get_max_threads()); }

Napi::Value NarrowConvCalls(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(narrowConvCount.load())); }

Napi::Value Version(const Napi::CallbackInfo& info) {
  const dnnl_version_t* v = dnnl_version();
  auto out = Napi::Object::New(info.Env());
  out.Set("onednn", std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch));
  const char* isa = "unknown";
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::avx512_core_amx: isa = "avx512_core_amx"; break;
    case dnnl::cpu_isa::avx512_core_bf16: isa = "avx512_core_bf16"; break;
    case dnnl::cpu_isa::avx512_core_vnni: isa = "avx512_core_vnni"; break;
    case dnnl::cpu_isa::avx512_core: isa = "avx512_core"; break;
    case dnnl::cpu_isa::avx2_vnni: isa = "avx2_vnni"; break;
    case dnnl::cpu_isa::avx2: isa = "avx2"; break;
    case dnnl::cpu_isa::avx: isa = "avx"; break;
    case dnnl::cpu_isa::sse41: isa = "sse41"; break;
    default: break;
  }
  out.Set("isa", isa);
  return out;
}

// Errors from oneDNN (dnnl::error) cross into JS as exceptions with the primitive's status.
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value Guarded(const Napi::CallbackInfo& info) {
  try {
    return F(info);
  } catch (const dnnl::error& e) {
    Napi::Error::New(info.Env(), std::string("oneDNN: ") + e.what()).ThrowAsJavaScriptException();
  } catch (const std::exception& e) {
    Napi::Error::New(info.Env(), e.what()).ThrowAsJavaScriptException();
  }
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("conv2dForward", Napi::Function::New(env, Guarded<Conv2dForward>));
  exports.Set("conv2dBackwardData", Napi::Function::New(env, Guarded<Conv2dBackwardData>));
  exports.Set("conv2dBackwardWeights", Napi::Function::New(env, Guarded<Conv2dBackwardWeights>));
  exports.Set("batchMatMul", Napi::Function::New(env, Guarded<BatchMatMul>));
  exports.Set("groupNormForward", Napi::Function::New(env, Guarded<GroupNormForward>));
  exports.Set("groupNormBackward", Napi::Function::New(env, Guarded<GroupNormBackward>));
  exports.Set("siluForward", Napi::Function::New(env, Guarded<SiluForward>));
  exports.Set("siluBackward", Napi::Function::New(env, Guarded<SiluBackward>));
  exports.Set("adamSteps", Napi::Function::New(env, Guarded<AdamSteps>));
  exports.Set("emaUpdate", Napi::Function::New(env, Guarded<EmaUpdate>));
  exports.Set("globalNorm", Napi::Function::New(env, Guarded<GlobalNorm>));
  exports.Set("sumLeading", Napi::Function::New(env, Guarded<SumLeading>));
  exports.Set("addRows", Napi::Function::New(env, Guarded<AddRows>));
  exports.Set("copyRows", Napi::Function::New(env, Guarded<CopyRows>));
  exports.Set("transpose", Napi::Function::New(env, Guarded<Transpose>));
  exports.Set("pad", Napi::Function::New(env, Guarded<Pad>));
  exports.Set("resizeNearest", Napi::Function::New(env, Guarded<ResizeNearest>));
  exports.Set("avgPoolBlocks", Napi::Function::New(env, Guarded<AvgPoolBlocks>));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("getThreads", Napi::Function::New(env, GetThreads));
  exports.Set("narrowConvCalls", Napi::Function::New(env, NarrowConvCalls));
  exports.Set("setConvPrecision", Napi::Function::New(env, Guarded<SetConvPrecision>));
  exports.Set("getConvPrecision", Napi::Function::New(env, GetConvPrecision));
  exports.Set("version", Napi::Function::New(env, Version));
  return exports;
}

}  // namespace

NODE_API_MODULE(ldm_onednn, Init)
