// The fused plan's conv2d step (with the activation step right after it fused in). Its math is
// ops/conv.h (one definition, shared with the per-kernel entry points); ConvForward and ConvBackward
// arrange it for the step loop.
//
// conv2d, x (rows, C, H, W), W (outC, K = C*kH*kW), y (rows, outC, outH*outW), in chunks of
// op.chunk samples (ConvChunk) through two workspaces every conv step shares:
//   forward   cols (K, n) = im2col(chunk); Y' (outC, n) = W cols; then one pass moves Y' to NCHW,
//             adding the bias and applying the activation fused into the step
//   backward  per chunk: one pass over dy makes dY' (outC, n) = dy * f'(.) moved to channel-major
//             order and adds each channel's sum to db (in double); cols = im2col(chunk) again
//             (recomputing it costs less than keeping the whole batch's, which would not stay in
//             cache); dW (+)= dY' cols^T; dcols = W^T dY' into the cols buffer (beta 0: no clearing
//             pass), dx = col2im(dcols) (not for the first layer)
//
// A max pooling step right after the conv (its activation linear or relu) runs inside the conv's
// passes (ConvPoolForwardChunk, ConvPoolDeltaChunk): forward, each output plane is pooled
// (ops::MaxPool2dForward) right after its bias and activation, while it is in L1; backward, the
// pooling's gradient is masked by relu' at the pooled outputs (ops::ActivationBackward; relu'(y) is
// the same at a window's argmax as at its pooled output) and scattered by ops::MaxPool2dBackward
// straight into dY'. The conv's activation map (rows, outC, outH, outW) then never goes to memory:
// it was written, read by the pooling, and read again in backward with the pooling's full-size
// gradient, itself written and read: five passes over 6.4 MB for T5's first conv. The results are the unfused passes' bit for bit (relu'
// selects: a zero gradient stays zero wherever it is applied). Other activations keep the plain path.
//
// At more than one thread (plan_threads.h, plan_region.h) the batch's samples are split over the
// plan's threads, each running the chunk loop above over its share with its own two workspaces and
// single-threaded GEMMs; backward, each thread's dW goes into its own buffer (thread 0's into dW) and
// its bias sums into its own doubles, added up in thread order after the region (deterministic).
// Measured (test/native/plan_step_timing.cc, T5): see README's T5 row.
#pragma once
#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "../ops/activations.h"
#include "../ops/conv.h"
#include "../ops/pool.h"
#include "../plan_activations.h"
#include "../plan_isa.h"
#include "../plan_region.h"
#include "../rng.h"
#include "step.h"

namespace blasnet {
namespace plan {

// Samples per conv chunk: the unrolled input of a chunk, K x chunk*outH*outW floats, and its GEMM
// output, outC x chunk*outH*outW, are each kept to about BLASNET_CONV_CHUNK_KB so that im2col writes
// the one into the cache the GEMM then reads it from, and the pass after the GEMM finds the other
// there. (By K alone, T5's first conv, K = 9 and 32 channels, ran 37-sample chunks with a 3.7 MB
// GEMM output; by the larger of K and outC it runs 10-sample chunks: T5 at 1 thread, process CPU
// per step, alternating on a loaded machine: 25.1 / 23.4 ms by K, 23.2 / 23.2 ms by the larger.)
// Measured with test/native/plan_step_timing.cc (T5, batch 64, 1 OpenBLAS thread, process CPU time
// per step, two rounds, on a loaded machine): 256 KB 23.0 / 25.8 ms, 1024 KB 22.8 / 26.1 ms,
// 4096 KB 24.7 / 26.2 ms, the whole batch at once (64 MB) 31.9 / 29.6 ms.
#ifndef BLASNET_CONV_CHUNK_KB
#define BLASNET_CONV_CHUNK_KB 1024
#endif
inline int64_t ConvChunk(int64_t k, int64_t outChannels, int64_t outHW, int64_t batch) {
  const int64_t perSample = std::max(k, outChannels) * outHW * int64_t(sizeof(float));
  const int64_t n = (int64_t(BLASNET_CONV_CHUNK_KB) * 1024) / std::max<int64_t>(perSample, 1);
  return std::clamp<int64_t>(n, 1, batch);
}

// --- forward and backward (templates: Op and Workspace are composed after the step files) ------

// With a max pooling step fused in (op.poolA): the chunk of samples [n0, n0 + nc)'s GEMM output
// y (outC, nc*HW), plane by plane: bias and activation into `plane` (HW floats, the chunk's cols,
// free after the GEMM: it stays in L1, and y is only read), then pooled into the pooling step's
// output and argmax (its own buffers, (rows, outC, poolHW)).
template <class Op>
BN_INLINE void ConvPoolForwardChunk(Op& op, float* __restrict__ plane, const float* y, int64_t n0, int64_t nc) {
  const int64_t C = op.outChannels, HW = op.outHW, n = nc * HW;
  for (int64_t s = 0; s < nc; s++) {
    const int64_t at = (n0 + s) * op.poolOut;
    for (int64_t c = 0; c < C; c++) {
      const float* src = y + c * n + s * HW;
      const float bias = op.b ? op.b[c] : 0.0f;
      for (int64_t j = 0; j < HW; j++) plane[j] = src[j] + bias;
      ActForward(op.act, plane, plane, HW, op.alpha);
      ops::MaxPool2dForward(op.poolA + at + c * op.poolHW, op.poolArgmax + at + c * op.poolHW, plane, 1, op.poolWin);
    }
  }
}

// The chunks of samples [r0, r1), through the workspaces cols (k, chunk*outHW) and gemmOut
// (outChannels, chunk*outHW).
template <class Op>
BN_INLINE void ConvForwardRows(Op& op, float* cols, float* gemmOut, int64_t r0, int64_t r1) {
  const int64_t C = op.outChannels, HW = op.outHW, K = op.k;
  for (int64_t n0 = r0; n0 < r1; n0 += op.chunk) {
    const int64_t nc = std::min(op.chunk, r1 - n0);
    const int64_t n = nc * HW;
    ops::Im2col(cols, n, op.inPtr + n0 * op.in, int(nc), op.win);
    float* y = gemmOut;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(C), int(n), int(K), 1.0f, op.w, int(K), cols, int(n),
                0.0f, y, int(n));
    if (op.poolA) {
      ConvPoolForwardChunk(op, cols, y, n0, nc);
      continue;
    }
    // (outC, nc, HW) -> (nc, outC, HW), the bias added and the activation applied on the way (on
    // the destination row, still in L1).
    for (int64_t s = 0; s < nc; s++) {
      float* a = op.a + (n0 + s) * op.out;
      for (int64_t c = 0; c < C; c++) {
        const float* src = y + c * n + s * HW;
        const float bias = op.b ? op.b[c] : 0.0f;
        float* z = op.z ? op.z + (n0 + s) * op.out + c * HW : a + c * HW;
        for (int64_t j = 0; j < HW; j++) z[j] = src[j] + bias;
        ActForward(op.act, a + c * HW, z, HW, op.alpha);
      }
    }
  }
}

template <class Op, class Workspace>
BN_INLINE void ConvForward(Op& op, Workspace& ws, int64_t rows) {
  if (const int T = ws.RegionThreads(rows); T > 1) {
    ws.RunRegion(MakeRegion(RegionPart::convForward, &op, &ws, rows, T));
  } else {
    ConvForwardRows(op, ws.cols, ws.gemmOut, 0, rows);
  }
  op.outPtr = op.a;
}

// One chunk's dY' (outC, nc*HW) from d (rows, outC, HW) in one pass: dy = d * f'(.) moved to
// channel-major order, with each channel's sum over the chunk added to sums (double).
template <Activation A>
BN_INLINE void ConvDeltaChunkT(float* __restrict__ dy, double* __restrict__ sums, const float* d, const float* x,
                               const float* y, int64_t nc, int64_t C, int64_t HW, float alpha) {
  const int64_t n = nc * HW;
  for (int64_t c = 0; c < C; c++) {
    double sum = 0.0;
    for (int64_t s = 0; s < nc; s++) {
      const int64_t at = (s * C + c) * HW;
      const float* di = d + at;
      const float* xi = x + at;
      const float* yi = y + at;
      float* o = dy + c * n + s * HW;
      for (int64_t j = 0; j < HW; j++) {
        float g = di[j];
        if constexpr (A != Activation::linear) g = ops::ActivationBackward<A>(g, xi[j], yi[j], alpha);
        o[j] = g;
      }
      if (sums) sum += ops::SumDouble(o, HW);
    }
    if (sums) sums[c] += sum;
  }
}

BN_INLINE void ConvDeltaChunk(Activation act, float* dy, double* sums, const float* d, const float* x, const float* y,
                              int64_t nc, int64_t C, int64_t HW, float alpha) {
  switch (act) {
#define BN_CASE(name, code) \
  case Activation::name: ConvDeltaChunkT<Activation::name>(dy, sums, d, x, y, nc, C, HW, alpha); return;
    BN_ACTIVATIONS(BN_CASE)
#undef BN_CASE
  }
}

// With a max pooling step fused in: one chunk's dY' (outC, nc*HW) from the pooling's gradient d
// (rows, outC, poolHW), which is masked in place by the activation's derivative at the pooled
// outputs, then scattered to the argmax positions; each channel's sum added to sums (double), as
// ConvDeltaChunkT does.
template <class Op>
BN_INLINE void ConvPoolDeltaChunk(Op& op, float* __restrict__ dy, double* __restrict__ sums, float* d, int64_t n0,
                                  int64_t nc) {
  const int64_t C = op.outChannels, HW = op.outHW, n = nc * HW;
  for (int64_t c = 0; c < C; c++) {
    double sum = 0.0;
    for (int64_t s = 0; s < nc; s++) {
      const int64_t at = (n0 + s) * op.poolOut + c * op.poolHW;
      const float* pooled = op.poolA + at;
      float* o = dy + c * n + s * HW;
      ActBackward(op.act, d + at, pooled, pooled, op.poolHW, op.alpha);  // relu: y stands in for x
      ops::MaxPool2dBackward(o, d + at, op.poolArgmax + at, 1, op.poolWin);
      if (sums) sum += ops::SumDouble(o, HW);
    }
    if (sums) sums[c] += sum;
  }
}

// The chunks of samples [r0, r1) of d (rows, outC, HW): dW over them into dw (overwritten: the
// first chunk's GEMM has beta 0), each channel's sum of dY' added to sums (double; null without a
// bias), dx into other (when op.needDx). With a max pooling step fused in, d is the pooling's
// gradient (rows, outC, poolHW), overwritten.
template <class Op>
BN_INLINE void ConvBackwardRows(Op& op, float* cols, float* dy, float* d, float* other, int64_t r0, int64_t r1,
                                float* dw, double* sums) {
  const int64_t C = op.outChannels, HW = op.outHW, K = op.k;
  for (int64_t n0 = r0; n0 < r1; n0 += op.chunk) {
    const int64_t nc = std::min(op.chunk, r1 - n0);
    const int64_t n = nc * HW;
    if (op.poolA) {
      ConvPoolDeltaChunk(op, dy, sums, d, n0, nc);
    } else {
      const float* dAt = d + n0 * op.out;
      const float* aAt = op.a + n0 * op.out;
      const float* zAt = op.z ? op.z + n0 * op.out : aAt;
      ConvDeltaChunk(op.act, dy, sums, dAt, zAt, aAt, nc, C, HW, op.alpha);
    }
    ops::Im2col(cols, n, op.inPtr + n0 * op.in, int(nc), op.win);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(C), int(K), int(n), 1.0f, dy, int(n), cols, int(n),
                n0 == r0 ? 0.0f : 1.0f, dw, int(K));
    if (op.needDx) {
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(K), int(n), int(C), 1.0f, op.w, int(K), dy, int(n), 0.0f,
                  cols, int(n));
      ops::Col2im(other + n0 * op.in, cols, n, int(nc), op.win);
    }
  }
}

template <class Op, class Workspace>
BN_INLINE float* ConvBackward(Op& op, Workspace& ws, float* d, float* other, int64_t rows) {
  const int64_t C = op.outChannels;
  if (const int T = ws.RegionThreads(rows); T > 1) {
    // Each thread: its samples' dW into its own buffer (thread 0: dw itself) and bias sums into its
    // own doubles (ConvBackwardRows via RunRegionPart); then both added up in thread order.
    ws.RunRegion(MakeRegion(RegionPart::convBackward, &op, &ws, rows, T, d, other));
    const int64_t wn = C * op.k;
    for (int t = 1; t < T; t++) {
      const float* part = ws.threadDw[size_t(t)];
      for (int64_t i = 0; i < wn; i++) op.dw[i] += part[i];
    }
    if (op.db) {
      for (int64_t c = 0; c < C; c++) {
        double s = ws.threadSums[0][c];
        for (int t = 1; t < T; t++) s += ws.threadSums[size_t(t)][c];
        op.db[c] = float(s);
      }
    }
    return op.needDx ? other : d;
  }
  // The bias sums, in double over the whole batch, in thread 0's sums (plan_workspace.h).
  double* sums = op.db ? ws.threadSums[0] : nullptr;
  if (sums) {
    for (int64_t c = 0; c < C; c++) sums[c] = 0.0;
  }
  ConvBackwardRows(op, ws.cols, ws.gemmOut, d, other, 0, rows, op.dw, sums);
  if (sums) {
    for (int64_t c = 0; c < C; c++) op.db[c] = float(sums[c]);
  }
  return op.needDx ? other : d;
}

struct Conv2dStep {
  struct Desc {
    int64_t outChannels = 0;
  };
  struct Fields {
    // k = C*kH*kW, outChannels, outHW = outH*outW; runs in chunks of `chunk` samples
    int64_t outChannels = 0, k = 0, outHW = 0, chunk = 0;
    // A max pooling step right after, fused in (see the top of this file): poolsNext is set here,
    // the rest by that step's Compile (steps/max_pool2d.h): its output and argmax (B, outC,
    // poolHW), poolOut = outC*poolHW, and its window over one channel plane.
    bool poolsNext = false;
    float* poolA = nullptr;
    int32_t* poolArgmax = nullptr;
    int64_t poolOut = 0, poolHW = 0;
    ops::Window2d poolWin;
  };

  template <class D, class R>
  static void Parse(D& d, R& r) {
    d.window = r.Window();
    d.outChannels = r.Int("outChannels");
    d.weightOffset = r.Int("weightOffset");
    d.biasOffset = r.Int("biasOffset");
  }

  template <class L>
  static PlanError Validate(const L& l, ValidateContext& c) {
    const std::string& at = c.at;
    if (auto e = CheckWindow(l.window, at, c.width, false, false); !e.ok()) return e;
    if (auto e = Dim(at + ".outChannels", l.outChannels); !e.ok()) return e;
    const Window2d& g = l.window;
    const int64_t k = g.channels * g.kernelH * g.kernelW;  // < 2^31 (CheckWindow)
    const int64_t out = Product({l.outChannels, g.outH, g.outW});
    const int64_t wn = Product({l.outChannels, k});
    if (out > kMax31 || wn > kMax31 || Product({c.batchSize, out}) > kMax31 || Product({k, c.batchSize, g.outH, g.outW}) > kMax31) {
      return Range("Invalid " + at + ": the output (" + Num(double(l.outChannels)) + ", " + Num(double(g.outH)) + ", " + Num(double(g.outW)) + ") of batchSize samples, the weight and the unrolled input (C*kH*kW x batchSize*outH*outW) must each hold fewer than 2^31 values");
    }
    if (auto e = ParamRangeIn(c.ranges, at + ".weightOffset", l.weightOffset, wn, c.paramCount, false); !e.ok()) return e;
    if (auto e = ParamRangeIn(c.ranges, at + ".biasOffset", l.biasOffset, l.outChannels, c.paramCount, true); !e.ok()) return e;
    c.width = out;
    return {};
  }

  template <class Op, class L, class C>
  static void Compile(Op& op, const L& l, C& c) {
    op.win = OpsWindow(l.window);
    op.outChannels = l.outChannels;
    op.k = l.window.channels * l.window.kernelH * l.window.kernelW;
    op.outHW = l.window.outH * l.window.outW;
    op.out = op.outChannels * op.outHW;
    op.w = c.params + l.weightOffset;
    op.dw = c.grads + l.weightOffset;
    op.b = l.biasOffset >= 0 ? c.params + l.biasOffset : nullptr;
    op.db = l.biasOffset >= 0 ? c.grads + l.biasOffset : nullptr;
    c.own.push_back({l.weightOffset, l.weightOffset + op.outChannels * op.k});
    if (l.biasOffset >= 0) c.own.push_back({l.biasOffset, l.biasOffset + op.outChannels});
    op.chunk = ConvChunk(op.k, op.outChannels, op.outHW, c.B);
    c.colsSize = std::max(c.colsSize, op.k * op.chunk * op.outHW);
    c.gemmOutSize = std::max(c.gemmOutSize, op.outChannels * op.chunk * op.outHW);
    c.FuseActivation(op);
    op.poolsNext = c.MaxPoolFollows() && (op.act == Activation::linear || op.act == Activation::relu);
    op.z = ops::ActivationBackwardReadsInput(op.act) ? c.ws.Alloc(c.B * op.out) : nullptr;
    op.a = op.poolsNext ? nullptr : c.ws.Alloc(c.B * op.out);  // fused: no activation map
  }

  template <class Op, class W>
  BN_INLINE static void Forward(Op& op, W& ws, int64_t rows, bool, Rng&) {
    ConvForward(op, ws, rows);
  }

  template <class Op, class W>
  BN_INLINE static float* Backward(Op& op, W& ws, float* d, float* other, int64_t rows) {
    return ConvBackward(op, ws, d, other, rows);
  }
};

}  // namespace plan
}  // namespace blasnet
